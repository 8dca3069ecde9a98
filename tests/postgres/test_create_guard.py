"""The last check before a create leaves: the lease as last confirmed by the database, on the
worker's own monotonic clock (a fake one here), re-confirmed with the database when short."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from viesus._journal.postgres.journal import BatchSettings, LeaseTimes, PostgresJournal
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord, StateChange, StoreIdentity

PARAMS = "p" * 64
SETTINGS = BatchSettings(params_hash=PARAMS, out_dir="/shared/out", cost=1, max_credits=None)
IDENTITY = StoreIdentity("http://127.0.0.1:1/graphql", "fp-0123456789ab")
LEASE = LeaseTimes(duration=60.0, renew_every=10.0, create_window=30.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores(pg_dsn: str) -> Iterator[tuple[PostgresJournal, PostgresJournal, FakeClock]]:
    clock = FakeClock()
    first = PostgresJournal.open(pg_dsn, "b", worker_id="slow", lease=LEASE, clock=clock)
    second = PostgresJournal.open(pg_dsn, "b", worker_id="next", lease=LEASE)
    try:
        for store in (first, second):
            store.join(SETTINGS)
            store.bind(IDENTITY)
        yield first, second, clock
    finally:
        first.close()
        second.close()


def item(n: int) -> ItemKey:
    return ItemKey(f"file:/shared/in/{n}.jpg", PARAMS)


def to_intent(store: PostgresJournal, key: ItemKey) -> None:
    source = key.source_id.removeprefix("file:")
    steps = [
        StateChange(None, ItemRecord(key, source, ItemState.PLANNED)),
        StateChange(ItemState.PLANNED, ItemRecord(key, source, ItemState.UPLOADED, upload_id="u")),
        StateChange(
            ItemState.UPLOADED,
            ItemRecord(key, source, ItemState.CREATE_INTENT, upload_id="u", attempts=1),
        ),
    ]
    for step in steps:
        assert store.apply([step]) == set()


def test_a_fresh_lease_lets_the_create_go_without_asking_the_database(
    stores: tuple[PostgresJournal, PostgresJournal, FakeClock], pg_dsn: str
) -> None:
    slow, _, clock = stores
    slow.enqueue([(item(1), "1.jpg")])
    assert slow.claim(5) == [item(1)]
    to_intent(slow, item(1))
    clock.now += 29.0  # 31 s of the 60 s lease left: more than the create window
    assert slow.confirm_for_create([item(1)]) == set()
    assert slow.lease_left(item(1)) == pytest.approx(31.0)


def test_a_lease_short_on_the_local_clock_is_reconfirmed_and_kept_when_still_held(
    stores: tuple[PostgresJournal, PostgresJournal, FakeClock],
) -> None:
    slow, _, clock = stores
    slow.enqueue([(item(1), "1.jpg")])
    slow.claim(5)
    to_intent(slow, item(1))
    clock.now += 45.0  # the worker "stalled" 45 s by its own clock; the database says held
    assert slow.confirm_for_create([item(1)]) == set()
    assert slow.lease_left(item(1)) == pytest.approx(60.0)  # renewed from now
    assert slow.holds(item(1))


def test_a_lease_taken_over_while_stalled_is_not_sent(
    stores: tuple[PostgresJournal, PostgresJournal, FakeClock], pg_dsn: str
) -> None:
    slow, following, clock = stores
    slow.enqueue([(item(1), "1.jpg"), (item(2), "2.jpg")])
    assert slow.claim(5) == [item(1), item(2)]
    to_intent(slow, item(1))
    to_intent(slow, item(2))
    # The slow worker is paused for longer than its lease: the database lets it expire (here
    # by moving its expiry back) and the next worker claims one of its items.
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(
            "UPDATE viesus_queue SET expires = now() - interval '1 second' WHERE source_id = %s",
            (item(1).source_id,),
        )
    assert following.claim(1) == [item(1)]
    clock.now += 61.0
    # Item 1 belongs to another worker now: not sent. Item 2's lease was still live at the
    # database (re-confirmed, renewed): it may go.
    assert slow.confirm_for_create([item(1), item(2)]) == {item(1)}
    assert not slow.holds(item(1))
    assert slow.holds(item(2))
    # The intent stays for the next holder, who reconciles before it creates.
    assert following.load([item(1)])[item(1)].state is ItemState.CREATE_INTENT


def test_a_lease_expired_but_not_yet_taken_is_not_sent_either(
    stores: tuple[PostgresJournal, PostgresJournal, FakeClock], pg_dsn: str
) -> None:
    slow, following, clock = stores
    slow.enqueue([(item(1), "1.jpg")])
    slow.claim(5)
    to_intent(slow, item(1))
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute("UPDATE viesus_queue SET expires = now() - interval '1 second'")
    clock.now += 61.0
    # Nobody holds it yet, but a worker may claim it any moment: the create does not go.
    assert slow.confirm_for_create([item(1)]) == {item(1)}
    assert following.claim(1) == [item(1)]
