"""gunicorn's settings, read from the working directory by `gunicorn app.wsgi:app`.

Intake waits on PostgreSQL (the commit that makes a webhook durable) and Redis more
than it computes, so each process serves several requests at once with threads, and
a 2-core machine runs two processes. The requests of one process share their commits
(app/intake/writer.py), so more of them at once make larger batches. 16 threads, not 8: the
kernel hands each process a random share of the connections (reuse_port below), and
a process that drew more connections than it has threads left the extra requests
queued while their core had time for them. The runs behind these choices are in
bench/README.md.
WEB_CONCURRENCY (read by gunicorn, as on every PaaS) still sets the process count;
GUNICORN_CMD_ARGS overrides anything here.
"""

import os
from collections import Counter

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 16
graceful_timeout = 30
# Each process listens on its own SO_REUSEPORT socket and the kernel spreads connections
# across them. On one shared socket the first process to wake took most keep-alive
# connections, leaving the other process, and a core, idle.
reuse_port = True
# Signed link tokens in request paths are credentials: the access log shows them redacted.
logger_class = "app.web.access_log.RedactingLogger"

# One process per core, each kept on its own: a process's threads hand requests, commits
# and the GIL to each other many times a request, and a wake-up on another core costs
# many times the CPU of one on the same core (bench/README.md, stop 11).
# Only when there are at least as many processes as usable cores: on a shared host (a
# PaaS dyno lists every core of the machine) a pinned process could not leave a busy one.
def pre_fork(server, worker):
    """Choose the core for the process about to start: the one the fewest live ones hold."""
    cores = sorted(os.sched_getaffinity(0))
    if server.num_workers < len(cores):
        worker.core = None
        return
    held = Counter(getattr(w, "core", None) for w in server.WORKERS.values())
    worker.core = min(cores, key=lambda core: (held[core], core))


def post_fork(server, worker):
    if getattr(worker, "core", None) is not None:
        os.sched_setaffinity(0, {worker.core})
