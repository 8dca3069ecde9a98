"""Turn the GraphQL `EnhancedImageInput` mapping into one typed, validated `Params` value.

The server passes only the fields the client set, with the GraphQL (camelCase) names; enum
values arrive as strings (or enum members with a `.value`), strengths as Decimal/float/int.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _enum(value: Any, allowed: frozenset[str]) -> str | None:
    value = getattr(value, "value", value)
    if isinstance(value, str) and value.upper() in allowed:
        return value.upper()
    return None


def _number(value: Any) -> float | None:
    """The value as a float, or None when not set or not a number (a bool is not one)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _unit(value: Any) -> float | None:
    """A strength in [0, 1], or None when not set or not a number."""
    number = _number(value)
    if number is None or math.isnan(number):
        return None
    return min(1.0, max(0.0, number))


def _int(value: Any) -> int | None:
    number = _number(value)
    if number is None or not math.isfinite(number):
        return None
    return round(number)


@dataclass(frozen=True)
class ColorConfig:
    """`customColorConfig`: each factor 0-1; 0.5 is the neutral "as automatic" setting."""

    highlightfac: float = 0.5
    shadowfac: float = 0.5
    colorfac: float = 0.5
    skin_tone_adj: float = 0.2
    addflashfac: float = 0.5


@dataclass(frozen=True)
class Params:
    """Every parameter the engine understands; None means "the client did not ask"."""

    enhance: bool = False
    colour: ColorConfig | None = None
    denoise: bool = False
    denoise_strength: float | None = None
    denoise_mono_strength: float | None = None
    artifacts: bool = False
    face_details: bool = False
    red_eye: bool = False
    red_eye_strength: float | None = None
    red_eye_eye_strength: float | None = None
    grain: float | None = None
    upscaling_factor: int | None = None
    upscaling_width: int | None = None
    dpi: int | None = None
    background: str | None = None
    background_blur: float | None = None

    @property
    def any_feature(self) -> bool:
        """True when the client asked for at least one effect (else the default ENHANCE runs)."""
        return any(
            (
                self.enhance,
                self.colour is not None,
                self.denoise,
                self.artifacts,
                self.face_details,
                self.red_eye,
                self.grain is not None,
                self.upscaling_factor is not None,
                self.upscaling_width is not None,
                self.dpi is not None,
                self.background is not None,
            )
        )

    @property
    def colour_correction(self) -> bool:
        """Whether the automatic colour/contrast correction runs.

        It runs for `mode: ENHANCE`, when `customColorConfig` is given (its factors scale that
        very correction), and when no parameter at all was set (assumed service default).
        """
        return self.enhance or self.colour is not None or not self.any_feature


def parse(raw: Mapping[str, Any]) -> Params:
    """Parse the `EnhancedImageInput` mapping (see the module docstring for the leniency)."""
    colour: ColorConfig | None = None
    ccc = raw.get("customColorConfig")
    if isinstance(ccc, Mapping):
        defaults = ColorConfig()

        def fac(name: str, default: float) -> float:
            value = _unit(ccc.get(name))
            return default if value is None else value

        colour = ColorConfig(
            highlightfac=fac("highlightfac", defaults.highlightfac),
            shadowfac=fac("shadowfac", defaults.shadowfac),
            colorfac=fac("colorfac", defaults.colorfac),
            skin_tone_adj=fac("skinToneAdjFac", defaults.skin_tone_adj),
            addflashfac=fac("addflashfac", defaults.addflashfac),
        )

    nr_strength = _unit(raw.get("noiseReductionProfilingStrength"))
    nr_mono = _unit(raw.get("noiseReductionProfilingMonochromeStrength"))
    re_strength = _unit(raw.get("redEyeCorrectionsStrength"))
    re_eye = _unit(raw.get("redEyeCorrectionsEyeStrength"))
    factor = _enum(raw.get("upscalingFactor"), frozenset({"X2", "X4"}))
    background = _enum(raw.get("backgroundRemovalMode"), frozenset({"REMOVE", "BLUR", "REPLACE"}))
    return Params(
        enhance=_enum(raw.get("mode"), frozenset({"ENHANCE"})) is not None,
        colour=colour,
        # A strength without the mode still means "reduce noise": the client's intent is clear.
        denoise=(
            _enum(raw.get("noiseReductionProfilingMode"), frozenset({"AUTO"})) is not None
            or nr_strength is not None
            or nr_mono is not None
        ),
        denoise_strength=nr_strength,
        denoise_mono_strength=nr_mono,
        artifacts=_enum(raw.get("artifactsDetectionRemoval"), frozenset({"AUTO_AI"})) is not None,
        face_details=_enum(raw.get("enhanceFaceDetails"), frozenset({"ENHANCE"})) is not None,
        red_eye=(
            _enum(raw.get("redEyeCorrectionsMode"), frozenset({"AUTO"})) is not None
            or re_strength is not None
            or re_eye is not None
        ),
        red_eye_strength=re_strength,
        red_eye_eye_strength=re_eye,
        grain=_unit(raw.get("noiseAdditionProfilingStrength")),
        upscaling_factor=None if factor is None else int(factor[1:]),
        upscaling_width=_int(raw.get("upscalingCustomWidth")),
        dpi=_int(raw.get("upscalingCustomDPI")),
        background=background,
        background_blur=_unit(raw.get("backgroundRemovalBlur")),
    )
