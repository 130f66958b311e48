"""Queueing the pump job, the one job intake itself puts on a queue.

Temporary home: this moves to app/jobs, the single place where jobs are put on queues,
which will own the queue names and retries that are spelled out here for now.
`app.runtime` passes it to the hand-off, and the pump passes it for its successor.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue, Retry

# As workers/queues.py has them (WEBHOOKS, DEFAULT_RETRY); intake may not import workers.
QUEUE = "webhooks"
RETRY = Retry(max=6, interval=[2, 5, 15, 30, 120, 300])


def queue_pump(connection: Redis) -> None:
    """Put one pump job (workers.intake.pump_webhooks) on the webhooks queue."""
    Queue(QUEUE, connection=connection).enqueue(
        "workers.intake.pump_webhooks", retry=RETRY, result_ttl=0, failure_ttl=86400)
