"""Ordinary folders and ordinary mistakes, as a photo lab meets them on day one (issue 19).

Every case runs the real ``viesus`` CLI in a subprocess against a real ``viesus serve``;
charges are read from the server's ``/stats``, never from the client.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Server, _serve, cli_env, run_cli, viesus_argv, write_photos


def jobs(server: Server) -> int:
    return int(server.stats()["jobs"]["total"])


def charged(server: Server) -> int:
    return int(server.stats()["credits"]["charged"])


def enhance(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("enhance", *args, "--yes", env=server.env())


def outputs(out: Path) -> list[str]:
    return sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and "viesus" not in p.name and not p.name.startswith(".")
    )


def camera_folders(root: Path) -> Path:
    """Two camera folders with the same file names, non-Latin names, a .tiff."""
    write_photos(root / "trip a", 2)
    write_photos(root / "trip b", 2)
    names = ["日本語.jpg", "写真.jpg", "фото.jpg", "Straße café.jpg"]
    for path, name in zip(write_photos(root / "tmp", 4), names, strict=True):
        path.rename(root / name)
    (root / "tmp").rmdir()
    from PIL import Image

    Image.open(root / "trip a" / "photo1.jpg").save(root / "scan.tiff", "TIFF")
    return root


EXPECTED = [
    "Straße café_enhanced.jpg",
    "scan_enhanced.tiff",
    "trip a/photo0_enhanced.jpg",
    "trip a/photo1_enhanced.jpg",
    "trip b/photo0_enhanced.jpg",
    "trip b/photo1_enhanced.jpg",
    "фото_enhanced.jpg",
    "写真_enhanced.jpg",
    "日本語_enhanced.jpg",
]


def test_camera_folders_and_unicode_names_mirror_under_out(server: Server, tmp_path: Path) -> None:
    source = camera_folders(tmp_path / "card")
    before = jobs(server)
    result = enhance(server, str(source), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(tmp_path / "out") == EXPECTED
    assert jobs(server) - before == 9


@pytest.mark.parametrize("inside", ["sub", "."])
def test_out_inside_or_equal_to_the_input_never_enhances_its_outputs(
    server: Server, tmp_path: Path, inside: str
) -> None:
    source = tmp_path / "photos"
    write_photos(source, 3)
    out = (source / inside).resolve()
    before = jobs(server)
    for _ in range(3):
        result = enhance(server, str(source), "--out", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
    assert jobs(server) - before == 3
    assert not list(source.rglob("*_enhanced_enhanced*"))
    assert "0 enhanced, 3 already done" in result.stdout


def test_budget_on_a_rerun_counts_only_what_is_left_to_pay(server: Server, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    write_photos(source, 4)
    assert enhance(server, str(source), "--out", str(out), "--upscale", "X2").returncode == 0
    write_photos(tmp_path / "more", 5)
    (tmp_path / "more" / "photo4.jpg").rename(source / "new.jpg")
    before = jobs(server)
    dry = run_cli(
        "enhance",
        str(source),
        "--out",
        str(out),
        "--upscale",
        "X2",
        "--dry-run",
        "--json",
        env=server.env(),
    )
    plan = json.loads(dry.stdout)
    assert plan["estimated_credits"] == 4  # one new X2 job (4 credits), four already done
    run = enhance(server, str(source), "--out", str(out), "--upscale", "X2", "--max-credits", "4")
    assert run.returncode == 0, run.stdout + run.stderr
    assert jobs(server) - before == 1


@pytest.fixture
def scarce_server() -> Iterator[Server]:
    """Slow jobs (one at a time) on an account with exactly 3 credits."""
    yield from _serve("--time-scale", "1.0", "--workers", "1", "--credits", "3")


def start(server: Server, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        viesus_argv("enhance", *args, "--yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**server.env()),
    )


def wait_for_jobs(server: Server, count: int, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while jobs(server) < count:
        assert time.monotonic() < deadline, "the jobs were never created"
        time.sleep(0.05)


def crash_after_creates(server: Server, source: Path, out: Path, count: int) -> None:
    process = start(server, str(source), "--out", str(out))
    wait_for_jobs(server, count)
    process.kill()  # kill -9: no clean stop, no report
    process.wait(timeout=30)


def test_resume_downloads_what_is_paid_whatever_the_balance(
    scarce_server: Server, tmp_path: Path
) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    write_photos(source, 3)
    crash_after_creates(scarce_server, source, out, 3)
    ledger = scarce_server.stats()["credits"]
    assert ledger["remaining"] - ledger["reserved"] == 0  # the creates took the last credits
    result = enhance(scarce_server, str(source), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(out) == [f"photo{i}_enhanced.jpg" for i in range(3)]
    assert jobs(scarce_server) == 3


def test_a_moved_input_folder_adopts_its_jobs(slow_server: Server, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    write_photos(source, 2)
    crash_after_creates(slow_server, source, out, 2)
    source.rename(tmp_path / "renamed")
    result = enhance(slow_server, str(tmp_path / "renamed"), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert jobs(slow_server) == 2
    assert outputs(out) == ["photo0_enhanced.jpg", "photo1_enhanced.jpg"]
    assert "credits charged 0" in result.stdout  # paid by the run that created the jobs


def messy_tree(root: Path) -> Path:
    """Collisions by stem, an existing output, an unreadable 'photo', a repeat."""
    write_photos(root / "a", 2)
    write_photos(root / "b", 1)
    (root / "b" / "broken.jpg").write_text("not an image")
    shutil.copy(root / "a" / "photo0.jpg", root / "a" / "photo0.jpeg")
    return root


def test_the_dry_run_decides_what_the_real_run_does(server: Server, tmp_path: Path) -> None:
    source, out = messy_tree(tmp_path / "in"), tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "photo1_enhanced.jpg").write_bytes(b"someone else's file")
    dry = run_cli(
        "enhance", str(source), "--out", str(out), "--dry-run", "--json", env=server.env()
    )
    assert dry.returncode == 0, dry.stderr
    plan = {i["source"]: i for i in json.loads(dry.stdout)["items"]}
    in_the_way = plan[str(source / "a" / "photo1.jpg")]["refused"]
    assert "--overwrite" in in_the_way
    assert "overwrite=True" not in in_the_way  # the CLI's spelling in the CLI
    before, paid_before = jobs(server), charged(server)
    run = enhance(server, str(source), "--out", str(out))
    report = json.loads((out / "viesus-report.json").read_text())
    rows = {r["source"]: r for r in report["items"]}
    assert set(rows) == set(plan)
    expected_status = {"create": "finished", "refused": "failed", "done": "skipped"}
    for name, item in plan.items():
        assert rows[name]["status"] == expected_status[item["action"]], name
        if item["action"] == "create":
            assert rows[name]["output"] == item["output"], name
        else:
            assert item["credits"] == 0, name
    created = [i for i in plan.values() if i["action"] == "create"]
    assert jobs(server) - before == len(created) == 3
    assert json.loads(dry.stdout)["estimated_credits"] == charged(server) - paid_before
    assert run.returncode == 1  # two refused


def report_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "viesus-report.json").read_text())
    return data


def test_ctrl_c_reports_every_source_and_credits_add_up(
    slow_server: Server, tmp_path: Path
) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    write_photos(source, 4)
    process = start(slow_server, str(source), "--out", str(out))
    wait_for_jobs(slow_server, 4)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    first = report_of(out)
    assert first["interrupted"]
    assert len(first["items"]) == 4  # not-done sources too, with their state
    assert {r["status"] for r in first["items"]} <= {"finished", "not_done"}
    committed = first["credits"]["charged_this_run"] + first["credits"]["pending_this_run"]
    assert committed == 4
    result = enhance(slow_server, str(source), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    second = report_of(out)
    history = sorted((out / "viesus-reports").iterdir())
    assert len(history) == 2
    this_runs = [json.loads(p.read_text())["credits"]["charged_this_run"] for p in history]
    assert sum(this_runs) + first["credits"]["pending_this_run"] == charged(slow_server) == 4
    assert second["credits"]["charged_for_batch"] == 4
    assert jobs(slow_server) == 4


def test_a_local_dry_run_after_a_local_run_plans_what_the_rerun_does(tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    write_photos(source, 2)
    first = run_cli("enhance", str(source), "--out", str(out), "--local", "--yes")
    assert first.returncode == 0, first.stderr
    journal = (out / ".viesus-journal.sqlite").read_bytes()
    dry = run_cli("enhance", str(source), "--out", str(out), "--local", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr  # the journal names the last emulator's endpoint
    assert [i["action"] for i in json.loads(dry.stdout)["items"]] == ["done", "done"]
    assert (out / ".viesus-journal.sqlite").read_bytes() == journal  # only read


def test_out_equal_to_the_input_with_its_journal_deleted_pays_nothing_again(
    server: Server, tmp_path: Path
) -> None:
    source = tmp_path / "photos"
    write_photos(source, 3)
    assert enhance(server, str(source), "--out", str(source)).returncode == 0
    (source / ".viesus-journal.sqlite").unlink()
    before = jobs(server)
    again = enhance(server, str(source), "--out", str(source))
    assert again.returncode == 0, again.stdout + again.stderr
    assert jobs(server) == before  # the receipts: outputs are left out, inputs are done
    assert "0 enhanced, 3 already done" in again.stdout
    assert not list(source.rglob("*_enhanced_enhanced*"))
