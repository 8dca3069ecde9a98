"""The journal store contract (viesus._journal.store.JournalStore), run on every store: the embedded
SQLite journal and the shared PostgreSQL journal must behave the same to the pipeline.

The one difference a caller sees is sharing itself: a PostgreSQL worker writes only items it
has claimed, so each test claims what it writes (``take``), as a worker does."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from tests.facade.store_contract import StoreContract
from tests.facade.store_contract import key as contract_key
from viesus._errors import JournalError
from viesus._journal.postgres.journal import BatchSettings, PostgresJournal
from viesus._journal.sqlite import Journal
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord, JournalStore, StateChange, StoreIdentity

PARAMS = "a" * 64
IDENTITY = StoreIdentity("http://127.0.0.1:8765/graphql", "fp-aaaaaaaaaaaa")
S = ItemState


@dataclass
class Subject:
    """A store under test, how to reopen it, and what a writer does before writing."""

    store: JournalStore
    reopen: Callable[[], JournalStore]
    take: Callable[[Sequence[ItemKey]], None]
    opened: list[JournalStore] = field(default_factory=list)


def sqlite_subject(tmp_path: Path) -> Subject:
    path = tmp_path / "journal.sqlite"
    subject = Subject(Journal.open(path), lambda: Journal.open(path), lambda keys: None)
    return subject


def postgres_subject(dsn: str) -> Subject:
    def open_store() -> PostgresJournal:
        store = PostgresJournal.open(dsn, "contract")
        store.join(BatchSettings(PARAMS, "/out", cost=4, max_credits=None))
        return store

    store = open_store()

    def take(keys: Sequence[ItemKey]) -> None:
        store.enqueue([(k, k.source_id) for k in keys])
        store.claim(len(keys))

    return Subject(store, open_store, take)


@pytest.fixture(params=["sqlite", "postgresql"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "sqlite":
        made = sqlite_subject(tmp_path)
    else:
        made = postgres_subject(request.getfixturevalue("pg_dsn"))
    made.store.bind(IDENTITY)
    yield made
    for store in [made.store, *made.opened]:
        store.close()


def reopened(subject: Subject) -> JournalStore:
    subject.store.close()
    store = subject.reopen()
    subject.opened.append(store)
    return store


def key(n: int) -> ItemKey:
    return ItemKey(f"file:/in/photo{n}.jpg", PARAMS)


def record(n: int, state: ItemState, **fields: object) -> ItemRecord:
    return ItemRecord(key(n), f"/in/photo{n}.jpg", state, **fields)  # type: ignore[arg-type]


def create(subject: Subject, *numbers: int) -> None:
    subject.take([key(n) for n in numbers])
    changes = [StateChange(None, record(n, S.PLANNED)) for n in numbers]
    assert subject.store.apply(changes) == set()


def test_a_new_store_is_empty(subject: Subject) -> None:
    assert subject.store.records() == []
    assert subject.store.load([key(0)]) == {}


def test_stores_implement_the_protocol(subject: Subject) -> None:
    assert isinstance(subject.store, JournalStore)


def test_a_new_item_is_written_only_if_absent(subject: Subject) -> None:
    create(subject, 0)
    again = record(0, S.UPLOADED, upload_id="u0")
    assert subject.store.apply([StateChange(None, again)]) == {key(0)}
    assert subject.store.load([key(0)])[key(0)].state is S.PLANNED


def test_a_stale_expectation_is_refused_and_the_others_applied(subject: Subject) -> None:
    create(subject, 0, 1)
    stale = subject.store.apply(
        [
            StateChange(S.UPLOADED, record(0, S.CREATE_INTENT, upload_id="u0", attempts=1)),
            StateChange(S.PLANNED, record(1, S.UPLOADED, upload_id="u1")),
        ]
    )
    assert stale == {key(0)}
    loaded = subject.store.load([key(0), key(1)])
    assert loaded[key(0)].state is S.PLANNED
    assert loaded[key(1)].state is S.UPLOADED


def test_the_same_create_intent_twice_is_stale_the_second_time(subject: Subject) -> None:
    # Two tasks racing to create the same item: only one may send the create.
    create(subject, 0)
    upload = StateChange(S.PLANNED, record(0, S.UPLOADED, upload_id="u0"))
    assert subject.store.apply([upload]) == set()
    intent = StateChange(S.UPLOADED, record(0, S.CREATE_INTENT, upload_id="u0", attempts=1))
    assert subject.store.apply([intent]) == set()
    assert subject.store.apply([intent]) == {key(0)}


def test_an_item_walks_the_state_machine_and_every_field_round_trips(subject: Subject) -> None:
    create(subject, 0)
    steps = [
        record(0, S.UPLOADED, content_hash="c" * 64, upload_id="u0"),
        record(0, S.CREATE_INTENT, content_hash="c" * 64, upload_id="u0", attempts=1),
        record(0, S.CREATED, content_hash="c" * 64, upload_id="u0", attempts=1, job_id="j0"),
        record(
            0, S.FINISHED_REMOTE, content_hash="c" * 64, upload_id="u0", attempts=1,
            job_id="j0", output_path="/out/photo0.jpg",
        ),
        record(
            0, S.DOWNLOADED, content_hash="c" * 64, upload_id="u0", attempts=1, job_id="j0",
            output_path="/out/photo0.jpg", output_sha256="d" * 64, credits=4,
        ),
    ]  # fmt: skip
    previous = S.PLANNED
    for step in steps:
        assert subject.store.apply([StateChange(previous, step)]) == set()
        previous = step.state
    stored = reopened(subject).load([key(0)])[key(0)]
    assert stored.updated_at is not None
    assert replace(stored, updated_at=None) == steps[-1]


def test_a_failure_keeps_its_reason(subject: Subject) -> None:
    create(subject, 0)
    failed = record(0, S.FAILED, reason="LimitExceeded: 50000 px > 11996 px")
    assert subject.store.apply([StateChange(S.PLANNED, failed)]) == set()
    assert subject.store.load([key(0)])[key(0)].reason == "LimitExceeded: 50000 px > 11996 px"


def test_records_come_oldest_first_and_load_returns_only_known_keys(subject: Subject) -> None:
    for n in (3, 1, 2):
        create(subject, n)
    assert [r.key for r in subject.store.records()] == [key(3), key(1), key(2)]
    assert set(subject.store.load([key(1), key(9)])) == {key(1)}


def test_applied_changes_are_durable(subject: Subject) -> None:
    create(subject, 0, 1)
    assert [r.key for r in reopened(subject).records()] == [key(0), key(1)]


def test_bind_refuses_another_endpoint_or_key_naming_both(subject: Subject) -> None:
    subject.store.bind(IDENTITY)
    with pytest.raises(JournalError, match=r"127\.0\.0\.1:8765.*api\.viesus\.cloud"):
        subject.store.bind(StoreIdentity("https://api.viesus.cloud/graphql", "fp-aaaaaaaaaaaa"))
    with pytest.raises(JournalError, match=r"fp-aaaaaaaaaaaa.*fp-bbbbbbbbbbbb"):
        subject.store.bind(StoreIdentity(IDENTITY.endpoint, "fp-bbbbbbbbbbbb"))
    reopened(subject).bind(IDENTITY)  # remembered across runs


def test_a_closed_store_raises_journal_error(subject: Subject) -> None:
    subject.store.close()
    with pytest.raises(JournalError, match="closed"):
        subject.store.records()


class TestPostgresJournalKeepsTheStoreContract(StoreContract):
    """core8's reusable contract (tests/facade/store_contract.py) on the PostgreSQL journal,
    opened as a worker that has claimed the items the contract writes."""

    @pytest.fixture(autouse=True)
    def _database(self, pg_dsn: str) -> None:
        self.dsn = pg_dsn

    def open_store(self, place: Path) -> JournalStore:
        store = PostgresJournal.open(self.dsn, place.name)
        store.join(BatchSettings(contract_key(0).params_hash, "/out", cost=4, max_credits=None))
        keys = [contract_key(n) for n in range(len(S) + 1)]
        store.enqueue([(k, k.source_id) for k in keys])
        assert len(store.claim(len(keys))) == len(keys)  # the last holder gave them back
        return store
