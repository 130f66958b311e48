"""Charts as inline SVG, computed on the server: no script, no CDN, works under a strict CSP.

Each function turns plain series into coordinates; templates/merchant/_charts.html
draws them (Jinja escapes every label). Coordinates are in a fixed viewBox and
the SVG scales to its container.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28  # room for axis labels


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"  # the edge labels align inwards so they are not clipped


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # CSS class: which series
    title: str  # tooltip, e.g. "2026-11-25: 4 sent"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Bar]
    line: str = ""  # SVG path of the line, if any
    area: str = ""  # SVG path of the area under it
    empty: bool = False


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _y_ticks(top: float) -> list[Tick]:
    """Four steps, or one per unit when the top is smaller (counts are whole numbers)."""
    steps = 4 if top >= 4 else int(top)
    return [Tick(round(_y(top * i / steps, top), 1), f"{top * i / steps:g}")
            for i in range(steps + 1)]


def _x_ticks(days: Sequence[date], xs: Sequence[float]) -> list[Tick]:
    """About six date labels; the last day always labelled, right-aligned."""
    step, last = max(1, len(days) // 6), len(days) - 1
    picked = [i for i in range(len(days)) if (i % step == 0 and last - i >= step / 2) or i == last]
    return [Tick(round(xs[i], 1), f"{days[i]:%b} {days[i].day}",
                 "end" if i == last and i else "start" if i == 0 else "middle") for i in picked]


def line_chart(days: Sequence[date], values: Sequence[float]) -> Chart:
    """A line with the area under it, one point per day."""
    top = nice_max(max(values, default=0))
    span = WIDTH - LEFT - RIGHT
    xs = [LEFT + span * i / max(1, len(values) - 1) for i in range(len(values))]
    points = [f"{x:.1f},{_y(v, top):.1f}" for x, v in zip(xs, values, strict=True)]
    line = "M" + " L".join(points) if points else ""
    base = _y(0, top)
    area = f"{line} L{xs[-1]:.1f},{base:.1f} L{xs[0]:.1f},{base:.1f} Z" if points else ""
    return Chart(WIDTH, HEIGHT, _y_ticks(top), _x_ticks(days, xs), [], line, area,
                 empty=not any(values))


def stacked_bars(days: Sequence[date], series: dict[str, Sequence[int]]) -> Chart:
    """One bar per day, the series stacked bottom up in the order given."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = nice_max(max(totals, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    bars = []
    for i, day in enumerate(days):
        floor = 0
        for kind, values in series.items():
            if values[i]:
                y = _y(floor + values[i], top)
                bars.append(Bar(round(LEFT + slot * i + slot * 0.15, 1), round(y, 1),
                                round(slot * 0.7, 1), round(_y(floor, top) - y, 1), kind,
                                f"{day.isoformat()}: {values[i]} {kind}"))
                floor += values[i]
    xs = [LEFT + slot * (i + 0.5) for i in range(len(days))]
    return Chart(WIDTH, HEIGHT, _y_ticks(top), _x_ticks(days, xs), bars, empty=not any(totals))


def share_bars(rows: Sequence[tuple[str, float | None]]) -> Chart:
    """Horizontal bars from 0 to 100 %, one per (label, share); None draws no bar."""
    row_height, label_width = 28, 180
    height = TOP + BOTTOM + row_height * max(1, len(rows))
    span = WIDTH - label_width - RIGHT - 48
    bars = [Bar(label_width, TOP + row_height * i + 4, round(span * (share or 0), 1),
                row_height - 8, "share",
                f"{label}: {'no deliveries yet' if share is None else f'{share:.0%}'}")
            for i, (label, share) in enumerate(rows)]
    ticks = [Tick(label_width + span * q, f"{q:.0%}") for q in (0, 0.5, 1)]
    return Chart(WIDTH, height, [], ticks, bars, empty=not rows)


WAIT_BINS = ((0, 1, "< 1 d"), (1, 3, "1-3 d"), (3, 7, "3-7 d"), (7, 14, "1-2 wk"),
             (14, 30, "2-4 wk"), (30, math.inf, "30+ d"))


def wait_histogram(waits: Sequence[float]) -> Chart:
    """How many lines waited how long, in ranges a merchant thinks in."""
    counts = [sum(1 for w in waits if low <= w < high) for low, high, _ in WAIT_BINS]
    top = nice_max(max(counts, default=0))
    slot = (WIDTH - LEFT - RIGHT) / len(WAIT_BINS)
    bars = [Bar(round(LEFT + slot * i + slot * 0.15, 1), round(_y(n, top), 1),
                round(slot * 0.7, 1), round(_y(0, top) - _y(n, top), 1), "wait",
                f"{label}: {n} lines")
            for i, ((_, _, label), n) in enumerate(zip(WAIT_BINS, counts, strict=True)) if n]
    ticks = [Tick(round(LEFT + slot * (i + 0.5), 1), label)
             for i, (_, _, label) in enumerate(WAIT_BINS)]
    return Chart(WIDTH, HEIGHT, _y_ticks(top), ticks, bars, empty=not waits)
