"""What a GraphQL document may cost before the emulator runs it, and how that is measured.

Checks run cheapest first, each one bounding the input of the next, so that any document is
answered within ~100 ms or refused (``benchmarks/hostile_documents.py`` measures it):
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

from viesus_emulator import _codes as codes
from viesus_emulator._config import QueryLimits

__all__ = [
    "CostEstimator",
    "DocumentRefused",
    "QueryLimits",
    "check_cost",
    "check_root_fields",
    "check_shape",
    "measure",
    "root_fields",
]


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
class _Size:
    """Depth and expanded field count of one selection set (fragments expanded)."""

    depth: int = 0
    fields: int = 0


@dataclass
class DocumentShape:
    """Depth and expanded field count of a document's operations (step 3 of the checks)."""

    depth: int
    fields: int
    #: How many times a fragment's body was walked: once per fragment (tests check this).
    fragment_walks: Counter[str]


@dataclass
class RootFields:
    """Root fields of the operation and the most repeated response key of any selection set."""

    #: Field name -> occurrences at the root (aliases and fragment occurrences each count).
    names: Counter[str]
    #: Largest number of fields sharing one response key in one (merged) selection set:
    #: validation compares those pairwise, so it costs the square of this.
    max_same_key: int

    @property
    def counted(self) -> int:
        return sum(n for name, n in self.names.items() if name != "__typename")


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _SizeWalker:
    """Depth and expanded size, each fragment walked once (its size is remembered)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = _fragments(document)
        self.memo: dict[str, _Size] = {}
        self.active: set[str] = set()
        self.walks: Counter[str] = Counter()

    def selection_set(self, node: SelectionSetNode) -> _Size:
        size = _Size()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                child = (
                    self.selection_set(selection.selection_set)
                    if selection.selection_set
                    else _Size()
                )
                size.fields += 1 + child.fields
                size.depth = max(size.depth, 1 + child.depth)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            else:  # pragma: no cover - the three selection kinds are exhaustive
                continue
            size.fields += inner.fields
            size.depth = max(size.depth, inner.depth)
        return size

    def fragment(self, name: str) -> _Size:
        known = self.memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None:
            return _Size()  # unknown fragment: validation names it
        if name in self.active:
            raise DocumentRefused(
                codes.GRAPHQL_VALIDATION_FAILED, f'Cannot spread fragment "{name}" within itself.'
            )
        self.active.add(name)
        self.walks[name] += 1
        try:
            size = self.selection_set(definition.selection_set)
        finally:
            self.active.discard(name)
        self.memo[name] = size
        return size


def measure(document: DocumentNode) -> DocumentShape:
    """Depth and expanded size over every operation, linear in the document.

    Each fragment is walked once and its size reused. A fragment cycle is refused here (the
    walk could not end), with validation's own message.
    """
    walker = _SizeWalker(document)
    depth = fields = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            size = walker.selection_set(definition.selection_set)
            depth = max(depth, size.depth)
            fields += size.fields
    for name in walker.fragments:
        walker.fragment(name)  # unused fragments too: a cycle among them must not hang later
    return DocumentShape(depth, fields, walker.walks)


def root_fields(document: DocumentNode, operation: OperationDefinitionNode | None) -> RootFields:
    """Root fields and repeated keys; call only once ``check_shape`` bounded the expansion.

    Merging a fragment's key counts into each place it is spread costs its distinct keys,
    so the total is bounded by the expanded size that ``max_fields`` limits.
    """
    fragments = _fragments(document)
    memo: dict[str, tuple[Counter[str], Counter[str]]] = {}
    worst = 0

    def keys(node: SelectionSetNode) -> tuple[Counter[str], Counter[str]]:
        nonlocal worst
        names: Counter[str] = Counter()
        responses: Counter[str] = Counter()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                names[selection.name.value] += 1
                responses[(selection.alias or selection.name).value] += 1
                if selection.selection_set:
                    keys(selection.selection_set)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = keys(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in memo and name in fragments:
                    memo[name] = keys(fragments[name].selection_set)
                inner = memo.get(name, (Counter(), Counter()))
            else:  # pragma: no cover
                continue
            names.update(inner[0])
            responses.update(inner[1])
        worst = max(worst, max(responses.values(), default=0))
        return names, responses

    roots: Counter[str] = Counter()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            names, _ = keys(definition.selection_set)
            if definition is operation:
                roots = names
    for fragment in fragments.values():
        keys(fragment.selection_set)  # validation checks unused fragments too
    return RootFields(roots, worst)


def check_shape(shape: DocumentShape, limits: QueryLimits) -> None:
    """Refuse a document whose depth or expanded size exceeds ``limits``."""
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


def check_root_fields(roots: RootFields, limits: QueryLimits, max_root_fields: int | None) -> None:
    """Refuse too many root fields (announced as ``extensions.limit``) or repeated keys.

    ``max_root_fields`` (``EmulatorConfig.max_root_fields``) counts aliases and fragment
    occurrences each; ``__typename`` is free.
    """
    count = roots.counted
    if max_root_fields is not None and count > max_root_fields:
        raise DocumentRefused(
            codes.TOO_MANY_ROOT_FIELDS,
            f"this document has {count} root fields; "
            f"the server allows at most {max_root_fields} per request",
            limit=max_root_fields,
            count=count,
        )
    if limits.max_same_key is not None and roots.max_same_key > limits.max_same_key:
        raise DocumentRefused(
            QUERY_TOO_COMPLEX,
            f"{roots.max_same_key} fields share one response key in one selection set; "
            f"the server allows {limits.max_same_key} (use distinct aliases)",
            measure="same_key",
            maximum=limits.max_same_key,
            actual=roots.max_same_key,
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
        count = len(types)

        def mean(lengths: list[int]) -> int:
            # Per-type lists are read for every type of __Schema.types: their mean length
            # over all types is what such a query costs (a ceiling, at least 1).
            return max(1, -(-sum(lengths) // count))

        fielded = [t for t in types if hasattr(t, "fields") and not hasattr(t, "out_type")]
        all_fields = [f for t in fielded for f in getattr(t, "fields", {}).values()]
        self.lengths: dict[tuple[str, str], int] = {
            ("__Schema", "types"): count,
            ("__Schema", "directives"): len(schema.directives),
            ("__Type", "fields"): mean([len(getattr(t, "fields", {})) for t in fielded]),
            ("__Type", "inputFields"): mean(
                [len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)]
            ),
            ("__Type", "enumValues"): mean(
                [len(t.values) for t in types if isinstance(t, GraphQLEnumType)]
            ),
            ("__Type", "interfaces"): mean([len(getattr(t, "interfaces", ())) for t in types]),
            ("__Type", "possibleTypes"): mean(
                [
                    len(schema.get_possible_types(t))
                    for t in types
                    if isinstance(t, GraphQLInterfaceType | GraphQLUnionType)
                ]
            ),
            ("__Field", "args"): max(
                1,
                -(-sum(len(getattr(f, "args", {})) for f in all_fields) // max(1, len(all_fields))),
            ),
            ("__Directive", "args"): max([1, *(len(d.args) for d in schema.directives)]),
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
