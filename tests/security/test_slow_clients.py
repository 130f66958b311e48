"""The production set-up against slow clients and hostile previews, as real processes.

gunicorn (gunicorn.conf.py: 2 processes x 16 threads) behind nginx configured by
deploy/nginx.conf, as README's "Processes" documents. 40 connections that sent a
header and one byte of body froze gunicorn alone: each held a thread while it waited
for the rest. Here 200 of them stay open, trickling a byte now and then, while
`/healthz` and signed webhooks must still answer fast.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.faults.stack import SHOP, TOKEN, Stack
from tests.security.test_hostile_templates import HOSTILE
from tests.support.processes import free_port, wait_for
from tests.support.shopify import body_of, order_payload, webhook_headers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SLOW_CLIENTS = 200
SAMPLES = 300
P99_LIMIT = 0.100
MAIN_CONF = """daemon off;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/backorder.conf;
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("slow-clients"), workers=0) as stack:
        stack.cli("shops", "add", SHOP, "--token", TOKEN)
        yield stack


@pytest.fixture(scope="module")
def front(stack, tmp_path_factory):
    """nginx with deploy/nginx.conf in front of the stack's gunicorn; its base URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    workdir = tmp_path_factory.mktemp("nginx")
    port = free_port()
    server = (ROOT / "deploy" / "nginx.conf").read_text()
    server = server.replace("127.0.0.1:8000", f"127.0.0.1:{stack.web_port}")
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (workdir / "backorder.conf").write_text(server.replace("listen [::]:80;", ""))
    (workdir / "nginx.conf").write_text(MAIN_CONF.format(
        dir=workdir, user="user root;" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
                             "-e", str(workdir / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url, proc, workdir), timeout=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(url: str, proc: subprocess.Popen, workdir: Path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError("nginx exited:\n" + (workdir / "error.log").read_text())
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


class SlowClients:
    """Connections that send a header and then a byte of body every second or so."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 100000\r\n\r\n{")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(1.0):
            for sock in self.sockets:
                sock.sendall(b" ")

    def still_open(self) -> int:
        open_ = 0
        for sock in self.sockets:
            try:
                sock.sendall(b" ")
                open_ += 1
            except OSError:
                pass
        return open_

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


def _p99(durations: list[float]) -> float:
    return statistics.quantiles(durations, n=100)[98]


def _timed(call) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:200]
    return elapsed


def _signed_webhook(session: requests.Session, url: str, secret: str, n: int):
    body = body_of(order_payload(900_000 + n, [(900_000 + n, 41, 1)], created_at="2026-11-25T10:00:00Z"))
    return session.post(f"{url}/webhooks/shopify", data=body, timeout=10,
                        headers=webhook_headers(body, "orders/create", secret=secret,
                                                shop=SHOP))


def test_with_200_slow_connections_healthz_and_signed_webhooks_answer_within_100_ms(
        stack, front):
    port = int(front.rsplit(":", 1)[1])
    slow = SlowClients(port, SLOW_CLIENTS)
    try:
        time.sleep(1.5)  # every slow connection has reached nginx and trickled once
        session = requests.Session()
        health = [_timed(lambda: session.get(f"{front}/healthz", timeout=10))
                  for _ in range(SAMPLES)]
        hooks = [_timed(lambda n=n: _signed_webhook(session, front, stack.webhook_secret, n))
                 for n in range(SAMPLES)]
        assert slow.still_open() == SLOW_CLIENTS  # they were held all along
    finally:
        slow.close()
    assert _p99(health) < P99_LIMIT, f"/healthz p99 {_p99(health) * 1000:.0f} ms"
    assert _p99(hooks) < P99_LIMIT, f"webhook p99 {_p99(hooks) * 1000:.0f} ms"


def _merchant_session(stack: Stack) -> tuple[requests.Session, str]:
    link = stack.cli("shops", "login-link", SHOP).stdout.strip().split()[-1]
    session = requests.Session()
    page = session.get(link, timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    session.post(link, data={"csrf_token": csrf}, timeout=10)
    page = session.get(f"{stack.web_url}/app/settings/messages", timeout=10).text
    return session, re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_previews_of_hostile_templates_do_not_hold_up_other_requests(stack, front):
    session, csrf = _merchant_session(stack)
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def preview_hostile_templates() -> None:
        own = requests.Session()
        own.cookies.update(session.cookies)
        while not stop.is_set():
            for source in HOSTILE.values():
                response = own.post(f"{front}/app/settings/messages", timeout=30, data={
                    "csrf_token": csrf, "kind": "backordered", "action": "preview",
                    "text": source, "html": source, "subject": source, "sms": source})
                answers.append((response.status_code, response.text))

    previewers = [threading.Thread(target=preview_hostile_templates) for _ in range(4)]
    for thread in previewers:
        thread.start()
    try:
        time.sleep(1.0)
        probe = requests.Session()
        health = [_timed(lambda: probe.get(f"{front}/healthz", timeout=10))
                  for _ in range(SAMPLES)]
    finally:
        stop.set()
        for thread in previewers:
            thread.join(60)
    assert _p99(health) < P99_LIMIT, f"/healthz p99 {_p99(health) * 1000:.0f} ms"
    assert len(answers) >= len(HOSTILE)
    assert all(code in (200, 400) for code, _text in answers)
    assert any("cannot be used: it takes too long" in text for _code, text in answers)
