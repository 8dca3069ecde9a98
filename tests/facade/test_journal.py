"""The batch journal: keys, state round trips, reopen, reconciliation, concurrency, no secrets."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from viesus._errors import JournalError
from viesus._journal import (
    SCHEMA_VERSION,
    Journal,
    JournalKey,
    hash_file,
    hash_params,
    hash_url,
    item_key,
)
from viesus_client.input_types import EnhancedImageInput

SIGNED_URL = (
    "https://bucket.example.com/in/photo.jpg"
    "?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIASECRETSECRET&token=tok-123"
)
SECRET_PARTS = ("deadbeefcafe", "AKIASECRETSECRET", "tok-123", "X-Amz")


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.open(tmp_path / "batch.journal")


def key(n: int = 1) -> JournalKey:
    return JournalKey(f"{n:064x}", "ab" * 32)


# --- keys ------------------------------------------------------------------------------------


def test_hash_file_streams_content_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    content = bytes(range(256)) * 5000
    path.write_bytes(content)

    assert hash_file(path, chunk_size=1000) == hashlib.sha256(content).hexdigest()
    assert hash_file(path) == hash_file(path, chunk_size=7)


def test_hash_url_is_sha256_of_the_string() -> None:
    assert hash_url("https://x.test/a.jpg") == hashlib.sha256(b"https://x.test/a.jpg").hexdigest()


def test_hash_params_is_canonical() -> None:
    by_alias = EnhancedImageInput.model_validate(
        {"upscalingFactor": "X2", "noiseReductionProfilingStrength": "0.5"}
    )
    by_name = EnhancedImageInput.model_validate(
        {"noise_reduction_profiling_strength": Decimal("0.50"), "upscaling_factor": "X2"}
    )
    different = EnhancedImageInput.model_validate({"upscalingFactor": "X4"})

    assert hash_params(by_alias) == hash_params(by_name)
    assert hash_params(by_alias) != hash_params(different)
    assert hash_params(EnhancedImageInput()) == hashlib.sha256(b"{}").hexdigest()


def test_item_key_by_content_not_by_name(tmp_path: Path) -> None:
    options = EnhancedImageInput()
    first, renamed = tmp_path / "a.jpg", tmp_path / "b.jpg"
    first.write_bytes(b"same bytes")
    renamed.write_bytes(b"same bytes")

    assert item_key(first, options) == item_key(str(renamed), options)
    assert item_key(SIGNED_URL, options).input_hash == hash_url(SIGNED_URL)


# --- round trip and reopen -------------------------------------------------------------------


def test_round_trip_through_every_state(journal: Journal) -> None:
    k = key()
    assert journal.get(k) is None

    journal.record_upload(k, "shots/beach.jpg", "up-1")
    uploaded = journal.get(k)
    assert uploaded is not None
    assert (uploaded.state, uploaded.upload_id, uploaded.source) == (
        "uploaded",
        "up-1",
        "shots/beach.jpg",
    )

    journal.record_intent(k)
    journal.record_job(k, "job-1")
    created = journal.get(k)
    assert created is not None
    assert (created.state, created.job_id, created.attempts) == ("created", "job-1", 1)

    journal.record_finished(k, Path("out/beach.jpg"), 4)
    done = journal.get(k)
    assert done is not None
    assert (done.state, done.output_path, done.credits) == ("finished", "out/beach.jpg", 4)
    assert done.created_at <= done.updated_at
    assert journal.unfinished() == []
    assert journal.items() == [done]


def test_failure_is_recorded_and_may_be_retried(journal: Journal) -> None:
    k = key()
    journal.record_upload(k, "a.jpg", "up-1")
    journal.record_intent(k)
    journal.record_job(k, "job-1")
    journal.record_failed(k, "ENGINE_TIMEOUT")

    failed = journal.get(k)
    assert failed is not None
    assert (failed.state, failed.error_code) == ("failed", "ENGINE_TIMEOUT")

    journal.record_intent(k)
    retried = journal.get(k)
    assert retried is not None
    assert (retried.state, retried.attempts, retried.job_id, retried.error_code) == (
        "intent",
        2,
        None,
        None,
    )


def test_reopen_after_close_keeps_state(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        journal.record_upload(key(1), "a.jpg", "up-1")
        journal.record_intent(key(1))
        journal.record_job(key(1), "job-1")
        journal.record_upload(key(2), "b.jpg", "up-2")
        before = journal.items()

    with Journal.open(path) as reopened:
        assert reopened.items() == before
        assert [item.state for item in reopened.unfinished()] == ["created", "uploaded"]


def test_write_is_visible_to_another_connection_before_close(tmp_path: Path) -> None:
    """Committed when the method returns: a crash right after loses nothing."""
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path)
    journal.record_upload(key(), "a.jpg", "up-1")
    journal.record_intent(key())

    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT state FROM items").fetchall() == [("intent",)]
    finally:
        other.close()
        journal.close()


def test_intent_without_job_id_needs_reconciliation(journal: Journal) -> None:
    journal.record_upload(key(1), "a.jpg", "up-1")
    journal.record_intent(key(1))  # ... and the process died before the answer came back
    journal.record_upload(key(2), "b.jpg", "up-2")
    journal.record_intent(key(2))
    journal.record_job(key(2), "job-2")

    unfinished = {item.key: item for item in journal.unfinished()}

    assert unfinished[key(1)].needs_reconciliation
    assert unfinished[key(1)].job_id is None
    assert not unfinished[key(2)].needs_reconciliation


def test_second_create_for_an_item_with_a_job_is_refused(journal: Journal) -> None:
    journal.record_upload(key(), "a.jpg", "up-1")
    journal.record_intent(key())
    journal.record_job(key(), "job-1")

    with pytest.raises(JournalError, match="charged twice"):
        journal.record_intent(key())
    journal.record_finished(key(), "out.jpg", 1)
    with pytest.raises(JournalError, match="finished"):
        journal.record_intent(key())


def test_rerun_does_not_upload_again(journal: Journal) -> None:
    journal.record_upload(key(), "a.jpg", "up-1")

    item = journal.get(key())
    assert item is not None
    assert item.upload_id == "up-1"  # the facade skips the upload when this is set


def test_unknown_item_is_a_clear_error(journal: Journal) -> None:
    with pytest.raises(JournalError, match="record its upload first"):
        journal.record_intent(key(99))
    with pytest.raises(JournalError, match="not in the journal"):
        journal.record_job(key(99), "job")


# --- files and versions ----------------------------------------------------------------------


def test_open_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "batch.journal"

    with Journal.open(path) as journal:
        journal.record_upload(key(), "a.jpg", "up-1")

    assert path.is_file()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.journal"
    Journal.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()

    with pytest.raises(JournalError, match="newer viesus-toolkit"):
        Journal.open(path)


def test_journal_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        raw.close()


# --- concurrency -----------------------------------------------------------------------------


async def test_many_asyncio_tasks_write_concurrently(journal: Journal) -> None:
    async def one_item(n: int) -> None:
        k = key(n)
        journal.record_upload(k, f"photos/{n}.jpg", f"up-{n}")
        await asyncio.sleep(0)
        journal.record_intent(k)
        await asyncio.sleep(0)
        journal.record_job(k, f"job-{n}")
        await asyncio.sleep(0)
        journal.record_finished(k, f"out/{n}.jpg", n % 4 + 1)

    async def from_a_thread(n: int) -> None:
        await asyncio.to_thread(journal.record_upload, key(n), f"photos/{n}.jpg", f"up-{n}")

    await asyncio.gather(
        *(one_item(n) for n in range(50)), *(from_a_thread(n) for n in range(50, 60))
    )

    items = journal.items()
    assert len(items) == 60
    assert sum(item.state == "finished" for item in items) == 50
    assert {item.job_id for item in items if item.job_id} == {f"job-{n}" for n in range(50)}


# --- no secrets ------------------------------------------------------------------------------


def test_signed_url_source_stores_no_token(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    options = EnhancedImageInput.model_validate({"upscalingFactor": "X2"})
    k = item_key(SIGNED_URL, options)
    with Journal.open(path) as journal:
        journal.record_upload(k, SIGNED_URL, "up-1")
        journal.record_intent(k)
        journal.record_job(k, "job-1")
        journal.record_finished(k, tmp_path / "out.jpg", 4)
        item = journal.get(k)
        assert item is not None
        assert item.source == "https://bucket.example.com/in/photo.jpg?REDACTED"
        assert not any(part in repr(item) for part in SECRET_PARTS)

    for file in tmp_path.iterdir():
        if file.is_file():
            stored = file.read_bytes()
            assert not any(part.encode() in stored for part in SECRET_PARTS), file.name


def test_one_journal_serves_one_running_batch_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with (
        Journal.open(path),
        pytest.raises(JournalError, match="in use by another running batch"),
    ):
        Journal.open(path)
    with Journal.open(path):  # released on close
        pass
