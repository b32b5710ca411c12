"""The checklist's data item: yesterday's basic figures against the same weekday's usual level.

The usual level of a figure is the median of the same weekday over the previous 8 weeks, of
those weeks that have data; with fewer than 4 such weeks there is no usual level (None), as
a median of two or three days says little.

A traffic report may hold a store total, a breakdown by source and a breakdown by country
for the same day; adding them all would count the day two or three times. One level is summed
per date, the first present of: total rows (no source, no country), source rows (no
country), country rows (no source), rows with both.

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
from datetime import date, timedelta
from statistics import median
from typing import Any

from sqlalchemy import Connection, select

from bot.metrics.inquiries import valid_per_day
from bot.models import facts
from bot.stores import Store

METRICS = ("impressions", "visitors", "clicks", "inquiries")
WEEKS = 8
MIN_WEEKS = 4

traffic = facts["traffic"]


def _level(row: Any) -> int:
    return (1 if row.source else 0) + (2 if row.country else 0)


def daily_traffic(conn: Connection, store: Store, days: list[date]) -> dict[date, dict[str, int]]:
    """Per date with data: each metric summed over one level of rows (see the module doc)."""
    rows = conn.execute(
        select(traffic.c.date, traffic.c.source, traffic.c.country,
               *(traffic.c[m] for m in METRICS))
        .where(traffic.c.store_id == store.id, traffic.c.date.in_(days))
    ).all()
    by_day: dict[date, list[Any]] = defaultdict(list)
    for row in rows:
        by_day[row.date].append(row)
    out: dict[date, dict[str, int]] = {}
    for day, found in by_day.items():
        level = min(_level(r) for r in found)
        chosen = [r for r in found if _level(r) == level]
        out[day] = {m: sum(getattr(r, m) or 0 for r in chosen) for m in METRICS}
        # A column the report lacks is unknown, not zero.
        for m in METRICS:
            if all(getattr(r, m) is None for r in chosen):
                out[day][m] = None  # type: ignore[assignment]
    return out


def _compare(value: float | None, history: list[float | None]) -> dict[str, Any]:
    known = [h for h in history if h is not None]
    usual = float(median(known)) if len(known) >= MIN_WEEKS else None
    change = (value / usual - 1) if value is not None and usual else None
    return {"value": value, "usual": usual, "change": change, "weeks": len(known)}


def _weeks(yesterday: date) -> list[date]:
    """The same weekday in the WEEKS weeks before `yesterday`, newest first."""
    return [yesterday - timedelta(weeks=k) for k in range(1, WEEKS + 1)]


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
    weeks = _weeks(yesterday)
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
    weeks = _weeks(yesterday)
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
