"""Twilio webhooks: delivery status callbacks and inbound SMS (STOP / START / HELP).

Both check X-Twilio-Signature against the public URL Twilio called (PUBLIC_URL
plus the path and query), so validation holds behind a proxy or load balancer
that rewrites the host or scheme. Each does one small idempotent update and answers.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from app.db import unit_of_work
from app.domain.base import utcnow
from app.domain.notifications import customer, rules
from app.errors import Forbidden
from app.web.deps import row_id, rt, settings
from integrations.twilio.signature import verify_twilio_signature
from integrations.twilio.sms import OPT_OUT

bp = Blueprint("twilio", __name__)

HELP_TEXT = ("Order updates about backordered items. Reply STOP to stop these messages, "
             "START to receive them again. Your order page is linked in each message.")


def _verify() -> None:
    token = settings().twilio_auth_token
    query = request.query_string.decode("utf-8", "replace")
    url = settings().public_url + request.path + (f"?{query}" if query else "")
    if not (token and verify_twilio_signature(token, url, request.form,
                                              request.headers.get("X-Twilio-Signature"))):
        raise Forbidden("X-Twilio-Signature is missing or does not match")


@bp.post("/webhooks/twilio/status")
def status():
    """A delivery status callback: move the message's delivery state forward."""
    _verify()
    form = request.form
    sid, state = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or \
        form.get("SmsStatus")
    if sid and state:
        with unit_of_work(rt().sessions) as session:
            _apply_status(session, sid, state.lower(), form.get("ErrorCode") or None)
    return "", 204


def _apply_status(session, sid: str, state: str, error_code: str | None) -> None:
    notification_id = row_id(request.args.get("n"))
    customer.record_delivery_status(session, sid=sid, status=state, error_code=error_code,
                                    notification_id=notification_id, now=utcnow())
    if error_code == str(OPT_OUT):  # the carrier says the recipient opted out
        customer.record_keyword(session, request.form.get("To", ""), "stop", now=utcnow())


@bp.post("/webhooks/twilio/inbound")
def inbound():
    """An SMS to our number: opt-out and opt-in keywords update consent; HELP gets a reply."""
    _verify()
    word = rules.keyword(request.form.get("Body"))
    if word in ("stop", "start"):
        with unit_of_work(rt().sessions) as session:
            customer.record_keyword(session, request.form.get("From", ""), word, now=utcnow())
    if word == "help":
        reply = MessagingResponse()
        reply.message(HELP_TEXT)
        return Response(str(reply), status=200, mimetype="application/xml")
    return "", 204
