"""The intake benchmark's baseline: a Flask app that reads the body and answers 200.

`gunicorn bench.bare:app` from the repo root, so the service's own gunicorn.conf.py
applies (bench.harness.gunicorn): the same server, processes, threads and framework as
the service, and none of its work. bench/intake.py divides the intake's rate by this one's.
"""

from __future__ import annotations

from flask import Flask, request

ROUTE = "/bench/bare"

app = Flask(__name__)
app.config.update(MAX_CONTENT_LENGTH=16 * 1024 * 1024)  # as the service's factory sets it


@app.post(ROUTE)
def bare():
    request.get_data(cache=False)
    return "", 200


@app.get("/readyz")
def readyz():
    """What the harness waits for before it loads the server."""
    return {"status": "ready"}
