"""The journal store: keys by source, state round trips, compare-and-set, identity, bad files."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from tests.facade.store_contract import StoreContract
from viesus._errors import JournalError
from viesus._journal.keys import (
    hash_file,
    hash_params,
    hash_url,
    item_key,
    key_fingerprint,
    shown_source,
)
from viesus._journal.sqlite import SCHEMA_VERSION, Journal
from viesus._journal.states import (
    TRANSITIONS,
    IllegalTransition,
    ItemBook,
    ItemState,
    check_transition,
    may_create,
)
from viesus._journal.store import ItemKey, ItemRecord, JournalStore, StateChange, StoreIdentity
from viesus_client.input_types import EnhancedImageInput

S = ItemState
SIGNED_URL = (
    "https://bucket.example.com/in/photo.jpg"
    "?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIASECRETSECRET&token=tok-123"
)
SECRET_PARTS = ("deadbeefcafe", "AKIASECRETSECRET", "tok-123", "X-Amz")
IDENTITY = StoreIdentity("http://127.0.0.1:1/graphql", key_fingerprint("key-one"))


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.open(tmp_path / "batch.journal")


def key(n: int = 1) -> ItemKey:
    return ItemKey(f"file:/in/photo{n}.jpg", "ab" * 32)


def record(n: int = 1, state: ItemState = S.PLANNED, **fields: object) -> ItemRecord:
    return ItemRecord(key=key(n), source=f"photo{n}.jpg", state=state, **fields)  # type: ignore[arg-type]


# --- keys ------------------------------------------------------------------------------------


def test_hash_file_streams_content_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    content = bytes(range(256)) * 5000
    path.write_bytes(content)

    assert hash_file(path, chunk_size=1000) == hashlib.sha256(content).hexdigest()
    assert hash_file(path) == hash_file(path, chunk_size=7)


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


def test_items_are_keyed_by_source_not_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = EnhancedImageInput()
    first, twin = tmp_path / "a.jpg", tmp_path / "b.jpg"
    first.write_bytes(b"same bytes")
    twin.write_bytes(b"same bytes")
    monkeypatch.chdir(tmp_path)

    assert item_key(first, options) != item_key(twin, options)  # two names: two items
    assert item_key("a.jpg", options) == item_key(first, options)  # one file: one item
    url_key = item_key(SIGNED_URL, options)
    assert url_key.source_id == "url:" + hash_url(SIGNED_URL)
    assert not any(part in str(url_key) for part in SECRET_PARTS)


def test_key_fingerprint_tells_keys_apart_and_reveals_nothing() -> None:
    assert key_fingerprint("key-one") != key_fingerprint("key-two")
    assert "key-one" not in key_fingerprint("key-one")
    assert len(key_fingerprint("key-one")) == 16


# --- round trip, compare-and-set -------------------------------------------------------------


def test_journal_implements_the_store_protocol(journal: Journal) -> None:
    assert isinstance(journal, JournalStore)


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        assert journal.load([key(1)]) == {}
        assert journal.apply([StateChange(None, record(1))]) == set()
        done = record(
            1,
            S.DOWNLOADED,
            upload_id="up-1",
            job_id="job-1",
            attempts=1,
            output_path="out/a.jpg",
            output_sha256="f" * 64,
            credits=4,
            content_hash="c" * 64,
        )
        assert journal.apply([StateChange(S.PLANNED, done)]) == set()
    with Journal.open(path) as journal:
        loaded = journal.load([key(1), key(2)])
        assert list(loaded) == [key(1)]
        assert loaded[key(1)] == done
        assert loaded[key(1)].updated_at is not None
        assert journal.records() == [loaded[key(1)]]


def test_a_change_from_a_state_the_row_no_longer_has_is_refused(journal: Journal) -> None:
    journal.apply([StateChange(None, record(1)), StateChange(None, record(2))])
    intent = record(1, S.CREATE_INTENT, upload_id="up-1", attempts=1)

    stale = journal.apply(
        [
            StateChange(S.UPLOADED, intent),  # stale: the row is planned
            StateChange(S.PLANNED, record(2, S.UPLOADED, upload_id="up-2")),
            StateChange(None, record(1)),  # stale: the row exists
        ]
    )

    assert stale == {key(1)}
    loaded = journal.load([key(1), key(2)])
    assert loaded[key(1)].state is S.PLANNED
    assert loaded[key(2)].state is S.UPLOADED


def test_write_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        journal.apply([StateChange(None, record(1, S.PLANNED))])
        other = sqlite3.connect(path)
        try:
            rows = other.execute("SELECT source_id, state FROM items").fetchall()
            mode = other.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            other.close()
    assert rows == [("file:/in/photo1.jpg", "planned")]
    assert mode == "wal"


def test_signed_url_source_stores_no_token(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    options = EnhancedImageInput()
    with Journal.open(path) as journal:
        url_record = ItemRecord(
            key=item_key(SIGNED_URL, options), source=shown_source(SIGNED_URL), state=S.PLANNED
        )
        journal.apply([StateChange(None, url_record)])
        journal.bind(IDENTITY)
        assert not any(part in repr(journal.records()) for part in SECRET_PARTS)
    for file in tmp_path.iterdir():
        stored = file.read_bytes()
        assert not any(part.encode() in stored for part in SECRET_PARTS), file.name
        assert b"key-one" not in stored


# --- identity ----------------------------------------------------------------------------------


def test_journal_belongs_to_one_endpoint_and_key(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        assert journal.identity() is None
        journal.bind(IDENTITY)
        journal.bind(IDENTITY)  # the same again: fine
        assert journal.identity() == IDENTITY
    with Journal.open(path) as journal:
        with pytest.raises(JournalError, match="belongs to the endpoint http:"):
            journal.bind(
                StoreIdentity("https://api.viesus.cloud/graphql", IDENTITY.key_fingerprint)
            )
        with pytest.raises(JournalError, match="another API key") as info:
            journal.bind(StoreIdentity(IDENTITY.endpoint, key_fingerprint("key-two")))
        assert "key-two" not in str(info.value)


# --- files that are not our journal ------------------------------------------------------------


def test_a_directory_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="is a directory"):
        Journal.open(tmp_path)


def test_a_garbage_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database at all, just some text\n" * 100)
    with pytest.raises(JournalError, match="not a viesus journal"):
        Journal.open(path)
    assert path.read_bytes().startswith(b"this is not a database")


def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    other.commit()
    other.close()

    with pytest.raises(JournalError, match="another application's database"):
        Journal.open(path)
    check = sqlite3.connect(path)
    tables = [row[0] for row in check.execute("SELECT name FROM sqlite_master")]
    check.close()
    assert tables == ["users"]


def test_a_journal_of_the_first_layout_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "old.journal"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE items (input_hash TEXT, params_hash TEXT, state TEXT)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with pytest.raises(JournalError, match="schema 1, keyed by content"):
        Journal.open(path)


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(JournalError, match="newer viesus-toolkit"):
        Journal.open(path)


def test_a_closed_journal_raises_a_journal_error(journal: Journal) -> None:
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.records()


def test_one_journal_serves_one_running_batch_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with (
        Journal.open(path),
        pytest.raises(JournalError, match="in use by another running batch"),
    ):
        Journal.open(path)
    with Journal.open(path):  # released on close
        pass


# --- the state machine -------------------------------------------------------------------------


def test_a_create_starts_only_from_uploaded_or_analyzed() -> None:
    into_intent = {old for old, allowed in TRANSITIONS.items() if S.CREATE_INTENT in allowed}
    assert into_intent == {S.UPLOADED, S.ANALYZED}
    assert [s for s in S if may_create(s)] == [S.UPLOADED, S.ANALYZED]
    assert not S.ANALYZED.maybe_charged


def test_maybe_charged_states_reach_a_create_only_through_a_proof() -> None:
    """From a state that may have been charged, ``uploaded`` or ``analyzed`` (create allowed)
    is reachable only by ``no_job`` (reads show no job), ``planned`` only from ``failed``
    (ERROR: free) or ``downloaded`` (the input changed: a new image)."""
    for old, allowed in TRANSITIONS.items():
        if not old.maybe_charged:
            continue
        if allowed & {S.UPLOADED, S.ANALYZED}:
            assert old in (S.CREATE_INTENT, S.UNKNOWN)
        if S.PLANNED in allowed:
            assert old is S.DOWNLOADED
    assert S.PLANNED not in TRANSITIONS[S.CREATED]
    assert S.PLANNED not in TRANSITIONS[S.LOST]
    assert TRANSITIONS[S.FAILED] == {S.PLANNED}
    with pytest.raises(IllegalTransition, match="created -> uploaded"):
        check_transition(S.CREATED, S.UPLOADED, "item")


class RecordingStore:
    """A store in memory that counts transactions (and proves the Protocol is implementable)."""

    def __init__(self) -> None:
        self.rows: dict[ItemKey, ItemRecord] = {}
        self.transactions: list[int] = []

    def bind(self, identity: StoreIdentity) -> None:
        pass

    def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def apply(self, changes: Sequence[StateChange]) -> set[ItemKey]:
        self.transactions.append(len(changes))
        stale = set()
        for change in changes:
            current = self.rows.get(change.record.key)
            if (current.state if current else None) != change.expected:
                stale.add(change.record.key)
            else:
                self.rows[change.record.key] = change.record
        return stale

    def records(self) -> list[ItemRecord]:
        return list(self.rows.values())

    def close(self) -> None:
        pass


async def test_book_moves_memory_and_store_together_one_transaction_per_step() -> None:
    store = RecordingStore()
    assert isinstance(store, JournalStore)
    book = ItemBook(store)
    for n in range(5):
        book.plan(key(n), f"photo{n}.jpg", None)
    await book.flush()
    for n in range(5):
        book.uploaded(key(n), f"up-{n}")
        book.intend_create(key(n))
    await book.flush()

    assert store.transactions == [5, 5]
    assert {r.state for r in store.rows.values()} == {S.CREATE_INTENT}
    assert book.state(key(0)) is S.CREATE_INTENT
    with pytest.raises(IllegalTransition, match="could charge twice"):
        book.intend_create(key(0))  # the intent is outstanding: never a second create
    book.unknown(key(0), "reads failed")
    with pytest.raises(IllegalTransition):
        book.intend_create(key(0))
    book.no_job(key(0))  # only a proof of "no job" opens the door again
    assert book.intend_create(key(0)).attempts == 2


async def test_book_flushes_coalesce_and_never_write_stale_items() -> None:
    store = RecordingStore()
    book = ItemBook(store)
    book.plan(key(1), "photo1.jpg", None)
    await book.flush()
    # Another writer moved the item meanwhile.
    store.rows[key(1)] = record(1, S.UPLOADED, upload_id="theirs")
    book.uploaded(key(1), "mine")

    flushed = await asyncio.gather(book.flush(), book.flush())

    assert flushed[0] == {key(1)}
    assert store.rows[key(1)].upload_id == "theirs"
    assert key(1) in book.stale
    with pytest.raises(IllegalTransition):
        book.intend_create(key(1))  # a stale item never gets a create


class TestSqliteJournalKeepsTheStoreContract(StoreContract):
    def open_store(self, place: Path) -> JournalStore:
        return Journal.open(place / "contract.journal")
