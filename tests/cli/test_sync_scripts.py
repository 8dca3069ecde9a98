"""Programs that use the synchronous client, run as users run them: a separate process against
a real ``viesus serve``, charges read from its ``/stats``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import ROOT, Server, cli_env, write_photos

BATCH = """
import sys
from viesus import EnhanceOptions, Viesus

out, journal, *sources = sys.argv[1:]
with Viesus() as viesus:
    for result in viesus.enhance_many(sources, EnhanceOptions(upscaling_factor="X2"), out,
                                      journal=journal):
        print(result.status, result.source, flush=True)
"""


def python(code: str, server: Server, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-X", "dev", "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**server.env()),
        cwd=cwd,
    )


def jobs(server: Server) -> int:
    return int(server.stats()["jobs"]["total"])


def test_ctrl_c_in_a_sync_batch_then_a_rerun_pays_once(slow_server: Server, tmp_path: Path) -> None:
    sources = [str(p) for p in write_photos(tmp_path / "in", 3)]
    out, journal = tmp_path / "out", tmp_path / "out" / "journal.sqlite"
    process = python(BATCH, slow_server, str(out), str(journal), *sources)
    deadline = time.monotonic() + 60
    while jobs(slow_server) < 3:
        assert time.monotonic() < deadline, "the jobs were never created"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    rerun = python(BATCH, slow_server, str(out), str(journal), *sources)
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert sorted(line.split()[0] for line in stdout.splitlines()) == ["finished"] * 3
    stats = slow_server.stats()
    assert stats["jobs"]["total"] == 3
    assert stats["jobs"]["duplicates"] == 0


def test_a_client_never_closed_leaves_no_warning_at_exit(server: Server) -> None:
    code = "from viesus import Viesus\nv = Viesus()\nprint(v.remaining_credits())\n"
    process = python(code, server)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stdout.strip().isdigit()
    # -X dev shows unclosed resources, never-awaited coroutines, tasks destroyed pending...;
    # asyncio's debug notes on slow callbacks ("Executing <Task ...> took 0.1 s") are no warning
    shown = [line for line in stderr.splitlines() if not line.startswith("Executing <")]
    assert shown == []


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    api = readme.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", api, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_example_runs_twice_and_pays_once(server: Server, tmp_path: Path) -> None:
    code = readme_example().replace("http://127.0.0.1:8765/graphql", server.endpoint)
    code = code.replace('api_key="local"', f'api_key="{server.key}"')
    write_photos(tmp_path, 1)[0].rename(tmp_path / "photo.jpg")
    before = jobs(server)
    for run in range(2):
        process = python(code, server, cwd=tmp_path)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"run {run + 1}: {stderr}"
    assert jobs(server) - before == 2  # one for "out", one for "out2"; the second run: none


def test_the_readme_examples_are_the_type_checked_ones() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Python API", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    for block, name in zip(blocks, ["quickstart.py", "quickstart_async.py"], strict=False):
        example = (ROOT / "examples" / name).read_text(encoding="utf-8")
        assert example.split('"""\n\n', 1)[1] == block, name
