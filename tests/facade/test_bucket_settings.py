"""Where a bucket's key, region and endpoint come from (``viesus._buckets``): the AWS_*
environment first, then the profile of the shared files, as the AWS CLI reads them; and the
presigned URL's lifetime chosen from the batch's pace. Pure functions, no server."""

from __future__ import annotations

import datetime
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from viesus._buckets import run
from viesus._buckets.locations import Location
from viesus._buckets.profiles import settings
from viesus._buckets.run import MAX_EXPIRY, MIN_EXPIRY, BucketRun, expiry_for
from viesus._buckets.store import Buckets
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


def test_a_presigned_url_lives_as_long_as_the_jobs_ahead_of_it_take_four_times_over() -> None:
    minutes = datetime.timedelta(minutes=1)
    assert expiry_for(10, None) == 20 * minutes  # no job finished yet: 30 s a job assumed
    assert expiry_for(500, 2.0) == 4_000 * minutes / 60  # 500 jobs at 2 s each, x4
    assert expiry_for(1, 0.2) == MIN_EXPIRY  # a fast batch: never under five minutes
    assert expiry_for(0, None) == expiry_for(1, None)  # its own job counts at least
    assert expiry_for(10_000, 100.0) == MAX_EXPIRY == datetime.timedelta(days=7)  # S3's cap
    lifetimes = [expiry_for(n, 3.0) for n in range(0, 5_000, 250)]
    assert lifetimes == sorted(lifetimes)  # more waiting never signs a shorter URL


async def test_the_pace_is_the_batch_s_elapsed_time_per_finished_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(run, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    lifetimes: list[datetime.timedelta] = []

    class Signer:
        async def sign(self, where: Any, expiry: datetime.timedelta) -> str:
            lifetimes.append(expiry)
            return "https://signed.example/"

    batch = BucketRun(cast(Buckets, Signer()), None)
    for n in range(100):
        await batch.sign(f"s3://lab/in/{n}.jpg")
    assert lifetimes[-1] == expiry_for(100, None)  # nothing finished: the assumption
    clock[0] += 400.0
    for n in range(50):
        batch.finished(f"s3://lab/in/{n}.jpg")  # 50 jobs in 400 s: 8 s a job
    await batch.sign("s3://lab/in/late.jpg")  # 50 still waiting, and this one
    assert lifetimes[-1] == expiry_for(51, 8.0) == datetime.timedelta(seconds=4 * 51 * 8)


def test_an_access_key_id_without_its_secret_is_refused_naming_where(tmp_path: Path) -> None:
    (tmp_path / "creds.ini").write_text("[default]\naws_access_key_id = AKIDHALF\n")
    with pytest.raises(ConfigurationError, match=r"profile default \(credentials file\)"):
        settings({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds.ini")})


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server on 127.0.0.1 that answers 404 to everything and keeps the headers."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


async def test_a_profile_s_key_pair_never_takes_a_session_token_left_in_the_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[dict[str, str]]],
) -> None:
    endpoint, seen = recorder
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "creds.ini").write_text(
        "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret-file\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "creds.ini"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stale-token")  # belongs to no key pair here
    buckets = Buckets()
    assert await buckets.head(Location("lab-photos", "in/a.jpg")) is None
    assert "Credential=AKIDFILE/" in seen[0]["authorization"]
    assert "x-amz-security-token" not in seen[0]  # obstore alone would have added it
    assert "secret-file" not in repr(buckets.store("lab-photos"))
