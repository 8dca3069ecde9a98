"""What a GraphQL document may cost before the emulator runs it, and how that is measured.

Checks run cheapest first, each one bounding the input of the next, so that any document is
answered within ~100 ms or refused (``benchmarks/hostile_documents.py`` measures it):

1. body size (HTTP 413 before the body is read whole) — in ``graphql_http``;
2. tokens, counted by the parser itself (``parse(max_tokens=...)``);
3. depth of the field nesting, fragments followed;
4. fields after expanding every fragment spread, and root fields (aliases count each);
5. schema validation (graphql-core; its rules are memoised per fragment);
6. a result-size estimate that multiplies list fields by their possible length.

Steps 3 and 4 walk each fragment ONCE and remember its summary, so a document whose spreads
double at every level (``...F1 ...F1`` in F0, ``...F2 ...F2`` in F1, ...) costs time linear
in its own size, although its expansion is exponential: the expansion is what is limited.

The numbers are the emulator's own; the real service documents none [assumption]. Each limit
is a field of :class:`QueryLimits` and is listed with its default in the emulator README.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

from viesus_emulator import codes
from viesus_emulator.config import QueryLimits

__all__ = ["CostEstimator", "DocumentRefused", "QueryLimits", "check_shape", "measure"]


class DocumentRefused(Exception):
    """A document over a limit: HTTP 400 with ``code`` and ``extensions``."""

    def __init__(self, code: str, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = extensions


#: TOO_MANY_ROOT_FIELDS and QUERY_TOO_COMPLEX are codes on which a batching client retries
#: with smaller documents; only the root-field refusal announces a ``limit`` (a client reads
#: ``extensions.limit`` as a batch size), the others name ``measure``, ``maximum``, ``actual``.
QUERY_TOO_COMPLEX = codes.QUERY_TOO_COMPLEX


@dataclass
class _Summary:
    """What one selection set (fragments expanded) amounts to."""

    depth: int = 0
    fields: int = 0
    #: Root-level field names with their multiplicity (only meaningful at the root).
    names: Counter[str] = field(default_factory=Counter)


@dataclass
class DocumentShape:
    """Depth, expanded field count and root fields of a document's operations."""

    depth: int
    fields: int
    root_fields: Counter[str]
    #: How many times a fragment's body was walked: once per fragment (tests check this).
    fragment_walks: Counter[str]

    @property
    def counted_root_fields(self) -> int:
        return sum(n for name, n in self.root_fields.items() if not name.startswith("__"))


class _Walker:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, _Summary] = {}
        self.active: set[str] = set()
        self.walks: Counter[str] = Counter()

    def selection_set(self, node: SelectionSetNode) -> _Summary:
        summary = _Summary()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                child = (
                    self.selection_set(selection.selection_set) if selection.selection_set else None
                )
                summary.fields += 1 + (child.fields if child else 0)
                summary.depth = max(summary.depth, 1 + (child.depth if child else 0))
                summary.names[selection.name.value] += 1
            else:
                if isinstance(selection, InlineFragmentNode):
                    inner = self.selection_set(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    inner = self.fragment(selection.name.value)
                else:  # pragma: no cover - the three selection kinds are exhaustive
                    continue
                summary.fields += inner.fields
                summary.depth = max(summary.depth, inner.depth)
                summary.names.update(inner.names)
        return summary

    def fragment(self, name: str) -> _Summary:
        known = self.memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None:
            return _Summary()  # unknown fragment: validation names it
        if name in self.active:
            raise DocumentRefused(
                codes.GRAPHQL_VALIDATION_FAILED, f'Cannot spread fragment "{name}" within itself.'
            )
        self.active.add(name)
        self.walks[name] += 1
        try:
            summary = self.selection_set(definition.selection_set)
        finally:
            self.active.discard(name)
        self.memo[name] = summary
        return summary


def measure(document: DocumentNode, operation: OperationDefinitionNode | None) -> DocumentShape:
    """Depth and expanded size over every operation; root fields of ``operation``.

    Linear in the document: each fragment is walked once (its summary is reused). A fragment
    cycle is refused here (the walk could not end), with validation's own message.
    """
    walker = _Walker(document)
    depth = fields = 0
    roots: Counter[str] = Counter()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            summary = walker.selection_set(definition.selection_set)
            depth = max(depth, summary.depth)
            fields += summary.fields
            if definition is operation:
                roots = summary.names
    for name in walker.fragments:
        walker.fragment(name)  # unused fragments too: a cycle among them must not hang later
    return DocumentShape(depth, fields, roots, walker.walks)


def check_shape(shape: DocumentShape, limits: QueryLimits, max_root_fields: int | None) -> None:
    """Refuse a document whose depth, expansion or root fields exceed the limits.

    ``max_root_fields`` (``EmulatorConfig.max_root_fields``) counts aliases and fragment
    occurrences each, ``__typename`` is free; it is announced as ``extensions.limit``.
    """
    if limits.max_depth is not None and shape.depth > limits.max_depth:
        raise DocumentRefused(
            QUERY_TOO_COMPLEX,
            f"this document nests fields {shape.depth} deep; the server allows {limits.max_depth}",
            measure="depth",
            maximum=limits.max_depth,
            actual=shape.depth,
        )
    if limits.max_fields is not None and shape.fields > limits.max_fields:
        raise DocumentRefused(
            QUERY_TOO_COMPLEX,
            f"this document selects {shape.fields} fields once its fragments are expanded; "
            f"the server allows {limits.max_fields}",
            measure="fields",
            maximum=limits.max_fields,
            actual=shape.fields,
        )
    count = shape.counted_root_fields
    if max_root_fields is not None and count > max_root_fields:
        raise DocumentRefused(
            codes.TOO_MANY_ROOT_FIELDS,
            f"this document has {count} root fields; "
            f"the server allows at most {max_root_fields} per request",
            limit=max_root_fields,
            count=count,
        )


class CostEstimator:
    """Estimated result size of a valid operation (fields times possible list lengths).

    Introspection lists get their real length in this schema (``__Schema.types`` is as long
    as the schema has types); other lists ``list_factor``. Fragment costs are memoised.
    """

    def __init__(self, schema: GraphQLSchema, list_factor: int) -> None:
        self.schema = schema
        self.list_factor = list_factor
        types = list(schema.type_map.values())
        objects = [t for t in types if isinstance(t, GraphQLObjectType)]

        def longest(values: list[int]) -> int:
            return max([1, *values])

        self.lengths: dict[tuple[str, str], int] = {
            ("__Schema", "types"): len(types),
            ("__Schema", "directives"): len(schema.directives),
            ("__Type", "fields"): longest([len(t.fields) for t in objects]),
            ("__Type", "inputFields"): longest(
                [
                    len(getattr(t, "fields", {}))
                    for t in types
                    if not isinstance(t, GraphQLObjectType)
                ]
            ),
            ("__Type", "enumValues"): longest([len(getattr(t, "values", {})) for t in types]),
            ("__Type", "interfaces"): longest([len(t.interfaces) for t in objects]),
            ("__Type", "possibleTypes"): longest([len(objects)]),
            ("__Field", "args"): longest([len(f.args) for t in objects for f in t.fields.values()]),
            ("__Directive", "args"): longest([len(d.args) for d in schema.directives]),
        }

    def operation(self, document: DocumentNode, operation: OperationDefinitionNode) -> int:
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        memo: dict[str, int] = {}
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]

        def cost(selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> int:
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += self._field(selection, parent, cost)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner = self.schema.get_type(condition.name.value) if condition else parent
                    total += cost(selection.selection_set, inner)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name not in memo:
                        definition = fragments[name]
                        inner = self.schema.get_type(definition.type_condition.name.value)
                        memo[name] = cost(definition.selection_set, inner)
                    total += memo[name]
            return total

        return cost(operation.selection_set, root)

    def _field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        cost: Callable[[SelectionSetNode, GraphQLNamedType | None], int],
    ) -> int:
        name = node.name.value
        field_type: GraphQLType | None = None
        parent_name = parent.name if parent is not None else ""
        if name == "__schema":
            field_type = self.schema.get_type("__Schema")
        elif name == "__type":
            field_type = self.schema.get_type("__Type")
        elif hasattr(parent, "fields"):  # object and interface types
            definition = getattr(parent, "fields", {}).get(name)
            field_type = definition.type if definition is not None else None
        multiplier = 1
        unwrapped = field_type
        while isinstance(unwrapped, GraphQLNonNull | GraphQLList):
            if isinstance(unwrapped, GraphQLList):
                multiplier *= self.lengths.get((parent_name, name), self.list_factor)
            unwrapped = unwrapped.of_type
        named = get_named_type(field_type) if field_type is not None else None
        inner = cost(node.selection_set, named) if node.selection_set else 0
        return multiplier * (1 + inner)


def check_cost(cost: int, limits: QueryLimits) -> None:
    if limits.max_cost is not None and cost > limits.max_cost:
        raise DocumentRefused(
            QUERY_TOO_COMPLEX,
            f"the answer to this document could hold about {cost} values; "
            f"the server allows {limits.max_cost}",
            measure="cost",
            maximum=limits.max_cost,
            actual=cost,
        )
