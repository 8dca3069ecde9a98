"""The PostgreSQL journal's own promises, against a real server: schema versions, batches,
leases claimed with SKIP LOCKED, fenced writes, the shared credit budget, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.pg_server import PostgresServer
from viesus._errors import JournalError
from viesus._journal.postgres.journal import (
    SCHEMA_VERSION,
    BatchSettings,
    LeaseTimes,
    PostgresJournal,
    is_postgres_url,
    redact_dsn,
)
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord, StateChange, StoreIdentity

PARAMS = "p" * 64
SETTINGS = BatchSettings(params_hash=PARAMS, out_dir="/shared/out", cost=4, max_credits=None)
IDENTITY = StoreIdentity("http://127.0.0.1:1/graphql", "fp-0123456789ab")
# Short leases so expiry happens within a test; the create window is half of one.
SHORT = LeaseTimes(duration=1.0, renew_every=0.2, create_window=0.5)

Opener = Callable[..., PostgresJournal]


@pytest.fixture
def open_store(pg_dsn: str) -> Iterator[Opener]:
    opened: list[PostgresJournal] = []

    def make(
        batch: str = "b1",
        settings: BatchSettings = SETTINGS,
        lease: LeaseTimes | None = None,
        worker: str | None = None,
    ) -> PostgresJournal:
        store = PostgresJournal.open(pg_dsn, batch, worker_id=worker, lease=lease)
        opened.append(store)
        store.join(settings)
        store.bind(IDENTITY)
        return store

    yield make
    for store in opened:
        store.close()


def key(n: int) -> ItemKey:
    return ItemKey(f"file:/shared/in/photo{n:03d}.jpg", PARAMS)


def record(n: int, state: ItemState, **fields: object) -> ItemRecord:
    return ItemRecord(key(n), f"/shared/in/photo{n:03d}.jpg", state, **fields)  # type: ignore[arg-type]


def plan(store: PostgresJournal, count: int) -> list[ItemKey]:
    keys = [key(n) for n in range(count)]
    store.enqueue([(k, k.source_id) for k in keys])
    return keys


def to_uploaded(store: PostgresJournal, n: int) -> None:
    assert store.apply([StateChange(None, record(n, ItemState.PLANNED))]) == set()
    upload = record(n, ItemState.UPLOADED, upload_id=f"u{n}")
    assert store.apply([StateChange(ItemState.PLANNED, upload)]) == set()


def intent(n: int) -> StateChange:
    return StateChange(
        ItemState.UPLOADED, record(n, ItemState.CREATE_INTENT, upload_id=f"u{n}", attempts=1)
    )


# --- schema ---------------------------------------------------------------------------------


def test_schema_is_created_once_and_versioned(pg_dsn: str) -> None:
    for _ in range(2):
        PostgresJournal.open(pg_dsn, "b1").close()
    with psycopg.connect(pg_dsn) as connection:
        rows = connection.execute("SELECT version FROM viesus_schema_version").fetchall()
    assert rows == [(SCHEMA_VERSION,)]


def test_workers_starting_together_migrate_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            PostgresJournal.open(pg_dsn, "b1").close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(pg_dsn) as connection:
        assert connection.execute("SELECT count(*) FROM viesus_schema_version").fetchone() == (1,)


def test_a_newer_schema_is_refused_naming_both_versions(pg_dsn: str) -> None:
    PostgresJournal.open(pg_dsn, "b1").close()
    with psycopg.connect(pg_dsn) as connection:
        connection.execute("INSERT INTO viesus_schema_version (version) VALUES (99)")
    with pytest.raises(JournalError, match=r"newer viesus-toolkit \(schema 99; .* up to 1\)"):
        PostgresJournal.open(pg_dsn, "b1")


def test_selection_by_url_and_redaction() -> None:
    assert is_postgres_url("postgresql://u@h/db")
    assert is_postgres_url("postgres://h/db")
    assert not is_postgres_url("out/.viesus-journal.sqlite")
    shown = redact_dsn("postgresql://lab:s3cret-pw@db.lab:6543/viesus?sslmode=require")
    assert shown == "postgresql://db.lab:6543/viesus"


def test_a_bad_batch_name_is_refused(pg_dsn: str) -> None:
    with pytest.raises(JournalError, match="batch name"):
        PostgresJournal.open(pg_dsn, "")


# --- batches: one set of settings, one account --------------------------------------------


def test_workers_of_a_batch_must_agree_on_options_and_output(open_store: Opener) -> None:
    open_store()
    with pytest.raises(JournalError, match="other enhancement options"):
        open_store(settings=BatchSettings("q" * 64, "/shared/out", 4, None))
    with pytest.raises(JournalError, match="writes its outputs to /shared/out"):
        open_store(settings=BatchSettings(PARAMS, "/elsewhere", 4, None))
    # Another batch name is another batch.
    open_store(batch="b2", settings=BatchSettings("q" * 64, "/elsewhere", 4, None))


def test_another_endpoint_or_key_is_refused(open_store: Opener) -> None:
    store = open_store()
    store.bind(IDENTITY)  # the same again is fine
    expected = r"belongs to the endpoint http://127\.0\.0\.1:1/graphql"
    with pytest.raises(JournalError, match=expected):
        store.bind(StoreIdentity("https://api.viesus.cloud/graphql", IDENTITY.key_fingerprint))
    with pytest.raises(JournalError, match="fingerprint fp-0123456789ab, this one fp-other"):
        store.bind(StoreIdentity(IDENTITY.endpoint, "fp-other"))


# --- claims and leases ----------------------------------------------------------------------


def test_concurrent_claims_never_hand_one_item_to_two_workers(open_store: Opener) -> None:
    stores = [open_store(worker=f"w{i}") for i in range(3)]
    plan(stores[0], 60)
    claimed: dict[str, list[ItemKey]] = {}

    def drain(store: PostgresJournal) -> None:
        got: list[ItemKey] = []
        while batch := store.claim(4):
            got.extend(batch)
        claimed[store.worker_id] = got

    threads = [threading.Thread(target=drain, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [k for got in claimed.values() for k in got]
    assert sorted(everything) == sorted(key(n) for n in range(60))  # each exactly once


def test_writes_need_the_lease(open_store: Opener) -> None:
    store = open_store()
    plan(store, 2)
    # Not claimed: refused as stale, nothing written.
    assert store.apply([StateChange(None, record(0, ItemState.PLANNED))]) == {key(0)}
    assert store.load([key(0)]) == {}
    store.claim(1)
    assert store.holds(key(0))
    assert not store.holds(key(1))
    to_uploaded(store, 0)
    assert store.load([key(0)])[key(0)].state is ItemState.UPLOADED


def test_a_slow_worker_loses_its_lease_and_cannot_create(open_store: Opener) -> None:
    slow = open_store(worker="slow", lease=SHORT)
    fast = open_store(worker="fast", lease=SHORT)
    plan(slow, 1)
    assert slow.claim(1) == [key(0)]
    to_uploaded(slow, 0)
    assert fast.claim(1) == []  # held
    time.sleep(SHORT.duration + 0.1)  # the slow worker misses its renewals
    assert fast.claim(1) == [key(0)]
    # The slow worker wakes up and tries to record its create intent: fenced.
    assert slow.apply([intent(0)]) == {key(0)}
    assert not slow.holds(key(0))  # it knows now, and will not write about it again
    assert slow.renew() == set()
    assert fast.apply([intent(0)]) == set()
    assert fast.load([key(0)])[key(0)].state is ItemState.CREATE_INTENT


def test_a_create_intent_needs_the_create_window_left(open_store: Opener) -> None:
    store = open_store(lease=SHORT)
    plan(store, 1)
    store.claim(1)
    to_uploaded(store, 0)
    time.sleep(SHORT.duration - SHORT.create_window + 0.1)  # still held, but not long enough
    assert store.apply([intent(0)]) == {key(0)}
    # Given back at once, with no create sent; the next claim (a full lease) may create.
    assert not store.holds(key(0))
    assert store.claim(1) == [key(0)]
    assert store.apply([intent(0)]) == set()


def test_renewal_keeps_the_lease_past_its_duration(open_store: Opener) -> None:
    holder = open_store(worker="holder", lease=SHORT)
    other = open_store(worker="other", lease=SHORT)
    plan(holder, 1)
    holder.claim(1)
    for _ in range(8):  # 1.6 s: longer than the 1 s lease
        time.sleep(SHORT.renew_every)
        assert holder.renew() == set()
    assert other.claim(1) == []


def test_settled_items_are_not_claimed_again_until_retry_failed(open_store: Opener) -> None:
    store = open_store()
    plan(store, 3)
    store.claim(3)
    assert store.settle([(key(0), "finished", None), (key(1), "failed", "LimitExceeded")]) == set()
    store.release([key(2)])
    assert store.claim(10) == [key(2)]
    store.settle([(key(2), "finished", None)])
    assert store.claim(10) == []
    assert store.retry_failed() == 1
    assert store.claim(10) == [key(1)]


def test_a_released_item_is_free_at_once(open_store: Opener) -> None:
    first = open_store(worker="first")
    second = open_store(worker="second")
    plan(first, 1)
    first.claim(1)
    first.close()  # a clean stop gives its leases back
    assert second.claim(1) == [key(0)]


# --- the shared credit budget ---------------------------------------------------------------


def test_max_credits_is_one_counter_for_all_workers(open_store: Opener) -> None:
    budget = BatchSettings(PARAMS, "/shared/out", cost=4, max_credits=8)  # two items' worth
    a = open_store(worker="a", settings=budget)
    b = open_store(worker="b", settings=budget)
    plan(a, 3)
    a.claim(2)
    b.claim(1)
    for store, n in ((a, 0), (a, 1), (b, 2)):
        to_uploaded(store, n)
    assert a.apply([intent(0)]) == set()
    assert b.apply([intent(2)]) == set()
    # The third create would exceed 8 credits: refused before it is sent.
    assert a.apply([intent(1)]) == {key(1)}
    assert a.over_budget == {key(1)}
    assert a.status().credits_committed == 8
    # A job that ended in ERROR cost nothing: its credits come back for the others.
    failed = record(2, ItemState.FAILED, upload_id="u2", attempts=1, reason="ERROR")
    assert b.apply([StateChange(ItemState.CREATE_INTENT, failed)]) == set()
    assert a.apply([intent(1)]) == set()
    assert a.status().credits_committed == 8


def test_intents_racing_for_the_last_credits_grant_exactly_one(open_store: Opener) -> None:
    budget = BatchSettings(PARAMS, "/shared/out", cost=4, max_credits=4)
    stores = [open_store(worker=f"w{i}", settings=budget) for i in range(4)]
    plan(stores[0], 4)
    for n, store in enumerate(stores):
        assert store.claim(1) == [key(n)]
        to_uploaded(store, n)
    refused: list[set[ItemKey]] = []
    barrier = threading.Barrier(len(stores))

    def race(store: PostgresJournal, n: int) -> None:
        barrier.wait()
        refused.append(store.apply([intent(n)]))

    threads = [threading.Thread(target=race, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in refused if not r) == 1
    assert stores[0].status().credits_committed == 4


# --- the database going away ------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server(pg_server: PostgresServer) -> Iterator[PostgresServer]:
    """A server of its own for the test that stops it (the session's stays up)."""
    server = PostgresServer(pg_server.bin_dir)
    server.start()
    yield server
    server.stop()


def test_calls_back_off_while_the_database_is_down_and_resume(own_server: PostgresServer) -> None:
    store = PostgresJournal.open(own_server.dsn, "b1", outage_limit=30)
    store.join(SETTINGS)
    plan(store, 2)
    store.claim(2)
    own_server.pause()
    restarted = threading.Timer(1.0, own_server.resume)
    restarted.start()
    try:
        to_uploaded(store, 0)  # blocks, retrying, until the server is back
    finally:
        restarted.join()
    assert store.reconnects >= 1
    assert store.load([key(0)])[key(0)].state is ItemState.UPLOADED
    store.close()


def test_an_outage_longer_than_the_limit_is_a_clear_error(own_server: PostgresServer) -> None:
    store = PostgresJournal.open(own_server.dsn, "b1", outage_limit=0.5)
    own_server.pause()
    try:
        with pytest.raises(JournalError, match=r"unreachable for 0 s .*run the worker again"):
            store.records()
    finally:
        own_server.resume()
        store.close()


def test_looking_at_a_database_without_a_journal_changes_nothing(pg_dsn: str) -> None:
    with pytest.raises(JournalError, match=r"holds no viesus journal of schema 1 \(found none\)"):
        PostgresJournal.open(pg_dsn, "b1", migrate=False)
    with psycopg.connect(pg_dsn) as connection:
        row = connection.execute("SELECT to_regclass('viesus_schema_version')").fetchone()
    assert row == (None,)
    PostgresJournal.open(pg_dsn, "b1").close()
    PostgresJournal.open(pg_dsn, "b1", migrate=False).close()


def test_status_of_an_unknown_batch_is_a_clear_error(open_store: Opener, pg_dsn: str) -> None:
    open_store()
    other = PostgresJournal.open(pg_dsn, "nope", migrate=False)
    try:
        with pytest.raises(JournalError, match="there is no batch 'nope'"):
            other.status()
    finally:
        other.close()


def test_a_password_in_the_dsn_never_reaches_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dsn = "postgresql://lab:s3cret-pw@127.0.0.1:1/viesus"  # nothing listens on port 1
    with caplog.at_level("DEBUG"), pytest.raises(JournalError) as caught:
        PostgresJournal.open(dsn, "b1", outage_limit=0.3)
    message = str(caught.value)
    assert "postgresql://127.0.0.1:1/viesus" in message
    assert "s3cret" not in message
    assert caplog.records  # the retries were logged...
    assert "s3cret" not in caplog.text  # ...without the password
    assert "s3cret" not in repr(PostgresJournal(dsn, "b1", "w", LeaseTimes(), 1.0))


def test_a_step_the_server_rolls_back_for_a_deadlock_is_run_again(
    open_store: Opener, pg_dsn: str
) -> None:
    store = open_store()
    plan(store, 1)
    store.claim(1)
    # The server refuses the first write of an item with a real deadlock error (40P01), as it
    # does when two workers' transactions lock rows in opposite orders.
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(
            b"""
            CREATE SEQUENCE once;  -- nextval survives the rollback the error causes
            CREATE FUNCTION deadlock_once() RETURNS trigger AS $$
            BEGIN
                IF nextval('once') = 1 THEN
                    RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER deadlock_once BEFORE INSERT ON viesus_items
                FOR EACH ROW EXECUTE FUNCTION deadlock_once();
            """
        )
    assert store.apply([StateChange(None, record(0, ItemState.PLANNED))]) == set()
    assert store.load([key(0)])[key(0)].state is ItemState.PLANNED
    with psycopg.connect(pg_dsn) as connection:
        assert connection.execute("SELECT last_value FROM once").fetchone() == (2,)
