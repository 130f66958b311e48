"""Settings: backorder mode, cap or buffer, handling days, locations, overrides, reordering,
notifications and their templates (with a preview). A form is saved whole or not at all,
with each problem next to its field; a change the engine depends on recomputes every
variant of the shop."""

from __future__ import annotations

from flask import Blueprint, flash, request
from werkzeug.datastructures import MultiDict

from app import jobs
from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.customer_options import alternatives
from app.domain.intents import RecomputeShop, SyncFulfilment
from app.domain.merchant import overrides, templates
from app.domain.merchant import settings as shop_settings
from app.domain.notifications import sandbox
from app.errors import InvalidInput
from app.web import preview as email_preview
from app.web.deps import rt
from app.web.merchant.common import back_to, merchant, page

bp = Blueprint("settings", __name__, url_prefix="/settings")


def recompute_shop() -> None:
    """Queue the recompute of every variant (a job: a big shop takes a while)."""
    jobs.enqueue(rt().redis, [RecomputeShop(merchant().shop_id)])


@bp.get("/")
def index():
    with unit_of_work(rt().sessions) as session:
        values = shop_settings.current_settings(session, merchant().shop_id)
    return _page(form=MultiDict(shop_settings.as_form(values)))


def _page(status: int = 200, **context):
    with unit_of_work(rt().sessions) as session:
        shop_id = merchant().shop_id
        variants, products = overrides.targets(session, shop_id)
        labels = {t.value: t.label for t in (*variants, *products)}
        context.update(locations=shop_settings.known_locations(session, shop_id),
                       overrides=overrides.list_overrides(session, shop_id),
                       alternatives=alternatives.listed(session, shop_id, labels),
                       variants=variants, products=products, modes=shop_settings.MODES)
    context.setdefault("override_form", MultiDict())
    context.setdefault("override_errors", {})
    context.setdefault("alternative_errors", {})
    return page("merchant/settings.html", status, **context)


@bp.post("/")
def save():
    shop_id = merchant().shop_id
    try:
        with unit_of_work(rt().sessions) as session:
            values = shop_settings.parse_settings(
                request.form, request.form.getlist("locations"),
                locations=shop_settings.known_locations(session, shop_id))
            changed = shop_settings.save_settings(session, shop_id, values)
    except InvalidInput as exc:
        return _page(400, form=request.form, errors=exc.field_errors, error=exc.message)
    if changed:
        recompute_shop()
    jobs.enqueue(rt().redis, [SyncFulfilment(shop_id)])  # the hold setting may change
    flash("Settings saved." + (" Every variant is being recomputed." if changed else ""), "notice")
    return back_to("merchant.settings.index")


def _refused(exc: InvalidInput, **page):
    """The settings page again, as saved, with a side form's errors (400)."""
    with unit_of_work(rt().sessions) as session:
        values = shop_settings.current_settings(session, merchant().shop_id)
    return _page(400, form=MultiDict(shop_settings.as_form(values)), error=exc.message, **page)


@bp.post("/overrides")
def add_override():
    try:
        with unit_of_work(rt().sessions) as session:
            overrides.save_override(session, merchant().shop_id, request.form)
    except InvalidInput as exc:
        return _refused(exc, override_form=request.form, override_errors=exc.field_errors)
    recompute_shop()
    flash("Override saved. Every variant is being recomputed.", "notice")
    return back_to("merchant.settings.index")


@bp.post("/overrides/<id:override_id>/delete")
def delete_override(override_id: int):
    with unit_of_work(rt().sessions) as session:
        overrides.delete_override(session, merchant().shop_id, override_id)
    recompute_shop()
    flash("Override removed. Every variant is being recomputed.", "notice")
    return back_to("merchant.settings.index")


@bp.post("/alternatives")
def add_alternative():
    """Offer a variant to customers waiting for a product or variant (no recompute needed)."""
    try:
        with unit_of_work(rt().sessions) as session:
            alternatives.link(session, merchant().shop_id, request.form)
    except InvalidInput as exc:
        return _refused(exc, alternative_errors=exc.field_errors)
    flash("Alternative saved.", "notice")
    return back_to("merchant.settings.index")


@bp.post("/alternatives/<id:alternative_id>/delete")
def delete_alternative(alternative_id: int):
    with unit_of_work(rt().sessions) as session:
        alternatives.unlink(session, merchant().shop_id, alternative_id)
    flash("Alternative removed.", "notice")
    return back_to("merchant.settings.index")


# --- Message templates, with a preview on sample data ---------------------------------


PART_LABELS = {"subject": "Email subject", "text": "Email, plain text", "html": "Email, HTML",
               "sms": "Text message (SMS)"}


@bp.get("/messages")
def messages():
    kind = templates.kind_of(request.args.get("kind"))
    with unit_of_work(rt().sessions) as session:
        sources = templates.current_sources(session, merchant().shop_id, kind)
    return _messages_page(kind, sources)


def _messages_page(kind: str, sources, code: int = 200, **context):
    with unit_of_work(rt().sessions) as session:
        changed = templates.customised(session, merchant().shop_id)
        context.setdefault("unconverted", templates.conversion_notes(session, merchant().shop_id,
                                                                     kind))
    if "preview" not in context and code == 200:
        try:
            context["preview"] = templates.render_preview(merchant().name, kind, sources,
                                                          today=utcnow().date())
        except InvalidInput as exc:
            context.update(errors=exc.field_errors, error=exc.message)
    preview = context.get("preview")
    if preview and preview.get("html"):
        context["preview_html"] = email_preview.store(preview["html"])
    return page("merchant/messages.html", code, kind=kind, kinds=templates.KINDS, limits=sandbox,
                sources=sources, labels=PART_LABELS, customised=changed, **context)


@bp.post("/messages")
def save_messages():
    """Preview (nothing saved), save (only what renders), or reset one kind's templates."""
    kind = templates.kind_of(request.form.get("kind"))
    sources = {part: request.form.get(part, "") for part in PART_LABELS}
    action, shop = request.form.get("action"), merchant()
    try:
        if action not in ("save", "reset"):
            return _messages_page(kind, sources, preview=templates.render_preview(
                shop.name, kind, sources, today=utcnow().date()))
        with unit_of_work(rt().sessions) as session:
            if action == "reset":
                templates.reset(session, shop.shop_id, kind)
            else:
                templates.save_sources(session, shop.shop_id, shop.name, kind, sources,
                                       today=utcnow().date())
    except InvalidInput as exc:  # rolled back: nothing of the form was saved
        return _messages_page(kind, sources, 400, errors=exc.field_errors, error=exc.message)
    flash("Templates reset to the defaults." if action == "reset" else "Templates saved.",
          "notice")
    return back_to("merchant.settings.messages", kind=kind)
