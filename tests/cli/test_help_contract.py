"""``--help`` as a contract: the flags, their types and defaults, not the box drawing.

The snapshots hold data (flag names, the type text, the GraphQL field each flag sets, the
default), so a rich or typer upgrade that redraws the help does not break them; a flag that is
renamed, retyped or dropped does. Each snapshotted flag must also appear in the real ``--help``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import pytest
import typer
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from codegen.generate import TEMPLATES, parameter_rows
from viesus._cli import ENHANCE_FLAGS, app
from viesus._cli.enhance import make_command
from viesus._cli.parameters import build_flags, kebab, options_from_flags

WIDE = {"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"}
SDL = Path(__file__).resolve().parents[2] / "schema" / "viesus.graphql"


def help_text(target: typer.Typer, *argv: str) -> str:
    result = CliRunner().invoke(target, [*argv, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def flag_names(text: str) -> list[str]:
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)))


def test_enhance_parameter_flags(snapshot: SnapshotAssertion) -> None:
    table = [
        {"names": list(f.names), "type": f.type_text, "sets": f.graphql_path, "default": "unset"}
        for f in ENHANCE_FLAGS
    ]
    assert table == snapshot
    text = help_text(app, "enhance")
    for flag in ENHANCE_FLAGS:
        for name in flag.names:
            assert name in text
        assert flag.graphql_path in text  # the help names the GraphQL field it sets


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["enhance"],
        ["config", "show"],
        ["credits"],
        ["doctor"],
        ["jobs", "show"],
        ["webhooks", "list"],
        ["webhooks", "create"],
        ["webhooks", "delete"],
        ["serve"],
    ],
    ids=lambda argv: " ".join(argv) or "root",
)
def test_command_flags(argv: list[str], snapshot: SnapshotAssertion) -> None:
    assert flag_names(help_text(app, *argv)) == snapshot


def test_root_lists_every_command(snapshot: SnapshotAssertion) -> None:
    text = help_text(app)
    commands = ["enhance", "config", "credits", "jobs", "webhooks", "doctor", "serve"]
    assert [c for c in commands if re.search(rf"\b{c}\b", text)] == snapshot


@pytest.mark.parametrize(
    ("camel", "kebab_case"),
    [
        ("upscalingFactor", "upscaling-factor"),
        ("upscalingCustomDPI", "upscaling-custom-dpi"),
        ("skinToneAdjFac", "skin-tone-adj-fac"),
        ("mode", "mode"),
    ],
)
def test_kebab_case(camel: str, kebab_case: str) -> None:
    assert kebab(camel) == kebab_case


def _generated_table(tmp_path: Path, sdl: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Render the generated parameter table from ``sdl`` into a temporary module."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders Python source
    )
    env.filters["pyrepr"] = repr
    name = "enhancement_parameters.py"
    text = env.get_template(name + ".jinja").render(
        template_name=name + ".jinja", parameters=parameter_rows(sdl), feature_credits=[
            ("background", 4), ("colour", 1), ("restoration", 1), ("unknown", 4), ("upscaling", 4)
        ]
    )  # fmt: skip
    path = tmp_path / name
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("regenerated_parameters", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_field_added_to_the_schema_becomes_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdl = SDL.read_text().replace(
        "input EnhancedImageInput {",
        'input EnhancedImageInput {\n  """Sharpening, 0.0-1.0"""\n  sharpenStrength: Decimal\n',
        1,
    )
    table: Any = _generated_table(tmp_path, sdl, monkeypatch).PARAMETERS
    command, flags = make_command(table)
    regenerated = typer.Typer()
    regenerated.command("enhance")(command)

    text = help_text(regenerated, "enhance")
    assert "--sharpen-strength" in text
    assert "sharpenStrength; decimal 0.0-1.0" in text
    refused = CliRunner().invoke(regenerated, ["enhance", "x", "--sharpen-strength", "3"])
    assert refused.exit_code == 2
    assert "3 is not in the range 0.0-1.0" in refused.output
    assert options_from_flags(flags, {"p_sharpen_strength": Decimal("0.3")}) == {
        "sharpenStrength": Decimal("0.3")
    }
    # Everything the committed schema has is still there, unchanged.
    assert [f for f in build_flags(table) if f.graphql_path != "sharpenStrength"] == ENHANCE_FLAGS
