"""Webhook intake in the web process: the inbox writer and its group commit (writer.py),
the raw store statement (store.py), the hand-off of stored ids to Redis (handoff.py),
and for now the queueing of the pump job (pump.py, on its way to app/jobs).

It sits below workers/ and imports nothing from workers, app.web, app.runtime or app.cli
(an import-linter contract in pyproject.toml keeps it so).
"""
