"""Selections for aliased documents, equal to the generated fragments in ``queries/``, and the
aliased batch documents themselves, built once per shape.

The batch fields come from ariadne-codegen's custom-operation builders; their answers are
validated with the generated fragment models, so the selections here must match those fragments
field for field (a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from viesus_client.base_operation import GraphQLField
from viesus_client.custom_fields import EnhancedImageFields, UploadFields
from viesus_client.custom_mutations import Mutation
from viesus_client.custom_queries import Query
from viesus_client.input_types import EnhancedImageInput


def job_selection(field: EnhancedImageFields) -> EnhancedImageFields:
    """The ``EnhancedImageFields`` fragment."""
    return field.fields(
        EnhancedImageFields.id,
        EnhancedImageFields.status,
        EnhancedImageFields.full_url,
        EnhancedImageFields.filename,
        EnhancedImageFields.viesus_duration,
        EnhancedImageFields.error_code,
    )


def upload_selection(field: UploadFields) -> UploadFields:
    """The ``UploadFields`` fragment's selection, for aliased documents."""
    return field.fields(
        UploadFields.id,
        UploadFields.status,
        UploadFields.sub_status,
        UploadFields.filesize,
        UploadFields.mimetype,
        UploadFields.extension,
        UploadFields.original_filename,
        UploadFields.filename,
        UploadFields.width,
        UploadFields.height,
        UploadFields.url,
        UploadFields.started_at,
        UploadFields.finished_at,
        UploadFields.duration,
        UploadFields.metadata,
    )


def poll_job(job_id: str) -> EnhancedImageFields:
    return job_selection(Query.enhanced_image(id=job_id))


def upload_jobs(upload_id: str) -> UploadFields:
    """An upload with every job made from it: how a lost create answer is found again."""
    return Query.upload(id=upload_id).fields(
        UploadFields.id, job_selection(UploadFields.enhanced_images())
    )


def create_job(upload_id: str, options: EnhancedImageInput) -> EnhancedImageFields:
    """One ``createEnhancedImage`` root field with the job fragment."""
    return job_selection(Mutation.create_enhanced_image(upload_id, input=options))


# --- aliased batch documents, built once per shape ------------------------------------------
# The generated builders print a whole document per request (``to_ast`` + ``print_ast`` for
# every item: about 1 ms per item, measured). The text of K aliased copies of one root field is
# the same for every batch of K, so it is built once per shape and K from the generated field's
# own AST and cached; each request only fills in the variables. A field argument named ``input``
# with one value for all items (the same options for every create) is sent once, as ``$input``.
# ariadne-codegen 0.19 (pinned) keeps a field's name, arguments and subfields in underscore
# attributes; tests compare the cached text with the generated builders' own output.
SHARED_ARGUMENT = "input"
_DOCUMENTS: dict[tuple[Any, ...], str] = {}
DOCUMENT_CACHE_LIMIT = 256


def _shape(field: GraphQLField) -> tuple[Any, ...]:
    """What the document text depends on: names, argument types, subfields (not values)."""
    if field._inline_fragments:
        raise ValueError("aliased batches of fields with inline fragments are not supported")
    return (
        field._field_name,
        tuple((name, spec["type"]) for name, spec in field._variables.items()),
        tuple(_shape(sub) for sub in field._subfields),
    )


def _shared_arguments(fields: Sequence[GraphQLField]) -> frozenset[str]:
    spec = fields[0]._variables.get(SHARED_ARGUMENT)
    if spec is None or len(fields) < 2:
        return frozenset()
    value = spec["value"]
    if all(f._variables.get(SHARED_ARGUMENT, {}).get("value") == value for f in fields[1:]):
        return frozenset({SHARED_ARGUMENT})
    return frozenset()


def _has_arguments(field: GraphQLField) -> bool:
    return any(sub._variables or _has_arguments(sub) for sub in field._subfields)


def _variable(name: str, index: int, shared: frozenset[str]) -> str:
    return name if name in shared else f"{name}_{index}"


def aliased_document(
    fields: Sequence[GraphQLField],
    aliases: Sequence[str],
    operation_name: str,
    *,
    mutation: bool,
) -> tuple[str, dict[str, Any]]:
    """The document text (cached per shape) and variables for aliased copies of one field."""
    first = fields[0]
    shape = _shape(first)
    if any(_has_arguments(sub) for sub in first._subfields):
        raise ValueError("aliased batches of fields with nested arguments are not supported")
    shared = _shared_arguments(fields)
    key = (mutation, operation_name, shape, tuple(aliases), shared)
    text = _DOCUMENTS.get(key)
    if text is None:
        if any(_shape(f) != shape for f in fields[1:]):
            raise ValueError("an aliased batch needs copies of one field shape")
        text = _print_document(first, shape, aliases, operation_name, mutation, shared)
        if len(_DOCUMENTS) >= DOCUMENT_CACHE_LIMIT:
            _DOCUMENTS.clear()
        _DOCUMENTS[key] = text
    variables: dict[str, Any] = {}
    for index, field in enumerate(fields):
        for name, spec in field._variables.items():
            variables[_variable(name, index, shared)] = spec["value"]
    return text, variables


def _print_document(
    template: GraphQLField,
    shape: tuple[Any, ...],
    aliases: Sequence[str],
    operation_name: str,
    mutation: bool,
    shared: frozenset[str],
) -> str:
    """``print_ast``'s text of the aliased document, one alias block at a time.

    Each alias block prints the same for any K (graphql-core wraps a field's arguments by the
    field's own line length and never wraps variable definitions), so a block is printed once
    per shape and index and the document joined from blocks: a new K costs one new block, not
    a whole ``print_ast`` of K fields (tests compare the result with ``print_ast``'s).
    """
    arguments = [(name, spec["type"]) for name, spec in template._variables.items()]
    # Shared variables first, then each item's, in alias order.
    definitions: dict[str, str] = {name: type_ for name, type_ in arguments if name in shared}
    blocks = []
    for index, alias in enumerate(aliases):
        variables = tuple((name, _variable(name, index, shared)) for name, _ in arguments)
        for (_, variable), (_, type_) in zip(variables, arguments, strict=True):
            definitions.setdefault(variable, type_)
        key = (shape, alias, variables)
        block = _BLOCKS.get(key)
        if block is None:
            block = _print_block(template, alias, variables)
            if len(_BLOCKS) >= BLOCK_CACHE_LIMIT:
                _BLOCKS.clear()
            _BLOCKS[key] = block
        blocks.append(block)
    operation = "mutation" if mutation else "query"
    signature = ", ".join(f"${name}: {type_}" for name, type_ in definitions.items())
    head = (
        f"{operation} {operation_name}({signature})"
        if signature
        else f"{operation} {operation_name}"
    )
    return head + " {\n" + "\n".join(blocks) + "\n}"


_BLOCKS: dict[tuple[Any, ...], str] = {}
BLOCK_CACHE_LIMIT = 4096


def _print_block(template: GraphQLField, alias: str, variables: tuple[tuple[str, str], ...]) -> str:
    """One aliased copy of the generated field, printed by ``print_ast`` and indented."""
    from graphql import ArgumentNode, FieldNode, NameNode, VariableNode, print_ast

    node = template.to_ast(0)  # the generated selection
    field = FieldNode(
        alias=NameNode(value=alias),
        name=NameNode(value=template._field_name),
        arguments=[
            ArgumentNode(name=NameNode(value=name), value=VariableNode(name=NameNode(value=var)))
            for name, var in variables
        ],
        selection_set=node.selection_set,
    )
    return "\n".join("  " + line for line in print_ast(field).split("\n"))
