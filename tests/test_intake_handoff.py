"""The hand-off from web to workers: Redis appends of stored ids, a pump turns ids into jobs,
and whatever falls between (a crash, Redis down, a dying pump) is found by the sweeper."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue
from sqlalchemy import select

from app import jobs as app_jobs
from app.domain.intake.models import EventStatus, WebhookEvent
from app.intake import handoff
from app.jobs import DEFAULT_RETRY, WEBHOOKS
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.shopify import SHOP, post_webhook
from workers import intake, jobs


def statuses(rt) -> list[EventStatus]:
    with rt.sessions() as session:
        return list(session.scalars(select(WebhookEvent.status).order_by(WebhookEvent.id)))


def post(client, n: int):
    return post_webhook(client, "customers/data_request", {"customer": {"id": n}},
                        secret=WEBHOOK_SECRET)


def queued_job_ids(rt) -> list[str]:
    return Queue(WEBHOOKS, connection=rt.redis).get_job_ids()


def pumps(rt) -> int:
    return sum(1 for job_id in queued_job_ids(rt)
               if Queue(WEBHOOKS, connection=rt.redis).fetch_job(job_id).func_name
               == "workers.intake.pump_webhooks")


@pytest.fixture
def shop(rt):
    return make_shop(rt, domain=SHOP)


def test_a_burst_of_webhooks_waits_as_ids_behind_a_single_pump_job(rt, client, shop, run_jobs):
    for n in range(3):
        assert post(client, n).status_code == 200
    assert rt.redis.llen(handoff.PENDING) == 3
    assert pumps(rt) == 1 and len(queued_job_ids(rt)) == 1

    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED] * 3
    assert rt.redis.llen(handoff.PENDING) == 0


def test_the_pump_job_goes_on_the_webhooks_queue_with_the_workers_retries(rt, client, shop):
    post(client, 1)
    [job_id] = queued_job_ids(rt)
    job = Queue(WEBHOOKS, connection=rt.redis).fetch_job(job_id)
    assert job.func_name == "workers.intake.pump_webhooks"
    assert (job.retries_left, job.retry_intervals) == (DEFAULT_RETRY.max,
                                                       DEFAULT_RETRY.intervals)
    assert (job.result_ttl, job.failure_ttl) == (0, 86400)


def test_the_pump_makes_one_process_webhook_job_per_event(rt, client, shop):
    post(client, 1), post(client, 2)
    with rt.sessions() as session:
        ids = list(session.scalars(select(WebhookEvent.id).order_by(WebhookEvent.id)))

    assert intake.pump(rt.redis, rt.sessions) == 2
    webhook_jobs = [j for j in queued_job_ids(rt) if j.startswith("webhook-")]
    assert webhook_jobs == [f"webhook-{i}" for i in ids]


def test_a_webhook_arriving_after_the_pump_started_queues_the_next_pump(rt, client, shop):
    post(client, 1)
    intake.pump(rt.redis, rt.sessions)  # the waiting marker is gone once a pump has started
    rt.redis.delete(Queue(WEBHOOKS, connection=rt.redis).key)

    post(client, 2)
    assert pumps(rt) == 1
    assert rt.redis.llen(handoff.PENDING) == 1


def test_a_long_backlog_is_pumped_in_bounded_runs_that_queue_their_successor(
        rt, client, shop, run_jobs, monkeypatch):
    monkeypatch.setattr(intake, "BATCH", 2)
    monkeypatch.setattr(intake, "MAX_BATCHES", 1)
    for n in range(5):
        post(client, n)
    rt.redis.delete(Queue(WEBHOOKS, connection=rt.redis).key, handoff.PUMP_WAITING)

    assert intake.pump(rt.redis, rt.sessions) == 2
    assert pumps(rt) == 1  # the successor
    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED] * 5


def test_a_hand_off_that_never_happens_loses_nothing(rt, client, shop, run_jobs,
                                                      monkeypatch):
    """As when the web process dies after its answer, before its hand-off thread ran."""
    def dies(*_args):
        raise RuntimeError("the web process died right after the commit")
    monkeypatch.setattr(handoff, "hand_off", dies)
    assert post(client, 1).status_code == 200  # stored: Shopify is told so
    assert statuses(rt) == [EventStatus.RECEIVED]
    assert rt.redis.llen(handoff.PENDING) == 0 and queued_job_ids(rt) == []

    assert jobs.sweep_inbox(older_than_seconds=0) == 1
    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED]


def test_a_pump_that_dies_after_taking_the_ids_loses_nothing(rt, client, shop, run_jobs,
                                                             monkeypatch):
    post(client, 1), post(client, 2)

    def redis_gone(*_args):
        raise RedisConnectionError("Redis went away mid-pump")
    monkeypatch.setattr(app_jobs, "put_many", redis_gone)
    with pytest.raises(RedisConnectionError):
        intake.pump(rt.redis, rt.sessions)
    assert rt.redis.llen(handoff.PENDING) == 0  # the ids were taken, their jobs never made
    monkeypatch.undo()

    assert statuses(rt) == [EventStatus.RECEIVED] * 2
    assert jobs.sweep_inbox(older_than_seconds=0) == 2
    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED] * 2


def test_a_marker_left_without_its_pump_holds_ids_back_only_until_it_expires(
        rt, client, shop, run_jobs):
    rt.redis.set(handoff.PUMP_WAITING, 1, ex=1)  # a process died between marker and job
    post(client, 1)
    assert pumps(rt) == 0

    rt.redis.delete(handoff.PUMP_WAITING)  # what its expiry does a second later
    post(client, 2)
    assert pumps(rt) == 1
    run_jobs()
    assert statuses(rt) == [EventStatus.PROCESSED] * 2


def test_redis_refusing_the_hand_off_still_answers_200_and_keeps_the_row(rt, client, shop,
                                                                           monkeypatch):
    def refused(*_args, **_kwargs):
        raise RedisConnectionError("Connection refused")
    monkeypatch.setattr(rt.redis, "pipeline", refused)
    assert post(client, 1).status_code == 200
    assert statuses(rt) == [EventStatus.RECEIVED]
