"""The issue's "done when" through real processes: ``viesus enhance … --journal postgresql://…
--batch B`` workers drain one batch (one killed with SIGKILL midway, or one stalled between its
create intent and its create), against one emulator and a real PostgreSQL.

Invariants are read where they cannot be faked: the emulator's ``GET /stats`` (jobs, duplicate
jobs, credits charged), the output folder, the journal's queue. The DSN carries a password
(the test server trusts every connection, so it is accepted and ignored) that must appear in
no output, report, sidecar or event.
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

import httpx
import psycopg
import pytest

from tests.facade.conftest import API_KEY, emulator_config, write_photo
from viesus._output_names import mirrored_output
from viesus_emulator import Emulator, FaultConfig

ROOT = Path(__file__).resolve().parents[2]
PRICE = 1  # ENHANCE: the default enhancement's price [emulator pricing table]
PASSWORD = "S3CRET-PW-never-shown"


@dataclass
class Workers:
    emulator: Emulator
    dsn: str  # with PASSWORD in it
    root: Path
    sources: list[str] = field(default_factory=list)
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.root / "out"

    def photos(self, count: int) -> None:
        folder = self.root / "in"
        folder.mkdir()
        self.sources = [
            str(write_photo(folder / f"photo{i:03d}.jpg", (48, 32), seed=i)) for i in range(count)
        ]

    async def start(self, name: str, *extra: str, program: str = "viesus") -> int:
        """Start ``python -m PROGRAM enhance …`` (``tests.postgres.stalled_cli``: a worker that
        stops itself before its first create)."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("VIESUS_")}
        environment.update(
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
            VIESUS_API_KEY=API_KEY,
            VIESUS_ENDPOINT=self.emulator.endpoint,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", program, "enhance", str(self.root / "in"),
            "--out", str(self.out), "--journal", self.dsn, "--batch", "B", "--lease", "3",
            "--batch-size", "5", "--sidecar", "--events-jsonl", str(self.root / f"{name}.jsonl"),
            "--yes", *extra,
            cwd=self.root, env=environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.processes[name] = process
        return process.pid

    async def finish(self, name: str, timeout: float = 120) -> tuple[int | None, str, str]:
        process = self.processes[name]
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        return process.returncode, stdout.decode(), stderr.decode()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return connection.execute(sql.encode()).fetchall()

    async def wait_until(self, sql: str, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if self.query(sql):
                    return
            except psycopg.errors.UndefinedTable:  # no worker has created the schema yet
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"never true: {sql}")
            await asyncio.sleep(0.02)

    async def stats(self) -> dict[str, Any]:
        base = self.emulator.endpoint.removesuffix("/graphql")
        async with httpx.AsyncClient() as client:
            data: dict[str, Any] = (await client.get(f"{base}/stats")).json()
        return data

    async def check_every_source_once(self) -> None:
        stats = await self.stats()
        assert stats["jobs"]["duplicates"] == 0
        assert stats["jobs"]["total"] == len(self.sources)  # jobs = sources: one create each
        assert stats["credits"]["charged"] == len(self.sources) * PRICE
        outputs = sorted(
            p.name for p in self.out.iterdir() if p.suffix == ".jpg" and not p.name.startswith(".")
        )
        assert outputs == sorted(
            mirrored_output(str(s), self.out, None, "jpg").name for s in self.sources
        )
        assert self.query("SELECT count(*) FROM viesus_queue WHERE outcome IS NULL") == [(0,)]

    def assert_no_password_anywhere(self, *texts: str) -> None:
        for text in texts:
            assert PASSWORD not in text
        for path in self.root.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".jsonl"):
                assert PASSWORD not in path.read_text(), path

    async def stop_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                await process.wait()


@pytest.fixture
async def workers(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Workers]:
    dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)
    assert PASSWORD in dsn
    async with Emulator(emulator_config(time_scale=0.004, workers=8)) as emulator:
        made = Workers(emulator, dsn, tmp_path)
        try:
            yield made
        finally:
            await made.stop_all()


def reports(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("viesus-report-B-*.json"))]


async def test_three_cli_workers_drain_one_batch_with_one_killed_midway(workers: Workers) -> None:
    workers.photos(60)
    # Every request takes 0.1 s, so the batch lasts long enough for the kill to land midway.
    workers.emulator.faults = FaultConfig(latency=0.1, latency_rate=1.0)
    victim = await workers.start("victim")
    for name in ("w1", "w2"):
        await workers.start(name)
    pid = f"%:{victim}:%"
    await workers.wait_until(
        f"SELECT 1 FROM viesus_items WHERE worker LIKE '{pid}' AND state = 'created'"  # noqa: S608
    )
    workers.processes["victim"].send_signal(signal.SIGKILL)
    code, _, _ = await workers.finish("victim")
    assert code == -signal.SIGKILL
    held = workers.query(
        f"SELECT count(*) FROM viesus_queue WHERE holder LIKE '{pid}'"  # noqa: S608
        " AND outcome IS NULL"
    )
    assert held[0][0] > 0  # it died holding items: the survivors take them after the lease

    outputs = [await workers.finish(name) for name in ("w1", "w2")]
    for code, stdout, stderr in outputs:
        assert code == 0, stderr
        summary = stdout.strip().splitlines()[-1]
        assert "this worker's items only (batch B" in summary, summary
    await workers.check_every_source_once()
    # Each survivor's report has its own items only; with what the victim settled before it
    # died, every source is reported exactly once.
    survivors = reports(workers.out)
    assert len(survivors) == 2
    reported = [item["source"] for report in survivors for item in report["items"]]
    by_victim = workers.query(
        f"SELECT source FROM viesus_queue WHERE settled_by LIKE '{pid}'"  # noqa: S608
    )
    assert sorted(reported + [s for (s,) in by_victim]) == sorted(workers.sources)
    for report in survivors:
        assert report["shared_batch"]["items"] == "this worker's only"
        assert "not_done" not in report
    workers.assert_no_password_anywhere(*(text for _, out, err in outputs for text in (out, err)))


async def test_a_worker_stalled_between_intent_and_create_does_not_send_it(
    workers: Workers,
) -> None:
    # One create batch (5 items, --batch-size 5): the stop lands between its intent and its
    # send, not in the middle of another lane's send (that is the window still open).
    workers.photos(5)
    stalled = await workers.start("stalled", program="tests.postgres.stalled_cli")
    # Its before_create stops the worker right after its first create intent is durable.
    await wait_stopped(stalled)
    intents = workers.query("SELECT count(*) FROM viesus_items WHERE state = 'create_intent'")
    assert intents[0][0] > 0
    # While it is stopped its leases (3 s) run out; another worker takes the whole batch,
    # reconciles the stalled worker's intents (no job: it never sent them) and creates.
    await workers.start("next")
    code, _, stderr = await workers.finish("next")
    assert code == 0, stderr
    workers.processes["stalled"].send_signal(signal.SIGCONT)
    code, stdout, stderr = await workers.finish("stalled")
    assert code == 0, stderr
    # Its last check before the create noticed the lease was gone: nothing was sent twice.
    await workers.check_every_source_once()
    assert "0 enhanced" in stdout.strip().splitlines()[-1]
    assert "before their create was sent" in stderr


async def wait_stopped(pid: int, timeout: float = 60) -> None:
    """Until the process is in state T (stopped by a signal), read from /proc."""
    deadline = asyncio.get_running_loop().time() + timeout
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the worker never reached its create")
        await asyncio.sleep(0.02)


async def test_cli_journal_flags_are_checked_before_anything_runs(
    workers: Workers, tmp_path: Path
) -> None:
    workers.photos(1)
    missing = await run_cli(
        workers, "enhance", str(tmp_path / "in"), "--out", str(tmp_path / "o2"),
        "--journal", workers.dsn, "--yes",
    )  # fmt: skip
    assert missing[0] == 2
    assert missing[2].strip().splitlines() == [
        "viesus: error: a postgresql:// journal is shared by many workers: name the batch "
        "they share with --batch NAME (e.g. --batch lab-2026-11-30)"
    ]
    # Without the driver (an install without the extra): the one-line install hint.
    shadow = tmp_path / "shadow" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError('no psycopg', name='psycopg')\n")
    no_driver = await run_cli(
        workers, "enhance", str(tmp_path / "in"), "--out", str(tmp_path / "o3"),
        "--journal", workers.dsn, "--batch", "B2", "--yes",
        pythonpath=str(tmp_path / "shadow"),
    )  # fmt: skip
    assert no_driver[0] == 1
    assert no_driver[2].strip().splitlines() == [
        "viesus: error: a postgresql:// journal needs the 'postgres' extra: "
        "pip install 'viesus-toolkit[postgres]'"
    ]
    workers.assert_no_password_anywhere(*missing[1:], *no_driver[1:])


async def run_cli(workers: Workers, *argv: str, pythonpath: str = "") -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VIESUS_")}
    paths = [pythonpath] if pythonpath else []
    environment.update(
        PYTHONPATH=os.pathsep.join([*paths, str(ROOT), str(ROOT / "generated")]),
        VIESUS_API_KEY=API_KEY,
        VIESUS_ENDPOINT=workers.emulator.endpoint,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "viesus", *argv, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_a_journal_database_that_does_not_exist_is_one_line_and_exit_2(
    workers: Workers, tmp_path: Path
) -> None:
    """Not 120 s of "unreachable" retries: waiting cannot create the database."""
    workers.photos(1)
    dsn = workers.dsn.split("?")[0].rsplit("/", 1)[0] + "/nodb"
    assert PASSWORD in dsn
    began = asyncio.get_running_loop().time()
    code, stdout, stderr = await run_cli(
        workers, "enhance", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
        "--journal", dsn, "--batch", "B", "--yes",
    )  # fmt: skip
    assert asyncio.get_running_loop().time() - began < 30
    assert code == 2
    port = dsn.split(":")[-1].split("/")[0]
    assert stderr.strip().splitlines() == [
        f"viesus: error: the journal database postgresql://127.0.0.1:{port}/nodb refused the "
        'connection: database "nodb" does not exist; check the DSN given with --journal '
        "or VIESUS_JOURNAL"
    ]
    workers.assert_no_password_anywhere(stdout, stderr)
