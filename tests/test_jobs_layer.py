"""One way onto a queue, one way to run a job (issue 17, parts 1 and 2).

Services return intents; app/jobs says which job does each and puts it on its queue;
the job wrapper runs a unit of work, enqueues its intents only after the commit, and
records a failure once, transient or permanent.
"""

from __future__ import annotations

import importlib
import typing
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import text

from app import jobs
from app.domain import intents
from app.domain.base import utcnow
from app.errors import PermanentError, TransientError
from app.metrics import JOB_FAILURES
from workers.job import job, run

EXAMPLES = {
    intents.PushVariants: intents.PushVariants(1), intents.SyncShop: intents.SyncShop(1),
    intents.RecheckVariant: intents.RecheckVariant(1, 2, utcnow() + timedelta(minutes=1)),
    intents.FetchVariantDetails: intents.FetchVariantDetails(1, 2),
    intents.RecomputeShop: intents.RecomputeShop(1),
    intents.SyncFulfilment: intents.SyncFulfilment(1), intents.ApplyEvents: intents.ApplyEvents(1),
    intents.ProcessWebhook: intents.ProcessWebhook(1),
    intents.DispatchEffects: intents.DispatchEffects(1), intents.SendMessage: intents.SendMessage(1),
    intents.EditShopifyOrder: intents.EditShopifyOrder(1),
    intents.CreateGoodwillDiscount: intents.CreateGoodwillDiscount(1),
    intents.RefundCancelledUnits: intents.RefundCancelledUnits(1),
    intents.PlanReorders: intents.PlanReorders(1),
    intents.SendPurchaseOrder: intents.SendPurchaseOrder(1),
    intents.PushReceipts: intents.PushReceipts(1),
}


def worker_function(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("kind", typing.get_args(intents.Intent), ids=lambda t: t.__name__)
def test_every_intent_names_a_wrapped_job_on_a_known_queue(kind):
    route = jobs.route(EXAMPLES[kind])
    func = worker_function(route.func)
    assert route.queue in jobs.ALL_QUEUES
    assert hasattr(func, "__wrapped__"), f"{route.func} is not a @job"
    assert not route.coalesce or route.job_id, "a coalesced job needs a merge key"


def test_something_that_is_not_an_intent_is_refused():
    with pytest.raises(TypeError, match="no job does"):
        jobs.route("workers.shopify.push_variants")


def test_twins_of_a_per_shop_job_merge_while_one_waits(rt):
    assert jobs.enqueue(rt.redis, [intents.PushVariants(7), intents.PushVariants(7),
                                   intents.PushVariants(8)]) == 3
    assert Queue(jobs.SHOPIFY, connection=rt.redis).count == 2


def test_a_delayed_purchase_order_waits_in_the_scheduler(rt):
    jobs.enqueue(rt.redis, [intents.SendPurchaseOrder(5, delay_seconds=900)])
    suppliers = Queue(jobs.SUPPLIERS, connection=rt.redis)
    assert suppliers.count == 0
    assert suppliers.scheduled_job_registry.get_job_ids() == ["send-po-5"]


def records_into(table: str):
    def record(session, key: int, *, error: str, final: bool) -> None:
        session.execute(text(f"INSERT INTO {table} VALUES (:key, :error, :final)"),
                        dict(key=key, error=error, final=final))
    return record


@pytest.fixture
def failures(rt):
    with rt.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS job_failures_spec "
                          "(key int, error text, final boolean)"))
    yield "job_failures_spec"
    with rt.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS job_failures_spec"))


def recorded(rt, table: str) -> list[tuple]:
    with rt.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY key"))]


def test_a_failure_is_recorded_once_as_transient_or_final_then_raised_for_rq(rt, failures):
    @job(record=records_into(failures))
    def flaky(key: int) -> None:
        raise (TransientError if key == 1 else PermanentError)("the vendor said no")

    for key, error in ((1, TransientError), (2, PermanentError)):
        with pytest.raises(error):
            flaky(key)
    assert recorded(rt, failures) == [(1, "TransientError: the vendor said no", False),
                                      (2, "PermanentError: the vendor said no", True)]
    assert JOB_FAILURES.labels(job="flaky", kind="transient")._value.get() >= 1


def test_only_the_failures_a_job_keeps_on_its_row_are_recorded(rt, failures):
    @job(record=records_into(failures), of=(TransientError,))
    def broken(key: int) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        broken(3)
    assert recorded(rt, failures) == []


def test_intents_go_out_after_the_commit_and_not_at_all_when_it_fails(rt):
    def asks_for_a_push(session, shop_id: int) -> list:
        session.execute(text("SELECT 1"))
        return [intents.PushVariants(shop_id)]

    def asks_then_fails(session, shop_id: int) -> list:
        session.execute(text("SELECT * FROM no_such_table"))
        return [intents.PushVariants(shop_id)]

    assert run(asks_for_a_push, 41) == [intents.PushVariants(41)]
    with pytest.raises(Exception, match="no_such_table"):
        run(asks_then_fails, 42)
    waiting = Queue(jobs.SHOPIFY, connection=rt.redis).get_job_ids()
    assert waiting == ["push-variants-41"]
