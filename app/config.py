"""The only reader of the environment.

`Settings.from_env()` turns environment variables (CONTRACT.md lists them)
into one typed, frozen object. A missing or malformed value raises
ConfigError with one line naming the variable; secrets never appear in
repr() or logs.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from app.errors import ConfigError

DEFAULT_API_VERSION = "2026-10"
DEFAULT_ADMIN_API_URL = "https://{shop}/admin/api/{version}/graphql.json"
INSTANCE_DIR = Path(os.getcwd()) / "instance"


def _secret():
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    redis_url: str | None = None
    port: int = 8000
    public_url: str = "http://localhost:8000"
    shopify_api_key: str | None = None
    shopify_api_secret: str | None = _secret()
    shopify_api_secret_previous: str | None = _secret()
    shopify_api_version: str = DEFAULT_API_VERSION
    shopify_admin_api_url: str = DEFAULT_ADMIN_API_URL
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = _secret()
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = _secret()
    smtp_starttls: bool = True
    mail_from: str | None = None
    sms_rate_per_second: int = 1  # per sender, across all workers (Twilio long codes: 1 segment/s)
    # prometheus-client's own switch, read by the library too: the processes of one host
    # write their metrics there, and /metrics aggregates them.
    prometheus_multiproc_dir: str | None = None
    # Proxies (load balancer, PaaS router) in front of the web processes whose
    # X-Forwarded-For is trusted: the client address rate limits count by.
    proxy_hops: int = 0
    # Not from the environment: knobs tests and benchmarks turn.
    webhook_max_bytes: int = 1024 * 1024
    rate_limits: bool = True  # off in the tests except those of the limits themselves
    supplier_loopback_allowed: bool = False  # tests: fake supplier endpoints on loopback
    http_timeout: float = 10.0

    @property
    def sms_via_twilio(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def email_via_smtp(self) -> bool:
        return bool(self.smtp_host)

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.shopify_api_secret, self.shopify_api_secret_previous) if s)

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raise ConfigError naming the culprit."""
        env = _Env(os.environ if environ is None else environ)
        port = env.integer("PORT", 8000)
        secret_key = env.text("SECRET_KEY")
        if secret_key is None:
            # A key made up per process breaks every cookie, link and OAuth round trip
            # that reaches another process; `make run` gives its processes one.
            raise ConfigError("SECRET_KEY is required (`make run` sets one for local use)")
        settings = cls(
            database_url=env.database_url("DATABASE_URL"),
            secret_key=secret_key,
            redis_url=env.url("REDIS_URL", schemes=("redis", "rediss", "unix")),
            port=port,
            public_url=(env.url("PUBLIC_URL", schemes=("http", "https"))
                        or f"http://localhost:{port}").rstrip("/"),
            shopify_api_key=env.text("SHOPIFY_API_KEY"),
            shopify_api_secret=env.text("SHOPIFY_API_SECRET"),
            shopify_api_secret_previous=env.text("SHOPIFY_API_SECRET_PREVIOUS"),
            shopify_api_version=env.api_version("SHOPIFY_API_VERSION"),
            shopify_admin_api_url=env.admin_url_template("SHOPIFY_ADMIN_API_URL"),
            twilio_account_sid=env.text("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=env.text("TWILIO_AUTH_TOKEN"),
            twilio_from_number=env.phone("TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=env.text("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_api_url=(env.url("TWILIO_API_URL", schemes=("http", "https"))
                            or "https://api.twilio.com").rstrip("/"),
            smtp_host=env.text("SMTP_HOST"),
            smtp_port=env.integer("SMTP_PORT", 587),
            smtp_username=env.text("SMTP_USERNAME"),
            smtp_password=env.text("SMTP_PASSWORD"),
            smtp_starttls=env.boolean("SMTP_STARTTLS", True),
            mail_from=env.email("MAIL_FROM"),
            sms_rate_per_second=env.count("SMS_RATE_PER_SECOND", 1),
            prometheus_multiproc_dir=env.text("PROMETHEUS_MULTIPROC_DIR"),
            proxy_hops=env.count("PROXY_HOPS", 0),
        )
        _check_combinations(settings)
        return settings


def _check_combinations(s: Settings) -> None:
    if bool(s.twilio_account_sid) != bool(s.twilio_auth_token):
        missing = "TWILIO_AUTH_TOKEN" if s.twilio_account_sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(f"{missing} is required when the other Twilio credential is set")
    if s.sms_via_twilio and not (s.twilio_from_number or s.twilio_messaging_service_sid):
        raise ConfigError("TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID) is required "
                          "when Twilio credentials are set")
    if s.email_via_smtp and not s.mail_from:
        raise ConfigError("MAIL_FROM is required when SMTP_HOST is set")


class _Env:
    """Typed accessors; each error names the variable and never echoes secrets."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ConfigError(f"{name} must be a port number between 1 and 65535")
        return int(raw)

    def count(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"{name} must be a whole number of at least 1")
        return int(raw)

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false")

    def url(self, name: str, *, schemes: tuple[str, ...]) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
            raise ConfigError(f"{name} must be a URL starting with "
                              + " or ".join(f"{s}://" for s in schemes))
        return raw

    def database_url(self, name: str) -> str:
        raw = self.text(name)
        if raw is None:
            INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{INSTANCE_DIR / 'backorder.db'}"
        if raw.startswith("postgres://"):  # what some PaaS hand out
            raw = "postgresql://" + raw[len("postgres://"):]
        if raw.startswith("postgresql://"):
            raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
        if not re.match(r"^(postgresql\+psycopg|sqlite)://", raw):
            raise ConfigError(f"{name} must be a postgresql:// or sqlite:// URL")
        return raw

    def api_version(self, name: str) -> str:
        raw = self.text(name) or DEFAULT_API_VERSION
        if not re.fullmatch(r"20\d\d-(01|04|07|10)", raw):
            raise ConfigError(f"{name} must be a Shopify API version like 2026-10")
        return raw

    def admin_url_template(self, name: str) -> str:
        raw = self.text(name) or DEFAULT_ADMIN_API_URL
        if "{shop}" not in raw or not raw.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL template containing {{shop}}")
        return raw

    def phone(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", raw):
            raise ConfigError(f"{name} must be a phone number in E.164 form, like +15005550006")
        return raw

    def email(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is not None and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|.*<[^@\s<>]+@[^@\s<>]+>", raw):
            raise ConfigError(f"{name} must be an email address")
        return raw


def port_from_env(environ: Mapping[str, str] | None = None) -> int:
    """`PORT` alone (8000 unset): what the local run command binds when not told a port."""
    return _Env(os.environ if environ is None else environ).integer("PORT", 8000)


DEV_WEBHOOK_SECRET = "local-dev-webhook-secret"


def local_environment(environ: Mapping[str, str] | None = None, *,
                      public_url: str | None = None) -> dict[str, str]:
    """The environment `make run` gives its processes (and `backorder demo` reads): the
    caller's, with the instance's own SECRET_KEY when none is set (kept in instance/, so
    sessions and signed links survive a restart) and the local webhook secret."""
    env = dict(os.environ if environ is None else environ)
    if not env.get("SECRET_KEY", "").strip():
        env["SECRET_KEY"] = _instance_secret()
    env.setdefault("SHOPIFY_API_SECRET", DEV_WEBHOOK_SECRET)
    if public_url:
        env.setdefault("PUBLIC_URL", public_url)
    return env


def _instance_secret() -> str:
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
