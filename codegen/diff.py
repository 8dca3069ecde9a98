"""``diff OLD NEW``: classify schema changes as breaking, dangerous or safe.

Breaking and dangerous come from graphql-core's own finders (the reference implementation's
rules). graphql-core does not list safe changes, so this module adds the ones a reviewer wants
to see: added types and output fields, description changes, new deprecations. Exit status 1
exactly when something is breaking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    is_specified_scalar_type,
)
from graphql.error import GraphQLSyntaxError


class DiffError(Exception):
    """An input could not be read as SDL."""


@dataclass(frozen=True)
class Change:
    kind: str
    description: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.description}"


@dataclass
class SchemaDiff:
    breaking: list[Change] = field(default_factory=list)
    dangerous: list[Change] = field(default_factory=list)
    safe: list[Change] = field(default_factory=list)

    @property
    def is_breaking(self) -> bool:
        return bool(self.breaking)

    @property
    def verdict(self) -> str:
        if self.breaking:
            return "breaking"
        if self.dangerous:
            return "dangerous"
        if self.safe:
            return "safe"
        return "none"

    def report(self) -> str:
        lines: list[str] = []
        for title, changes in (
            ("Breaking", self.breaking),
            ("Dangerous", self.dangerous),
            ("Safe", self.safe),
        ):
            if changes:
                lines.append(f"{title} changes ({len(changes)}):")
                lines.extend(f"  - {c}" for c in changes)
        if not lines:
            lines.append("No changes.")
        return "\n".join(lines)


def load_schema(sdl: str, name: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)
    except (GraphQLSyntaxError, TypeError) as exc:
        raise DiffError(f"{name} is not a valid GraphQL SDL: {exc}") from exc


def diff_sdl(old_sdl: str, new_sdl: str) -> SchemaDiff:
    old, new = load_schema(old_sdl, "OLD"), load_schema(new_sdl, "NEW")
    result = SchemaDiff()
    result.breaking = sorted(
        (Change(c.type.name, c.description) for c in find_breaking_changes(old, new)),
        key=str,
    )
    result.dangerous = sorted(
        (Change(c.type.name, c.description) for c in find_dangerous_changes(old, new)),
        key=str,
    )
    reported = {c.description for c in result.breaking + result.dangerous}
    result.safe = sorted(
        (c for c in _safe_changes(old, new) if c.description not in reported), key=str
    )
    return result


def _safe_changes(old: GraphQLSchema, new: GraphQLSchema) -> list[Change]:
    changes: list[Change] = []
    for name, new_type in new.type_map.items():
        if name.startswith("__") or is_specified_scalar_type(new_type):
            continue  # built-ins appear in a type map only once something uses them
        old_type = old.type_map.get(name)
        if old_type is None:
            changes.append(Change("TYPE_ADDED", f"{name} was added."))
            continue
        if old_type.description != new_type.description:
            changes.append(Change("DESCRIPTION_CHANGED", f"Description of {name} changed."))
        if isinstance(new_type, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
            old_type, GraphQLObjectType | GraphQLInterfaceType
        ):
            for fname, new_field in new_type.fields.items():
                old_field = old_type.fields.get(fname)
                where = f"{name}.{fname}"
                if old_field is None:
                    changes.append(Change("FIELD_ADDED", f"{where} was added."))
                    continue
                changes.extend(_described(where, old_field.description, new_field.description))
                changes.extend(
                    _deprecated(where, old_field.deprecation_reason, new_field.deprecation_reason)
                )
        elif isinstance(new_type, GraphQLInputObjectType) and isinstance(
            old_type, GraphQLInputObjectType
        ):
            for fname, new_input in new_type.fields.items():
                old_input = old_type.fields.get(fname)
                if old_input is not None:
                    where = f"{name}.{fname}"
                    changes.extend(_described(where, old_input.description, new_input.description))
                    changes.extend(
                        _deprecated(
                            where, old_input.deprecation_reason, new_input.deprecation_reason
                        )
                    )
        elif isinstance(new_type, GraphQLEnumType) and isinstance(old_type, GraphQLEnumType):
            for vname, new_value in new_type.values.items():
                old_value = old_type.values.get(vname)
                if old_value is not None:
                    where = f"{name}.{vname}"
                    changes.extend(_described(where, old_value.description, new_value.description))
                    changes.extend(
                        _deprecated(
                            where, old_value.deprecation_reason, new_value.deprecation_reason
                        )
                    )
    return changes


def _described(where: str, old: str | None, new: str | None) -> list[Change]:
    if old == new:
        return []
    return [Change("DESCRIPTION_CHANGED", f"Description of {where} changed.")]


def _deprecated(where: str, old: str | None, new: str | None) -> list[Change]:
    if old == new:
        return []
    if new is None:
        return [Change("DEPRECATION_REMOVED", f"{where} is no longer deprecated.")]
    return [Change("DEPRECATION_ADDED", f"{where} is deprecated: {new}")]
