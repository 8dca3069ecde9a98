"""Query cost limits: every hostile document is refused cheaply, before it can block the server.

Speed itself is measured in ``benchmarks/hostile_documents.py``; these tests assert structure:
the fragment walk visits each fragment once, the checks run in the documented order, and each
refusal names its limit.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import get_introspection_query, parse

from tests.emulator.conftest import Api
from viesus_emulator import Emulator, QueryLimits
from viesus_emulator._query_limits import measure

CREDITS = "credits { usedCreditsThisPeriod }"


def doubling_spreads(levels: int) -> str:
    """The issue's query: each fragment spreads the next twice (2**levels expanded fields)."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ {CREDITS} }}")
    return "query Bomb { ...F0 } " + " ".join(fragments)


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"errors"}, body
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def test_the_issue_document_is_small_but_expands_exponentially() -> None:
    query = doubling_spreads(22)
    assert len(query) < 1000  # the issue's 968-byte query
    shape = measure(parse(query))
    assert shape.fields == 2 * 2**22  # credits + usedCreditsThisPeriod, 2**22 times
    # Linear: every fragment's body is walked exactly once, however often it is spread.
    assert set(shape.fragment_walks.values()) == {1}
    assert len(shape.fragment_walks) == 23


async def test_doubling_spreads_are_refused_by_expansion(api: Api, emu: Emulator) -> None:
    response = await api.post(doubling_spreads(22))
    assert response.status_code == 400
    (error,) = errors_of(response)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "fields",
        "maximum": emu.config.limits.max_fields,
        "actual": 2 * 2**22,
    }
    # The server is still answering; the refused document's operation is counted, its root
    # fields are not (they are only counted once the expansion is known to be bounded).
    assert (await api.data(f"{{ {CREDITS} }}"))["credits"]
    assert emu.stats()["requests"]["by_operation"]["Bomb"] == 1
    assert emu.stats()["requests"]["by_root_field"] == {"credits": 1}


async def test_small_spread_trees_still_run(api: Api) -> None:
    data = await api.data(doubling_spreads(4))
    assert set(data["credits"]) == {"usedCreditsThisPeriod"}


async def test_body_over_the_cap_is_413_with_a_graphql_error(api: Api, emu: Emulator) -> None:
    emu.state.config.limits = QueryLimits(max_body_bytes=2000)
    padding = " " * 3000
    response = await api.post(f"{{ {CREDITS} }}{padding}")
    assert response.status_code == 413
    (error,) = errors_of(response)
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "2000 bytes" in error["message"]


async def test_body_cap_holds_without_content_length(api: Api, emu: Emulator) -> None:
    emu.state.config.limits = QueryLimits(max_body_bytes=2000)

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    response = await api.http.post(
        emu.endpoint,
        content=chunks(),
        headers={"x-api-key": emu.api_key, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert errors_of(response)[0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_long_get_query_string_is_413(api: Api, emu: Emulator) -> None:
    emu.state.config.limits = QueryLimits(max_body_bytes=500)
    response = await api.http.get(
        emu.endpoint,
        params={"query": f"{{ {CREDITS} }}" + " " * 600},
        headers={"x-api-key": emu.api_key},
    )
    assert response.status_code == 413


async def test_too_many_tokens(api: Api, emu: Emulator) -> None:
    emu.state.config.limits = QueryLimits(max_tokens=50)
    response = await api.post("{ " + " ".join(["__typename"] * 60) + " }")
    assert response.status_code == 400
    (error,) = errors_of(response)
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "measure": "tokens", "maximum": 50}


async def test_depth_is_limited_through_fragments(api: Api, emu: Emulator) -> None:
    emu.state.config.limits = QueryLimits(max_depth=3)
    query = "{ __schema { ...T } } fragment T on __Schema { types { fields { type { name } } } }"
    response = await api.post(query)
    assert response.status_code == 400
    (error,) = errors_of(response)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "depth",
        "maximum": 3,
        "actual": 5,
    }


async def test_root_field_limit_has_a_default_announced_as_limit(api: Api, emu: Emulator) -> None:
    limit = emu.config.max_root_fields
    assert limit == 100
    aliases = " ".join(f"a{i}: {CREDITS}" for i in range(limit + 1))
    response = await api.post(f"{{ {aliases} }}")
    assert response.status_code == 400
    (error,) = errors_of(response)
    # The contract viesus._aliased_requests relies on: the code and extensions.limit.
    assert error["extensions"] == {"code": "TOO_MANY_ROOT_FIELDS", "limit": 100, "count": 101}
    ten_thousand = " ".join(f"a{i}: __typename" for i in range(10_000))
    assert (await api.post(f"{{ {ten_thousand} {aliases} }}")).status_code == 400


async def test_root_fields_hidden_in_spreads_count(api: Api, emu: Emulator) -> None:
    emu.state.config.max_root_fields = 7
    response = await api.post(doubling_spreads(3))  # 8 occurrences of credits
    assert errors_of(response)[0]["extensions"] == {
        "code": "TOO_MANY_ROOT_FIELDS",
        "limit": 7,
        "count": 8,
    }


async def test_repeated_response_keys_are_limited(api: Api, emu: Emulator) -> None:
    limit = emu.config.limits.max_same_key
    assert limit is not None
    fields = " ".join(["usedCreditsThisPeriod"] * (limit + 1))
    response = await api.post(f"{{ credits {{ {fields} }} }}")
    assert response.status_code == 400
    assert errors_of(response)[0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "same_key",
        "maximum": limit,
        "actual": limit + 1,
    }
    # Repeats merged in from fragments count in the selection set they land in.
    query = (
        "{ credits { ...A ...B } } fragment A on Credits { "
        + " ".join(["usedCreditsThisPeriod"] * limit)
        + " } fragment B on Credits { usedCreditsThisPeriod }"
    )
    assert errors_of(await api.post(query))[0]["extensions"]["actual"] == limit + 1


async def test_fragment_cycles_are_refused_before_validation(api: Api) -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    response = await api.post(query)
    assert response.status_code == 400
    (error,) = errors_of(response)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "within itself" in error["message"]


async def test_checks_run_cheapest_first(api: Api, emu: Emulator) -> None:
    # A document that breaks the depth AND the root-field limit AND is invalid: depth wins.
    emu.state.config.limits = QueryLimits(max_depth=2)
    emu.state.config.max_root_fields = 1
    response = await api.post("{ a: credits { x { y } } b: credits { z } }")
    assert errors_of(response)[0]["extensions"]["measure"] == "depth"
    # Within the depth, the root-field count comes before validation.
    response = await api.post("{ a: credits { x } b: credits { z } }")
    assert errors_of(response)[0]["extensions"]["code"] == "TOO_MANY_ROOT_FIELDS"


async def test_nested_introspection_is_refused(api: Api) -> None:
    inner = "name"
    for _ in range(4):
        inner = f"fields {{ type {{ ofType {{ {inner} }} }} }}"
    response = await api.post(f"{{ __schema {{ types {{ {inner} }} }} }}")
    assert response.status_code == 400
    # graphql-core's own MaxIntrospectionDepthRule, or the emulator's cost estimate.
    assert errors_of(response)[0]["extensions"]["code"] in {
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COMPLEX",
    }


async def test_aliased_introspection_is_refused_by_cost(api: Api) -> None:
    fields = "name kind fields { name args { name type { name ofType { name } } } }"
    aliases = " ".join(f"a{i}: __schema {{ types {{ {fields} }} }}" for i in range(60))
    response = await api.post(f"{{ {aliases} }}")
    assert response.status_code == 400
    (error,) = errors_of(response)
    assert error["extensions"]["measure"] == "cost"
    assert error["extensions"]["actual"] > error["extensions"]["maximum"] == 25_000


@pytest.mark.parametrize("descriptions", [True, False])
async def test_the_standard_introspection_query_passes(api: Api, descriptions: bool) -> None:
    query = get_introspection_query(descriptions=descriptions, input_value_deprecation=True)
    data = await api.data(query)
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_deeply_nested_json_variables_are_a_400(api: Api, emu: Emulator) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    body = '{"query": "{ __typename }", "variables": {"v": ' + nested + "}}"
    response = await api.http.post(
        emu.endpoint,
        content=body,
        headers={"x-api-key": emu.api_key, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert errors_of(response)[0]["extensions"]["code"] == "BAD_REQUEST"
