"""Rendering: safe defaults, merchant Liquid templates, localised dates, the link always."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.notifications.models import Kind
from app.domain.notifications.rendering import LineView, MessageContent, preview, render
from app.domain.notifications.rules import LineUpdate
from app.errors import InvalidInput

LINK = "https://backorder.test/status/tok123"
D1, D2 = date(2030, 3, 14), date(2030, 3, 21)


def content(kind=Kind.BACKORDERED, *, title="Linen Shirt", locale="en", eta=D1, old=None):
    update = LineUpdate(11, kind, eta=eta, old_eta=old)
    return MessageContent("Fern & Co", "#1001", kind, [LineView(title, 2, update)], LINK, locale)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_names_the_order_the_item_the_quantity_and_carries_the_link(kind):
    message = content(kind, old=D1, eta=D2)
    email = render(message, "email")
    sms = render(message, "sms")
    for text in (email.text, email.html, sms.text):
        assert "#1001" in text and "Linen Shirt" in text and LINK in text
    assert "2 x Linen Shirt" in email.text and "2x Linen Shirt" in sms.text
    assert "#1001" in email.subject
    assert len(sms.text) < 320  # two segments at most for one line


def test_dates_are_long_in_email_and_short_in_sms_in_the_shops_locale():
    assert "March 14, 2030" in render(content(), "email").text
    assert "Mar 14, 2030" in render(content(), "sms").text
    assert "14. März 2030" in render(content(locale="de"), "email").text
    assert "14 de março de 2030" in render(content(locale="pt-BR"), "email").text


def test_an_unknown_locale_falls_back_to_english():
    assert "March 14, 2030" in render(content(locale="xx-YY"), "email").text


def test_the_html_email_escapes_what_customers_and_merchants_typed():
    html = render(content(title="<script>alert(1)</script>"), "email").html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_shop_template_replaces_the_default_for_its_kind_and_part():
    templates = {"backordered": {
        "sms": "Hi! {{ order.name }} ships {{ lines[0].eta | date: '%b %-d' }}. {{ status_url }}",
        "subject": "About {{ order.name }}"}}
    assert render(content(), "sms", templates).text == f"Hi! #1001 ships Mar 14. {LINK}"
    email = render(content(), "email", templates)
    assert email.subject == "About #1001"
    assert "Here is when we expect to ship them" in email.text  # default text kept


def test_a_shop_template_that_leaves_out_the_link_gets_it_appended():
    templates = {"backordered": {"sms": "{{ order.name }} is late", "text": "Sorry.",
                                 "html": "<p>Sorry.</p>"}}
    sms = render(content(), "sms", templates)
    email = render(content(), "email", templates)
    assert sms.text == f"#1001 is late {LINK}"
    assert email.text == f"Sorry.\n\n{LINK}\n"
    assert f'href="{LINK}"' in email.html


def test_merchant_html_templates_are_autoescaped():
    templates = {"backordered": {"html": "<p>{{ lines[0].title }}</p>{{ status_url }}"}}
    html = render(content(title="<b>x</b>"), "email", templates).html
    assert "<p>&lt;b&gt;x&lt;/b&gt;</p>" in html


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",   # the classic sandbox escape
    "{{ order.__class__ }}{% for x in range(10**9) %}{% endfor %}",
    "{% for i in (1..1000000000) %}x{% endfor %}",        # beyond the loop limit
    "{% if %}",                                          # a syntax error
    "{{ 1 / 0 }}",
])
def test_a_broken_or_hostile_shop_template_falls_back_to_the_default(source):
    templates = {"backordered": {"sms": source}}
    assert render(content(), "sms", templates).text == render(content(), "sms").text


def test_an_sms_template_longer_than_twilio_allows_falls_back_to_the_default():
    templates = {"backordered": {"sms": "x" * 2000 + "{{ link }}"}}
    assert render(content(), "sms", templates).text == render(content(), "sms").text


def test_preview_renders_every_part_for_the_settings_page():
    parts = preview(content(), {"backordered": {"sms": "{{ order.name }}: {{ status_url }}"}})
    assert parts["sms"] == f"#1001: {LINK}"
    assert set(parts) == {"subject", "text", "html", "sms"}


def test_preview_names_the_part_that_does_not_render():
    with pytest.raises(InvalidInput) as caught:
        preview(content(), {"backordered": {"subject": "{% for %}", "sms": "{{ 2 * 3 }}"}})
    assert set(caught.value.field_errors) == {"subject", "sms"}
    assert "line 1" in caught.value.field_errors["sms"]


def test_templates_see_the_contract_variables():
    update = LineUpdate(11, Kind.BACKORDERED, eta=D1)
    message = MessageContent("Fern & Co", "#1001", Kind.BACKORDERED,
                             [LineView("Linen Shirt", 1, update, "Sage / M", 3)], LINK,
                             customer_first_name="Ann")
    source = ("{{ customer.first_name }}|{{ order.name }}|{{ shop.name }}|{{ status_url }}|"
              "{% for line in lines %}{{ line.title }}|{{ line.variant_title }}|{{ line.quantity }}|"
              "{{ line.backordered }}|{{ line.eta | date: '%Y-%m-%d' }}{% endfor %}")
    sms = render(message, "sms", {"backordered": {"sms": source}}).text
    assert sms == f"Ann|#1001|Fern & Co|{LINK}|Linen Shirt|Sage / M|3|1|2030-03-14"
