"""Generation is deterministic and the committed generated/ is what the SDL + queries give."""

from __future__ import annotations

import dataclasses

from codegen.features import CREDITS, FEATURE_OF_FIELD
from codegen.generate import generate


def test_generated_code_is_not_stale() -> None:
    assert generate(check=True) == [], "run `make generate` and commit generated/"


def test_parameter_table_matches_generated_input_model() -> None:
    from viesus_client.enhancement_parameters import PARAMETERS
    from viesus_client.input_types import CustomColorConfigInput, EnhancedImageInput

    top = {p.python_name for p in PARAMETERS if "." not in p.graphql_path}
    assert top == set(EnhancedImageInput.model_fields)
    nested = {p.python_name.split(".", 1)[1] for p in PARAMETERS if "." in p.graphql_path}
    assert nested == set(CustomColorConfigInput.model_fields)
    for p in PARAMETERS:
        if "." not in p.graphql_path:
            field = EnhancedImageInput.model_fields[p.python_name]
            assert (field.alias or p.python_name) == p.graphql_name


def test_parameter_table_prices_features_as_documented() -> None:
    from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH, FEATURE_CREDITS

    assert FEATURE_CREDITS == CREDITS
    assert {"colour": 1, "restoration": 1, "background": 4, "upscaling": 4}.items() <= (
        FEATURE_CREDITS.items()
    )
    assert BY_GRAPHQL_PATH["upscalingFactor"].credits == 4
    assert BY_GRAPHQL_PATH["upscalingFactor"].enum_values == ("X2", "X4")
    assert BY_GRAPHQL_PATH["backgroundRemovalBlur"].feature == "background"
    assert BY_GRAPHQL_PATH["noiseReductionProfilingStrength"].feature == "restoration"
    # Nested fields inherit their parent's feature and the range of the type description.
    highlight = BY_GRAPHQL_PATH["customColorConfig.highlightfac"]
    assert highlight.feature == "colour"
    assert (str(highlight.minimum), str(highlight.maximum)) == ("0.0", "1.0")
    strength = BY_GRAPHQL_PATH["redEyeCorrectionsStrength"]
    assert (str(strength.minimum), str(strength.maximum)) == ("0.0", "1.0")
    assert BY_GRAPHQL_PATH["upscalingCustomWidth"].minimum is None
    # Every top-level field is classified (unknown only where that is the documented choice).
    for p in BY_GRAPHQL_PATH.values():
        if "." not in p.graphql_path:
            assert FEATURE_OF_FIELD.get(p.graphql_name, "unknown") == p.feature


def test_parameter_rows_are_plain_data(committed_sdl: str) -> None:
    from codegen.generate import parameter_rows

    rows = parameter_rows(committed_sdl)
    assert [dataclasses.asdict(r)["graphql_path"] for r in rows][:3] == [
        "mode",
        "preset",
        "noiseReductionProfilingMode",
    ]
