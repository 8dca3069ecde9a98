"""``make soak``: the never-pay-twice promise under kills and faults, counted at the server.

Per seed, against a local emulator (small images, a small time scale, so a seed takes
minutes):

1. **Kills**: 300 files through a worker process (``tests/soak/worker.py``, the public facade
   with a journal), ``kill -9`` at 5 random moments, restarted each time, then run to the end.
2. **Faults**: 1,000 files under 5 % HTTP 500, 5 % 429, 5 % dropped connections and 2 % lost
   answers (applied, then the connection drops), then one clean rerun to finish what failed.

Invariants checked after each phase (any violation fails the soak, exit status 1):

* every source has exactly one result, and it is an output or a failure with its reason;
* every output file belongs to exactly one source; no ``.part`` file is left behind;
* 0 duplicate jobs: no upload holds two jobs, no source was charged twice;
* credits charged = outputs x price;
* a rerun after completion sends no mutation (and skips every source).

``python -m tests.soak.soak --seeds 1 2 3`` (``--files``/``--chaos-files``/``--kills`` to
shrink it); prints one JSON summary per seed and a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from viesus_emulator import Emulator, EmulatorConfig, FaultConfig

KEY = "soak-key"
OPTIONS = {"upscalingFactor": "X2"}
PRICE = 4  # X2 upscaling [docs]
MUTATIONS = (
    "createSignedUploadUrl",
    "completeSignedUpload",
    "createUploadFromUrl",
    "createEnhancedImage",
)
FAULTS = FaultConfig(http_500=0.05, http_429=0.05, drop=0.05, lost_response=0.02, retry_after=0)


@dataclass
class Phase:
    name: str
    files: int
    kills: int = 0
    runs: int = 0
    seconds: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def make_photos(folder: Path, count: int, seed: int) -> list[Path]:
    """Small distinct JPEGs (noise over a gradient), cheap for the emulator's engine."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        image = Image.new("RGB", (96, 64))
        image.putdata(
            [
                ((x * 2 + rng.randint(0, 40)) % 256, (y * 4 + i) % 256, rng.randint(0, 255))
                for y in range(64)
                for x in range(96)
            ]
        )
        path = folder / f"photo{i:04d}.jpg"
        image.save(path, "JPEG", quality=80)
        paths.append(path)
    return paths


async def run_worker(
    emu: Emulator,
    sources: list[Path],
    out: Path,
    journal: Path,
    *,
    kill_after: float | None = None,
    kill_at_finished: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """One worker process, killed with SIGKILL after ``kill_after`` seconds or once it has
    reported ``kill_at_finished`` newly finished items, if it is still running then.
    Returns the result lines it printed and whether it was killed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.soak.worker",
        "--endpoint",
        emu.endpoint,
        "--key",
        KEY,
        "--out",
        str(out),
        "--journal",
        str(journal),
        "--options",
        json.dumps(OPTIONS),
        *map(str, sources),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[dict[str, Any]] = []
    moment = asyncio.Event()

    async def read() -> None:
        assert process.stdout is not None
        finished = 0
        async for raw in process.stdout:
            line = json.loads(raw)
            lines.append(line)
            finished += line["status"] == "finished"
            if kill_at_finished is not None and finished >= kill_at_finished:
                moment.set()

    reader = asyncio.create_task(read())
    waiter = asyncio.create_task(process.wait())
    trigger = asyncio.create_task(moment.wait())
    await asyncio.wait({waiter, trigger}, timeout=kill_after, return_when="FIRST_COMPLETED")
    trigger.cancel()
    killed = False
    if process.returncode is None and (kill_after is not None or kill_at_finished is not None):
        process.send_signal(signal.SIGKILL)
        killed = True
    await waiter
    await reader
    if not killed and process.returncode != 0:
        raise RuntimeError(f"the worker exited with status {process.returncode}")
    return lines, killed


def check(phase: Phase, emu: Emulator, sources: list[Path], out: Path, *, final: bool) -> None:
    """The invariants over the last run's results, the output folder and the server's books."""
    bad = phase.violations
    results = phase.results
    per_source = Counter(r["source"] for r in results)
    if per_source != Counter(str(s) for s in sources):
        missing = {str(s) for s in sources} - set(per_source)
        twice = [s for s, n in per_source.items() if n > 1]
        bad.append(f"results per source: {len(missing)} missing, {len(twice)} twice")
    failed = [r for r in results if r["status"] == "failed"]
    if any(not r["reason"] for r in failed):
        bad.append("a failed result without a reason")
    outputs = [Path(r["output"]) for r in results if r["status"] != "failed" and r["output"]]
    on_disk = sorted(p for p in out.iterdir() if p.suffix == ".jpg")
    if sorted(outputs) != on_disk:
        bad.append(f"outputs on disk {len(on_disk)} != outputs reported {len(outputs)}")
    if len(set(outputs)) != len(outputs):
        bad.append("two sources share an output file")
    parts = [p for p in out.iterdir() if p.name.endswith(".part")]
    if final and parts:
        bad.append(f"{len(parts)} .part files left")

    stats = emu.stats()
    store = emu.state.store
    charged: Counter[str] = Counter()
    for job in store.jobs.values():
        if job.status != "ERROR":
            charged[str(store.uploads[job.upload_id].original_filename)] += 1
    if stats["jobs"]["duplicates"]:
        bad.append(f"{stats['jobs']['duplicates']} duplicate jobs on one upload")
    if any(n > 1 for n in charged.values()):
        bad.append(f"sources charged twice: {[s for s, n in charged.items() if n > 1][:5]}")
    finished_jobs = stats["jobs"]["by_status"].get("FINISHED", 0)
    used = stats["credits"]["used"]
    if used != PRICE * finished_jobs:
        bad.append(f"credits used {used} != {PRICE} x {finished_jobs} finished jobs")
    if final and used != PRICE * len(on_disk):
        bad.append(f"credits used {used} != {PRICE} x {len(on_disk)} outputs")
    phase.figures.update(
        results=len(results),
        failed=len(failed),
        outputs=len(on_disk),
        jobs=stats["jobs"]["total"],
        finished_jobs=finished_jobs,
        error_jobs=stats["jobs"]["by_status"].get("ERROR", 0),
        duplicates=stats["jobs"]["duplicates"],
        credits_used=used,
        requests=stats["requests"]["total"],
        reconcile_requests=stats["requests"]["by_operation"].get("ReconcileUploads", 0),
        faults=dict(stats["faults"]),
    )


async def rerun_sends_no_mutation(
    phase: Phase, emu: Emulator, sources: list[Path], out: Path, journal: Path
) -> None:
    before = dict(emu.stats()["requests"]["by_root_field"])
    lines, _ = await run_worker(emu, sources, out, journal)
    after = emu.stats()["requests"]["by_root_field"]
    sent = {m: after.get(m, 0) - before.get(m, 0) for m in MUTATIONS}
    phase.figures["rerun_mutations"] = sum(sent.values())
    if any(sent.values()):
        phase.violations.append(f"the rerun after completion sent mutations: {sent}")
    statuses = Counter(line["status"] for line in lines)
    phase.figures["rerun_statuses"] = dict(statuses)
    if set(statuses) != {"skipped"} or sum(statuses.values()) != len(sources):
        phase.violations.append(f"the rerun after completion reported {dict(statuses)}")


def config(seed: int, time_scale: float, faults: FaultConfig | None = None) -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=(KEY,),
        time_scale=time_scale,
        workers=8,
        credits=10_000_000,
        seed=seed,
        faults=faults or FaultConfig(),
    )


async def kills_phase(seed: int, files: int, kills: int, time_scale: float, root: Path) -> Phase:
    phase = Phase("kills", files)
    rng = random.Random(seed)
    sources = make_photos(root / "in", files, seed)
    out, journal = root / "out", root / "journal.sqlite"
    started = time.monotonic()
    async with Emulator(config(seed, time_scale)) as emu:
        done = 0
        while True:
            kill_after: float | None = None
            kill_at: int | None = None
            if phase.kills < kills:
                # A random moment: early (start-up, hashing, uploads, creates) or once a
                # random share of what is left has finished (waits, downloads, placing).
                if rng.random() < 0.4 or done >= files - 2:
                    kill_after = rng.uniform(0.2, 2.0)
                else:
                    kill_at = rng.randint(1, max(1, (files - done) // 2))
            lines, killed = await run_worker(
                emu, sources, out, journal, kill_after=kill_after, kill_at_finished=kill_at
            )
            phase.runs += 1
            done += sum(line["status"] == "finished" for line in lines)
            if killed:
                phase.kills += 1
                continue
            phase.results = lines
            break
        phase.seconds = time.monotonic() - started
        check(phase, emu, sources, out, final=True)
        await rerun_sends_no_mutation(phase, emu, sources, out, journal)
    return phase


async def faults_phase(seed: int, files: int, time_scale: float, root: Path) -> Phase:
    phase = Phase("faults", files)
    sources = make_photos(root / "in", files, seed + 1000)
    out, journal = root / "out", root / "journal.sqlite"
    started = time.monotonic()
    faults = FaultConfig(**{**FAULTS.__dict__})
    async with Emulator(config(seed, time_scale, faults)) as emu:
        phase.results, _ = await run_worker(emu, sources, out, journal)
        phase.runs += 1
        check(phase, emu, sources, out, final=False)
        phase.figures["stormy_run"] = dict(phase.figures)
        phase.figures["stormy_failures"] = dict(
            Counter((r["reason"] or "")[:60] for r in phase.results if r["status"] == "failed")
        )
        emu.faults = FaultConfig()
        phase.results, _ = await run_worker(emu, sources, out, journal)
        phase.runs += 1
        phase.seconds = time.monotonic() - started
        check(phase, emu, sources, out, final=True)
        await rerun_sends_no_mutation(phase, emu, sources, out, journal)
    return phase


async def soak(args: argparse.Namespace) -> int:
    summaries = []
    for seed in args.seeds:
        root = Path(tempfile.mkdtemp(prefix=f"viesus-soak-{seed}-"))
        try:
            phases = [
                await kills_phase(seed, args.files, args.kills, args.time_scale, root / "kills"),
                await faults_phase(seed, args.chaos_files, args.time_scale, root / "faults"),
            ]
        finally:
            shutil.rmtree(root, ignore_errors=True)
        for phase in phases:
            summary = {
                "seed": seed,
                "phase": phase.name,
                "files": phase.files,
                "kills": phase.kills,
                "runs": phase.runs,
                "seconds": round(phase.seconds, 1),
                "violations": phase.violations,
                **phase.figures,
            }
            summaries.append(summary)
            print(json.dumps(summary), flush=True)
    print()
    print(
        "| seed | phase | files | kills | runs | s | jobs | duplicates | credits | outputs "
        "| rerun mutations | violations |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        print(
            f"| {s['seed']} | {s['phase']} | {s['files']} | {s['kills']} | {s['runs']} "
            f"| {s['seconds']} | {s['jobs']} | {s['duplicates']} | {s['credits_used']} "
            f"| {s['outputs']} | {s['rerun_mutations']} | {len(s['violations'])} |"
        )
    violations = sum(len(s["violations"]) for s in summaries)
    print(f"\n{'PASS' if violations == 0 else 'FAIL'}: {violations} violations")
    return 0 if violations == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--chaos-files", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=0.005)
    return asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
