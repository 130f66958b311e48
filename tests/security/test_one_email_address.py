"""A customer email holding more than one address gets no email: "a@x, b@y" must not
reach both (nor anyone else the list names)."""

from __future__ import annotations

import pytest

from app.domain.inventory.models import CustomerOrder
from app.domain.notifications.models import Channel
from app.domain.notifications.rules import NotifySettings
from app.domain.notifications.service import recipients


def order(email: str) -> CustomerOrder:
    return CustomerOrder(shop_id=1, order_id=1, name="#1", email=email)


@pytest.mark.parametrize("email", [
    "a@example.com, b@example.com", "a@example.com,b@example.com", "a@example.com;b@example.com",
    "a@example.com b@example.com", "Ann <a@example.com>, b@example.com",
    '"a@example.com, b"@example.com', "a@example.com\r\nBcc: b@example.com"])
def test_an_email_field_with_more_than_one_address_gets_no_email(rt, email):
    with rt.sessions() as session:
        refused = recipients(session, 1, NotifySettings(), order(email))
        single = recipients(session, 1, NotifySettings(), order(" ann@example.com "))
    assert refused == []
    assert single == [(Channel.EMAIL, "ann@example.com", None)]
