"""Every fault at once: the invariants a photo lab relies on still hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.facade.conftest import make_client
from viesus import EnhanceOptions
from viesus_emulator import Emulator, FaultConfig

X2 = EnhanceOptions.model_validate({"upscalingFactor": "X2"})


async def test_all_faults_at_once_keep_every_invariant(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    emulator.faults = FaultConfig(
        http_500=0.1,
        http_429=0.1,
        drop=0.1,
        lost_response=0.15,
        latency=0.02,
        latency_rate=0.2,
        job_error_rate=0.15,
        retry_after=0,
    )
    sources = photos(40)
    out = tmp_path / "out"
    async with make_client(emulator, batch_size=5) as viesus:
        results = [r async for r in viesus.enhance_many(sources, X2, out, journal=out / "j.sqlite")]
    stats = emulator.stats()
    assert sum(stats["faults"].values()) > 20, stats["faults"]  # the faults really fired

    # One result per source, no source twice.
    assert Counter(r.source for r in results) == Counter(str(s) for s in sources)
    finished = [r for r in results if r.status == "finished"]
    failed = [r for r in results if r.status == "failed"]
    # Never paid twice: one job per upload per input, and credits only for finished jobs.
    assert stats["jobs"]["duplicates"] == 0
    assert stats["credits"]["used"] == 4 * stats["jobs"]["by_status"].get("FINISHED", 0)
    # Every finished result is on disk exactly once; failures say why.
    assert len({r.output_path for r in finished}) == len(finished)
    assert all(r.output_path is not None and r.output_path.exists() for r in finished)
    assert all(r.reason for r in failed)
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(
        r.output_path.name for r in finished if r.output_path is not None
    )
    # A rerun after the storm finishes what is left and pays nothing twice.
    emulator.faults = FaultConfig()
    async with make_client(emulator, batch_size=5) as viesus:
        rerun = [r async for r in viesus.enhance_many(sources, X2, out, journal=out / "j.sqlite")]
    assert all(r.ok for r in rerun), [r.reason for r in rerun if not r.ok]
    assert {r.status for r in rerun if r.source in {f.source for f in finished}} == {"skipped"}
    assert emulator.stats()["jobs"]["duplicates"] == 0
