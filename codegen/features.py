"""Which credit feature each ``EnhancedImageInput`` field belongs to.

A deliberate copy of the emulator's table (``viesus_emulator/_pricing.py``: ``CREDITS`` and
the feature of each top-level field in ``FIELDS``): codegen imports no runtime package, so it
cannot read the original; ``tests/emulator/test_pricing_tables.py`` keeps the two equal.

The credit table is documented (colour 1, restoration 1, background 4, upscaling 4; only the
most expensive active feature is charged); which *parameter* belongs to which feature is
``[inferred]`` from the parameter names (facts page, "Credits"). This table is a build input:
the generator joins it with the SDL into ``viesus_client/enhancement_parameters.py``.

A field the schema gains but this table does not know is put into ``UNKNOWN``, which is priced
at the highest documented cost: an estimate may be too high, never too low. ``generate`` prints
a warning naming the field so somebody classifies it.
"""

from __future__ import annotations

COLOUR = "colour"
RESTORATION = "restoration"
BACKGROUND = "background"
UPSCALING = "upscaling"
UNKNOWN = "unknown"

CREDITS: dict[str, int] = {
    COLOUR: 1,
    RESTORATION: 1,
    BACKGROUND: 4,
    UPSCALING: 4,
    UNKNOWN: 4,
}

FEATURE_OF_FIELD: dict[str, str] = {
    "mode": COLOUR,
    "customColorConfig": COLOUR,
    "noiseReductionProfilingMode": RESTORATION,
    "noiseReductionProfilingStrength": RESTORATION,
    "noiseReductionProfilingMonochromeStrength": RESTORATION,
    "artifactsDetectionRemoval": RESTORATION,
    "enhanceFaceDetails": RESTORATION,
    "redEyeCorrectionsMode": RESTORATION,
    "redEyeCorrectionsStrength": RESTORATION,
    "redEyeCorrectionsEyeStrength": RESTORATION,
    "noiseAdditionProfilingStrength": RESTORATION,
    "upscalingFactor": UPSCALING,
    "upscalingCustomWidth": UPSCALING,
    "upscalingCustomDPI": UPSCALING,
    "backgroundRemovalMode": BACKGROUND,
    "backgroundRemovalBlur": BACKGROUND,
    "backgroundRemovalReplaceImageUrl": BACKGROUND,
    # A preset may switch on any feature; nothing documents which, so it is priced as unknown.
    "preset": UNKNOWN,
}
