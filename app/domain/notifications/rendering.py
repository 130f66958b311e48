"""Message rendering: safe default templates, per-shop Liquid templates, localised dates.

Merchant templates are Liquid, rendered in app/domain/notifications/sandbox.py (limits
on loops, output and nesting, a CPU budget per render), HTML autoescaped. A merchant
template that fails to render falls back to the default, and the link to the status
page is always there: a message is never lost to a typo in a template.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from app.domain.notifications import sandbox
from app.domain.notifications.models import Channel, Kind
from app.domain.notifications.rules import LineUpdate
from app.errors import InvalidInput

log = logging.getLogger(__name__)

SMS_MAX_CHARS = 1600  # Twilio refuses longer bodies
PARTS = ("subject", "text", "html", "sms")
SUBJECTS = {
    Kind.BACKORDERED: "Order {{ order.name }}: some items are backordered",
    Kind.ETA_CHANGED: "Order {{ order.name }}: a new expected ship date",
    Kind.READY_TO_SHIP: "Order {{ order.name }}: your backordered items are ready to ship",
    Kind.CANCELLED: "Order {{ order.name }}: backorder cancelled",
    Kind.DELAY_NOTICE: "Order {{ order.name }} is delayed: a new date, or cancel free of charge",
}
INTROS = {
    Kind.BACKORDERED: "Some items in your order are backordered. Here is when we expect to ship them:",
    Kind.ETA_CHANGED: "The expected ship date of items in your order has changed:",
    Kind.READY_TO_SHIP: "Good news: these backordered items are in stock and ready to ship:",
    Kind.CANCELLED: "The backorder of these items in your order has been cancelled:",
    Kind.DELAY_NOTICE: "We could not ship these items by the date we gave you. "
                       "You may keep waiting or cancel them free of charge:",
}


@dataclass(frozen=True)
class LineView:
    title: str
    quantity: int  # the units this message is about (waiting, ready or cancelled)
    update: LineUpdate
    variant_title: str | None = None
    ordered: int | None = None  # the line's quantity in the order, when known
    still_ships: int = 0  # units of the line kept when only some were cancelled


@dataclass(frozen=True)
class MessageContent:
    """Everything a message says, before it is put into words."""

    shop_name: str
    order_name: str
    kind: Kind
    lines: Sequence[LineView]
    link: str
    locale: str = "en"
    discount_code: str | None = None  # a goodwill code for a long wait (customer_options)
    discount_text: str | None = None  # what it gives: "10% off"
    customer_first_name: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


def babel_locale(name: str | None) -> Locale:
    """Babel's locale for Shopify's name ('fr', 'pt-BR'); English when unknown."""
    try:
        return Locale.parse((name or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def format_day(day: date | None, locale: str | None, *, short: bool = False) -> str | None:
    if day is None:
        return None
    return format_date(day, format="medium" if short else "long", locale=babel_locale(locale))


def status_text(update: LineUpdate, locale: str | None, *, short: bool = False) -> str:
    """One line's news in words, with its date in the shop's locale."""
    eta = format_day(update.eta, locale, short=short)
    old = format_day(update.old_eta, locale, short=short)
    if update.kind == Kind.READY_TO_SHIP:
        return "ready to ship"
    if update.kind == Kind.CANCELLED:
        return "backorder cancelled" + (f" (was expected {old})" if old else "")
    if update.kind == Kind.DELAY_NOTICE:
        new = f"now expected {eta}" if eta else "new date unknown"
        return f"promised for {old}, {new}"
    if eta is None:
        return "ship date not known yet" if update.kind == Kind.BACKORDERED else \
            "ship date no longer known"
    if update.kind == Kind.ETA_CHANGED and old:
        return f"now expected to ship {eta} (was {old})"
    return f"expected to ship {eta}"


def template_context(content: MessageContent, *, short: bool) -> dict:
    """The variables every template sees (CONTRACT.md "Message templates", and the README)."""
    lines = [{"title": v.title, "variant_title": _variant_title(v),
              "quantity": v.ordered if v.ordered is not None else v.quantity,
              "backordered": v.quantity, "eta": v.update.eta, "old_eta": v.update.old_eta,
              "kind": str(v.update.kind),
              "status_text": status_text(v.update, content.locale, short=short)
              + _still_ships(v.still_ships)}
             for v in content.lines]
    return {"shop": {"name": content.shop_name}, "order": {"name": content.order_name},
            "customer": {"first_name": content.customer_first_name},
            "lines": lines, "status_url": content.link, "kind": str(content.kind),
            "intro": INTROS[content.kind], "lang": babel_locale(content.locale).language,
            "discount_code": content.discount_code, "discount_text": content.discount_text}


def _variant_title(view: LineView) -> str | None:
    # Lines stored since the variant joined their title ("Merino Beanie - Charcoal / M")
    # already name it: a template printing both would say it twice.
    if view.variant_title and view.title.endswith(view.variant_title):
        return None
    return view.variant_title


def _still_ships(units: int) -> str:
    return f"; {units} still {'ships' if units == 1 else 'ship'}" if units else ""


@cache
def default_template(part: str, kind: str) -> str:
    if part == "subject":
        return SUBJECTS[Kind(kind)]
    name = {"text": "email.txt", "html": "email.html", "sms": "sms.txt"}[part]
    source = resources.files(__package__).joinpath("templates", name).read_text("utf-8")
    return source.removesuffix("\n")  # a file's last newline is not part of the message


def _render(part: str, source: str, content: MessageContent, **budget) -> str:
    """One part rendered and checked; sandbox.TemplateError says why it cannot be."""
    output = sandbox.render(source, template_context(content, short=part == "sms"),
                            html=part == "html", **budget)
    if part == "sms" and len(output) > SMS_MAX_CHARS:
        raise sandbox.TemplateError(f"the SMS is {len(output)} characters, "
                                    f"more than {SMS_MAX_CHARS}")
    if part == "subject" and ("\n" in output.strip() or len(output) > 255):
        raise sandbox.TemplateError("the subject must be one line of at most 255 characters")
    return output


def _render_part(part: str, content: MessageContent, shop_templates: Mapping | None) -> str:
    custom = ((shop_templates or {}).get(str(content.kind)) or {}).get(part)
    if isinstance(custom, str) and custom.strip():
        try:
            return _render(part, custom, content)
        except sandbox.TemplateError as exc:  # never lose a message to the merchant's template
            log.warning("shop template %s/%s refused, using the default: %s",
                        content.kind, part, exc)
    # Ours: trusted, and measured in microseconds; the generous budget only guards a bug.
    return _render(part, default_template(part, content.kind), content, budget=1.0)


def render(content: MessageContent, channel: str,
           shop_templates: Mapping | None = None) -> Rendered:
    """The message for one channel; the status link is added if a template left it out."""
    if channel == Channel.SMS:
        body = " ".join(_render_part("sms", content, shop_templates).split())
        return Rendered("", _with_link(body, content.link, " ")[:SMS_MAX_CHARS])
    subject = " ".join(_render_part("subject", content, shop_templates).split())
    text = _with_link(_render_part("text", content, shop_templates).strip(), content.link,
                      "\n\n") + "\n"
    html = _render_part("html", content, shop_templates)
    if content.link not in html:
        html += f'\n<p><a href="{content.link}">{content.link}</a></p>\n'
    return Rendered(subject, text, html)


def _with_link(body: str, link: str, sep: str) -> str:
    return body if link in body else f"{body}{sep}{link}"


def preview(content: MessageContent, templates: Mapping) -> dict[str, str]:
    """Render merchant templates for the settings page; InvalidInput names each broken part."""
    kind_templates = templates.get(str(content.kind)) or {}
    rendered, errors = {}, {}
    for part in PARTS:
        try:
            rendered[part] = _render(part, kind_templates.get(part)
                                     or default_template(part, content.kind), content)
        except sandbox.TemplateError as exc:
            errors[part] = f"This template cannot be used: {exc}."
    if errors:
        raise InvalidInput("A template does not render; nothing was saved.",
                           field_errors=errors)
    return rendered
