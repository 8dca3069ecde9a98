"""GraphQL over HTTP: auth, methods, content types, status codes, error codes."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.emulator.conftest import Api
from viesus_emulator import Emulator

CREDITS = "{ credits { usedCreditsThisPeriod } }"
GRAPHQL_JSON = "application/graphql-response+json"


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}])
async def test_missing_or_wrong_key_is_401_with_graphql_error(
    emu: Emulator, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(emu.endpoint, json={"query": CREDITS}, headers=headers)
    assert response.status_code == 401
    assert code(response) == "UNAUTHENTICATED"
    assert "wrong" not in response.text


async def test_post_answers_application_json_by_default(api: Api) -> None:
    response = await api.post(CREDITS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"data": {"credits": {"usedCreditsThisPeriod": 0}}}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_JSON, GRAPHQL_JSON),
        ("application/json", "application/json"),
        (f"{GRAPHQL_JSON}, application/json;q=0.9", GRAPHQL_JSON),
        (f"{GRAPHQL_JSON};q=0.5, application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
    ],
)
async def test_content_negotiation(api: Api, accept: str, expected: str) -> None:
    response = await api.post(CREDITS, headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == expected


async def test_unacceptable_accept_is_406(api: Api) -> None:
    response = await api.post(CREDITS, headers={"accept": "text/html"})
    assert response.status_code == 406
    assert code(response) == "NOT_ACCEPTABLE"


async def test_get_runs_queries(api: Api, emu: Emulator) -> None:
    response = await api.http.get(
        emu.endpoint,
        params={
            "query": "query Q($id: ID!) { upload(id: $id) { id } }",
            "variables": '{"id": "x"}',
        },
        headers={"x-api-key": "local"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"upload": None}}


async def test_mutation_via_get_is_405(api: Api, emu: Emulator) -> None:
    response = await api.http.get(
        emu.endpoint,
        params={"query": 'mutation { deleteWebhook(id: "x") { success } }'},
        headers={"x-api-key": "local"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert code(response) == "METHOD_NOT_ALLOWED"
    assert emu.stats()["requests"]["by_root_field"]["deleteWebhook"] == 1


async def test_other_methods_are_405(api: Api, emu: Emulator) -> None:
    response = await api.http.put(emu.endpoint, headers={"x-api-key": "local"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("accept", [GRAPHQL_JSON, "application/json"])
async def test_parse_error_is_400(api: Api, accept: str) -> None:
    response = await api.post("{ credits { ", headers={"accept": accept})
    assert response.status_code == 400
    assert response.headers["content-type"] == accept
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert body["errors"][0]["locations"]


async def test_validation_error_is_400(api: Api) -> None:
    response = await api.post("{ credits { noSuchField } }")
    assert response.status_code == 400
    assert code(response) == "GRAPHQL_VALIDATION_FAILED"


async def test_variable_coercion_error_is_400(api: Api) -> None:
    response = await api.post("query($id: ID!) { upload(id: $id) { id } }", {})
    assert response.status_code == 400
    assert code(response) == "BAD_USER_INPUT"


async def test_field_error_is_200_with_errors(api: Api) -> None:
    response = await api.post('mutation { deleteWebhook(id: "nope") { success } }')
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["deleteWebhook"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (
            b"{ credits { usedCreditsThisPeriod } }",
            "application/graphql",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (b"not json", "application/json", 400, "BAD_REQUEST"),
        (b"[]", "application/json", 400, "BAD_REQUEST"),
        (b'{"variables": {}}', "application/json", 400, "BAD_REQUEST"),
        (
            json.dumps({"query": CREDITS, "variables": [1]}).encode(),
            "application/json",
            400,
            "BAD_REQUEST",
        ),
    ],
)
async def test_malformed_bodies(
    emu: Emulator,
    http: httpx.AsyncClient,
    content: bytes,
    content_type: str,
    status: int,
    error: str,
) -> None:
    response = await http.post(
        emu.endpoint, content=content, headers={"x-api-key": "local", "content-type": content_type}
    )
    assert response.status_code == status
    assert code(response) == error


async def test_stats_and_health_need_no_key(emu: Emulator, http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{emu.base_url}/healthz")).json() == {"status": "ok"}
    stats = (await http.get(f"{emu.base_url}/stats")).json()
    assert stats == emu.stats()
    assert set(stats) >= {"version", "requests", "faults", "uploads", "jobs", "credits", "webhooks"}


async def test_named_operations_are_counted(api: Api, emu: Emulator) -> None:
    await api.post("query GetCredits { credits { usedCreditsThisPeriod } }")
    await api.post("query GetCredits { credits { usedCreditsThisPeriod } }")
    await api.post(CREDITS)
    stats = emu.stats()["requests"]
    assert stats["by_operation"] == {"GetCredits": 2, "(anonymous)": 1}
    assert stats["by_root_field"] == {"credits": 3}
    assert stats["by_status"] == {"200": 3}
    assert stats["total"] == 3
