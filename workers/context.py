"""The worker process's Runtime, built lazily from the environment (tests install their own)."""

from __future__ import annotations

from app.config import Settings
from app.runtime import Runtime

_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def install(rt: Runtime | None) -> None:
    """Use this runtime for jobs run in this process (tests, the dev runner)."""
    global _runtime
    _runtime = rt
