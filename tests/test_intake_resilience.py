"""Nothing accepted is ever lost: Redis outages, replays, the sweeper, failures on record."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from app.domain.intake.models import EventStatus, WebhookEvent
from app.runtime import Runtime
from app.web import create_app
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.processes import PrivateRedis
from tests.support.shopify import SHOP, post_webhook
from workers import context, jobs


def statuses(rt) -> list[EventStatus]:
    with rt.sessions() as session:
        return list(session.scalars(select(WebhookEvent.status).order_by(WebhookEvent.id)))


@pytest.fixture
def private_redis_runtime(rt):
    """The test database, but a private redis-server the test can kill."""
    with PrivateRedis() as server:
        private = Runtime(rt.settings.with_overrides(redis_url=server.url))
        context.install(private)
        yield private, server
        context.install(rt)
        private.close()


def drain(runtime) -> None:
    from rq import Queue, SimpleWorker

    from app.jobs import ALL_QUEUES
    queues = [Queue(n, connection=runtime.redis) for n in ALL_QUEUES]
    SimpleWorker(queues, connection=runtime.redis).work(burst=True, logging_level="WARNING")


def test_webhooks_are_stored_while_redis_is_down_and_processed_after_it_returns(
        private_redis_runtime):
    runtime, server = private_redis_runtime
    make_shop(runtime, domain=SHOP)
    client = create_app(runtime=runtime).test_client()
    server.stop()
    for n in range(3):
        response = post_webhook(client, "customers/data_request",
                                {"customer": {"id": n}, "orders_requested": []},
                                secret=WEBHOOK_SECRET)
        assert response.status_code == 200
    assert statuses(runtime) == [EventStatus.RECEIVED] * 3

    server.start()
    runtime.redis.connection_pool.disconnect()
    assert jobs.sweep_inbox(older_than_seconds=0) == 3
    drain(runtime)
    assert statuses(runtime) == [EventStatus.PROCESSED] * 3


def test_replay_reenqueues_only_unprocessed_webhooks_of_the_shop(rt, client, run_jobs, monkeypatch):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "customers/data_request", {"customer": {"id": 1}}, secret=WEBHOOK_SECRET)
    run_jobs()
    rt.redis.flushdb()  # as if Redis lost its queue
    post_webhook(client, "customers/data_request", {"customer": {"id": 2}}, secret=WEBHOOK_SECRET)
    rt.redis.flushdb()
    assert statuses(rt) == [EventStatus.PROCESSED, EventStatus.RECEIVED]

    from app import cli
    monkeypatch.setattr(cli._Context, "_rt", rt)
    result = CliRunner().invoke(cli.cli, ["replay", "--shop", SHOP])
    assert result.exit_code == 0, result.output
    assert "re-enqueued 1 webhooks" in result.output
    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED, EventStatus.PROCESSED]


def test_a_failing_handler_records_the_error_on_the_event(rt, client, run_jobs, monkeypatch):
    make_shop(rt, domain=SHOP)

    def broken(ctx):
        raise KeyError("line_items")
    monkeypatch.setitem(jobs.HANDLERS, "customers/data_request", broken)
    post_webhook(client, "customers/data_request", {"customer": {"id": 1}}, secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        event = session.scalar(select(WebhookEvent))
    assert event.status == EventStatus.FAILED
    assert "KeyError" in event.last_error


def test_a_processed_event_run_again_has_no_second_effect(rt, client, run_jobs):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "customers/data_request", {"customer": {"id": 1}}, secret=WEBHOOK_SECRET)
    run_jobs()
    with rt.sessions() as session:
        event_id = session.scalar(select(WebhookEvent.id))
    jobs.process_webhook(event_id)  # a redelivered job
    from app.domain.customers.models import CustomerDataExport
    with rt.sessions() as session:
        assert len(session.scalars(select(CustomerDataExport)).all()) == 1


def test_a_webhook_after_the_database_dropped_the_connection_is_stored_on_a_new_one(
        rt, client):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "customers/data_request", {"customer": {"id": 1}}, secret=WEBHOOK_SECRET)
    with rt.engine.connect() as conn:  # as a PostgreSQL restart or failover does
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    response = post_webhook(client, "customers/data_request", {"customer": {"id": 2}},
                            secret=WEBHOOK_SECRET)
    assert response.status_code == 200
    assert statuses(rt) == [EventStatus.RECEIVED] * 2


def test_intake_on_sqlite_stores_each_delivery_once(tmp_path, base_settings):
    sqlite = Runtime(base_settings.with_overrides(database_url=f"sqlite:///{tmp_path}/b.db"))
    from app.migrate import upgrade
    upgrade(sqlite.settings.database_url)
    try:
        make_shop(sqlite, domain=SHOP)
        client = create_app(runtime=sqlite).test_client()
        for _ in range(2):  # the second is a duplicate
            response = post_webhook(client, "customers/data_request", {"customer": {"id": 1}},
                                    secret=WEBHOOK_SECRET, event_id="ev-1")
            assert response.status_code == 200
        assert statuses(sqlite) == [EventStatus.RECEIVED]
    finally:
        sqlite.close()
