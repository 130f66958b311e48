"""Adding a shop (custom-app token or OAuth): register, then subscribe its webhooks."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.domain.intake.topics import SUBSCRIBED_TOPICS
from app.domain.ports import ShopifyAdmin
from app.domain.shops.service import normalise_domain, register_shop


def onboard_shop(sessions: sessionmaker[Session], *, domain: str, token_ciphertext: str,
                 admin: ShopifyAdmin, callback_url: str, scopes: str = "") -> int:
    """Commit the shop first (webhooks may arrive at once), then subscribe its topics."""
    with unit_of_work(sessions) as session:
        shop_id = register_shop(session, domain=normalise_domain(domain),
                                token_ciphertext=token_ciphertext, scopes=scopes).id
    admin.subscribe_webhooks(callback_url, SUBSCRIBED_TOPICS)
    return shop_id
