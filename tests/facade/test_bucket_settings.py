"""Where a bucket's key, region and endpoint come from (``viesus._buckets``): the AWS_*
environment first, then the profile of the shared files, as the AWS CLI reads them; and the
presigned URL's lifetime chosen from the batch's pace. Pure functions, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from viesus._buckets.profiles import settings
from viesus._errors import ConfigurationError

CREDENTIALS = """\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

[lab]
aws_access_key_id = AKIDLAB
aws_secret_access_key = secret%lab
aws_session_token = token-lab
"""
CONFIG = """\
[default]
region = eu-west-1

[profile lab]
region = eu-central-1
endpoint_url = https://s3.lab.example

[profile keys-here]
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secret-config

[lab]
region = ap-south-1
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """The two shared files at places named by AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE."""
    (tmp_path / "creds.ini").write_text(CREDENTIALS)
    (tmp_path / "config.ini").write_text(CONFIG)
    return {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds.ini"),
        "AWS_CONFIG_FILE": str(tmp_path / "config.ini"),
    }


def test_the_named_profile_from_both_files(files: dict[str, str]) -> None:
    lab = settings({**files, "AWS_PROFILE": "lab"})
    assert (lab.access_key_id, lab.secret_access_key) == ("AKIDLAB", "secret%lab")
    assert lab.session_token == "token-lab"
    # the config's section is [profile lab]; a bare [lab] there is not that profile
    assert (lab.region, lab.endpoint) == ("eu-central-1", "https://s3.lab.example")
    default = settings(files)
    assert (default.access_key_id, default.region, default.endpoint) == (
        "AKIDDEFAULT",
        "eu-west-1",
        None,
    )


def test_the_environment_wins_and_a_key_pair_is_never_mixed(files: dict[str, str]) -> None:
    env = {**files, "AWS_PROFILE": "lab", "AWS_REGION": "us-west-2"}
    chosen = settings({**env, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s-env"})
    assert (chosen.access_key_id, chosen.secret_access_key) == ("AKIDENV", "s-env")
    assert chosen.session_token is None  # the profile's token does not go with the env's key
    assert chosen.region == "us-west-2"
    assert chosen.endpoint == "https://s3.lab.example"  # not in the environment: the profile's
    in_config = settings({**files, "AWS_PROFILE": "keys-here"})
    assert in_config.access_key_id == "AKIDCONFIG"  # keys in the config file count too
    assert in_config.region == "us-east-1"  # no region anywhere: the default


def test_no_secret_in_a_repr_or_an_error(files: dict[str, str], tmp_path: Path) -> None:
    shown = repr(settings({**files, "AWS_PROFILE": "lab"}))
    assert "secret" not in shown
    assert "token-lab" not in shown
    assert "AKIDLAB" not in shown
    with pytest.raises(ConfigurationError, match=r"AWS_PROFILE=nope: no such profile") as caught:
        settings({**files, "AWS_PROFILE": "nope"})
    assert "\n" not in str(caught.value)
    (tmp_path / "creds.ini").write_text("aws_secret_access_key = outside-any-section\n")
    with pytest.raises(ConfigurationError, match="not readable") as caught:
        settings(files)
    assert "outside-any-section" not in str(caught.value)


def test_no_files_and_no_environment_is_no_key(tmp_path: Path) -> None:
    nothing = settings(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        }
    )
    assert nothing.access_key_id is None
    assert nothing.region == "us-east-1"
