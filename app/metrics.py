"""Prometheus metrics. With PROMETHEUS_MULTIPROC_DIR set (see README), every
gunicorn and RQ process on a host writes to it and /metrics aggregates them."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS_RECEIVED = Counter(
    "backorder_webhooks_received_total", "Shopify webhooks received, by topic and outcome",
    ["topic", "outcome"])
PROCESSING_SECONDS = Histogram(
    "backorder_webhook_processing_seconds", "Time to apply one stored webhook in a worker",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ENQUEUE_FAILURES = Counter(
    "backorder_enqueue_failures_total", "Jobs that could not be enqueued (Redis unreachable)")
INBOX_BATCH_ROWS = Histogram(
    "backorder_inbox_batch_rows",
    "Webhooks stored by one shared INSERT and commit (app/intake/writer.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64))
BATCH_EVENTS = Histogram(
    "backorder_batch_events", "Webhooks a worker applied in one batch (one recompute, one commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500))
JOB_SECONDS = Histogram(
    "backorder_job_seconds", "Time a worker spent in one job, by job", ["job"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
JOB_FAILURES = Counter(
    "backorder_job_failures_total",
    "Jobs that raised, by job and kind (transient: retried with backoff; permanent: not)",
    ["job", "kind"])
