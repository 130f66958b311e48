"""Real PostgreSQL and Redis for tests: a private database and a claimed Redis db index.

Several test runs may share the machine's servers at once (developers and CI),
so each run creates its own database and claims a free Redis db number.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import redis

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def create_database() -> tuple[str, str]:
    """Create an empty database; returns (name, SQLAlchemy URL)."""
    name = f"backorder_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db() -> tuple[int, str]:
    """Claim a Redis db index 1..15 for this run (released by expiry or release_redis_db)."""
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    token = uuid.uuid4().hex
    for index in range(1, 16):
        if admin.set(f"backorder-tests:claim:{index}", token, nx=True, ex=3600):
            url = f"{REDIS_BASE}/{index}"
            redis.Redis.from_url(url).flushdb()
            return index, url
    raise RuntimeError("no free Redis db index for tests (15 concurrent runs?)")


def release_redis_db(index: int) -> None:
    redis.Redis.from_url(f"{REDIS_BASE}/{index}").flushdb()
    redis.Redis.from_url(f"{REDIS_BASE}/0").delete(f"backorder-tests:claim:{index}")
