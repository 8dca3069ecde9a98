"""The emulator's own price list and parameter ranges, written from the documented facts.

Deliberately independent of the client's generated ``enhancement_parameters`` table: the
client estimates, the server charges, and tests that compare the two compare two
implementations (a pricing mistake on either side shows up as a disagreement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

#: Credit features (the names the client's generated parameter table uses).
COLOUR: Final = "colour"
RESTORATION: Final = "restoration"
BACKGROUND: Final = "background"
UPSCALING: Final = "upscaling"
#: A field whose feature nothing documents (``preset``) [assumption].
UNKNOWN: Final = "unknown"

#: Credits per feature [docs]; an unknown feature costs the most expensive [assumption].
CREDITS: Final[Mapping[str, int]] = {
    COLOUR: 1,
    RESTORATION: 1,
    BACKGROUND: 4,
    UPSCALING: 4,
    UNKNOWN: 4,
}
#: An input with no field set is the default enhancement (colour) [inferred].
DEFAULT_ENHANCEMENT_CREDITS: Final = CREDITS[COLOUR]
#: A field not in the table below [assumption].
UNKNOWN_FIELD_CREDITS: Final = max(CREDITS.values())

ZERO, ONE = Decimal("0.0"), Decimal("1.0")


@dataclass(frozen=True)
class Field:
    """One ``EnhancedImageInput`` field (GraphQL path): its feature and documented range."""

    feature: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @property
    def credits(self) -> int:
        return CREDITS[self.feature]


def _strength(feature: str) -> Field:
    """Strengths are decimals in 0.0-1.0 [docs]."""
    return Field(feature, ZERO, ONE)


FIELDS: Final[Mapping[str, Field]] = {
    "mode": Field(COLOUR),
    # Presets bundle features the docs do not list: priced as the most expensive [assumption].
    "preset": Field(UNKNOWN),
    "noiseReductionProfilingMode": Field(RESTORATION),
    "noiseReductionProfilingStrength": _strength(RESTORATION),
    "noiseReductionProfilingMonochromeStrength": _strength(RESTORATION),
    "artifactsDetectionRemoval": Field(RESTORATION),
    "enhanceFaceDetails": Field(RESTORATION),
    "redEyeCorrectionsMode": Field(RESTORATION),
    "redEyeCorrectionsStrength": _strength(RESTORATION),
    "redEyeCorrectionsEyeStrength": _strength(RESTORATION),
    "noiseAdditionProfilingStrength": _strength(RESTORATION),
    "upscalingFactor": Field(UPSCALING),
    "upscalingCustomWidth": Field(UPSCALING),
    "upscalingCustomDPI": Field(UPSCALING),
    "backgroundRemovalMode": Field(BACKGROUND),
    "backgroundRemovalBlur": _strength(BACKGROUND),
    "backgroundRemovalReplaceImageUrl": Field(BACKGROUND),
    "customColorConfig": Field(COLOUR),
    "customColorConfig.highlightfac": _strength(COLOUR),
    "customColorConfig.shadowfac": _strength(COLOUR),
    "customColorConfig.colorfac": _strength(COLOUR),
    "customColorConfig.skinToneAdjFac": _strength(COLOUR),
    "customColorConfig.addflashfac": _strength(COLOUR),
}


def cost_of(params: Mapping[str, Any]) -> int:
    """Credits of one enhancement with these EnhancedImageInput fields (GraphQL names)."""
    costs = [_field_cost(name) for name, value in params.items() if value is not None]
    return max(costs, default=DEFAULT_ENHANCEMENT_CREDITS)


def _field_cost(name: str) -> int:
    field = FIELDS.get(name)
    return UNKNOWN_FIELD_CREDITS if field is None else field.credits
