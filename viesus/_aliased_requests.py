"""Many root fields per request: aliased requests with per-item results.

gql-style JSON-array batching is rejected by many servers; aliases inside one operation work on
every server. ``run_batches`` sends ``batch_size`` aliased copies of a root field per request
(built with the generated custom-operation builders) and returns one :class:`Outcome` per item:

- ``data``: the alias answered;
- ``error``: this alias (or the whole request, with nothing applied) failed, with its reason;
- ``ambiguous``: a mutation may have been applied but its answer is gone: a dropped connection
  or 5xx, an error that does not prove nothing ran (:func:`viesus._retries.may_have_run`), a
  missing alias, or GraphQL's null propagation (one failing non-null mutation field nulls
  ``data`` for all, although the others ran). The caller reconciles.

A server that refuses the document size (HTTP 400 ``TOO_MANY_ROOT_FIELDS`` [inferred]) gets the
same items again in smaller batches: at the limit it announces (``extensions.limit``), else in
halves, down to one per request; the smaller size is kept for later calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from viesus._api_errors import graphql_error, map_error
from viesus._errors import ViesusError
from viesus._retries import MAY_MUTATE, AmbiguousRequest, may_have_run
from viesus._selections import aliased_document
from viesus_client import ViesusApiClient
from viesus_client.base_operation import GraphQLField
from viesus_client.exceptions import (
    GraphQLClientGraphQLError,
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    GraphQLClientInvalidResponseError,
)

log = logging.getLogger("viesus._aliased_requests")

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


class ScaledBatchSize(BatchSize):
    """``factor`` times ``base`` (free steps that may carry more per request); a smaller size
    the server forces on it binds ``base`` too: the server's limit is learned once."""

    def __init__(self, base: BatchSize, factor: int) -> None:
        self._base, self._factor = base, factor
        self._own = base.value * factor

    @property
    def value(self) -> int:
        return min(self._own, self._base.value * self._factor)

    @value.setter
    def value(self, smaller: int) -> None:
        self._own = smaller
        self._base.value = min(self._base.value, smaller)


async def run_batches(
    api: ViesusApiClient,
    items: Sequence[T],
    build: Callable[[T], GraphQLField],
    *,
    operation_name: str,
    mutation: bool,
    size: BatchSize,
    concurrency: int = 4,
) -> list[Outcome]:
    """One outcome per item, in order. Up to ``concurrency`` requests are in flight at once,
    so one slow or hung request holds only its own batch, not the others (no head-of-line)."""
    outcomes: list[Outcome] = [Outcome()] * len(items)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def run_range(start: int, stop: int) -> None:
        while start < stop:
            end = min(stop, start + size.value)
            async with gate:
                result = await _run_one(api, items[start:end], build, operation_name, mutation)
            if isinstance(result, _Refused):  # too large: the same items in smaller batches
                if end - start == 1:
                    outcomes[start] = Outcome(
                        error=ViesusError("the server refuses even one root field")
                    )
                    start = end
                    continue
                # The server's announced limit when it gives one [inferred], else halve.
                limit = result.limit
                smaller = limit if limit is not None and 0 < limit < end - start else None
                size.value = min(size.value, smaller or max(1, (end - start) // 2))
                log.info(
                    "server refused %d root fields; batch size now %d", end - start, size.value
                )
                continue
            outcomes[start:end] = result
            start = end

    step = max(1, size.value)
    async with asyncio.TaskGroup() as group:
        for start in range(0, len(items), step):
            group.create_task(run_range(start, min(len(items), start + step)))
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
    try:
        data = await send_operation(
            api, fields, aliases, operation_name=operation_name, mutation=mutation
        )
    except GraphQLClientGraphQLMultiError as exc:
        return _partial(len(chunk), exc.data, exc.errors, mutation)
    except GraphQLClientHttpError as exc:
        errors = [GraphQLClientGraphQLError.from_dict(e) for e in exc.graphql_errors()]
        refusals = [e for e in errors if e.code in TOO_MANY]
        if exc.status_code == 400 and refusals:
            return _Refused(_announced_limit(refusals[0]))
        mapped = map_error(exc)
        return [Outcome(error=mapped, ambiguous=mutation and may_have_run(mapped))] * len(chunk)
    except AmbiguousRequest as exc:
        if mutation:
            return [Outcome(error=exc, ambiguous=True)] * len(chunk)
        return [Outcome(error=map_error(exc))] * len(chunk)
    except GraphQLClientInvalidResponseError as exc:
        # An answer that is not GraphQL (a proxy's page, a cut body): a mutation may have run.
        return [Outcome(error=map_error(exc), ambiguous=mutation)] * len(chunk)
    except Exception as exc:  # transport failures after retries, etc.
        unsure = mutation and may_have_run(exc)
        return [Outcome(error=map_error(exc), ambiguous=unsure)] * len(chunk)
    # A mutation's alias missing from a successful answer: it may have run; never "no job".
    return [
        Outcome(data=data.get(alias(i)), ambiguous=mutation and data.get(alias(i)) is None)
        for i in range(len(chunk))
    ]


async def send_operation(
    api: ViesusApiClient,
    fields: Sequence[GraphQLField],
    aliases: Sequence[str],
    *,
    operation_name: str,
    mutation: bool,
) -> dict[str, Any]:
    """``api.query``/``api.mutation`` of aliased fields, with the request marked as mutating or not.

    The document text is built once per shape from the generated builders' own fields and
    cached (:func:`viesus._selections.aliased_document`); it is sent with the
    :data:`~viesus._retries.MAY_MUTATE` extension so the retry transport knows, rather than
    guesses, whether a lost answer may hide an applied change.
    """
    text, variables = aliased_document(fields, aliases, operation_name, mutation=mutation)
    response = await api.execute(
        text,
        operation_name=operation_name,
        variables=variables,
        extensions={MAY_MUTATE: mutation},
    )
    return api.get_data(response)


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
            failure = by_alias[name]
            outcomes.append(Outcome(error=failure, ambiguous=mutation and may_have_run(failure)))
        elif data is not None and data.get(name) is not None:
            outcomes.append(Outcome(data=data[name]))
        elif request_level is not None and data is None and not by_alias:
            # Rejected before execution, when its code proves it; else it may have run.
            unsure = mutation and may_have_run(request_level)
            outcomes.append(Outcome(error=request_level, ambiguous=unsure))
        elif mutation:
            outcomes.append(Outcome(ambiguous=True))  # ran, but null propagation hid the answer
        else:
            outcomes.append(Outcome(data=None))
    return outcomes
