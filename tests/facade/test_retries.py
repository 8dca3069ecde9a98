"""The retry transport: what is retried, what is never resent, what is logged."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from viesus._redact import install_log_redaction
from viesus._retries import (
    MAY_MUTATE,
    AmbiguousRequest,
    RetryingTransport,
    RetryPolicy,
    operation_type,
    retry_after_seconds,
)

FAST = RetryPolicy(max_attempts=4, base=0.001, cap=0.002, max_retry_after=1.0)


def graphql(kind: str) -> bytes:
    return json.dumps(
        {
            "query": f"{kind} Op{kind.title()} {{ x }}",
            "operationName": f"Op{kind.title()}",
            "variables": {},
        }
    ).encode()


def client_with(responses: list[httpx.Response | Exception]) -> tuple[httpx.AsyncClient, list[int]]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    transport = RetryingTransport(httpx.MockTransport(handler), FAST)
    return httpx.AsyncClient(transport=transport), calls


async def test_query_is_retried_on_5xx_and_transport_errors() -> None:
    client, calls = client_with(
        [httpx.Response(503), httpx.ReadError("boom"), httpx.Response(200, json={"data": {}})]
    )
    async with client:
        response = await client.post("http://x/graphql", content=graphql("query"))
    assert response.status_code == 200
    assert len(calls) == 3


async def test_mutation_5xx_is_ambiguous_not_resent() -> None:
    client, calls = client_with([httpx.Response(500), httpx.Response(200, json={"data": {}})])
    async with client:
        with pytest.raises(AmbiguousRequest) as info:
            await client.post("http://x/graphql", content=graphql("mutation"))
    assert len(calls) == 1
    assert info.value.status_code == 500


async def test_mutation_lost_answer_is_ambiguous_not_resent() -> None:
    client, calls = client_with([httpx.RemoteProtocolError("peer closed"), httpx.Response(200)])
    async with client:
        with pytest.raises(AmbiguousRequest, match="may have been applied"):
            await client.post("http://x/graphql", content=graphql("mutation"))
    assert len(calls) == 1


async def test_mutation_is_retried_when_it_provably_was_not_sent_or_was_refused() -> None:
    client, calls = client_with(
        [
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(200, json={"data": {}}),
        ]
    )
    async with client:
        response = await client.post("http://x/graphql", content=graphql("mutation"))
    assert response.status_code == 200
    assert len(calls) == 3


async def test_retry_after_beyond_the_cap_is_surfaced_not_slept() -> None:
    client, calls = client_with([httpx.Response(429, headers={"retry-after": "3600"})])
    async with client:
        response = await client.post("http://x/graphql", content=graphql("query"))
    assert response.status_code == 429
    assert len(calls) == 1


async def test_attempts_are_bounded() -> None:
    client, calls = client_with([httpx.Response(502)] * 4)
    async with client:
        response = await client.post("http://x/graphql", content=graphql("query"))
    assert response.status_code == 502
    assert len(calls) == FAST.max_attempts


async def test_retries_are_logged_at_info_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = client_with([httpx.Response(503), httpx.Response(200, json={"data": {}})])
    install_log_redaction()  # as every AsyncViesus does: httpx's own request lines carry URLs
    caplog.set_level(logging.DEBUG)
    async with client:
        await client.post(
            "http://x/graphql?token=SIGNED",
            content=graphql("query"),
            headers={"x-api-key": "SECRET-KEY"},
        )
    messages = [r.getMessage() for r in caplog.records if r.name == "viesus.http"]
    assert messages
    assert messages[0].startswith("retry 1 of 3 for OpQuery in ")
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "viesus.http")
    assert "SECRET-KEY" not in caplog.text
    assert "SIGNED" not in caplog.text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Response(429, headers=headers)) == expected


async def test_mutation_5xx_with_a_long_retry_after_is_ambiguous_not_a_definite_error() -> None:
    client, calls = client_with([httpx.Response(503, headers={"retry-after": "3600"})])
    async with client:
        with pytest.raises(AmbiguousRequest) as info:
            await client.post("http://x/graphql", content=graphql("mutation"))
    assert len(calls) == 1
    assert info.value.status_code == 503


async def test_mutation_429_with_a_long_retry_after_is_surfaced_it_did_not_run() -> None:
    client, calls = client_with([httpx.Response(429, headers={"retry-after": "3600"})])
    async with client:
        response = await client.post("http://x/graphql", content=graphql("mutation"))
    assert response.status_code == 429
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("marked", "sent"),
    [(True, 1), (False, 2)],
)
async def test_the_callers_mark_decides_not_the_document_text(marked: bool, sent: int) -> None:
    # The text says query, the caller says otherwise (and the other way round).
    client, calls = client_with([httpx.Response(500), httpx.Response(200, json={"data": {}})])
    body = graphql("mutation" if not marked else "query")
    async with client:
        try:
            await client.post("http://x/graphql", content=body, extensions={MAY_MUTATE: marked})
        except AmbiguousRequest:
            assert marked
    assert len(calls) == sent


def test_operation_type_is_parsed_once_per_document() -> None:
    operation_type.cache_clear()
    document = "# note\nquery Poll { a }"
    assert operation_type(document, "Poll") == "query"
    assert operation_type(document, "Poll") == "query"
    assert operation_type.cache_info().hits == 1
    assert operation_type(document, "Other") is None
    assert operation_type("query A { a } mutation B { b }", None) is None
