"""What enhancing a PDF costs and which parameters reach which embedded image."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any, Final

from viesus_emulator import _codes as codes
from viesus_emulator._pdf.records import (
    FEATURES,
    Eligibility,
    PdfImage,
    ScanResult,
)
from viesus_emulator._pricing import COLOUR, FIELDS, RESTORATION, UPSCALING, cost_of

#: Fields refused for PDFs, with the reason given to the caller.
REFUSED_FIELDS: Final[Mapping[str, str]] = {
    "backgroundRemovalMode": "background removal is not applied to images inside a PDF",
    "backgroundRemovalBlur": "background removal is not applied to images inside a PDF",
    "backgroundRemovalReplaceImageUrl": "background removal is not applied to images inside a PDF",
    "preset": "presets are not applied to PDFs (their contents are not documented)",
    "upscalingCustomWidth": "a PDF's images have different sizes: use upscalingFactor",
    "upscalingCustomDPI": "a PDF image's resolution follows from its placed size: use "
    "upscalingFactor",
}

#: The credit feature of each EnhancedImageInput field a PDF job accepts (top-level names):
#: the single-image table (``_pricing.FIELDS``) without the refused fields.
FEATURE_OF_FIELD: Final[Mapping[str, str]] = {
    name: field.feature
    for name, field in FIELDS.items()
    if "." not in name and name not in REFUSED_FIELDS
}

DEFAULT_COMBINATION: Final = (COLOUR,)


def combination_key(features: Iterable[str]) -> str:
    """``colour+upscaling``: features in the fixed order colour, restoration, upscaling."""
    chosen = set(features)
    return "+".join(feature for feature in FEATURES if feature in chosen)


def check_pdf_params(params: Mapping[str, Any]) -> None:
    """``BAD_USER_INPUT`` for a field that a PDF job does not accept."""
    for name in params:
        if name in REFUSED_FIELDS:
            raise codes.graphql_error(
                codes.BAD_USER_INPUT, f"{name} on a PDF: {REFUSED_FIELDS[name]}", field=name
            )
        if name not in FEATURE_OF_FIELD:
            raise codes.graphql_error(
                codes.BAD_USER_INPUT, f"{name} is not accepted for PDFs", field=name
            )


def image_params(image: PdfImage, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters this image gets, or None when it is left untouched.

    Only fields of features the image is eligible for; the default enhancement (no field)
    reaches the colour-eligible images as ``{}`` (the engine's default is ``mode: ENHANCE``).
    """
    if not params:
        return {} if COLOUR in image.features else None
    mine = {k: v for k, v in params.items() if FEATURE_OF_FIELD[k] in image.features}
    return mine or None


def image_cost(image: PdfImage, params: Mapping[str, Any]) -> int:
    applied = image_params(image, params)
    return 0 if applied is None else cost_of(applied)


def job_cost(scan: ScanResult, params: Mapping[str, Any]) -> int:
    """What a job with these (checked) parameters is charged: the sum over its images."""
    return sum(image_cost(image, params) for image in scan.images)


def _representative(features: Iterable[str]) -> dict[str, Any]:
    """One input that asks for exactly these features (for pricing a combination)."""
    sample = {COLOUR: ("mode", "ENHANCE"), RESTORATION: ("artifactsDetectionRemoval", True)}
    sample[UPSCALING] = ("upscalingFactor", "X2")
    return dict(sample[feature] for feature in features)


def estimates(scan: ScanResult) -> dict[str, int]:
    """Credits of every non-empty combination of features, keyed by ``combination_key``."""
    out: dict[str, int] = {}
    for size in range(1, len(FEATURES) + 1):
        for chosen in combinations(FEATURES, size):
            out[combination_key(chosen)] = job_cost(scan, _representative(chosen))
    return out


def metadata(scan: ScanResult, rule: Eligibility) -> dict[str, Any]:
    """``Upload.metadata`` after a successful analysis (keys in the emulator README)."""
    images = scan.images
    by_feature = {f: sum(1 for image in images if f in image.features) for f in FEATURES}
    per_combination = estimates(scan)
    return {
        "statistics": {
            "pages": scan.pages,
            "totalImages": len(images),
            "placements": sum(image.placements for image in images),
            "inlineImages": scan.inline_images,
            "colorEnhancementImages": by_feature[COLOUR],
            "restorationImages": by_feature[RESTORATION],
            "upscalingImages": by_feature[UPSCALING],
        },
        "estimatedCredits": per_combination,
        "totalCredits": per_combination[combination_key(DEFAULT_COMBINATION)],
        "eligibility": {
            "minSidePx": rule.min_side,
            "upscalingBelowPpi": rule.upscaling_below_ppi,
            "maxUpscalingSidePx": rule.max_upscaling_side,
        },
        "images": [image.as_json() for image in images],
    }
