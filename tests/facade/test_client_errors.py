"""``AsyncViesus._call`` keeps a redacted cause when an answer does not match the schema (issue 8).

Reproduced first: schema drift surfaced as ``ViesusError("unexpected ValidationError")``, with
no word of which field failed.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from viesus import AsyncViesus, RetryPolicy, ServerError, UnexpectedResponse


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
    async with AsyncViesus(
        api_key="k", endpoint="http://api.test/graphql", transport=answering(drifted)
    ) as viesus:
        with pytest.raises(UnexpectedResponse) as caught:
            await viesus.credits()

    message = str(caught.value)
    assert "credits.remainingCreditsThisPeriod" in message
    assert "int" in message
    assert "s3cret" not in message
    assert "make pull" in message


def refused_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection_names_the_endpoint_redacted_and_the_reason() -> None:
    port = refused_port()
    endpoint = f"http://lab:pw-s3cret@127.0.0.1:{port}/graphql?token=t0k3n"
    async with AsyncViesus(
        api_key="key-s3cret", endpoint=endpoint, retry=RetryPolicy(max_attempts=1)
    ) as viesus:
        with pytest.raises(ServerError) as caught:
            await viesus.credits()

    assert str(caught.value) == (
        f"cannot connect to http://127.0.0.1:{port}/graphql?REDACTED: connection refused; "
        "is the service running? (set VIESUS_ENDPOINT or --endpoint)"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            "cannot connect to http://api.test/graphql: host name not found",
        ),
        (httpx.ConnectTimeout("timed out"), "cannot connect to http://api.test/graphql: timed out"),
        (
            httpx.ReadTimeout("timed out"),
            "no answer from http://api.test/graphql within the timeout",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "connection to http://api.test/graphql failed: "
            "server disconnected without sending a response",
        ),
    ],
)
async def test_transport_errors_say_what_happened_in_words(
    error: httpx.TransportError, expected: str
) -> None:
    if isinstance(error, httpx.ConnectError) and "Name" in str(error):
        error.__cause__ = socket.gaierror(-2, "Name or service not known")

    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with AsyncViesus(
        api_key="k",
        endpoint="http://api.test/graphql",
        transport=httpx.MockTransport(fail),
        retry=RetryPolicy(max_attempts=1),
    ) as viesus:
        with pytest.raises(ServerError) as caught:
            await viesus.credits()

    assert str(caught.value).startswith(expected)
