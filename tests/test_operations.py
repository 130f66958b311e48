"""What operators rely on: health, readiness, metrics, migrations, configuration, CLI."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from app.config import Settings
from app.errors import ConfigError
from app.migrate import check
from app.runtime import Runtime
from app.web import create_app
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import make_shop
from tests.support.processes import free_port
from tests.support.shopify import SHOP, post_webhook


def test_models_and_migrations_have_not_drifted(database_url):
    check(database_url)  # alembic check: raises when autogenerate would emit anything


def test_healthz_answers_without_touching_dependencies(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_is_unreachable(rt):
    broken = Runtime(rt.settings.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    response = create_app(runtime=broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")
    broken.close()


def test_metrics_count_webhooks_by_topic_and_outcome(rt, client):
    make_shop(rt, domain=SHOP)
    post_webhook(client, "orders/create", {"id": 1}, secret=WEBHOOK_SECRET)
    post_webhook(client, "orders/create", {"id": 1}, secret="wrong")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'backorder_webhooks_received_total{outcome="stored",topic="orders/create"}' in text
    assert 'backorder_webhooks_received_total{outcome="unauthorized",topic="orders/create"}' in text


@pytest.mark.parametrize("env, variable", [
    ({"SMTP_PORT": "smtp"}, "SMTP_PORT"),
    ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"SHOPIFY_API_VERSION": "2026-13"}, "SHOPIFY_API_VERSION"),
    ({"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL"),
    ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_FROM_NUMBER"),
    ({"SMTP_HOST": "mail"}, "MAIL_FROM"),
    ({"TWILIO_FROM_NUMBER": "555-1234"}, "TWILIO_FROM_NUMBER"),
])
def test_a_malformed_or_missing_variable_is_named_in_one_line(env, variable):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SECRET_KEY": "k", **env})
    assert variable in str(raised.value)
    assert "\n" not in str(raised.value)


def test_secrets_never_appear_in_the_settings_repr():
    settings = Settings.from_env({"SECRET_KEY": "very-secret", "SHOPIFY_API_SECRET": "shh",
                                  "SMTP_HOST": "mail", "MAIL_FROM": "a@b.co",
                                  "SMTP_PASSWORD": "pw"})
    assert not any(s in repr(settings) for s in ("very-secret", "shh", "pw"))


def test_local_default_is_a_sqlite_file_and_console_backends():
    settings = Settings.from_env({"SECRET_KEY": "k"})
    assert settings.database_url.startswith("sqlite:///")
    assert not settings.sms_via_twilio and not settings.email_via_smtp


def test_cli_refuses_a_domain_that_is_not_myshopify(monkeypatch, rt):
    from app import cli
    monkeypatch.setattr(cli._Context, "_rt", rt)
    result = CliRunner().invoke(cli.cli, ["shops", "add", "evil.example.com", "--token", "t"])
    assert result.exit_code != 0
    assert "not a shop domain" in str(result.exception or result.output)


def gunicorn_hooks(monkeypatch, cores: set[int]):
    """gunicorn.conf.py's hooks, on a machine whose usable cores are `cores`; returns them
    and the list of core sets processes were pinned to."""
    pinned: list[set[int]] = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(cores))
    monkeypatch.setattr(os, "sched_setaffinity", lambda _pid, chosen: pinned.append(set(chosen)))
    conf = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    return conf["pre_fork"], conf["post_fork"], pinned


def spawn(pre_fork, post_fork, server, pid: int):
    worker = SimpleNamespace()
    pre_fork(server, worker)
    server.WORKERS[pid] = worker
    post_fork(server, worker)
    return worker


def test_with_a_core_for_each_web_process_each_stays_on_its_own(monkeypatch):
    pre_fork, post_fork, pinned = gunicorn_hooks(monkeypatch, {0, 1})
    server = SimpleNamespace(num_workers=2, WORKERS={})
    first, second = (spawn(pre_fork, post_fork, server, pid) for pid in (101, 102))
    assert {first.core, second.core} == {0, 1} and pinned == [{first.core}, {second.core}]

    del server.WORKERS[101]  # a process died: its replacement takes the core it left
    assert spawn(pre_fork, post_fork, server, 103).core == first.core


def test_with_more_cores_than_web_processes_none_is_pinned(monkeypatch):
    """A PaaS dyno lists every core of a shared host: a pinned process could not leave a
    busy one."""
    pre_fork, post_fork, pinned = gunicorn_hooks(monkeypatch, set(range(8)))
    server = SimpleNamespace(num_workers=2, WORKERS={})
    spawn(pre_fork, post_fork, server, 101), spawn(pre_fork, post_fork, server, 102)
    assert pinned == []


def test_metrics_add_up_every_process_writing_to_the_configured_directory(rt, tmp_path):
    # Another process of the host (a worker) counts into the shared directory.
    child = subprocess.run(
        [sys.executable, "-c", "from prometheus_client import Counter; "
                               "Counter('backorder_child_jobs', 'jobs').inc(3)"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, timeout=60)
    assert child.returncode == 0
    app = create_app(runtime=Runtime(rt.settings.with_overrides(
        prometheus_multiproc_dir=str(tmp_path))))

    text = app.test_client().get("/metrics").get_data(as_text=True)

    assert "backorder_child_jobs_total 3.0" in text
    app.extensions["backorder"].close()


def test_the_metrics_directory_is_read_with_the_other_settings():
    settings = Settings.from_env({"SECRET_KEY": "k", "PROMETHEUS_MULTIPROC_DIR": "/run/metrics"})
    assert settings.prometheus_multiproc_dir == "/run/metrics"


def test_metrics_name_their_charset_once(client):
    content_type = client.get("/metrics").headers["Content-Type"]
    assert content_type.count("charset") == 1
    assert content_type.startswith("text/plain; version=")


def test_run_local_binds_the_port_in_port_unless_told_another(monkeypatch):
    import app.devserver
    from app.cli import cli

    bound = []
    monkeypatch.setattr(app.devserver, "run", lambda *, port: bound.append(port))
    runner = CliRunner()
    assert runner.invoke(cli, ["run-local"], env={"PORT": "8011"}).exit_code == 0
    assert runner.invoke(cli, ["run-local", "--port", "8012"], env={"PORT": "8011"}).exit_code == 0
    assert runner.invoke(cli, ["run-local"], env={"PORT": None}).exit_code == 0
    assert bound == [8011, 8012, 8000]
