"""The checklist's data item: yesterday's basic figures against the same weekday's usual level.

The usual level of a figure is bot.metrics.usual's: the median of the same weekday over the
previous 8 weeks that have data, None with fewer than 4.

A traffic report comes at one of four grains: the shop total (no source, no country), by
source, by country, or by source and country; its rows are keyed by date, source and country,
so reports at different grains never overwrite each other. Adding grains together would
count a day two or three times, and reports differ in their columns (an export by country
may carry visitors only), so the shop's figure is read per date and per metric: the total
rows' if they carry the metric, else the sum over one breakdown that carries it - the
fullest one (the breakdown carrying the most of the report's metrics that day; the coarser
one on a tie: source, country, then both). A partial breakdown thus never stands in for a
full report's figure, nor hides the metrics it lacks.

Inquiries come from the inquiry list when there is a fresh one: valid inquiries only (those
the platform flagged as spam are left out, so a spam wave neither hides a drop nor fakes a
rise; the checklist lists them apart), each counted on its local creation day; days before
the list's first inquiry are "no data", not zeros. When that list has too little history for
a usual level (under 4 weeks) and the traffic report has one, or without a fresh list, they
come from the traffic report's inquiries column, value and usual level both: the platform's
count, in which spam cannot be told apart. `inquiries_source` says which, as the data kind
("inquiries" or "traffic", as in bot.metrics.freshness), and `inquiries_valid_only` whether spam is
left out. That choice is `inquiries_source()`, the one rule: the inquiry-drop alert
(bot/alerts/incidents.py) judges the same series, so it never stays silent (or says "not enough
history") on a drop the checklist shows.

A metric whose column the traffic report of yesterday lacks is None (unknown, not 0) and is
named in `not_in_report`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from bot.metrics.inquiries import valid_per_day
from bot.metrics.usual import same_weekdays, usual_level
from bot.models import facts
from bot.stores import Store

METRICS = ("impressions", "visitors", "clicks", "inquiries")
# The report's counts, all of which say how full a breakdown is (rates are not summed).
SUMMED = (*METRICS, "page_views", "tm_contacts")

traffic = facts["traffic"]


def _grain(row: Any) -> int:
    """0 the shop total, 1 by source, 2 by country, 3 by source and country."""
    return (1 if row.source else 0) + (2 if row.country else 0)


def _shop_figures(rows: list[Any]) -> dict[str, int | None]:
    """One day's shop figures from its rows at any grains (see the module doc); a metric no
    grain carries is None (unknown, not 0)."""
    grains: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grains[_grain(row)].append(row)
    carried = {g: {m for m in SUMMED if any(getattr(r, m) is not None for r in found)}
               for g, found in grains.items()}
    # breakdowns, fullest first (most metrics carried; the coarser on a tie)
    breakdowns = sorted((g for g in grains if g), key=lambda g: (-len(carried[g]), g))
    out: dict[str, int | None] = {}
    for m in METRICS:
        grain = next((g for g in (0, *breakdowns) if m in carried.get(g, ())), None)
        out[m] = (None if grain is None
                  else sum(getattr(r, m) for r in grains[grain] if getattr(r, m) is not None))
    return out


def daily_traffic(conn: Connection, store: Store, days: list[date]
                  ) -> dict[date, dict[str, int | None]]:
    """Per date with data: the shop's figure of each metric (see the module doc)."""
    rows = conn.execute(
        select(traffic.c.date, traffic.c.source, traffic.c.country,
               *(traffic.c[m] for m in SUMMED))
        .where(traffic.c.store_id == store.id, traffic.c.date.in_(days))
    ).all()
    by_day: dict[date, list[Any]] = defaultdict(list)
    for row in rows:
        by_day[row.date].append(row)
    return {day: _shop_figures(found) for day, found in by_day.items()}


def _compare(value: float | None, history: list[float | None]) -> dict[str, Any]:
    usual = usual_level(history)
    change = (value / usual - 1) if value is not None and usual else None
    return {"value": value, "usual": usual, "change": change,
            "weeks": sum(h is not None for h in history)}


def inquiries_source(conn: Connection, store: Store, yesterday: date, *, traffic_fresh: bool,
                     inquiries_fresh: bool, per_day: dict[date, dict[str, int]] | None = None,
                     counts: dict[date, int] | None = None) -> tuple[str, dict[str, Any] | None]:
    """Where yesterday's inquiry count comes from, as the data kind: ("inquiries", the list's
    value and usual level) or ("traffic", None). The one rule for the checklist's data item
    and the inquiry-drop alert (see the module doc): the inquiry list when it is fresh (covers
    `yesterday`) and holds that day, unless it is too young for a usual level while the
    traffic report, fresh, has both a value and a usual level; the traffic report otherwise
    (also when neither is fresh). `per_day`: daily_traffic of yesterday and _weeks, and
    `counts`: the list's valid_per_day of (at least) min(_weeks) to yesterday, when the caller
    has them already."""
    if not inquiries_fresh:
        return "traffic", None
    weeks = same_weekdays(yesterday)
    if counts is None:
        counts = valid_per_day(conn, store, min(weeks), yesterday) or {}
    if yesterday not in counts:
        return "traffic", None
    listed = _compare(counts[yesterday], [counts.get(d) for d in weeks])
    if listed["usual"] is not None:
        return "inquiries", listed
    if per_day is None:
        per_day = daily_traffic(conn, store, [yesterday, *weeks]) if traffic_fresh else {}
    reported = _compare(per_day.get(yesterday, {}).get("inquiries") if traffic_fresh else None,
                        [per_day.get(d, {}).get("inquiries") for d in weeks])
    # a list too young for a usual level gives way to a report that has one
    if reported["value"] is None or reported["usual"] is None:
        return "inquiries", listed
    return "traffic", None


def data_figures(conn: Connection, store: Store, yesterday: date, *, traffic_fresh: bool,
                 inquiries_fresh: bool) -> dict[str, Any]:
    """Yesterday's impressions, visitors, clicks and inquiries with their usual levels."""
    weeks = same_weekdays(yesterday)
    days = [yesterday, *weeks]
    per_day = daily_traffic(conn, store, days)
    figures: dict[str, Any] = {"day": yesterday.isoformat(), "weekday": yesterday.strftime("%A")}
    for metric in METRICS:
        value = per_day.get(yesterday, {}).get(metric) if traffic_fresh else None
        figures[metric] = _compare(value, [per_day.get(d, {}).get(metric) for d in weeks])
    source, listed = inquiries_source(conn, store, yesterday, traffic_fresh=traffic_fresh,
                                      inquiries_fresh=inquiries_fresh, per_day=per_day)
    figures["inquiries_source"] = source
    if listed is not None:
        figures["inquiries"] = listed
    figures["inquiries_valid_only"] = figures["inquiries_source"] == "inquiries"
    reported_day = per_day.get(yesterday) if traffic_fresh else None
    figures["not_in_report"] = [
        m for m in METRICS if reported_day is not None and reported_day[m] is None
        and not (m == "inquiries" and figures["inquiries_valid_only"])]
    return figures
