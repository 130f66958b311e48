"""Without SECRET_KEY a process refuses to start: each would make up its own key, and a
cookie, signed link or OAuth state made by one process would fail in the next."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import ConfigError
from tests.faults.stack import child_env
from tests.support.processes import free_port

BIN = Path(sys.executable).parent


def test_settings_without_secret_key_are_refused_in_one_line_naming_it():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"DATABASE_URL": "postgresql://db/x"})
    assert "SECRET_KEY" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("command", [
    ["gunicorn", "app.wsgi:app", "--bind", "127.0.0.1:{port}", "--workers", "1"],
    ["backorder", "replay"]])
def test_the_web_and_the_command_line_refuse_to_start_without_secret_key(
        tmp_path, database_url, redis_url, command):
    env = child_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    argv = [str(BIN / command[0]), *(part.format(port=free_port()) for part in command[1:])]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "SECRET_KEY is required" in done.stdout + done.stderr
