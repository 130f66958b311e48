"""Adding a shop (custom-app token or OAuth): register, then subscribe its webhooks."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.domain.intake.topics import SUBSCRIBED_TOPICS
from app.domain.ports import ShopifyAdmin
from app.domain.shops.rules import SealedRefresh
from app.domain.shops.service import normalise_domain, register_shop


def onboard_shop(sessions: sessionmaker[Session], *, domain: str, token_ciphertext: str,
                 admin: ShopifyAdmin, callback_url: str, scopes: str = "",
                 refresh: SealedRefresh | None = None) -> int:
    """Subscribe the shop's topics, then register it: a failure leaves nothing half done.

    Subscribing again is harmless. A delivery that arrives before the commit finds no
    active shop and is ignored; the catalog sync every caller runs next reconciles it.
    """
    domain = normalise_domain(domain)
    admin.subscribe_webhooks(callback_url, SUBSCRIBED_TOPICS)
    with unit_of_work(sessions) as session:
        return register_shop(session, domain=domain, token_ciphertext=token_ciphertext,
                             scopes=scopes, refresh=refresh).id
