"""The jobs layer: intents in, jobs on queues (routes.py says which, enqueue.py puts them)."""

from app.jobs.enqueue import enqueue, enqueue_route, put, put_many, queue_pump
from app.jobs.routes import (
    ALL_QUEUES,
    DEFAULT_RETRY,
    EFFECTS,
    JOB_OPTIONS,
    MAINTENANCE,
    NOTIFY,
    SHOPIFY,
    SUPPLIERS,
    WEBHOOKS,
    Route,
    periodic_route,
    pump_route,
    route,
)

__all__ = ["ALL_QUEUES", "DEFAULT_RETRY", "EFFECTS", "JOB_OPTIONS", "MAINTENANCE", "NOTIFY",
           "SHOPIFY", "SUPPLIERS", "WEBHOOKS", "Route", "enqueue", "enqueue_route",
           "periodic_route", "pump_route", "put", "put_many", "queue_pump", "route"]
