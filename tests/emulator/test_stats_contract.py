"""``GET /stats`` is a stable JSON contract: its key structure is a snapshot, its numbers are
checked against what happened (requests, jobs per upload, duplicates, credits, job times)."""

from __future__ import annotations

from typing import Any

import httpx
from syrupy.assertion import SnapshotAssertion

from tests.emulator.conftest import Api, jpeg
from tests.emulator.peer import Peer
from viesus_emulator import Emulator

#: Maps whose keys are data (ids, names, statuses), not part of the contract.
DATA_KEYED = {"by_operation", "by_root_field", "by_status", "per_upload", "times", "faults"}


def key_structure(value: Any, name: str = "") -> Any:
    """The document's shape: nested key names with value types; data-keyed maps collapsed."""
    if isinstance(value, dict):
        if name in DATA_KEYED:
            inner = [key_structure(v) for v in value.values()]
            return {"<key>": inner[0] if inner else "<empty>"}
        return {key: key_structure(inner, key) for key, inner in sorted(value.items())}
    if value is None:
        return "null"
    return type(value).__name__


async def test_stats_document_shape_is_a_contract(
    api: Api, emu: Emulator, http: httpx.AsyncClient, peer: Peer, snapshot: SnapshotAssertion
) -> None:
    await api.data(
        "mutation($u: String!) { createWebhook(input: {url: $u}) { id } }",
        {"u": peer.url("hooks/a")},
    )
    upload = await api.signed_upload(jpeg())
    first = await api.enhance(str(upload["id"]), {"mode": "ENHANCE"})
    second = await api.enhance(str(upload["id"]), {"mode": "ENHANCE"})  # a duplicate
    for job in (first, second):
        await api.wait(str(job["id"]))
    await emu.drain()
    stats = (await http.get(f"{emu.base_url}/stats")).json()
    assert key_structure(stats) == snapshot

    assert stats["version"] == 1
    assert stats["jobs"]["per_upload"] == {upload["id"]: 2}
    assert stats["jobs"]["duplicates"] == 1
    assert stats["credits"]["charged"] == stats["credits"]["used"] == 2
    assert stats["credits"]["reserved"] == 0
    assert stats["requests"]["by_root_field"]["createEnhancedImage"] == 2
    times = stats["jobs"]["times"]
    assert set(times) == {first["id"], second["id"]}
    for moments in times.values():
        assert moments["created"] <= moments["started"] <= moments["finished"]
    makespan = max(t["finished"] for t in times.values()) - min(
        t["created"] for t in times.values()
    )
    assert abs(stats["jobs"]["makespan_seconds"] - makespan) < 0.002


async def test_client_chosen_names_are_bounded(api: Api, emu: Emulator) -> None:
    for i in range(250):
        await api.post(f"query Op{i} {{ __typename }}")
    by_operation = emu.stats()["requests"]["by_operation"]
    assert len(by_operation) == 201
    assert by_operation["(other)"] == 50
