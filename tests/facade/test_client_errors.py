"""``Viesus._call`` keeps a redacted cause when an answer does not match the schema (issue 8).

Reproduced first: schema drift surfaced as ``ViesusError("unexpected ValidationError")``, with
no word of which field failed.
"""

from __future__ import annotations

import httpx
import pytest

from viesus import UnexpectedResponse, Viesus


def answering(data: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json={"data": data}))


async def test_schema_drift_names_the_field_and_the_problem_not_the_value() -> None:
    drifted = {
        "credits": {
            "periodStart": "2026-11-01T00:00:00Z",
            "periodEnd": "2026-12-01T00:00:00Z",
            "usedCreditsThisPeriod": 3,
            "remainingCreditsThisPeriod": "plenty-s3cret",
        }
    }
    async with Viesus(
        api_key="k", endpoint="http://api.test/graphql", transport=answering(drifted)
    ) as viesus:
        with pytest.raises(UnexpectedResponse) as caught:
            await viesus.credits()

    message = str(caught.value)
    assert "credits.remainingCreditsThisPeriod" in message
    assert "int" in message
    assert "s3cret" not in message
    assert "make pull" in message
