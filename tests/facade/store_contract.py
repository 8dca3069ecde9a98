"""The :class:`viesus._journal.store.JournalStore` contract as tests any store reuses.

Subclass :class:`StoreContract` in a test module and implement ``open_store(place)``: it opens
(or reopens) the store kept at ``place`` (a fresh temporary folder per test; a server-backed
store may use it as a namespace). The SQLite journal does it in ``test_journal.py``; a
PostgreSQL store can do the same and get every check below for free.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from viesus._errors import JournalError
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord, JournalStore, StateChange, StoreIdentity

S = ItemState
IDENTITY = StoreIdentity("http://127.0.0.1:1/graphql", "0123456789abcdef")


def key(n: int) -> ItemKey:
    return ItemKey(f"file:/in/photo{n}.jpg", "ab" * 32)


def record(n: int, state: ItemState = S.PLANNED, **fields: object) -> ItemRecord:
    return ItemRecord(key=key(n), source=f"photo{n}.jpg", state=state, **fields)  # type: ignore[arg-type]


class StoreContract:
    """Checks every :class:`JournalStore` must pass (the contract of ``viesus._journal.store``)."""

    def open_store(self, place: Path) -> JournalStore:
        raise NotImplementedError

    def test_is_a_journal_store(self, tmp_path: Path) -> None:
        store = self.open_store(tmp_path)
        try:
            assert isinstance(store, JournalStore)
        finally:
            store.close()

    def test_applied_changes_are_durable_across_reopen(self, tmp_path: Path) -> None:
        store = self.open_store(tmp_path)
        try:
            assert store.load([key(1)]) == {}
            assert (
                store.apply([StateChange(None, record(1)), StateChange(None, record(2))]) == set()
            )
            done = record(
                1,
                S.DOWNLOADED,
                content_hash="c" * 64,
                upload_id="up-1",
                job_id="job-1",
                attempts=2,
                output_path="out/photo1_enhanced.jpg",
                output_sha256="f" * 64,
                credits=4,
                reason=None,
            )
            assert store.apply([StateChange(S.PLANNED, done)]) == set()
        finally:
            store.close()
        store = self.open_store(tmp_path)
        try:
            loaded = store.load([key(1), key(2), key(3)])
            assert set(loaded) == {key(1), key(2)}
            assert loaded[key(1)] == done  # updated_at is not compared
            assert loaded[key(1)].updated_at is not None
            assert [r.key for r in store.records()] == [key(1), key(2)]  # oldest first
        finally:
            store.close()

    def test_compare_and_set_refuses_stale_changes_and_keeps_the_rest(self, tmp_path: Path) -> None:
        store = self.open_store(tmp_path)
        try:
            store.apply([StateChange(None, record(1)), StateChange(None, record(2))])
            stale = store.apply(
                [
                    StateChange(S.UPLOADED, record(1, S.CREATE_INTENT, attempts=1)),
                    StateChange(S.PLANNED, record(2, S.UPLOADED, upload_id="up-2")),
                    StateChange(None, record(1, S.UPLOADED)),
                ]
            )
            assert stale == {key(1)}
            loaded = store.load([key(1), key(2)])
            assert loaded[key(1)].state is S.PLANNED
            assert (loaded[key(2)].state, loaded[key(2)].upload_id) == (S.UPLOADED, "up-2")
            assert store.apply([]) == set()
        finally:
            store.close()

    def test_every_state_round_trips(self, tmp_path: Path) -> None:
        store = self.open_store(tmp_path)
        try:
            store.apply([StateChange(None, record(n, state)) for n, state in enumerate(S)])
            loaded = store.load([key(n) for n in range(len(S))])
            assert [loaded[key(n)].state for n in range(len(S))] == list(S)
        finally:
            store.close()

    def test_bind_records_the_identity_and_refuses_another(self, tmp_path: Path) -> None:
        store = self.open_store(tmp_path)
        try:
            store.bind(IDENTITY)
            store.bind(IDENTITY)
        finally:
            store.close()
        store = self.open_store(tmp_path)
        try:
            with pytest.raises(JournalError, match="endpoint"):
                store.bind(StoreIdentity("https://api.viesus.cloud/graphql", "0123456789abcdef"))
            with pytest.raises(JournalError, match="API key"):
                store.bind(StoreIdentity(IDENTITY.endpoint, "fedcba9876543210"))
        finally:
            store.close()
