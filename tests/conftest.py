"""Fixtures: real PostgreSQL and Redis, a fresh app per test, jobs run by a real RQ worker."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.config import Settings
from app.domain.models import Base
from app.runtime import Runtime
from tests.support import servers
from tests.support.shopify import FIXTURES, handed_off

WEBHOOK_SECRET = "test_secret_key"  # the secret of Shopify's own HMAC test vectors


@pytest.fixture(scope="session")
def database_url():
    name, url = servers.create_database()
    from app.migrate import upgrade
    upgrade(url)
    yield url
    servers.drop_database(name)


@pytest.fixture(scope="session")
def redis_url():
    index, url = servers.claim_redis_db()
    yield url
    servers.release_redis_db(index)


@pytest.fixture(scope="session")
def base_settings(database_url, redis_url) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, secret_key="s3cret-test-key",
                    shopify_api_key="test-api-key", shopify_api_secret=WEBHOOK_SECRET,
                    public_url="https://backorder.test", webhook_max_bytes=256 * 1024,
                    rate_limits=False)


@pytest.fixture(scope="session")
def session_runtime(base_settings):
    rt = Runtime(base_settings)
    yield rt
    rt.close()


def empty_stores(runtime) -> None:
    """Empty every table and the Redis db: each test (or example) starts from nothing."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with runtime.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    runtime.redis.flushdb()


@pytest.fixture
def rt(session_runtime):
    """The runtime with an empty database and an empty Redis db."""
    empty_stores(session_runtime)
    from workers import context
    context.install(session_runtime)
    yield session_runtime
    context.install(None)


@pytest.fixture
def app(rt):
    from app.web import create_app
    return create_app(runtime=rt)


@pytest.fixture
def client(app):
    return app.test_client()


def burst_worker(queues, connection):
    """The service's RQ worker (a SimpleWorker) without the command pub/sub thread.

    RQ joins that thread with a one-second timeout at the end of every burst,
    which would cost each drain a second; tests send no worker commands.
    """
    from workers.run import BackorderWorker

    class _Worker(BackorderWorker):
        def subscribe(self):
            pass

        def unsubscribe(self):
            pass
    return _Worker(queues, connection=connection)


@pytest.fixture
def run_jobs(rt):
    """Drain every queue with a real RQ worker in this process; returns jobs run."""
    from rq import Queue

    from app.jobs import ALL_QUEUES

    def drain() -> int:
        handed_off(rt)
        worker = burst_worker([Queue(n, connection=rt.redis) for n in ALL_QUEUES], rt.redis)
        worker.work(burst=True, logging_level="WARNING")
        return worker.successful_job_count + worker.failed_job_count
    return drain


def load_fixture(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def load_json(relative: str):
    return json.loads(load_fixture(relative))
