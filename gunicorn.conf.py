"""gunicorn's settings, read from the working directory by `gunicorn app.wsgi:app`.

Intake waits on PostgreSQL (the commit that makes a webhook durable) and Redis more
than it computes, so each process serves several requests at once with threads, and
a 2-core machine runs two processes. Eight threads, not four: the requests of one
process share their commits (app/inbox.py), so more of them at once make larger
batches (intake 1,295-1,471 webhooks/s with 8 against 1,037-1,272 with 4, bare route
unchanged; bench/README.md). WEB_CONCURRENCY (read by gunicorn, as on every
PaaS) still sets the process count; GUNICORN_CMD_ARGS overrides anything here.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 8
graceful_timeout = 30
# Each process listens on its own SO_REUSEPORT socket and the kernel spreads connections
# across them. On one shared socket the first process to wake took most keep-alive
# connections (16 of 16 in most tries), leaving the other process, and a core, idle.
reuse_port = True

