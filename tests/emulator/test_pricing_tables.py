"""codegen's feature/credit table is a deliberate copy of the emulator's: they must agree."""

from __future__ import annotations

from codegen import features
from viesus_emulator import _pricing


def test_credits_per_feature_agree() -> None:
    assert dict(_pricing.CREDITS) == features.CREDITS


def test_feature_of_every_field_agrees() -> None:
    emulator = {name: f.feature for name, f in _pricing.FIELDS.items() if "." not in name}
    assert emulator == features.FEATURE_OF_FIELD
