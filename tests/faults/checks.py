"""What must hold once a faulty run has drained, each check returning the problems it found.

Every check compares the service's state with an independent source: the simulator's
truth (what Shopify knows), the fake vendors' records (what customers and Shopify
actually received), and RQ's registries (what is left undone). A check returns a list
of plain sentences, so one failed assertion shows every discrepancy at once.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select

from app.domain.base import utcnow
from app.domain.fulfilment.models import FulfilmentSync
from app.domain.fulfilment.rules import HOLDABLE, TAG, handle_for
from app.domain.intake.models import EventStatus, WebhookEvent
from app.domain.inventory.models import InventoryLevel, OrderLine, Variant
from app.domain.inventory.policy import load_shop_policy
from app.domain.notifications.models import Channel, Notification
from app.domain.notifications.models import Status as NoteStatus
from app.domain.notifications.sending import INTERRUPTED
from app.domain.suppliers.supply import PLAN
from tests.faults.storefront import CATALOG, Deliverer, Simulator
from tests.support.fake_servers import FakeShopify, FakeSmtp, FakeTwilio


def intake(session, deliverer: Deliverer) -> list[str]:
    """Every delivery was accepted; every event is stored once and processed."""
    problems = []
    refused = [o for o in deliverer.outcomes if not o.accepted]
    if refused:
        problems.append(f"{len(refused)} deliveries never got a 200: "
                        f"{[(o.webhook.event_id, o.statuses[-3:]) for o in refused[:5]]}")
    if deliverer.error is not None:
        problems.append(f"the deliverer crashed: {deliverer.error!r}")
    accepted = {o.webhook.event_id for o in deliverer.outcomes if o.accepted}
    rows = session.execute(select(WebhookEvent.event_id, WebhookEvent.status,
                                  WebhookEvent.last_error)).all()
    stored = Counter(r.event_id for r in rows)
    twice = {k: n for k, n in stored.items() if n > 1}
    if twice:
        problems.append(f"events stored more than once: {twice}")
    missing = accepted - set(stored)
    if missing:
        problems.append(f"{len(missing)} accepted events are not stored: {sorted(missing)[:10]}")
    unprocessed = [(r.event_id, r.status.value, r.last_error) for r in rows
                   if r.status != EventStatus.PROCESSED]
    if unprocessed:
        problems.append(f"{len(unprocessed)} events not processed: {unprocessed[:10]}")
    return problems


def engine(session, shop_id: int, sim: Simulator, *, today: date) -> tuple[list[str], dict]:
    """The stored state equals the truth, and the allocation equals the one computed
    directly from the truth; returns the problems and the expected allocation per variant."""
    problems = []
    open_now = sim.open_lines()
    stored = {r.line_item_id: r for r in session.execute(
        select(OrderLine.line_item_id, OrderLine.variant_id, OrderLine.open_quantity,
               OrderLine.backordered, OrderLine.eta).where(OrderLine.shop_id == shop_id))}
    if set(stored) != set(open_now):
        problems.append(f"lines stored {sorted(set(stored) ^ set(open_now))} differ from the truth")
    for line_id, quantity in sorted(open_now.items()):
        if line_id in stored and stored[line_id].open_quantity != quantity:
            problems.append(f"line {line_id}: open {stored[line_id].open_quantity}, "
                            f"truth {quantity}")
    levels = dict(session.execute(select(InventoryLevel.inventory_item_id,
                                         InventoryLevel.available)
                                  .where(InventoryLevel.shop_id == shop_id)).all())
    for item in CATALOG:
        if levels.get(item.item_id) != sim.available[item.item_id]:
            problems.append(f"item {item.item_id}: available {levels.get(item.item_id)}, "
                            f"truth {sim.available[item.item_id]}")
    expected = {}
    variants = {v.variant_id: v for v in session.scalars(
        select(Variant).where(Variant.shop_id == shop_id))}
    shop_policy = load_shop_policy(session, shop_id, list(variants.values()),
                                   next_reorders=PLAN.next_reorders(session, shop_id,
                                                                    variants.values()))
    for item in CATALOG:
        variant = variants[item.variant_id]
        policy = shop_policy.for_variant(variant, PLAN.lead_time_days(
            session, shop_id=shop_id, sku=variant.sku))
        want = sim.expected_allocation(item, supply=PLAN.open_supply(session, variant),
                                       policy=policy, today=today)
        expected[item.variant_id] = want
        got = (variant.status, variant.backordered_units, variant.next_eta)
        if got != (want.status.value, want.backordered_units, want.next_eta):
            problems.append(f"variant {item.variant_id}: (status, backordered, eta) {got}, "
                            f"expected {(want.status.value, want.backordered_units, want.next_eta)}")
        for line_id, row in stored.items():
            if row.variant_id != item.variant_id:
                continue
            line = want.lines.get(line_id)
            should = (line.backordered, line.eta) if line else (0, None)
            if (row.backordered, row.eta) != should:
                problems.append(f"line {line_id}: (backordered, eta) "
                                f"{(row.backordered, row.eta)}, expected {should}")
    return problems, expected


def shopify(session, shop_id: int, fake: FakeShopify, shop: str, expected: dict) -> list[str]:
    """What Shopify shows equals the engine's expected decision for every variant."""
    problems = []
    state = fake.shop(shop)
    pending = session.scalars(select(Variant.variant_id).where(
        Variant.shop_id == shop_id, Variant.push_pending.is_(True))).all()
    if pending:
        problems.append(f"variants still waiting for a push: {pending}")
    for variant_id, want in sorted(expected.items()):
        policy = "CONTINUE" if want.continue_selling else "DENY"
        if state.variants[variant_id].policy != policy:
            problems.append(f"variant {variant_id}: Shopify policy "
                            f"{state.variants[variant_id].policy}, expected {policy}")
        status = state.metafields.get((variant_id, "backorder.status"))
        if status != want.status.value:
            problems.append(f"variant {variant_id}: backorder.status {status}, "
                            f"expected {want.status.value}")
        eta = state.metafields.get((variant_id, "backorder.eta"))
        want_eta = want.next_eta.isoformat() if want.next_eta else None
        if eta != want_eta:
            problems.append(f"variant {variant_id}: backorder.eta {eta}, expected {want_eta}")
    return problems


def fulfilment(session, shop_id: int, fake: FakeShopify, shop: str, sim: Simulator,
               expected: dict, foreign: list) -> list[str]:
    """Shopify holds exactly the backordered units of every line (or they wait behind
    someone else's hold), the app holds nothing more, every other hold is still there,
    and an order carries the tag exactly while something on it is backordered."""
    problems, state = [], fake.shop(shop).fulfilment
    want = {line_id: line.backordered for allocation in expected.values()
            for line_id, line in allocation.lines.items()}
    for order in sim.orders.values():
        for line in order.lines:
            should = 0 if order.cancelled else want.get(line.line_id, 0)
            ours = state.held_by_app(line.line_id, handle_for(line.line_id))
            behind = sum(x.remaining for fo in state.of_order(order.order_id)
                         if fo.status in HOLDABLE and fo.holds
                         and not any(h.mine and h.handle == handle_for(line.line_id)
                                     for h in fo.holds)
                         for x in fo.lines if x.line_item_id == line.line_id)
            if ours > should or should - ours > behind:
                problems.append(f"line {line.line_id}: {ours} units held by the app, "
                                f"{behind} behind other holds; {should} backordered")
        tagged = TAG in state.tags[order.order_id]
        backordered = any(want.get(x.line_id, 0) for x in order.lines) and not order.cancelled
        if tagged != backordered:
            problems.append(f"order {order.order_id}: tagged {tagged}, backordered {backordered}")
        if order.order_id % 5 == 0 and "wholesale" not in state.tags[order.order_id]:
            problems.append(f"order {order.order_id} lost the merchant's tag")
    present = {h.hold_id for _, h in state.foreign_holds()}
    problems += [f"hold {h.hold_id} ({h.handle!r}) of someone else is gone"
                 for h in foreign if h.hold_id not in present]
    now = utcnow()
    problems += [f"order {r.order_id}: holds and tag due since {r.due_at}, {r.last_error}"
                 for r in session.scalars(select(FulfilmentSync).where(
                     FulfilmentSync.shop_id == shop_id, FulfilmentSync.due_at <= now))]
    return problems


def messages(session, twilio: FakeTwilio, smtp: FakeSmtp) -> tuple[list[str], Counter]:
    """No customer got a message twice, and the records match the notification rows."""
    problems = []
    rows = {n.id: n for n in session.scalars(select(Notification))}
    outcome = Counter()
    delivered = {Channel.SMS: twilio.by_notification(), Channel.EMAIL: smtp.by_notification()}
    for channel, groups in delivered.items():
        for notification_id, records in groups.items():
            row = rows.get(notification_id)
            if row is None or row.channel != channel:
                problems.append(f"{channel} sent for no {channel} notification: "
                                f"{notification_id} ({len(records)}x)")
                continue
            if len(records) > 1:
                problems.append(f"notification {notification_id} ({channel}, {row.kind}) reached "
                                f"{row.recipient} {len(records)} times")
            recipients = {getattr(r, "to", None) or r.recipients[0] for r in records}
            if recipients != {row.recipient}:
                problems.append(f"notification {notification_id} went to {recipients}, "
                                f"not {row.recipient}")
    for row in rows.values():
        count = len(delivered[Channel(row.channel)].get(row.id, []))
        key = row.status if row.status != NoteStatus.FAILED else f"failed:{row.error_code}"
        outcome[f"{key}, delivered {count}x"] += 1
        if row.status == NoteStatus.SENT and count != 1:
            problems.append(f"notification {row.id} is sent but was delivered {count} times")
        elif row.status == NoteStatus.FAILED and row.error_code == INTERRUPTED and count > 1:
            problems.append(f"notification {row.id} (interrupted) was delivered {count} times")
        elif row.status == NoteStatus.FAILED and row.error_code != INTERRUPTED:
            problems.append(f"notification {row.id} failed for good: {row.last_error}")
        elif row.status not in (NoteStatus.SENT, NoteStatus.FAILED):
            problems.append(f"notification {row.id} is left {row.status}")
    return problems, outcome


def promises(session, shop_id: int, sim: Simulator, expected: dict) -> list[str]:
    """What each customer was last told about a line is what the engine holds now:
    backordered with its date, covered (never told, or told it is ready), or cancelled."""
    told: dict[int, tuple[str, str | None]] = {}
    for lines in session.scalars(select(Notification.lines).where(
            Notification.shop_id == shop_id, Notification.status == NoteStatus.SENT)
            .order_by(Notification.id)):
        for entry in lines or []:
            told[entry["line_item_id"]] = (entry["state"], entry.get("eta"))
    problems = []
    for variant_id, want in expected.items():
        for line_id, line in want.lines.items():
            said = told.get(line_id)
            if line.backordered:
                should = ("backordered", line.eta.isoformat() if line.eta else None)
                if said != should:
                    problems.append(f"line {line_id} (variant {variant_id}) is backordered "
                                    f"until {line.eta}; the customer was last told {said}")
            elif said is not None and said[0] == "backordered":
                problems.append(f"line {line_id} is covered now; the customer was last told "
                                f"{said}")
    cancelled = [line.line_id for order in sim.orders.values() if order.cancelled
                 for line in order.lines]
    for line_id in cancelled:
        if told.get(line_id, ("",))[0] == "backordered":
            problems.append(f"line {line_id} was cancelled; the customer was last told "
                            f"{told[line_id]}")
    return problems


def jobs(failed: list[tuple[str, str, str]], *, allowed: tuple[str, ...] = ()) -> list[str]:
    """Nothing in RQ's failed registries but failures the scenario expects."""
    return [f"failed job {job_id} on {queue}: {error}" for queue, job_id, error in failed
            if not any(marker in error for marker in allowed)]
