"""Many worker processes, one batch, one emulator, a real PostgreSQL: the promises of the
shared journal under the faults that matter (a worker killed mid-create, a worker stalled past
its lease, the database down for a moment).

Each worker is its own ``python`` process using the public facade (tests/postgres/worker.py),
as a lab would run them on several machines. Invariants checked at the emulator (its stats),
not in the client: every source exactly one output and one job, 0 duplicate jobs, credits
charged = outputs x price.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.facade.conftest import API_KEY, emulator_config, write_photo
from tests.pg_server import PostgresServer
from viesus._output_names import mirrored_output
from viesus_emulator import Emulator, FaultConfig

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"mode": "ENHANCE"}
PRICE = 1  # ENHANCE alone: the default enhancement's price [emulator pricing table]
# Leases short enough for a test to outlive one; the create window as in production, half.
LEASE = (2.0, 0.3, 1.0)


@dataclass
class Lab:
    """One emulator, one journal, photos on a "shared filesystem", workers as processes."""

    emulator: Emulator
    dsn: str
    root: Path
    sources: list[str] = field(default_factory=list)
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    def photos(self, count: int) -> list[str]:
        folder = self.root / "in"
        folder.mkdir(exist_ok=True)
        self.sources = [
            str(write_photo(folder / f"photo{i:03d}.jpg", (64, 48), seed=i)) for i in range(count)
        ]
        return self.sources

    async def start(self, worker: str, **overrides: Any) -> asyncio.subprocess.Process:
        spec = {
            "api_key": API_KEY,
            "endpoint": self.emulator.endpoint,
            "dsn": self.dsn,
            "batch": "lab",
            "worker": worker,
            "sources": self.sources,
            "options": OPTIONS,
            "out_dir": str(self.out_dir),
            "lease": LEASE,
            "claim_size": 3,
            **overrides,
        }
        spec_file = self.root / f"{worker}.json"
        spec_file.write_text(json.dumps(spec))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), str(ROOT / "generated"), env.get("PYTHONPATH", "")]
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.postgres.worker", str(spec_file),
            cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.processes[worker] = process
        return process

    async def finish(self, worker: str, timeout: float = 90) -> tuple[list[dict[str, Any]], str]:
        """Wait for a worker; its result lines and its stderr. Fails if it failed."""
        process = self.processes[worker]
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        lines = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
        errors = stderr.decode()
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"worker {worker} exited {process.returncode}:\n{errors}")
        return [line for line in lines if "status" in line], errors

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return connection.execute(sql.encode()).fetchall()

    async def wait_until(self, sql: str, timeout: float = 60) -> None:
        """Poll the journal until ``sql`` returns a row (a condition on the batch's progress)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._holds(sql):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"never true: {sql}")
            await asyncio.sleep(0.01)

    def _holds(self, sql: str) -> bool:
        try:
            return bool(self.query(sql))
        except psycopg.errors.UndefinedTable:  # no worker has created the schema yet
            return False

    def check_every_item_once(self, results: list[dict[str, Any]]) -> None:
        finished = [r for r in results if r["status"] in ("finished", "skipped")]
        assert sorted(r["source"] for r in finished) == sorted(self.sources), results
        stats = self.emulator.stats()
        assert stats["jobs"]["duplicates"] == 0
        assert stats["jobs"]["total"] == len(self.sources)  # one create per item, no more
        assert stats["jobs"]["by_status"] == {"FINISHED": len(self.sources)}
        assert stats["credits"]["charged"] == len(self.sources) * PRICE
        outputs = sorted(p.name for p in self.out_dir.iterdir() if not p.name.startswith("."))
        assert outputs == sorted(
            mirrored_output(str(s), self.out_dir, None, "jpg").name for s in self.sources
        )
        open_rows = self.query("SELECT count(*) FROM viesus_queue WHERE outcome IS NULL")
        assert open_rows == [(0,)]

    async def stop_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.fixture
async def lab(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Lab]:
    # Jobs take a little while (as on the service), so workers overlap in time.
    config = emulator_config(time_scale=0.004, workers=8)
    async with Emulator(config) as emulator:
        made = Lab(emulator, pg_dsn, tmp_path)
        try:
            yield made
        finally:
            await made.stop_all()


@pytest.mark.parametrize("workers", [2, 3])
async def test_workers_on_one_batch_do_every_item_exactly_once(lab: Lab, workers: int) -> None:
    lab.photos(24)
    # Every request takes 0.2 s, so one worker alone needs several seconds for the batch and
    # the others (a second or two to start) find work left to share.
    lab.emulator.faults = FaultConfig(latency=0.2, latency_rate=1.0)
    names = [f"w{i}" for i in range(workers)]
    for name in names:
        await lab.start(name)
    outcomes = [await lab.finish(name) for name in names]
    results = [r for lines, _ in outcomes for r in lines]
    lab.check_every_item_once(results)
    # Each item's result came from one worker only, and the work was shared.
    assert len(results) == len(lab.sources)
    settled_by = lab.query("SELECT DISTINCT settled_by FROM viesus_queue")
    assert len(settled_by) >= 2


async def test_a_worker_killed_mid_create_pays_nothing_twice(lab: Lab) -> None:
    lab.photos(24)
    # Creates take 0.5 s at the service (within the 1 s create window), so the kill lands
    # while one is in flight.
    lab.emulator.faults = FaultConfig(
        latency=0.5, latency_rate=1.0, only_operations=frozenset({"createEnhancedImage"})
    )
    await lab.start("victim")
    await lab.wait_until(
        "SELECT 1 FROM viesus_items WHERE worker = 'victim' AND state = 'create_intent'"
    )
    lab.processes["victim"].send_signal(signal.SIGKILL)
    await lab.finish("victim")
    in_flight = lab.query(
        "SELECT count(*) FROM viesus_items WHERE worker = 'victim' AND state = 'create_intent'"
    )
    assert in_flight[0][0] >= 1  # the kill left intents without an answer behind
    await lab.start("survivor")
    results, _ = await lab.finish("survivor")
    assert {r["status"] for r in results} <= {"finished", "skipped"}
    lab.check_every_item_once(results + await_finished_by(lab, "victim"))


def await_finished_by(lab: Lab, worker: str) -> list[dict[str, Any]]:
    """Results a killed worker settled before it died (it printed them, but its stdout was
    read after the kill; the journal is the record): one line per settled item."""
    rows = lab.query(
        f"SELECT source FROM viesus_queue WHERE settled_by = '{worker}'"  # noqa: S608 - test
        " AND outcome IN ('finished', 'skipped')"
    )
    return [{"source": source, "status": "finished"} for (source,) in rows]


async def test_a_stalled_worker_loses_its_lease_and_does_no_double_work(lab: Lab) -> None:
    lab.photos(12)
    # Requests take 0.2 s, so the slow worker is still at its first items when it is stopped.
    lab.emulator.faults = FaultConfig(latency=0.2, latency_rate=1.0)
    slow = await lab.start("slow", claim_size=6, lanes=1)
    await lab.wait_until("SELECT 1 FROM viesus_items WHERE worker = 'slow'")
    slow.send_signal(signal.SIGSTOP)  # alive, but not running: its leases lapse
    try:
        await lab.start("fast")
        fast_results, _ = await lab.finish("fast")
    finally:
        slow.send_signal(signal.SIGCONT)
    slow_results, slow_log = await lab.finish("slow")
    lab.check_every_item_once(fast_results + slow_results)
    # The stalled worker found out from the journal, not by luck: its leases were lost.
    assert "lost the lease" in slow_log


async def test_workers_back_off_while_the_journal_is_down_and_resume(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    own = PostgresServer(pg_server.bin_dir)
    own.start()
    try:
        async with Emulator(emulator_config(time_scale=0.004, workers=8)) as emulator:
            lab = Lab(emulator, own.dsn, tmp_path)
            lab.photos(18)
            try:
                for name in ("w0", "w1"):
                    await lab.start(name, lease=(5.0, 0.3, 2.0))
                await lab.wait_until("SELECT 1 FROM viesus_items WHERE state = 'created'")
                still_open = lab.query("SELECT count(*) FROM viesus_queue WHERE outcome IS NULL")
                own.pause()
                await asyncio.sleep(1.5)
                own.resume()
                outcomes = [await lab.finish(name) for name in ("w0", "w1")]
            finally:
                await lab.stop_all()
            lab.check_every_item_once([r for lines, _ in outcomes for r in lines])
            assert still_open[0][0] > 0  # the outage came mid-batch
            assert any("unreachable" in errors for _, errors in outcomes)
    finally:
        own.stop()


async def test_leases_are_renewed_while_jobs_outlast_them(pg_dsn: str, tmp_path: Path) -> None:
    # Each job takes ~3 s at the service, longer than the 2 s lease: only renewal keeps the
    # items with the worker that created them while a second worker waits for work.
    async with Emulator(emulator_config(time_scale=1.5, workers=8)) as emulator:
        lab = Lab(emulator, pg_dsn, tmp_path)
        lab.photos(3)
        try:
            await lab.start("holder", claim_size=3, lanes=1)
            await lab.wait_until("SELECT 1 FROM viesus_items WHERE state = 'created'")
            await lab.start("waiter")
            outcomes = [await lab.finish(name) for name in ("holder", "waiter")]
        finally:
            await lab.stop_all()
        lab.check_every_item_once([r for lines, _ in outcomes for r in lines])
        assert lab.query("SELECT DISTINCT settled_by FROM viesus_queue") == [("holder",)]
        assert all("lost the lease" not in errors for _, errors in outcomes)
