"""Group commit in the inbox: requests that arrive while a commit is under way share the next
one, each still learns what became of its own delivery, and one bad row fails no other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.domain.intake import service as intake
from app.domain.intake.models import EventStatus, WebhookEvent
from app.intake import handoff
from app.intake import writer as inbox
from app.intake.store import record_deliveries
from app.jobs import queue_pump
from app.migrate import upgrade
from app.runtime import Runtime
from tests.support.factories import make_shop
from tests.support.shopify import SHOP


def row(n: int, *, event_id: str | None = None, topic: str = "orders/create",
        shop: str = SHOP, **changes) -> dict:
    delivery = intake.Delivery(topic=topic, shop_domain=shop, webhook_id=f"wh-{n}",
                               event_id=event_id or f"ev-{n}", triggered_at=None,
                               api_version="2026-10")
    return {**intake.inbox_row(delivery, {"id": n}, b'{"id": %d}' % n), **changes}


class GatedStore:
    """record_deliveries that holds its first call until released, and logs batch sizes."""

    def __init__(self, monkeypatch):
        self.batches: list[int] = []
        self.first_entered, self.release = threading.Event(), threading.Event()
        monkeypatch.setattr(inbox, "record_deliveries", self)

    def __call__(self, connection, rows):
        self.batches.append(len(rows))
        if len(self.batches) == 1:
            self.first_entered.set()
            assert self.release.wait(10)
        return record_deliveries(connection, rows)


def new_writer(rt, **timings) -> inbox.InboxWriter:
    return inbox.InboxWriter(rt.engine, rt.redis, queue_pump=queue_pump, **timings)


def queued(writer: inbox.InboxWriter, n: int) -> None:
    """Wait until n requests queue behind the one writing."""
    deadline = time.monotonic() + 10
    while len(writer._queue) < n:
        assert time.monotonic() < deadline, "requests never queued"
        time.sleep(0.005)


@pytest.fixture
def writer(rt):
    make_shop(rt, domain=SHOP)
    writer = new_writer(rt)
    yield writer
    writer.close()


def stored(rt) -> list[tuple[str, EventStatus]]:
    with rt.sessions() as session:
        return [tuple(r) for r in session.execute(select(WebhookEvent.event_id, WebhookEvent.status)
                                    .order_by(WebhookEvent.id))]


def test_requests_arriving_during_a_commit_share_the_next_one(rt, writer, monkeypatch):
    store = GatedStore(monkeypatch)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(writer.record, row(0))
        assert store.first_entered.wait(10)
        later = [pool.submit(writer.record, row(n)) for n in (1, 2, 3)]
        queued(writer, 3)
        store.release.set()
        results = [first.result(10), *(f.result(10) for f in later)]

    assert store.batches == [1, 3]
    assert all(r.pending for r in results) and len({r.event_id for r in results}) == 4
    assert sorted(stored(rt)) == [(f"ev-{n}", EventStatus.RECEIVED) for n in range(4)]
    assert writer.hand_off.flush()
    handed_off = sorted(int(i) for i in rt.redis.lrange(handoff.PENDING, 0, -1))
    assert handed_off == sorted(r.event_id for r in results)


def test_under_load_a_new_leader_waits_for_the_rows_on_their_way(rt, monkeypatch):
    make_shop(rt, domain=SHOP)
    writer = new_writer(rt, gather=0.5)
    store = GatedStore(monkeypatch)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(writer.record, row(0))
            assert store.first_entered.wait(10)
            busy = [pool.submit(writer.record, row(n)) for n in (1, 2)]
            queued(writer, 2)
            store.release.set()
            for future in (first, *busy):
                future.result(10)  # batches of 1, then 2: the process is under load

            leader = pool.submit(writer.record, row(3))
            time.sleep(0.1)  # arrives while that leader gathers
            on_its_way = pool.submit(writer.record, row(4))
            leader.result(10), on_its_way.result(10)
    finally:
        writer.close()

    assert store.batches == [1, 2, 2]
    assert len(stored(rt)) == 5


def test_a_lone_request_does_not_wait_to_gather(rt, monkeypatch):
    make_shop(rt, domain=SHOP)
    writer = new_writer(rt, gather=30)
    try:
        started = time.monotonic()
        for n in range(3):
            assert writer.record(row(n)).pending
        assert time.monotonic() - started < 10
    finally:
        writer.close()


def test_two_deliveries_of_one_event_in_one_batch_are_stored_once(rt, writer):
    with rt.engine.connect() as connection:
        first, second = record_deliveries(
            connection, [row(1, event_id="same"), row(2, event_id="same")])
        connection.commit()
    assert first.pending and not first.duplicate
    assert second.duplicate
    assert stored(rt) == [("same", EventStatus.RECEIVED)]


def test_a_row_the_database_refuses_fails_only_its_own_request(rt, writer, monkeypatch):
    store = GatedStore(monkeypatch)
    bad = row(2, api_version="x" * 21)  # longer than its column: the INSERT fails
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(writer.record, row(0))
        assert store.first_entered.wait(10)
        good, refused = pool.submit(writer.record, row(1)), pool.submit(writer.record, bad)
        queued(writer, 2)
        store.release.set()
        assert first.result(10).pending and good.result(10).pending
        with pytest.raises(DBAPIError):
            refused.result(10)

    assert store.batches == [1, 2, 1, 1]  # the failed pair, then each row alone
    assert stored(rt) == [("ev-0", EventStatus.RECEIVED), ("ev-1", EventStatus.RECEIVED)]
    assert writer.record(row(3)).pending  # the writer goes on


def test_a_request_that_waits_too_long_gives_up_and_the_next_ones_still_get_stored(
        rt, writer, monkeypatch):
    store = GatedStore(monkeypatch)
    monkeypatch.setattr(inbox, "ANSWER_TIMEOUT", 0.2)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(writer.record, row(0))
        assert store.first_entered.wait(10)
        with pytest.raises(TimeoutError):
            writer.record(row(1))  # queued behind a commit that does not return in time
        store.release.set()
        assert first.result(10).pending

    assert writer.record(row(2)).pending  # the lead was passed on, not lost
    assert [event_id for event_id, _ in stored(rt)] == ["ev-0", "ev-2"]


def test_a_lone_request_writes_its_own_row_and_hands_it_off(rt, writer):
    recorded = writer.record(row(7))
    assert recorded.pending
    assert writer.hand_off.flush()
    assert rt.redis.lrange(handoff.PENDING, 0, -1) == [str(recorded.event_id).encode()]


real_hand_off = handoff.hand_off  # kept: GatedHandOff replaces it in the module


class GatedHandOff:
    """app.intake.handoff.hand_off held until released, its calls logged."""

    def __init__(self, monkeypatch):
        self.calls: list[list[int]] = []
        self.release = threading.Event()
        monkeypatch.setattr(handoff, "hand_off", self)

    def __call__(self, connection, event_ids, queue_pump):
        assert self.release.wait(10)
        self.calls.append(list(event_ids))
        return real_hand_off(connection, event_ids, queue_pump)


def test_the_answer_does_not_wait_for_redis(rt, writer, monkeypatch):
    """The row is committed: an id that never reaches Redis is the sweeper's to find."""
    redis = GatedHandOff(monkeypatch)
    recorded = writer.record(row(1))  # returns while the hand-off is held
    assert recorded.pending and stored(rt) == [("ev-1", EventStatus.RECEIVED)]
    assert redis.calls == [] and rt.redis.llen(handoff.PENDING) == 0
    redis.release.set()
    assert writer.hand_off.flush()
    assert redis.calls == [[recorded.event_id]]


def test_commits_within_the_linger_share_one_redis_round_trip(rt, monkeypatch):
    make_shop(rt, domain=SHOP)
    redis = GatedHandOff(monkeypatch)
    redis.release.set()
    writer = new_writer(rt, linger=0.5)
    try:
        ids = [writer.record(row(n)).event_id for n in range(3)]  # three commits
        assert writer.hand_off.flush()
    finally:
        writer.close()
    assert redis.calls == [ids]


def test_ids_waiting_when_the_process_exits_are_handed_off(rt, monkeypatch):
    make_shop(rt, domain=SHOP)
    writer = new_writer(rt, linger=30)  # would wait half a minute
    recorded = writer.record(row(1))
    time.sleep(0.3)  # the hand-off thread is in its linger by now: the exit must cut it short
    started = time.monotonic()
    writer.close()  # what the process's exit does (atexit)
    assert time.monotonic() - started < 5
    assert rt.redis.lrange(handoff.PENDING, 0, -1) == [str(recorded.event_id).encode()]


INACTIVE = "closed-shop.myshopify.com"
STATUS_RULE = [  # topic, shop, status: a handled topic of a known active shop is received,
    ("orders/create", SHOP, EventStatus.RECEIVED),          # compliance topics of any known
    ("carts/update", SHOP, EventStatus.IGNORED),            # shop are too, the rest is kept
    ("orders/create", INACTIVE, EventStatus.IGNORED),       # as ignored
    ("shop/redact", INACTIVE, EventStatus.RECEIVED),
    ("shop/redact", "stranger.myshopify.com", EventStatus.IGNORED),
]


@pytest.fixture(params=["postgresql", "sqlite"])
def any_database(request, rt, tmp_path, base_settings):
    if request.param == "postgresql":
        yield rt
        return
    sqlite = Runtime(base_settings.with_overrides(database_url=f"sqlite:///{tmp_path}/b.db"))
    upgrade(sqlite.settings.database_url)
    yield sqlite
    sqlite.close()


def test_postgresql_and_sqlite_give_a_delivery_the_same_status(any_database):
    # The batch statement (PostgreSQL) and the one-row statement (SQLite) spell the rule
    # twice; this holds them to one answer.
    make_shop(any_database, domain=SHOP)
    make_shop(any_database, domain=INACTIVE, active=False)
    rows = [row(n, topic=topic, shop=shop) for n, (topic, shop, _) in enumerate(STATUS_RULE)]
    with any_database.engine.connect() as connection:
        recorded = record_deliveries(connection, rows)
        connection.commit()

    expected = [status for *_, status in STATUS_RULE]
    assert [r.pending for r in recorded] == [s == EventStatus.RECEIVED for s in expected]
    assert dict(stored(any_database)) == {row["event_id"]: status
                                          for row, status in zip(rows, expected, strict=True)}
