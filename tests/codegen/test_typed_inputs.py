"""The type-checker-only constructors of the input models match what the models accept.

``codegen/typed_inputs.py`` writes, for every input class, an ``__init__`` signature that only
type checkers read. It must list exactly the model's fields under their snake_case names,
required exactly when the model requires them, and offer as strings exactly the enum's values.
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
CLASSES = {node.name: node for node in ast.parse(SOURCE).body if isinstance(node, ast.ClassDef)}


def _type_only_init(class_def: ast.ClassDef) -> ast.FunctionDef:
    for node in class_def.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            (init,) = node.body
            assert isinstance(init, ast.FunctionDef)
            assert init.name == "__init__"
            return init
    raise AssertionError(f"{class_def.name} has no type-checker-only __init__")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_signature_lists_the_model_fields(name: str) -> None:
    model = getattr(input_types, name)
    assert issubclass(model, BaseModel)
    init = _type_only_init(CLASSES[name])
    assert [a.arg for a in init.args.args] == ["self"], "keyword-only parameters"
    parameters = {
        a.arg: d for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True)
    }
    assert set(parameters) == set(model.model_fields)
    for field_name, default in parameters.items():
        assert (default is None) == model.model_fields[field_name].is_required(), field_name


def test_enum_parameters_offer_the_enum_values_the_model_accepts() -> None:
    init = _type_only_init(CLASSES["EnhancedImageInput"])
    model = input_types.EnhancedImageInput
    checked = 0
    for argument in init.args.kwonlyargs:
        assert argument.annotation is not None
        text = ast.unparse(argument.annotation)
        if "Literal[" not in text:
            continue
        literal = text.split("Literal[", 1)[1].split("]", 1)[0]
        offered = {ast.literal_eval(v.strip()) for v in literal.split(",")}
        enum = next(
            a
            for a in typing.get_args(model.model_fields[argument.arg].annotation)
            if isinstance(a, type) and issubclass(a, Enum)
        )
        assert offered == {member.value for member in enum}
        for value in offered:  # and the model takes each of them at run time
            assert getattr(model(**{argument.arg: value}), argument.arg) == enum(value)
        checked += 1
    assert checked >= 5
