"""One shared configuration a lab reuses for every run: a TOML or JSON file, flags on top.

A configuration file holds batch settings at the top level and the enhancement options in an
``[options]`` table (GraphQL names, snake_case or flag names; nested tables for input objects)::

    out = "processed"
    max-credits = 500
    sidecar = true
    [options]
    mode = "ENHANCE"
    upscalingFactor = "X2"
    [options.customColorConfig]
    highlightfac = 0.4

Values go through the same checks as the flags (choices, ranges). API keys are refused in a
file on purpose: they belong in ``VIESUS_API_KEY`` (or ``--api-key``), never in a file that gets
copied around with the configuration.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from viesus._cli.errors import UsageProblem
from viesus._cli.parameters import Flag, flag_for_name, set_path

DEFAULT_CONFIRM_ABOVE = 100  # credits: a larger run asks first (or needs --yes)
DEFAULT_ENDPOINT = "https://api.viesus.cloud/graphql"


@dataclass(frozen=True)
class BatchSettings:
    """Everything about a run that is not an enhancement option."""

    out: Path | None = None
    max_credits: int | None = None
    confirm_above: int = DEFAULT_CONFIRM_ABOVE
    sidecar: bool = False
    batch_size: int = 50
    endpoint: str | None = None
    overwrite: bool = False
    downscale_to_fit: bool = False
    out_bucket: str | None = None  # ``--out s3://…``: outputs there; ``out`` keeps the records

    @property
    def destination(self) -> str | Path | None:
        """Where the outputs go: the bucket prefix, or the output folder."""
        return self.out_bucket or self.out


@dataclass(frozen=True)
class Configuration:
    """The effective configuration: file values, then flags given on the command line."""

    batch: BatchSettings = field(default_factory=BatchSettings)
    options: dict[str, Any] = field(default_factory=dict)  # GraphQL names, nested
    source: str = "defaults"

    def options_json(self) -> dict[str, Any]:
        """The options as plain JSON data (decimals as numbers)."""
        return plain(self.options)


_BATCH_KEYS = {
    "out": ("out", str),
    "max-credits": ("max_credits", int),
    "confirm-above": ("confirm_above", int),
    "sidecar": ("sidecar", bool),
    "batch-size": ("batch_size", int),
    "endpoint": ("endpoint", str),
    "overwrite": ("overwrite", bool),
    "downscale-to-fit": ("downscale_to_fit", bool),
}


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"--config {path}: cannot read it ({exc.strerror})") from None
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise UsageProblem(f"--config {path}: not valid {kind} ({exc})") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"--config {path}: the top level must be a table/object")
    return data


def _flatten(prefix: str, value: Mapping[str, Any], into: dict[str, Any]) -> None:
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping):
            _flatten(path, item, into)
        else:
            into[path] = item


def _option_value(where: str, flag: Flag, value: Any) -> Any:
    try:
        return flag.convert(value)
    except typer.BadParameter as exc:
        raise UsageProblem(f"{where}: {exc.message}") from None


def load_file(path: Path, flags: Sequence[Flag]) -> Configuration:
    """The configuration a file describes (UsageProblem naming the file and key otherwise)."""
    data = _read(path)
    batch: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in data.items():
        if key == "options":
            if not isinstance(value, Mapping):
                raise UsageProblem(f"--config {path}: 'options' must be a table")
            flat: dict[str, Any] = {}
            _flatten("", value, flat)
            for name, item in flat.items():
                flag = flag_for_name(flags, name)
                if flag is None:
                    raise UsageProblem(
                        f"--config {path}: options.{name} is not an EnhancedImageInput field "
                        "(see viesus enhance --help)"
                    )
                set_path(options, flag.graphql_path, _option_value(f"{path}: {name}", flag, item))
            continue
        normalised = key.replace("_", "-")
        if normalised in ("api-key", "apikey"):
            raise UsageProblem(
                f"--config {path}: API keys do not belong in a file; set VIESUS_API_KEY"
            )
        if normalised not in _BATCH_KEYS:
            known = ", ".join(sorted(_BATCH_KEYS))
            raise UsageProblem(f"--config {path}: unknown key {key!r} (known: {known}, [options])")
        attribute, kind = _BATCH_KEYS[normalised]
        if kind is bool and not isinstance(value, bool):
            raise UsageProblem(f"--config {path}: {key} must be true or false")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageProblem(f"--config {path}: {key} must be a whole number")
        batch[attribute] = kind(value)
    return Configuration(BatchSettings(**batch), options, str(path))


def effective(
    config_file: Path | None,
    flags: Sequence[Flag],
    flag_options: Mapping[str, Any],
    batch_flags: Mapping[str, Any],
) -> Configuration:
    """The file's configuration with every flag that was given laid over it."""
    base = load_file(config_file, flags) if config_file is not None else Configuration()
    options = _merge(base.options, flag_options)
    given = {k: v for k, v in batch_flags.items() if v is not None}
    batch = _with_destination(replace(base.batch, **given))
    return Configuration(batch, options, base.source)


def _with_destination(batch: BatchSettings) -> BatchSettings:
    """``out`` as a folder; an ``s3://`` one is the bucket destination, and the journal and
    reports of runs into it live in a local state folder named after it."""
    if batch.out is None:
        return batch
    text = str(batch.out)
    if not text.startswith("s3://"):
        return replace(batch, out=Path(text).expanduser())
    return replace(batch, out=bucket_state_folder(text), out_bucket=text)


def bucket_state_folder(url: str) -> Path:
    """``$XDG_STATE_HOME/viesus/s3/BUCKET/PREFIX`` (default ``~/.local/state``): the same
    destination always finds its journal, from any working folder."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    parts = [p for p in url.removeprefix("s3://").split("/") if p not in ("", ".", "..")]
    return Path(base, "viesus", "s3", *parts)


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def plain(data: dict[str, Any]) -> dict[str, Any]:
    def number(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return str(value)

    result: dict[str, Any] = json.loads(json.dumps(data, default=number))
    return result


def api_key_from(flag_value: str | None, local: bool) -> str | None:
    if local:
        return "local"
    return flag_value or os.environ.get("VIESUS_API_KEY") or None


def endpoint_from(flag_value: str | None, configured: str | None) -> str:
    return flag_value or configured or os.environ.get("VIESUS_ENDPOINT") or DEFAULT_ENDPOINT


def describe(config: Configuration, *, api_key_set: bool, endpoint: str) -> dict[str, Any]:
    """The configuration as JSON-ready data (the key only as set / not set)."""
    batch = config.batch
    return {
        "source": config.source,
        "endpoint": endpoint,
        "api_key": "set (hidden)" if api_key_set else "not set (VIESUS_API_KEY or --api-key)",
        "batch": {
            "out": batch.out_bucket or (None if batch.out is None else str(batch.out)),
            "max_credits": batch.max_credits,
            "confirm_above": batch.confirm_above,
            "sidecar": batch.sidecar,
            "batch_size": batch.batch_size,
            "overwrite": batch.overwrite,
            "downscale_to_fit": batch.downscale_to_fit,
        },
        "options": plain(config.options),
    }
