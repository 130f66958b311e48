"""Shop lifecycle: register, uninstall, and erase on shop/redact."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.domain.base import Base, utcnow
from app.domain.intake.service import SHOP_DOMAIN, HandlerContext
from app.domain.shops.models import Shop
from app.domain.shops.rules import SealedRefresh
from app.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)


def normalise_domain(domain: str) -> str:
    """A *.myshopify.com domain, lower-cased; InvalidInput otherwise."""
    cleaned = (domain or "").strip().lower().removeprefix("https://").rstrip("/")
    if not SHOP_DOMAIN.match(cleaned):
        raise InvalidInput(f"{domain!r} is not a shop domain like example.myshopify.com")
    return cleaned


def register_shop(session: Session, *, domain: str, token_ciphertext: str,
                  scopes: str = "", refresh: SealedRefresh | None = None) -> Shop:
    """Create the shop or reactivate it with a fresh token (reinstall).

    `refresh` is the expiring token's expiry and refresh token; None is a token that
    does not expire (a custom app's).
    """
    domain = normalise_domain(domain)
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        shop = Shop(domain=domain)
        session.add(shop)
    shop.token_ciphertext = token_ciphertext
    shop.scopes = scopes
    (refresh or SealedRefresh()).apply(shop)
    shop.active, shop.needs_reinstall, shop.uninstalled_at = True, False, None
    shop.installed_at = utcnow()
    shop.session_version = (shop.session_version or 0) + 1
    session.flush()
    return shop


def end_sessions(session: Session, shop_id: int) -> None:
    """Log out everywhere: every cookie session opened for the shop so far stops working."""
    session.execute(update(Shop).where(Shop.id == shop_id)
                    .values(session_version=Shop.session_version + 1))


def get_shop(session: Session, domain: str) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.domain == normalise_domain(domain)))
    if shop is None:
        raise NotFound(f"no shop {domain} is registered")
    return shop


def handle_app_uninstalled(ctx: HandlerContext) -> None:
    """The token is dead: forget it and stop every job for this shop (jobs check `active`)."""
    ctx.shop.active = False
    ctx.shop.token_ciphertext = None
    SealedRefresh().apply(ctx.shop)
    ctx.shop.uninstalled_at = utcnow()


def handle_shop_redact(ctx: HandlerContext) -> None:
    """Erase everything stored for the shop, 48 hours after uninstall (Shopify's request).

    The request itself stays, detached from the shop, as the record that it was honoured.
    A shop that is installed (again) is never erased, nor one the payload does not name.
    """
    named = str(ctx.payload.get("shop_domain") or "").strip().lower()
    if ctx.shop.active or named != ctx.shop.domain:
        log.warning("shop/redact for %s left the shop as it is: %s", ctx.shop.domain,
                    "it is installed" if ctx.shop.active else f"the payload names {named!r}")
        return
    ctx.event.shop_id = None
    ctx.session.flush()
    erase_shop(ctx.session, ctx.shop.id)
    ctx.session.expunge(ctx.shop)


def erase_shop(session: Session, shop_id: int) -> None:
    # Children first, in reverse dependency order, so no foreign key is left dangling
    # on databases without ON DELETE CASCADE enforcement.
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != "shops" and "shop_id" in table.c:
            session.execute(delete(table).where(table.c.shop_id == shop_id))
    session.execute(delete(Shop.__table__).where(Shop.__table__.c.id == shop_id))
