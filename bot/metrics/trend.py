"""The trend behind each review's chart: impressions, visitors and inquiries per ISO week (the
last 8, Monday to Sunday) or per calendar month (the last 12), ending with the period under
review, in the store's local days.

Nothing is defined anew here: the daily figures are those of the daily checklist
(bot.metrics.traffic.daily_traffic: impressions and visitors of the traffic report, one level
of rows per day; bot.metrics.inquiries.valid_per_day: valid inquiries of the inquiry list per
local day), and what the inquiry list covers is bot.metrics.freshness's rule. Those give one
row per local day; pandas sums them per period (the days are local dates already, so a DST
change never moves a day into another week).

Missing is never zero:
* a traffic figure is None for a period without any day of the traffic report, and the sum of
  the days it has otherwise; `traffic_days` of `days` says how complete it is;
* inquiries are the inquiry list's valid ones where the list covers the period at least as
  well as the traffic report does (the list is the better count: spam left out), else the
  traffic report's count (the platform's, spam included); `inquiries_source` says which, as
  the data kind ("inquiries" or "traffic", as in bot.metrics.freshness), and `inquiry_days`
  how many days it covers; None when neither covers a day of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from bot.metrics.freshness import newest_days
from bot.metrics.inquiries import valid_per_day
from bot.metrics.traffic import daily_traffic
from bot.stores import Store

SERIES = ("impressions", "visitors", "inquiries")


@dataclass(frozen=True)
class Span:
    """A review kind's periods: pandas' period frequency and how many periods a chart shows."""

    freq: str
    periods: int


# Weeks end on Sunday (W-SUN), so a period is Monday to Sunday, the ISO week.
KINDS: dict[str, Span] = {"weekly": Span("W-SUN", 8), "monthly": Span("M", 12)}


class TrendError(ValueError):
    """A trend that cannot be asked for; the message says why."""


def periods(kind: str, period_end: date) -> pd.PeriodIndex:
    """The periods of a `kind` chart, oldest first, the last one the period holding
    `period_end`."""
    if kind not in KINDS:
        raise TrendError(f"unknown trend `{kind}`: use {' or '.join(KINDS)}")
    span = KINDS[kind]
    return pd.period_range(end=pd.Period(period_end, freq=span.freq), periods=span.periods)


def _daily(conn: Connection, store: Store, first: date, last: date) -> pd.DataFrame:
    """One row per local day from `first` to `last`: the traffic report's figures (NaN where
    it has no row or lacks the column), and the inquiry list's valid count (NaN where the
    list does not cover the day)."""
    days = pd.date_range(first, last, freq="D")
    reported = daily_traffic(conn, store, [d.date() for d in days])
    frame = pd.DataFrame.from_dict(reported, orient="index", dtype="float64")
    frame = frame.reindex(columns=["impressions", "visitors", "inquiries"])
    frame.index = pd.to_datetime(frame.index)
    frame = frame.reindex(days).rename(columns={"inquiries": "reported_inquiries"})
    frame["reported"] = days.isin(pd.to_datetime(list(reported)))

    listed = pd.Series(np.nan, index=days)
    covered_until = newest_days(conn, store, ("inquiries",))["inquiries"]
    counts = valid_per_day(conn, store, first, last) if covered_until else None
    if counts:
        series = pd.Series(counts, dtype="float64")
        series.index = pd.to_datetime(series.index)
        listed = series[series.index <= pd.Timestamp(covered_until)].reindex(days)
    frame["listed_inquiries"] = listed
    return frame


def trend(conn: Connection, store: Store, kind: str, period_end: date) -> dict[str, Any]:
    """The `kind` ("weekly" or "monthly") trend ending with the period that holds
    `period_end` (see the module doc)."""
    index = periods(kind, period_end)
    first, last = index[0].start_time.date(), index[-1].end_time.date()
    daily = _daily(conn, store, first, last)
    by_period = daily.groupby(daily.index.to_period(KINDS[kind].freq))
    sums = by_period.sum(min_count=1)  # a period without any known day stays NaN
    known = by_period.count()
    table = pd.DataFrame({
        "impressions": sums["impressions"],
        "visitors": sums["visitors"],
        "traffic_days": by_period["reported"].sum(),
        "listed_days": known["listed_inquiries"],
        "reported_days": known["reported_inquiries"],
    }).reindex(index)
    use_list = (table["listed_days"] > 0) & (table["listed_days"] >= table["reported_days"])
    table["inquiries"] = np.where(use_list, sums["listed_inquiries"].reindex(index),
                                  sums["reported_inquiries"].reindex(index))
    table["inquiry_days"] = np.where(use_list, table["listed_days"], table["reported_days"])
    table["inquiries_source"] = np.where(
        use_list, "inquiries", np.where(table["reported_days"] > 0, "traffic", ""))

    rows = []
    for period, row in table.iterrows():  # 8 or 12 periods: wording them, not computing
        rows.append({
            "period": _name(period, kind),
            "start": period.start_time.date().isoformat(),
            "end": period.end_time.date().isoformat(),
            "days": (period.end_time.date() - period.start_time.date()).days + 1,
            "current": period == index[-1],
            "impressions": _count(row["impressions"]),
            "visitors": _count(row["visitors"]),
            "inquiries": _count(row["inquiries"]),
            "inquiries_source": row["inquiries_source"] or None,
            "traffic_days": int(row["traffic_days"]),
            "inquiry_days": int(row["inquiry_days"]),
        })
    return {
        "kind": kind,
        "store": store.name,
        "timezone": store.timezone,
        "period": {"start": rows[-1]["start"], "end": rows[-1]["end"]},
        "periods": rows,
    }


def _name(period: pd.Period, kind: str) -> str:
    """`2026-W46` (ISO week of the Monday) or `2026-11`."""
    if kind == "weekly":
        year, week, _ = period.start_time.date().isocalendar()
        return f"{year}-W{week:02d}"
    return f"{period.year}-{period.month:02d}"


def _count(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)
