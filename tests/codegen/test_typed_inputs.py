"""The type-checker-only constructors of the input models match what the models accept.

``codegen/typed_inputs.py`` writes, for every input class ``X``, a TypedDict ``XArgs`` and an
``__init__(self, **fields: Unpack[XArgs])`` that only type checkers read. ``XArgs`` must list
exactly the model's fields under their snake_case names, required exactly when the model
requires them, and offer as strings exactly the enum's values (which the model accepts).
"""

from __future__ import annotations

import ast
import typing
from enum import Enum

import pytest
from pydantic import BaseModel

import viesus_client.input_types as input_types
from tests.codegen.conftest import ROOT

SOURCE = (ROOT / "generated" / "viesus_client" / "input_types.py").read_text(encoding="utf-8")
MODELS = {
    node.name: node
    for node in ast.parse(SOURCE).body
    if isinstance(node, ast.ClassDef) and not node.name.endswith("Args")
}


def _type_only_init(class_def: ast.ClassDef) -> str:
    for node in class_def.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            (init,) = node.body
            assert isinstance(init, ast.FunctionDef)
            assert init.name == "__init__"
            return ast.unparse(init.args)
    raise AssertionError(f"{class_def.name} has no type-checker-only __init__")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_typed_arguments_are_the_model_fields(name: str) -> None:
    model = getattr(input_types, name)
    assert issubclass(model, BaseModel)
    assert _type_only_init(MODELS[name]) == f"self, **fields: Unpack['{name}Args']"
    args = getattr(input_types, f"{name}Args")
    assert set(typing.get_type_hints(args)) == set(model.model_fields)
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert args.__required_keys__ == required


def test_enum_arguments_offer_the_values_the_model_accepts() -> None:
    hints = typing.get_type_hints(input_types.EnhancedImageInputArgs)
    model = input_types.EnhancedImageInput
    checked = 0
    for name, hint in hints.items():
        literals = [a for a in typing.get_args(hint) if typing.get_origin(a) is typing.Literal]
        if not literals:
            continue
        (literal,) = literals
        enum = next(
            a
            for a in typing.get_args(model.model_fields[name].annotation)
            if isinstance(a, type) and issubclass(a, Enum)
        )
        assert set(typing.get_args(literal)) == {member.value for member in enum}
        for value in typing.get_args(literal):  # and the model takes each of them at run time
            assert getattr(model(**{name: value}), name) == enum(value)
        checked += 1
    assert checked >= 5


def test_decimal_arguments_take_numbers_as_the_model_does() -> None:
    hint = typing.get_type_hints(input_types.EnhancedImageInputArgs)[
        "noise_reduction_profiling_strength"
    ]
    assert {float, int} <= set(typing.get_args(hint))
    options = input_types.EnhancedImageInput(noise_reduction_profiling_strength=0.25)
    assert str(options.noise_reduction_profiling_strength) == "0.25"
