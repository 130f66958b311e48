"""Work the database says is still owed to the outside, whatever became of its jobs.

A job commits state, then enqueues its follow-ups. If Redis is unreachable at that
moment, or the worker dies between the two, the event is already processed and
the inbox sweeper will not see it again. The rows themselves still say what is
owed: a variant whose push is pending, customer effects nobody dispatched. The
periodic sweeper asks for those again; the jobs are coalesced per shop and
idempotent, so asking twice costs one extra no-op at most.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import intents
from app.domain.fulfilment.models import FulfilmentSync
from app.domain.inventory.models import Effect, Variant
from app.domain.notifications.rules import CUSTOMER_EFFECTS
from app.domain.shops.models import Shop


def owed_followups(session: Session, *, effects_before: datetime) -> list[intents.Intent]:
    """A push per shop with pending pushes, a dispatch per shop with customer effects
    created before `effects_before` and still undispatched (newer ones are on their way),
    a fulfilment sync per shop with an order due since then."""
    active = select(Shop.id).where(Shop.active.is_(True))
    pushes = session.scalars(select(Variant.shop_id).distinct().where(
        Variant.push_pending.is_(True), Variant.shop_id.in_(active)))
    dispatches = session.scalars(select(Effect.shop_id).distinct().where(
        Effect.dispatched_at.is_(None), Effect.created_at < effects_before,
        Effect.kind.in_([str(k) for k in CUSTOMER_EFFECTS]), Effect.shop_id.in_(active)))
    holds = session.scalars(select(FulfilmentSync.shop_id).distinct().where(
        FulfilmentSync.due_at < effects_before, FulfilmentSync.shop_id.in_(active)))
    return ([intents.PushVariants(i) for i in pushes]
            + [intents.DispatchEffects(i) for i in dispatches]
            + [intents.SyncFulfilment(i) for i in holds])
