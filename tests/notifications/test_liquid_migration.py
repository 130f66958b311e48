"""Migration 0012_i15a: the Jinja templates shops stored become Liquid or the default, and say so."""

from __future__ import annotations

import json

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app.domain.notifications.rendering import default_template
from app.migrate import alembic_config, upgrade
from migrations.jinja_to_liquid import NotConvertible, convert
from tests.support.servers import create_database, drop_database


def test_the_jinja_defaults_convert_to_the_liquid_defaults_but_for_their_new_lines():
    jinja_sms = ("{{ shop }}: order {{ order }}: {% for line in lines %}{{ line.quantity }}x "
                 "{{ line.title }} {{ line.status_text }}{% if not loop.last %}; {% endif %}"
                 "{% endfor %}. {{ link }}")
    assert convert(jinja_sms, "sms") == (
        "{{ shop.name }}: order {{ order.name }}: {% for line in lines %}{{ line.backordered }}x "
        "{{ line.title }} {{ line.status_text }}{% unless forloop.last %}; {% endunless %}"
        "{% endfor %}. {{ status_url }}")
    assert convert("Order {{ order }}: some items are backordered", "subject") == \
        default_template("subject", "backordered")


@pytest.mark.parametrize(("jinja", "liquid"), [
    ("{{ lines[0].eta }}", '{{ lines[0].eta | date: "%b %-d, %Y" }}'),
    ("{# note #}{% set x = shop|upper %}{{ x|default('-') }}",
     "{% comment %} note {% endcomment %}{% assign x = shop.name | upcase %}"
     "{{ x | default: '-' }}"),
    ("{% for l in lines %}{% if l.eta and kind == 'x' %}a{% elif kind %}b{% else %}c{% endif %}"
     "{% endfor %}", "{% for l in lines %}{% if l.eta and kind == 'x' %}a{% elsif kind %}b"
     "{% else %}c{% endif %}{% endfor %}"),
])
def test_plain_jinja_converts_mechanically(jinja, liquid):
    assert convert(jinja, "sms") == liquid


@pytest.mark.parametrize("jinja", [
    "{{ 9**(9**8) }}", "{{ shop ~ order }}", "{{ f(1) }}", "{{ a and b or c }}",
    "{{ x if y else z }}", "{{ ''.__class__ }}", "{% macro m() %}{% endmacro %}",
    "{% for x in range(10) %}{% endfor %}", "{% if x %}never closed", "{{ x|title }}",
])
def test_what_has_no_mechanical_liquid_twin_is_not_converted(jinja):
    with pytest.raises(NotConvertible):
        convert(jinja, "text")


BEFORE = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_revision(
    "0012_i15a_liquid_templates").down_revision  # the schema the conversion starts from


@pytest.fixture
def old_database():
    name, url = create_database()
    upgrade(url, BEFORE)
    yield url
    drop_database(name)


def test_upgrade_converts_each_shops_templates_keeps_the_jinja_and_reports(old_database):
    jinja = {"backordered": {"sms": "{{ shop }}: {{ order }} {{ link }}",
                             "subject": "{{ 9**(9**8) }}"},
             "ready_to_ship": {"text": "{% for l in lines %}{{ l.title }}{% endfor %}"}}
    dsn = old_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO shops (id, domain, scopes, active, needs_reinstall, "
                     "installed_at, name, timezone, locale) VALUES (1, 'a.myshopify.com', '', "
                     "true, false, now(), 'A', 'UTC', 'en'), (2, 'b.myshopify.com', '', true, "
                     "false, now(), 'B', 'UTC', 'en')")
        conn.execute("INSERT INTO shop_settings (shop_id, mode, buffer, handling_days, extra) VALUES "
                     "(1, 'auto', 0, 0, %s), (2, 'auto', 0, 0, %s)",
                     (json.dumps({"notifications": {"templates": jinja, "sms_enabled": True}}),
                      json.dumps({"notifications": {"email_enabled": False}})))
    upgrade(old_database)
    with psycopg.connect(dsn) as conn:
        one, two = (row[0] for row in conn.execute(
            "SELECT extra FROM shop_settings ORDER BY shop_id"))
    notes = one["notifications"]
    assert notes["templates"] == jinja and notes["sms_enabled"] is True
    assert notes["liquid_templates"] == {
        "backordered": {"sms": "{{ shop.name }}: {{ order.name }} {{ status_url }}"},
        "ready_to_ship": {"text": "{% for l in lines %}{{ l.title }}{% endfor %}"}}
    assert notes["liquid_conversion"]["backordered"]["sms"] == "converted"
    assert notes["liquid_conversion"]["backordered"]["subject"].startswith("default: ")
    assert two == {"notifications": {"email_enabled": False}}
    command.downgrade(alembic_config(old_database), BEFORE)
    with psycopg.connect(dsn) as conn:
        one = conn.execute("SELECT extra FROM shop_settings WHERE shop_id = 1").fetchone()[0]
    assert one == {"notifications": {"templates": jinja, "sms_enabled": True}}
