"""The access log never shows a signed link token: they are credentials for months."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from tests.faults.stack import child_env
from tests.support.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "eyJzIjoxLCJvIjoxMDAxfQ.Zx1y2z.SECRET-SIGNATURE-abc123"


def test_link_tokens_are_redacted_in_the_access_log(tmp_path, database_url, redis_url):
    port, log = free_port(), tmp_path / "access.log"
    env = child_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                     "SECRET_KEY": "access-log-test", "WEB_CONCURRENCY": "1"})
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "app.wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(log)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=30)
        for path in (f"/status/{TOKEN}", f"/status/{TOKEN}/cancel", f"/supplier/po/{TOKEN}",
                     f"/auth/link/{TOKEN}?next=/app/"):
            requests.get(base + path, headers={"Referer": base + path}, timeout=10)
        wait_for(lambda: log.read_text().count("[redacted]") >= 4, timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "SECRET-SIGNATURE" not in text
    assert "/status/[redacted]/cancel" in text and "/supplier/po/[redacted]" in text
    assert "/auth/link/[redacted]?next=/app/" in text


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
