"""Checks of an ``EnhancedImageInput`` before a job exists, and of the upscaling limits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from graphql import GraphQLError

from viesus_emulator import _codes as codes
from viesus_emulator._engine import EngineError, ImageInfo, output_size
from viesus_emulator._pricing import FIELDS

#: Documented largest output side of AI upscaling [docs] (the engine checks all three limits).
MAX_UPSCALING_OUTPUT_SIDE = 11996
UPSCALING_FIELDS = ("upscalingFactor", "upscalingCustomWidth", "upscalingCustomDPI")
#: [assumption] sane bounds for the integer fields the docs give no range for.
MAX_CUSTOM_DPI = 10000


def _bad(message: str, field: str) -> GraphQLError:
    return codes.graphql_error(codes.BAD_USER_INPUT, message, field=field)


def normalize_input(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The set fields of an input (explicit nulls dropped, also inside customColorConfig)."""
    params: dict[str, Any] = {}
    for name, value in (raw or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            value = {key: inner for key, inner in value.items() if inner is not None}
        params[name] = value
    return params


def validate_input(params: Mapping[str, Any]) -> None:
    """Raise ``BAD_USER_INPUT`` for the first problem the arguments alone show."""
    for name, value in params.items():
        if isinstance(value, Mapping):
            for key, inner in value.items():
                _check_range(f"{name}.{key}", inner)
        else:
            _check_range(name, value)

    width = params.get("upscalingCustomWidth")
    if width is not None and not 1 <= width <= MAX_UPSCALING_OUTPUT_SIDE:
        raise _bad(
            f"upscalingCustomWidth must be between 1 and {MAX_UPSCALING_OUTPUT_SIDE} px",
            "upscalingCustomWidth",
        )
    dpi = params.get("upscalingCustomDPI")
    if dpi is not None and not 1 <= dpi <= MAX_CUSTOM_DPI:
        raise _bad(
            f"upscalingCustomDPI must be between 1 and {MAX_CUSTOM_DPI}", "upscalingCustomDPI"
        )
    preset = params.get("preset")
    if preset is not None and (not isinstance(preset, str) or not preset.strip()):
        raise _bad("preset must be a non-empty string", "preset")

    mode = params.get("backgroundRemovalMode")
    url = params.get("backgroundRemovalReplaceImageUrl")
    if mode == "REPLACE" and url is None:
        raise _bad(
            "backgroundRemovalMode REPLACE needs backgroundRemovalReplaceImageUrl",
            "backgroundRemovalReplaceImageUrl",
        )
    if url is not None:
        if mode != "REPLACE":
            raise _bad(
                "backgroundRemovalReplaceImageUrl needs backgroundRemovalMode: REPLACE",
                "backgroundRemovalReplaceImageUrl",
            )
        if not is_http_url(url):
            raise _bad(
                "backgroundRemovalReplaceImageUrl must be an http(s) URL",
                "backgroundRemovalReplaceImageUrl",
            )


def _check_range(path: str, value: Any) -> None:
    parameter = FIELDS.get(path)
    if parameter is None or not isinstance(value, Decimal | int | float):
        return
    if not Decimal(str(value)).is_finite():
        raise _bad(f"{path} must be a finite number", path)
    number = Decimal(str(value))
    if parameter.minimum is not None and number < parameter.minimum:
        raise _bad(f"{path} must be at least {parameter.minimum}, got {number}", path)
    if parameter.maximum is not None and number > parameter.maximum:
        raise _bad(f"{path} must be at most {parameter.maximum}, got {number}", path)


def upscaling_violation(info: ImageInfo, params: Mapping[str, Any]) -> str | None:
    """Which documented AI upscaling limit this job breaks, or None (also when not upscaling).

    The engine's ``output_size`` is the one implementation of the limits (it raises
    ``LIMITS_EXCEEDED``); the server reports them as ``UPSCALING_LIMIT_EXCEEDED``.
    """
    if not any(name in params for name in UPSCALING_FIELDS):
        return None
    try:
        output_size(info, params)
    except EngineError as exc:
        return exc.message
    return None


def canonical_json(params: Mapping[str, Any]) -> str:
    """A stable text of an input: equal inputs (0.5 == 0.50) give equal text."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: plain(inner) for key, inner in value.items()}
        if isinstance(value, Decimal | float) and not isinstance(value, bool):
            return format(Decimal(str(value)).normalize(), "f")
        return value

    return json.dumps(plain(params), sort_keys=True, separators=(",", ":"))


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host, that httpx accepts (no control characters)."""
    try:
        parts = urlsplit(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)
