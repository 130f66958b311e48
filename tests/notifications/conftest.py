"""Customer-message fixtures: Twilio's API under `responses`, a real SMTP server, test rows."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.db import unit_of_work
from app.domain.inventory.models import CustomerOrder, Effect, OrderLine, ShopSettings
from app.domain.notifications.models import Notification
from app.runtime import Runtime
from tests.support.factories import make_shop
from tests.support.processes import free_port

TWILIO_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "twilio"
ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_API = "https://api.twilio.test"
MESSAGES_URL = f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
FROM_NUMBER = "+15005550006"
PHONE = "+14155550100"
ETA = date(2030, 3, 14)
# No Twilio-authored 21610 body exists in the fixtures (SOURCES.md §4): this follows
# the shape of error_21211_docs_example.json.
OPTED_OUT_BODY = {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                  "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}


def twilio_fixture(name: str) -> dict:
    return json.loads((TWILIO_FIXTURES / name).read_text(encoding="utf-8"))


class TwilioApi:
    """Twilio's Messages endpoint under `responses`: answers in order from a script."""

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.sent: list[dict[str, str]] = []  # forms of the messages Twilio accepted
        self.script: list[tuple[int, dict]] = []  # next answers; empty: 201 queued
        mock.add_callback(responses.POST, MESSAGES_URL, callback=self._answer)
        mock.add_callback(responses.GET, MESSAGES_URL, callback=self._list)

    def fail_next(self, status: int, body: dict) -> None:
        self.script.append((status, body))

    def _answer(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        status, body = self.script.pop(0) if self.script else (201, None)
        if body is None:  # the recorded 201, with a fresh SID per message
            body = twilio_fixture("message_create_201_queued.json") | {
                "sid": "SM" + uuid.uuid4().hex, "to": form["To"], "body": form["Body"]}
            self.sent.append(form)
        return status, {"Content-Type": "application/json"}, json.dumps(body)


    def _list(self, request):
        """The Messages list page (recorded shape), with what was accepted to that number."""
        to = parse_qs(request.url.split("?", 1)[1]).get("To", [None])[0]
        page = twilio_fixture("message_list_page_200.json")
        page["messages"] = [page["messages"][0] | {"to": f["To"], "body": f["Body"],
                                                   "date_created": None}
                            for f in reversed(self.sent) if f["To"] == to]
        return 200, {"Content-Type": "application/json"}, json.dumps(page)


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, or answers DATA as told."""

    def __init__(self) -> None:
        self.envelopes = []
        self.replies: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            self.envelopes.append(envelope)
        return reply

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default)
                for e in self.envelopes]


@pytest.fixture
def mailbox():
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def twilio():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield TwilioApi(mock)


def messaging_settings(settings, smtp_port: int, **overrides):
    return settings.with_overrides(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER, twilio_api_url=TWILIO_API, smtp_host="127.0.0.1",
        smtp_port=smtp_port, smtp_starttls=False, mail_from="shop@example.com",
        http_timeout=5.0, **overrides)


@pytest.fixture
def mrt(rt, mailbox, twilio):
    """The runtime jobs use, with Twilio (under responses) and SMTP (aiosmtpd) configured."""
    from workers import context
    runtime = Runtime(messaging_settings(rt.settings, mailbox.port, sms_rate_per_second=50))
    context.install(runtime)
    yield runtime
    context.install(rt)
    runtime.close()


@pytest.fixture
def mapp(mrt):
    from app.web import create_app
    app = create_app(runtime=mrt)
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@dataclass
class World:
    """Rows for one shop, written directly so tests do not depend on the webhook handlers."""

    rt: Runtime
    shop_id: int
    orders: dict[int, int] = field(default_factory=dict)  # Shopify order id -> pk

    def settings(self, **notifications) -> None:
        base = {"sms_enabled": True, "quiet_hours": None, "group_window_seconds": 0}
        with unit_of_work(self.rt.sessions) as session:
            row = session.get(ShopSettings, self.shop_id)
            if row is None:
                row = ShopSettings(shop_id=self.shop_id, extra={})
                session.add(row)
            row.extra = {**(row.extra or {}), "notifications": base | notifications}

    def order(self, order_id: int, *lines, email_: str | None = "ada@example.com",
              phone: str | None = PHONE, name: str | None = None, customer_id=None,
              first_name: str | None = None) -> None:
        """lines: (line item id, title, quantity, backordered, eta)."""
        with unit_of_work(self.rt.sessions) as session:
            order = CustomerOrder(shop_id=self.shop_id, order_id=order_id,
                                  name=name or f"#{order_id}", email=email_, phone=phone,
                                  customer_id=customer_id, customer_first_name=first_name,
                                  placed_at=datetime.now(UTC))
            for line_id, title, qty, backordered, eta in lines:
                order.lines.append(OrderLine(
                    shop_id=self.shop_id, line_item_id=line_id, variant_id=line_id + 500,
                    title=title, ordered_quantity=qty, quantity=qty, open_quantity=qty,
                    backordered=backordered, eta=eta, placed_at=order.placed_at))
            session.add(order)
            session.flush()
            self.orders[order_id] = order.id

    def effect(self, order_id: int, line_id: int, kind: str, old=None, new=None,
               age: timedelta = timedelta(minutes=5)) -> None:
        with unit_of_work(self.rt.sessions) as session:
            session.add(Effect(shop_id=self.shop_id, variant_id=line_id + 500,
                               order_id=order_id, line_item_id=line_id, kind=kind,
                               old=_iso(old), new=_iso(new),
                               created_at=datetime.now(UTC) - age))

    def line(self, line_id: int, **values) -> None:
        with unit_of_work(self.rt.sessions) as session:
            line = session.scalar(select(OrderLine).where(OrderLine.line_item_id == line_id))
            for key, value in values.items():
                setattr(line, key, value)

    def notifications(self) -> list[Notification]:
        with self.rt.sessions() as session:
            return list(session.scalars(select(Notification).order_by(Notification.id)))


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


@pytest.fixture
def world(rt) -> World:
    shop = make_shop(rt, name="Fern & Co", timezone="America/New_York", locale="en")
    w = World(rt, shop.id)
    w.settings()
    return w
