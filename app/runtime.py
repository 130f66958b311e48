"""Per-process wiring: settings, database sessions and the Redis connection.

Built once per process (web or worker) from Settings; tests build their own.
Nothing here holds business logic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import jobs
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.domain.ports import AccessTokenSource, ShopifyAdmin, TokenEndpoint
from app.intake.writer import InboxWriter
from integrations import factory


@dataclass
class Runtime:
    settings: Settings
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    # Builds a shop's Admin API adapter from (domain, token); tests put a fake here.
    admin_factory: Callable[[str, str], ShopifyAdmin] | None = None

    def __post_init__(self):
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_session_factory(self.engine)

    @cached_property
    def inbox(self) -> InboxWriter:
        """Stores webhook deliveries for the web process's request threads."""
        return InboxWriter(self.engine, self.redis, queue_pump=jobs.queue_pump)

    @cached_property
    def redis(self) -> redis.Redis:
        # Short timeouts: when Redis is down, intake stores and answers instead of hanging.
        url = self.settings.redis_url or "redis://127.0.0.1:6379/0"
        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                    health_check_interval=30)

    def shopify_admin(self, domain: str, token: str | AccessTokenSource) -> ShopifyAdmin:
        if self.admin_factory is not None:
            return self.admin_factory(domain, token)
        return factory.shopify_admin(self.settings, domain, token)

    def shopify_tokens(self) -> TokenEndpoint:
        """Shopify's token endpoint for this app (OAuth code, token exchange, refresh)."""
        return factory.shopify_tokens(self.settings)

    def close(self) -> None:
        if "inbox" in self.__dict__:
            self.inbox.close()
        self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()
