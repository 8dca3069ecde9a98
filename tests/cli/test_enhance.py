"""``viesus enhance`` through a real subprocess against a real ``viesus serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from tests.cli.conftest import Server, cli_env, run_cli, viesus_argv, write_photos

ANSI = "\x1b["


def mutations(stats: dict[str, object]) -> dict[str, int]:
    """Root-field counts of everything that changes state on the server."""
    requests = stats["requests"]
    assert isinstance(requests, dict)
    by_field: dict[str, int] = requests["by_root_field"]
    return {
        name: count
        for name, count in by_field.items()
        if name.startswith(("create", "complete", "delete", "analyze"))
    }


def test_outputs_have_the_right_size_and_records(server: Server, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    result = run_cli(
        "enhance", str(tmp_path / "in"), "--out", str(out), "--upscale", "X2", "--sidecar",
        "--events-jsonl", str(tmp_path / "events.jsonl"), "--compare", str(tmp_path / "c.png"),
        env=server.env(),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert ANSI not in result.stdout + result.stderr  # not a terminal: clean text
    report = json.loads((out / "viesus-report.json").read_text())
    assert report["counts"] == {"finished": 3}
    assert report["credits_spent"] == 12  # upscaling: 4 credits each
    for photo, item in zip(photos, report["items"], strict=False):
        output = Path(item["output"])
        with Image.open(output) as img:
            assert img.size == (320, 240)
        sidecar = json.loads(output.with_name(output.stem + ".viesus.json").read_text())
        assert sidecar["job_id"] == item["job_id"]
        assert sidecar["parameters"] == {"upscalingFactor": "X2"}
        assert sidecar["schema"].startswith("sha256:")
        assert photo.exists()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["plan", "result", "result", "result", "summary"]
    assert events[-1]["counts"] == {"finished": 3, "skipped": 0, "failed": 0}
    with Image.open(tmp_path / "c.png") as sheet:
        assert sheet.height > 3 * 200  # three before/after rows


def test_dry_run_creates_nothing(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 2)
    before = server.stats()

    result = run_cli(
        "enhance", str(tmp_path / "in"), "--dry-run", "--json", "--upscale", "X2", env=server.env()
    )

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    after = server.stats()
    assert mutations(after) == mutations(before)
    assert after["uploads"]["total"] == before["uploads"]["total"]
    assert after["jobs"]["total"] == before["jobs"]["total"]
    assert [item["credits"] for item in plan["items"]] == [4, 4]
    assert plan["estimated_credits"] == 8
    assert plan["remaining_credits"] == after["credits"]["remaining"]


def test_dry_run_table_names_refusals(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1, size=(3200, 100))  # too wide to AI-upscale
    result = run_cli(
        "enhance", str(tmp_path / "in"), "--dry-run", "--upscale", "X2", env=server.env()
    )
    assert result.returncode == 0, result.stderr
    assert "refused" in result.stdout
    assert "3000" in result.stdout.replace(",", "")
    assert ANSI not in result.stdout


@pytest.mark.parametrize("interrupts", [1, 2], ids=["ctrl-c", "ctrl-c-twice"])
def test_sigint_then_rerun_pays_once_and_writes_each_output_once(
    interrupts: int, slow_server: Server, tmp_path: Path
) -> None:
    write_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    argv = viesus_argv("enhance", str(tmp_path / "in"), "--out", str(out), "--mode", "ENHANCE")
    process = subprocess.Popen(
        argv,
        env=cli_env(**slow_server.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while slow_server.stats()["jobs"]["total"] < 1:  # a job is paid for and in flight
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no job was created"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    if interrupts == 2:  # the second Ctrl-C exits at once, without cleaning up
        while "stopping" not in (line := process.stderr.readline() if process.stderr else ""):
            assert line, "the first Ctrl-C was not acknowledged"
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    if interrupts == 1:
        assert "rerun" in stderr + stdout
        report = json.loads((out / "viesus-report.json").read_text())
        assert report["interrupted"] is True

    rerun = run_cli("enhance", str(tmp_path / "in"), "--out", str(out), "--mode", "ENHANCE",
                    env=slow_server.env())  # fmt: skip

    assert rerun.returncode == 0, rerun.stderr
    stats = slow_server.stats()
    assert stats["jobs"]["duplicates"] == 0
    assert stats["jobs"]["total"] == 3
    assert set(stats["jobs"]["per_upload"].values()) == {1}
    outputs = sorted(p.name for p in out.iterdir() if p.suffix == ".jpg")
    assert outputs == ["photo0_enhanced.jpg", "photo1_enhanced.jpg", "photo2_enhanced.jpg"]


def test_sources_from_a_list_stdin_and_glob(server: Server, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "in", 3)
    (tmp_path / "list.txt").write_text(f"# lab order 17\n{photos[0]}\n\n{photos[0]}\n")
    result = run_cli(
        "enhance", f"@{tmp_path / 'list.txt'}", "-", str(tmp_path / "in" / "photo2*"),
        "--dry-run", "--json", stdin=f"{photos[1]}\n", env=server.env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sources = [item["source"] for item in json.loads(result.stdout)["items"]]
    assert sources == [str(photos[0]), str(photos[1]), str(photos[2])]


def test_config_file_with_flags_on_top(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    config = tmp_path / "lab.toml"
    config.write_text(
        'out = "processed"\nsidecar = true\n[options]\nmode = "ENHANCE"\n'
        'upscalingFactor = "X4"\n[options.customColorConfig]\nhighlightfac = 0.4\n'
    )
    result = run_cli(
        "enhance", "in", "--config", str(config), "--upscale", "X2", cwd=tmp_path, env=server.env()
    )
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "processed" / "photo0_enhanced.viesus.json").read_text())
    assert sidecar["parameters"] == {
        "mode": "ENHANCE",
        "upscalingFactor": "X2",
        "customColorConfig": {"highlightfac": 0.4},
    }


def test_local_runs_without_a_server_or_key(tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    result = run_cli("enhance", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--local")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "photo0_enhanced.jpg").exists()


def test_local_rerun_retries_what_the_previous_emulator_left_unfinished(tmp_path: Path) -> None:
    from viesus import Journal
    from viesus._cli.run import JOURNAL_NAME, forget_previous_local_server
    from viesus._journal.states import ItemState
    from viesus._journal.store import StateChange

    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    first = run_cli("enhance", str(tmp_path / "in"), "--out", str(out), "--local")
    assert first.returncode == 0, first.stderr
    with Journal.open(out / JOURNAL_NAME) as journal:
        (item,) = journal.items()
    # As if that run had been interrupted while creating the job on its (now gone) emulator.
    for leftover in out.iterdir():
        if leftover.is_file() and not leftover.name.startswith(JOURNAL_NAME):
            leftover.unlink()
    with Journal.open(out / JOURNAL_NAME) as journal:
        intent = replace(
            item,
            state=ItemState.CREATE_INTENT,
            upload_id="upload-of-a-gone-emulator",
            job_id=None,
            output_path=None,
            output_sha256=None,
        )
        journal.apply([StateChange(item.state, intent)])
        assert [r.state for r in journal.records()] == [ItemState.CREATE_INTENT]

    forget_previous_local_server(out)

    with Journal.open(out / JOURNAL_NAME) as journal:
        assert journal.records() == []  # the gone emulator's items start over
    rerun = run_cli("enhance", str(tmp_path / "in"), "--out", str(out), "--local")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert (out / "photo0_enhanced.jpg").exists()
