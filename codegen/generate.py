"""``generate [--check]``: SDL + queries -> ``generated/viesus_client``, byte-for-byte.

Steps: ariadne-codegen through its command line (``python -m ariadne_codegen --config FILE``,
the ``[tool.ariadne-codegen]`` table of ``pyproject.toml`` with only the target redirected to
a temporary directory), then the jinja2 templates of ``codegen/templates``, a copy of the SDL
as package data (the emulator serves it from the installed package), ``ruff format``. Only then
is the result compared with ``generated/`` or moved in: each changed file is written beside its
destination and renamed over it, stale files are deleted, so ``generated/`` never goes missing
and a failed run changes nothing. Nothing here imports the generated package, so a
``generated/`` with a missing or broken module is simply repaired.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)

from codegen.features import CREDITS, FEATURE_OF_FIELD, UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "viesus_client"
GENERATED = ROOT / "generated"
TEMPLATES = ROOT / "codegen" / "templates"
SCHEMA = ROOT / "schema" / "viesus.graphql"
PYPROJECT = ROOT / "pyproject.toml"
INPUT_TYPE = "EnhancedImageInput"
RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)")


class GenerateError(Exception):
    """Generation failed or the committed code is stale; the message says which files."""


@dataclass(frozen=True)
class ParameterRow:
    python_name: str
    graphql_name: str
    graphql_path: str
    graphql_type: str
    kind: str
    enum_values: tuple[str, ...]
    minimum: str | None
    maximum: str | None
    feature: str
    credits: int
    description: str


def generate(check: bool = False) -> list[str]:
    """Regenerate (or, with ``check``, compare); returns the files that differ."""
    with tempfile.TemporaryDirectory(prefix="viesus-generate-") as tmp:
        fresh = Path(tmp) / PACKAGE
        _run_ariadne_codegen(Path(tmp))
        _render_templates(fresh)
        shutil.copyfile(SCHEMA, fresh / "schema.graphql")
        (fresh / "py.typed").write_text("")
        _ruff_format(fresh)
        current = GENERATED / PACKAGE
        changed = _differences(fresh, current)
        if changed and not check:
            _move_in(fresh, current, changed)
        return changed


def _run_ariadne_codegen(target: Path) -> None:
    """ariadne-codegen's CLI, run from the repository root.

    The configured paths stay relative (ariadne-codegen writes them into its file headers, so
    generated code does not depend on where the checkout lives); only the target directory is
    redirected, through a copy of the configuration table.
    """
    try:
        with PYPROJECT.open("rb") as handle:
            table = tomllib.load(handle)["tool"]["ariadne-codegen"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise GenerateError(f"cannot read [tool.ariadne-codegen] from {PYPROJECT}: {exc}") from exc
    table = {**table, "target_package_path": target.as_posix()}
    config = target / "ariadne-codegen.toml"
    config.write_text(_toml_tables({"tool": {"ariadne-codegen": table}}), encoding="utf-8")
    argv = [sys.executable, "-m", "ariadne_codegen", "--config", str(config), "client"]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    config.unlink()
    if result.returncode != 0:
        raise GenerateError(f"ariadne-codegen failed:\n{result.stdout}{result.stderr}")


def _toml_tables(table: dict[str, Any], prefix: str = "") -> str:
    """A TOML document for ``table`` (strings, booleans, numbers, string lists, sub-tables).

    The standard library reads TOML but does not write it; JSON strings and arrays of strings
    are valid TOML values, so ``json.dumps`` does the quoting.
    """
    lines: list[str] = []
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    values = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if values:
        lines.append(f"[{prefix}]")
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float | list):
            text = json.dumps(value)
        else:
            raise GenerateError(f"cannot write {prefix}.{key} = {value!r} as TOML")
        lines.append(f"{json.dumps(key)} = {text}")
    out = "\n".join(lines) + ("\n\n" if lines else "")
    for key, sub in tables.items():
        out += _toml_tables(sub, f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key))
    return out


def parameter_rows(sdl: str) -> list[ParameterRow]:
    """Every field of ``EnhancedImageInput`` (nested input fields as dotted paths)."""
    schema = build_schema(sdl)
    root = schema.type_map.get(INPUT_TYPE)
    if not isinstance(root, GraphQLInputObjectType):
        raise GenerateError(f"the schema has no input type {INPUT_TYPE}")
    rows: list[ParameterRow] = []
    _collect(root, "", None, None, "", rows)
    return rows


def _collect(
    type_: GraphQLInputObjectType,
    prefix: str,
    python_prefix: str | None,
    inherited_feature: str | None,
    inherited_description: str,
    rows: list[ParameterRow],
) -> None:
    from ariadne_codegen.utils import str_to_snake_case

    for name, field in type_.fields.items():
        named = get_named_type(field.type)
        path = f"{prefix}{name}"
        python_name = str_to_snake_case(name)
        feature = inherited_feature or FEATURE_OF_FIELD.get(name, UNKNOWN)
        description = field.description or ""
        found = RANGE.search(description) or RANGE.search(inherited_description)
        rows.append(
            ParameterRow(
                python_name=f"{python_prefix}.{python_name}" if python_prefix else python_name,
                graphql_name=name,
                graphql_path=path,
                graphql_type=str(field.type),
                kind=_kind(named),
                enum_values=tuple(named.values) if isinstance(named, GraphQLEnumType) else (),
                minimum=str(Decimal(found.group(1))) if found else None,
                maximum=str(Decimal(found.group(2))) if found else None,
                feature=feature,
                credits=CREDITS[feature],
                description=" ".join(description.split()),
            )
        )
        if isinstance(named, GraphQLInputObjectType):
            _collect(named, f"{path}.", python_name, feature, named.description or "", rows)


def _kind(named: GraphQLInputType) -> str:
    if isinstance(named, GraphQLEnumType):
        return "enum"
    if isinstance(named, GraphQLInputObjectType):
        return "input"
    if isinstance(named, GraphQLScalarType):
        return {
            "Decimal": "decimal",
            "Int": "int",
            "Float": "float",
            "String": "string",
            "Boolean": "boolean",
            "ID": "string",
        }.get(named.name, "scalar")
    return "scalar"


def _render_templates(package: Path) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders Python source, not HTML
    )
    env.filters["pyrepr"] = repr
    rows = parameter_rows(SCHEMA.read_text(encoding="utf-8"))
    for row in rows:
        if row.feature == UNKNOWN and "." not in row.graphql_path and row.graphql_name != "preset":
            print(
                f"warning: {INPUT_TYPE}.{row.graphql_name} has no credit feature in "
                "codegen/features.py; it is priced at the highest cost until classified",
                file=sys.stderr,
            )
    context = {
        "parameters": rows,
        "feature_credits": sorted(CREDITS.items()),
    }
    for template_path in sorted(TEMPLATES.glob("*.jinja")):
        name = template_path.name
        text = env.get_template(name).render(template_name=name, **context)
        (package / name.removesuffix(".jinja")).write_text(text, encoding="utf-8")


def _ruff_format(package: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    argv = [ruff, "format", "--quiet", str(package)]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GenerateError(f"ruff format failed:\n{result.stdout}{result.stderr}")


def _differences(fresh: Path, current: Path) -> list[str]:
    fresh_files, current_files = _files(fresh), _files(current)
    changed = sorted(fresh_files ^ current_files)
    for name in sorted(fresh_files & current_files):
        if not filecmp.cmp(fresh / name, current / name, shallow=False):
            changed.append(name)
    return sorted(changed)


def _files(base: Path) -> set[str]:
    if not base.is_dir():
        return set()
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _move_in(fresh: Path, current: Path, changed: list[str]) -> None:
    """Make ``current`` equal to ``fresh`` touching only ``changed``, one atomic rename each.

    A new file is first written beside its destination (same directory, so the rename is
    atomic), then renamed over it: at every moment each module is either the old or the new
    one, never half written, and the package directory itself is never removed.
    """
    if current.exists() and not current.is_dir():
        current.unlink()  # a stray file where the package belongs
    current.mkdir(parents=True, exist_ok=True)
    for name in changed:
        source, destination = fresh / name, current / name
        if not source.is_file():
            if destination.is_dir():
                shutil.rmtree(destination)
            else:
                destination.unlink(missing_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_dir():
            shutil.rmtree(destination)  # a directory where a module belongs
        temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(source, temporary)  # new file: the umask's permissions
            os.replace(temporary, destination)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
