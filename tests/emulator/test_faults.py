"""Injected faults fire at their configured rates, reproducibly, and do what they claim."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.emulator.conftest import Api, jpeg
from viesus_emulator import Emulator, FaultConfig
from viesus_emulator._faults import FaultInjector

CREDITS = "{ credits { usedCreditsThisPeriod } }"


async def test_fault_rates_over_1000_requests(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(http_500=0.2, http_429=0.1)
    statuses: list[int] = []
    for _ in range(1000):
        statuses.append((await api.post(CREDITS)).status_code)
    # Binomial(1000, p): 4 standard deviations are ~51 (p=0.2) and ~38 (p=0.1).
    assert abs(statuses.count(500) - 200) < 51
    assert abs(statuses.count(429) - 100) < 38
    assert statuses.count(200) == 1000 - statuses.count(500) - statuses.count(429)
    stats = emu.stats()
    assert stats["faults"] == {"http_500": statuses.count(500), "http_429": statuses.count(429)}
    assert stats["requests"]["by_status"] == {
        str(code): statuses.count(code) for code in set(statuses)
    }


def test_fault_draws_are_seeded() -> None:
    faults = FaultConfig(http_500=0.3, drop=0.2)

    def run(seed: int) -> list[str | None]:
        injector = FaultInjector(seed)
        return [injector.decide(faults, "Op", ["credits"]).kind for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)


async def test_429_carries_retry_after(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(http_429=1.0, retry_after=7)
    response = await api.post(CREDITS)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_500_does_not_execute(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(http_500=1.0)
    response = await api.post('mutation { createWebhook(input: {url: "http://x.test/h"}) { id } }')
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert emu.state.store.webhooks == {}


async def test_dropped_connection_is_a_transport_error_and_nothing_ran(
    api: Api, emu: Emulator
) -> None:
    emu.faults = FaultConfig(drop=1.0)
    with pytest.raises(httpx.TransportError):
        await api.post('mutation { createWebhook(input: {url: "http://x.test/h"}) { id } }')
    assert emu.state.store.webhooks == {}
    emu.faults = FaultConfig()
    assert (await api.post(CREDITS)).status_code == 200, "the server survives"


async def test_lost_response_applied_the_mutation(api: Api, emu: Emulator) -> None:
    upload = await api.signed_upload(jpeg())
    emu.faults = FaultConfig(lost_response=1.0, only_operations=frozenset({"createEnhancedImage"}))
    with pytest.raises(httpx.TransportError):
        await api.post(
            "mutation($u: ID!) { createEnhancedImage(uploadId: $u) { id } }", {"u": upload["id"]}
        )
    stats = emu.stats()
    assert stats["jobs"]["total"] == 1, "the job exists although the client saw no answer"
    assert stats["faults"] == {"lost_response": 1}
    # A naive client retries blindly and pays twice: the emulator counts the duplicate.
    with pytest.raises(httpx.TransportError):
        await api.post(
            "mutation($u: ID!) { createEnhancedImage(uploadId: $u) { id } }", {"u": upload["id"]}
        )
    assert emu.stats()["jobs"]["duplicates"] == 1
    # Queries are not in only_operations: the client can reconcile.
    listed = await api.data(
        "query($u: ID!) { upload(id: $u) { EnhancedImages { id } } }", {"u": upload["id"]}
    )
    assert len(listed["upload"]["EnhancedImages"]) == 2
    await emu.drain()
    assert (await api.credits())["usedCreditsThisPeriod"] == 2


async def test_latency_is_added(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(latency=0.3, latency_rate=1.0)
    started = time.monotonic()
    assert (await api.post(CREDITS)).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert emu.stats()["faults"] == {"latency": 1}


async def test_only_operations_restricts_faults(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(http_500=1.0, only_operations=frozenset({"GetCredits"}))
    assert (
        await api.post("query GetCredits { credits { usedCreditsThisPeriod } }")
    ).status_code == 500
    assert (await api.post("query Other { credits { usedCreditsThisPeriod } }")).status_code == 200
    assert (await api.post("{ webhooks { id } }")).status_code == 200


async def test_faults_never_hit_get_or_bad_requests(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(http_500=1.0)
    get = await api.http.get(
        emu.endpoint, params={"query": CREDITS}, headers={"x-api-key": "local"}
    )
    assert get.status_code == 200
    assert (await api.post("{ nope }")).status_code == 400


async def test_concurrent_requests_with_faults_leave_the_server_healthy(
    api: Api, emu: Emulator
) -> None:
    emu.faults = FaultConfig(http_500=0.2, drop=0.2, lost_response=0.2)
    results = await asyncio.gather(*(api.post(CREDITS) for _ in range(60)), return_exceptions=True)
    assert any(isinstance(r, httpx.TransportError) for r in results)
    emu.faults = FaultConfig()
    assert (await api.post(CREDITS)).status_code == 200


def test_fault_config_is_validated() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig(http_500=1.5)
    with pytest.raises(ValueError, match="more than 1"):
        FaultConfig(http_500=0.6, drop=0.6)
