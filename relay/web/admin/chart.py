"""Lay out the paid-value chart: one panel of daily bars per chain and asset, drawn on the server.

Pure geometry in SVG user units; the template admin/chart.html draws it (no script). Each panel is
scaled to its own largest day, since assets cannot share an axis: a bar is
`BAR_AREA * value // largest` units tall (at least 1 for a day that was paid anything), so the
tallest day fills the panel and heights stay exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from relay.pricing import from_base_units
from relay.web.admin.queries import DailySeries

WIDTH = 720
LEFT = 8  # room left of the first bar
BAR_AREA = 100  # the tallest bar's height
PANEL_TOP = 28  # the panel's title above its bars
AXIS = 20  # the day labels below the bars
PANEL_GAP = 16
BAR_GAP = 4


@dataclass(frozen=True)
class Bar:
    """One day's bar: position and size in SVG units, the day, and its value."""

    x: int
    y: int
    width: int
    height: int
    day: date
    base_units: int
    amount: Decimal  # in whole units of the asset


@dataclass(frozen=True)
class Panel:
    """One chain and asset's bars, placed `top` units from the chart's top."""

    chain: str
    asset: str
    top: int
    baseline: int  # y of the bars' bottom edge
    largest: Decimal  # the tallest bar's value in whole units (0 when nothing was paid)
    total: Decimal
    bars: tuple[Bar, ...]  # only days that were paid something
    labels: tuple[tuple[int, date], ...]  # (x of the label's middle, day) under some bars


@dataclass(frozen=True)
class Chart:
    """The whole chart: its panels and height; `days` the days it covers, oldest first."""

    width: int
    height: int
    days: tuple[date, ...]
    panels: tuple[Panel, ...]


def bar_height(value: int, largest: int) -> int:
    """Return a bar's height for `value` base units when the tallest bar is `largest`."""
    if value <= 0 or largest <= 0:
        return 0
    return max(BAR_AREA * value // largest, 1)


def lay_out(series: list[DailySeries], days: tuple[date, ...]) -> Chart:
    """Place one panel per series, stacked, each with a bar per day that was paid something."""
    step = (WIDTH - LEFT) // max(len(days), 1)
    panels = []
    top = 0
    for one in series:
        decimals = one.total.decimals
        largest = max(one.values, default=0)
        baseline = top + PANEL_TOP + BAR_AREA
        bars = tuple(
            Bar(
                x=LEFT + i * step,
                y=baseline - bar_height(value, largest),
                width=step - BAR_GAP,
                height=bar_height(value, largest),
                day=day,
                base_units=value,
                amount=from_base_units(value, decimals),
            )
            for i, (day, value) in enumerate(zip(one.days, one.values, strict=True))
            if value > 0
        )
        marks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
        panels.append(
            Panel(
                chain=one.total.chain,
                asset=one.total.asset,
                top=top,
                baseline=baseline,
                largest=from_base_units(largest, decimals),
                total=from_base_units(one.total.base_units, decimals),
                bars=bars,
                labels=tuple((LEFT + i * step + (step - BAR_GAP) // 2, days[i]) for i in marks),
            )
        )
        top = baseline + AXIS + PANEL_GAP
    return Chart(WIDTH, max(top - PANEL_GAP, PANEL_TOP + BAR_AREA + AXIS), days, tuple(panels))
