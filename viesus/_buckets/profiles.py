"""Where a bucket's credentials, region and endpoint come from: the AWS_* environment first,
then the shared files' profile, the way the AWS CLI resolves them.

obstore reads only the environment (its issue #571: no ``AWS_PROFILE``), so the profile is
read here with the stdlib: ``AWS_PROFILE`` (default ``default``) in ``~/.aws/credentials``
(sections ``[NAME]``; ``AWS_SHARED_CREDENTIALS_FILE``) and ``~/.aws/config`` (sections
``[profile NAME]``, but ``[default]``; ``AWS_CONFIG_FILE``). A key pair is taken whole from
one place (the environment, else the credentials file, else the config file), never mixed;
region and ``endpoint_url`` may come from the config profile. No secret is ever shown:
:class:`Settings` keeps them out of its repr, and the errors name files and profiles only.
[assumption] ``credential_process``, ``role_arn`` and SSO profiles are not followed.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from viesus._errors import ConfigurationError

__all__ = ["Settings", "settings"]

DEFAULT_REGION: Final = "us-east-1"
_KEY_NAMES: Final = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


@dataclass(frozen=True)
class Settings:
    """A bucket client's settings; the key pair and token are secrets (never in the repr)."""

    region: str
    endpoint: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    origin: str = "the environment"  # where the key pair came from, for the error lines


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the AWS CLI would use: each value from the environment when set there,
    else from the profile; ``ConfigurationError`` when ``AWS_PROFILE`` names a profile
    that neither file has, or a file cannot be read as INI."""
    env = os.environ if environ is None else environ
    name = env.get("AWS_PROFILE") or "default"
    credentials = _section(_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials"), name)
    config = _section(_file(env, "AWS_CONFIG_FILE", "config"), _config_section(name))
    if env.get("AWS_PROFILE") and credentials is None and config is None:
        raise ConfigurationError(
            f"AWS_PROFILE={name}: no such profile in "
            f"{_shown(env, 'AWS_SHARED_CREDENTIALS_FILE', 'credentials')} or "
            f"{_shown(env, 'AWS_CONFIG_FILE', 'config')} (add it, or unset AWS_PROFILE)"
        )
    keys, origin = _keys(env, credentials, config, name)
    if keys and not keys.get("aws_secret_access_key"):
        raise ConfigurationError(
            f"the key pair from {origin} has an access key id but no secret access key "
            "(AWS_SECRET_ACCESS_KEY, or aws_secret_access_key in the profile)"
        )
    profile = config or {}
    return Settings(
        region=env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or profile.get("region")
        or DEFAULT_REGION,
        endpoint=env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or profile.get("endpoint_url")
        or None,
        access_key_id=keys.get("aws_access_key_id"),
        secret_access_key=keys.get("aws_secret_access_key"),
        session_token=keys.get("aws_session_token"),
        origin=origin,
    )


def _keys(
    env: Mapping[str, str],
    credentials: Mapping[str, str] | None,
    config: Mapping[str, str] | None,
    name: str,
) -> tuple[dict[str, str], str]:
    """The first complete key pair (with its token) and where it came from; empty if none."""
    found = {k: env.get(k.upper(), "") for k in _KEY_NAMES}
    if found["aws_access_key_id"]:
        return {k: v for k, v in found.items() if v}, "the environment"
    for section, origin in ((credentials, "credentials"), (config, "config")):
        if section is not None and section.get("aws_access_key_id"):
            keys = {k: section[k] for k in _KEY_NAMES if section.get(k)}
            return keys, f"profile {name} ({origin} file)"
    return {}, "nowhere"


def _config_section(name: str) -> str:
    return "default" if name == "default" else f"profile {name}"


def _file(env: Mapping[str, str], variable: str, default: str) -> Path:
    chosen = env.get(variable)
    return Path(chosen).expanduser() if chosen else Path.home() / ".aws" / default


def _shown(env: Mapping[str, str], variable: str, default: str) -> str:
    return env.get(variable) or f"~/.aws/{default}"


def _section(path: Path, section: str) -> dict[str, str] | None:
    """The section's values (names lowercased), or ``None`` if the file or section is absent.
    Interpolation is off: a secret may hold a ``%``."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        with path.open(encoding="utf-8") as text:
            parser.read_file(text)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        # configparser's message may quote a line of the file (a secret): only its kind.
        kind = type(exc).__name__
        raise ConfigurationError(f"{path}: not readable as an AWS INI file ({kind})") from None
    if not parser.has_section(section):
        return None
    return {key.strip(): value.strip() for key, value in parser.items(section)}
