"""Many root fields per request: aliased batches with per-item results.

gql-style JSON-array batching is rejected by many servers; aliases inside one operation work on
every server. ``run_batches`` sends ``batch_size`` aliased copies of a root field per request
(built with the generated custom-operation builders) and returns one :class:`Outcome` per item:

- ``data``: the alias answered;
- ``error``: this alias (or the whole request, with nothing applied) failed, with its reason;
- ``ambiguous``: a mutation may have been applied but its answer is gone: a dropped connection
  or 5xx (see :mod:`viesus._retries`), or GraphQL's null propagation (one failing non-null
  mutation field nulls ``data`` for all, although the others ran). The caller reconciles.

A server that refuses the document size (HTTP 400 ``TOO_MANY_ROOT_FIELDS`` [inferred]) gets the
same items again in smaller batches: at the limit it announces (``extensions.limit``), else in
halves, down to one per request; the smaller size is kept for later calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from viesus._api_errors import graphql_error, map_error
from viesus._errors import ViesusError
from viesus._retries import AmbiguousRequest
from viesus._selections import send_aliased
from viesus_client import ViesusApiClient
from viesus_client.base_operation import GraphQLField
from viesus_client.exceptions import (
    GraphQLClientGraphQLError,
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
)

log = logging.getLogger("viesus._batching")

T = TypeVar("T")
TOO_MANY = frozenset({"TOO_MANY_ROOT_FIELDS", "MAX_ROOT_FIELDS_EXCEEDED", "QUERY_TOO_COMPLEX"})


@dataclass(frozen=True)
class Outcome:
    data: dict[str, Any] | None = None
    error: ViesusError | None = None
    ambiguous: bool = False


@dataclass
class BatchSize:
    """The current batch size; shrinks when a server refuses a document as too large."""

    value: int


async def run_batches(
    api: ViesusApiClient,
    items: Sequence[T],
    build: Callable[[T], GraphQLField],
    *,
    operation_name: str,
    mutation: bool,
    size: BatchSize,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    start = 0
    while start < len(items):
        chunk = items[start : start + size.value]
        result = await _run_one(api, chunk, build, operation_name, mutation)
        if isinstance(result, _Refused):  # too large: resend the same items in smaller batches
            if size.value == 1:
                outcomes.extend(
                    [Outcome(error=ViesusError("the server refuses even one root field"))]
                    * len(chunk)
                )
                start += len(chunk)
                continue
            # The server's announced limit when it gives one [inferred], else halve.
            limit = result.limit
            size.value = (
                limit if limit is not None and 0 < limit < size.value else max(1, size.value // 2)
            )
            log.info("server refused %d root fields; batch size now %d", len(chunk), size.value)
            continue
        outcomes.extend(result)
        start += len(chunk)
    return outcomes


@dataclass(frozen=True)
class _Refused:
    """The server refused the document as too large (nothing ran)."""

    limit: int | None


def _announced_limit(error: GraphQLClientGraphQLError) -> int | None:
    limit = (error.extensions or {}).get("limit")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def alias(index: int) -> str:
    return f"a{index}"


async def _run_one(
    api: ViesusApiClient,
    chunk: Sequence[T],
    build: Callable[[T], GraphQLField],
    operation_name: str,
    mutation: bool,
) -> list[Outcome] | _Refused:
    fields = [build(item) for item in chunk]
    aliases = [alias(i) for i in range(len(chunk))]
    try:  # the document text is built once per shape (see viesus._selections)
        data = await send_aliased(api, fields, aliases, operation_name, mutation=mutation)
    except GraphQLClientGraphQLMultiError as exc:
        return _partial(len(chunk), exc.data, exc.errors, mutation)
    except GraphQLClientHttpError as exc:
        errors = [GraphQLClientGraphQLError.from_dict(e) for e in exc.graphql_errors()]
        refusals = [e for e in errors if e.code in TOO_MANY]
        if exc.status_code == 400 and refusals:
            return _Refused(_announced_limit(refusals[0]))
        return [Outcome(error=map_error(exc))] * len(chunk)
    except AmbiguousRequest as exc:
        if mutation:
            return [Outcome(ambiguous=True)] * len(chunk)
        return [Outcome(error=map_error(exc))] * len(chunk)
    except Exception as exc:  # transport failures of queries after retries, etc.
        return [Outcome(error=map_error(exc))] * len(chunk)
    return [Outcome(data=data.get(alias(i))) for i in range(len(chunk))]


def _partial(
    count: int,
    data: dict[str, Any] | None,
    errors: list[GraphQLClientGraphQLError],
    mutation: bool,
) -> list[Outcome]:
    by_alias: dict[str, ViesusError] = {}
    request_level: ViesusError | None = None
    for error in errors:
        head = error.path[0] if error.path else None
        if isinstance(head, str):
            by_alias.setdefault(head, graphql_error(error))
        elif request_level is None:
            request_level = graphql_error(error)
    outcomes: list[Outcome] = []
    for i in range(count):
        name = alias(i)
        if name in by_alias:
            outcomes.append(Outcome(error=by_alias[name]))
        elif data is not None and data.get(name) is not None:
            outcomes.append(Outcome(data=data[name]))
        elif request_level is not None and data is None and not by_alias:
            outcomes.append(Outcome(error=request_level))  # rejected before execution
        elif mutation:
            outcomes.append(Outcome(ambiguous=True))  # ran, but null propagation hid the answer
        else:
            outcomes.append(Outcome(data=None))
    return outcomes
