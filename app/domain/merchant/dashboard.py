"""Dashboard metrics from the shop's own history, over a window of days.

- Open backordered units, each day's peak, replayed from the engine's effects (a line
  enters the count when it is backordered and leaves when it is ready to ship
  or cancelled). Effects carry no unit counts, so a line weighs what it has
  backordered now, or, once closed, its ordered quantity: exact for the usual
  fully backordered line, an upper bound for a partly covered one. Both ends
  of a closed line use the same weight, so the running total never drifts.
- Fill rate: the share of order lines placed in the window that were never
  backordered.
- Wait: days from a line's first backorder to its being ready to ship, for
  lines that became ready in the window (average and 90th percentile).
- Supplier on-time rate (app.domain.suppliers.leadtimes) and messages sent
  and failed per day.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from app.domain.base import utcnow
from app.domain.inventory.effects import EffectKind
from app.domain.inventory.models import Effect, OrderLine, Variant
from app.domain.notifications.models import Notification, Status
from app.domain.suppliers.leadtimes import SupplierPerformance, supplier_performance

WINDOW_DAYS = 30
OPENS = EffectKind.LINE_BACKORDERED.value
CLOSES = (EffectKind.LINE_READY_TO_SHIP.value, EffectKind.LINE_BACKORDER_CANCELLED.value)


@dataclass(frozen=True)
class DayValue:
    day: date
    value: float


@dataclass(frozen=True)
class MessageDay:
    day: date
    sent: int
    failed: int


@dataclass(frozen=True)
class Metrics:
    days: list[date]
    backordered_units: list[DayValue]
    open_units_now: int
    lines_ordered: int
    lines_backordered: int
    waits_days: list[float]
    suppliers: list[SupplierPerformance]
    messages: list[MessageDay]

    @property
    def fill_rate(self) -> float | None:
        if not self.lines_ordered:
            return None
        return 1 - self.lines_backordered / self.lines_ordered

    @property
    def wait_average(self) -> float | None:
        return sum(self.waits_days) / len(self.waits_days) if self.waits_days else None

    @property
    def wait_p90(self) -> float | None:
        return percentile(self.waits_days, 0.9)

    @property
    def sent(self) -> int:
        return sum(m.sent for m in self.messages)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.messages)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value at least `share` of the values reach."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def metrics(session: Session, shop_id: int, *, today: date | None = None,
            days: int = WINDOW_DAYS) -> Metrics:
    """Every dashboard figure for the `days` days ending today (UTC)."""
    today = today or utcnow().date()
    span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = datetime.combine(span[0], time(), UTC)
    end = datetime.combine(today + timedelta(days=1), time(), UTC)
    ordered, backordered = _fill(session, shop_id, start, end)
    open_now = session.scalar(select(func.coalesce(func.sum(Variant.backordered_units), 0))
                              .where(Variant.shop_id == shop_id)) or 0
    return Metrics(span, _backordered_series(session, shop_id, span, start, end), int(open_now),
                   ordered, backordered, _waits(session, shop_id, start, end),
                   supplier_performance(session, shop_id),
                   _messages(session, shop_id, span, start))


def _line_deltas(shop_id: int):
    """(created_at, +units or -units) of every effect opening or closing a backordered line."""
    weight = case((OrderLine.backordered > 0, OrderLine.backordered),
                  else_=OrderLine.ordered_quantity)
    sign = case((Effect.kind == OPENS, 1), else_=-1)
    return (select(Effect.id, Effect.created_at, (sign * weight).label("delta"))
            .join(OrderLine, and_(OrderLine.shop_id == Effect.shop_id,
                                  OrderLine.line_item_id == Effect.line_item_id))
            .where(Effect.shop_id == shop_id, Effect.kind.in_((OPENS, *CLOSES))))


def _backordered_series(session: Session, shop_id: int, span: list[date], start: datetime,
                        end: datetime) -> list[DayValue]:
    """Each day's peak of open backordered units (a flash sale filled the same day shows)."""
    deltas = _line_deltas(shop_id).subquery()
    level = int(session.scalar(select(func.coalesce(func.sum(deltas.c.delta), 0))
                               .where(deltas.c.created_at < start)) or 0)
    events = session.execute(select(deltas.c.created_at, deltas.c.delta)
                             .where(deltas.c.created_at >= start, deltas.c.created_at < end)
                             .order_by(deltas.c.created_at, deltas.c.id)).all()
    peaks, closes = _daily_peaks(level, events)
    series = []
    for day in span:
        series.append(DayValue(day, max(0, peaks.get(day, level))))
        level = closes.get(day, level)
    return series


def _daily_peaks(level: int, events) -> tuple[dict[date, int], dict[date, int]]:
    """(highest, closing) running total per day with events, starting from `level`."""
    peaks: dict[date, int] = {}
    closes: dict[date, int] = {}
    for created_at, delta in events:
        day = created_at.astimezone(UTC).date()
        peaks.setdefault(day, level)  # the day starts where the previous one ended
        level += int(delta)
        peaks[day], closes[day] = max(peaks[day], level), level
    return peaks, closes


def _fill(session: Session, shop_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """(order lines placed in the window, of which ever backordered)."""
    placed = (OrderLine.shop_id == shop_id, OrderLine.variant_id.is_not(None),
              OrderLine.placed_at >= start, OrderLine.placed_at < end)
    ever = or_(OrderLine.backordered > 0, exists().where(
        Effect.shop_id == shop_id, Effect.line_item_id == OrderLine.line_item_id,
        Effect.kind == OPENS))
    total = session.scalar(select(func.count()).select_from(OrderLine).where(*placed)) or 0
    waited = session.scalar(select(func.count()).select_from(OrderLine)
                            .where(*placed, ever)) or 0
    return int(total), int(waited)


def _waits(session: Session, shop_id: int, start: datetime, end: datetime) -> list[float]:
    """Days each line waited, for lines that became ready to ship in the window."""
    ready = (select(Effect.line_item_id, func.max(Effect.created_at).label("at"))
             .where(Effect.shop_id == shop_id, Effect.kind == EffectKind.LINE_READY_TO_SHIP.value,
                    Effect.created_at >= start, Effect.created_at < end)
             .group_by(Effect.line_item_id).subquery())
    first = (select(Effect.line_item_id, func.min(Effect.created_at).label("at"))
             .where(Effect.shop_id == shop_id, Effect.kind == OPENS)
             .group_by(Effect.line_item_id).subquery())
    rows = session.execute(select(first.c.at, ready.c.at)
                           .join(ready, ready.c.line_item_id == first.c.line_item_id)).all()
    return [max(0.0, (done - since).total_seconds() / 86400) for since, done in rows]


def _messages(session: Session, shop_id: int, span: list[date],
              start: datetime) -> list[MessageDay]:
    when = func.coalesce(Notification.sent_at, Notification.updated_at)
    rows = session.execute(select(Notification.status, when).where(
        Notification.shop_id == shop_id, Notification.status.in_((Status.SENT, Status.FAILED)),
        when >= start)).all()
    counts: Counter[tuple[date, str]] = Counter(
        (at.astimezone(UTC).date(), status) for status, at in rows)
    return [MessageDay(day, counts[(day, Status.SENT)], counts[(day, Status.FAILED)])
            for day in span]
