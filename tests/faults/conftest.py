"""The fault suite runs with `make test-faults` (`pytest tests/faults -m slow`).

Its slow tests start real processes and wait for the service's own clocks (the inbox
sweeper runs every 60 s, RQ's scheduler lock lives 61 s), about four minutes in all, so a
plain `pytest` skips them unless they are asked for: `-m slow`, or BACKORDER_FAULTS=1
(which `make test` and `make test-faults` set). The input-hardening tests here are quick
and always run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _asked_for(config) -> bool:
    expression = (config.option.markexpr or "").replace(" ", "")
    return bool(os.environ.get("BACKORDER_FAULTS")) or (
        "slow" in expression and "notslow" not in expression)


def pytest_collection_modifyitems(config, items):
    if _asked_for(config):
        return
    skip = pytest.mark.skip(reason="fault suite (about 4 minutes): `make test-faults`, "
                                   "or BACKORDER_FAULTS=1")
    for item in items:
        if item.get_closest_marker("slow") and Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(skip)
