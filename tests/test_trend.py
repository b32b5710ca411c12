"""The reviews' trend series (bot.metrics.trend) against hand-computed figures: weeks Monday
to Sunday and calendar months in the store's timezone, across a DST change; a period without
a report is None, never 0; inquiries from the inquiry list where it covers the period, else
the traffic report's count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from bot.metrics.trend import TrendError, trend
from bot.storage import read, write
from bot.stores import Store, add_store
from tests import facts


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _utc(local: str, tz: str) -> datetime:
    """Naive UTC of a local wall-clock time in `tz`, as stored."""
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC).replace(tzinfo=None)


def _inquiry(iid: str, created: datetime, spam: bool = False) -> dict[str, Any]:
    return {"inquiry_id": iid, "created_at": created, "is_spam": spam}


def _series(data: dict[str, Any], *keys: str) -> dict[str, tuple[Any, ...]]:
    return {p["period"]: tuple(p[k] for k in keys) for p in data["periods"]}


def test_weekly_series_by_hand(engine: Engine, store: Store) -> None:
    """Shanghai. Traffic every day from Mon 2026-09-21 to Fri 2026-11-13 but the week of
    10-12: 100 impressions, 10 visitors, 2 inquiries a day. An inquiry list covers
    11-02..11-15."""
    traffic = [{"date": d, "impressions": 100, "visitors": 10, "inquiries": 2}
               for d in _days(date(2026, 9, 21), date(2026, 11, 13))
               if not date(2026, 10, 12) <= d <= date(2026, 10, 18)]
    # One day also broken down by source: the shop total counts, not the total plus its parts.
    traffic += [{"date": date(2026, 10, 6), "source": "search", "impressions": 60,
                 "visitors": 6},
                {"date": date(2026, 10, 6), "source": "p4p", "impressions": 40, "visitors": 4}]
    tz = store.timezone
    inquiries = [
        _inquiry("a", _utc("2026-11-02T00:10", tz)),  # the list's first: Monday of W45
        _inquiry("b", _utc("2026-11-05T12:00", tz)),
        _inquiry("c", _utc("2026-11-08T23:50", tz)),  # Sunday night: still W45
        _inquiry("s", _utc("2026-11-06T12:00", tz), spam=True),  # not valid
        *[_inquiry(f"w{n}", _utc(f"2026-11-1{n}T09:00", tz)) for n in range(4)],  # W46
        _inquiry("late", _utc("2026-11-16T00:30", tz)),  # W47, after the period
    ]
    with write(engine) as conn:
        facts.put(conn, store, "traffic", traffic, ingested_at=datetime(2026, 11, 14, 2))
        facts.put(conn, store, "inquiries", inquiries, ingested_at=datetime(2026, 11, 16, 2),
                  period=(date(2026, 11, 2), date(2026, 11, 15)))
    with read(engine) as conn:
        data = trend(conn, store, "weekly", date(2026, 11, 15))

    assert data["period"] == {"start": "2026-11-09", "end": "2026-11-15"}
    assert [p["start"] for p in data["periods"]] == [
        "2026-09-21", "2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26",
        "2026-11-02", "2026-11-09"]
    assert _series(data, "impressions", "visitors", "inquiries", "inquiries_source") == {
        "2026-W39": (700, 70, 14, "traffic"),
        "2026-W40": (700, 70, 14, "traffic"),
        "2026-W41": (700, 70, 14, "traffic"),  # 10-06's breakdown not added to its total
        "2026-W42": (None, None, None, None),  # no report that week: unknown, not 0
        "2026-W43": (700, 70, 14, "traffic"),
        "2026-W44": (700, 70, 14, "traffic"),
        "2026-W45": (700, 70, 3, "inquiries"),  # the list: a, b, c valid; spam left out
        "2026-W46": (500, 50, 4, "inquiries"),  # the report's five days; the list's seven
    }
    current = data["periods"][-1]
    assert current["current"] and not any(p["current"] for p in data["periods"][:-1])
    assert (current["days"], current["traffic_days"], current["inquiry_days"]) == (7, 5, 7)
    assert data["periods"][3]["traffic_days"] == 0


def test_weeks_and_months_follow_local_days_across_a_dst_change(engine: Engine) -> None:
    """New York leaves daylight saving time on Sunday 2026-11-01: an inquiry at 23:30 that
    night (04:30 UTC on Monday) is in the week and the month of Sunday."""
    store = add_store(engine, "nyc", "America/New_York", "en")
    tz = store.timezone
    inquiries = [
        _inquiry("a", _utc("2026-10-01T00:05", tz)),  # the list's first day
        _inquiry("b", _utc("2026-10-19T00:30", tz)),  # Monday of W43
        _inquiry("c", _utc("2026-10-25T23:30", tz)),  # Sunday of W43, EDT (03:30 UTC Mon)
        _inquiry("d", _utc("2026-10-31T23:30", tz)),  # October (03:30 UTC on 11-01)
        _inquiry("e", _utc("2026-11-01T23:30", tz)),  # Sunday of W44, EST (04:30 UTC Mon)
        _inquiry("f", _utc("2026-11-02T00:30", tz)),  # Monday of W45
        _inquiry("g", _utc("2026-11-30T23:00", tz)),  # November (04:00 UTC on 12-01)
    ]
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", inquiries, ingested_at=datetime(2026, 12, 1, 15),
                  period=(date(2026, 10, 1), date(2026, 11, 30)))
    with read(engine) as conn:
        weekly = trend(conn, store, "weekly", date(2026, 11, 8))
        monthly = trend(conn, store, "monthly", date(2026, 11, 30))
    weeks = _series(weekly, "inquiries")
    assert (weeks["2026-W43"], weeks["2026-W44"], weeks["2026-W45"]) == ((2,), (2,), (1,))
    # the list covers from its first inquiry on (10-01, W40): a covered week without any
    # inquiry is 0, a week before it is not covered (None)
    assert (weeks["2026-W39"], weeks["2026-W40"], weeks["2026-W41"]) == ((None,), (1,), (0,))
    months = _series(monthly, "inquiries", "inquiry_days", "days")
    assert months["2026-10"] == (4, 31, 31) and months["2026-11"] == (3, 30, 30)
    assert months["2026-09"] == (None, 0, 30)  # before the list: not covered, not 0
    assert [p["period"] for p in monthly["periods"]][:2] == ["2025-12", "2026-01"]
    assert monthly["period"] == {"start": "2026-11-01", "end": "2026-11-30"}


def test_the_traffic_reports_count_where_the_list_covers_less(engine: Engine,
                                                              store: Store) -> None:
    """A list that starts mid-week (Friday 11-06) covers fewer days of that week than the
    report: the week's inquiries are the report's, not a part-week of the list."""
    traffic = [{"date": d, "visitors": 5, "inquiries": 3}
               for d in _days(date(2026, 11, 2), date(2026, 11, 15))]
    with write(engine) as conn:
        facts.put(conn, store, "traffic", traffic, ingested_at=datetime(2026, 11, 16, 2))
        facts.put(conn, store, "inquiries",
                  [_inquiry("x", _utc("2026-11-06T10:00", store.timezone))],
                  ingested_at=datetime(2026, 11, 16, 2),
                  period=(date(2026, 11, 6), date(2026, 11, 15)))
    with read(engine) as conn:
        data = trend(conn, store, "weekly", date(2026, 11, 15))
    assert _series(data, "inquiries", "inquiries_source", "inquiry_days", "impressions")[
        "2026-W45"] == (21, "traffic", 7, None)  # impressions: a column the report lacks
    # the week after, the list covers every day (as does the report): the list's count of
    # valid inquiries wins, here none, though the report counts 21 (spam included)
    assert _series(data, "inquiries", "inquiries_source")["2026-W46"] == (0, "inquiries")


def test_a_store_without_data_has_only_gaps(engine: Engine, store: Store) -> None:
    with read(engine) as conn:
        data = trend(conn, store, "monthly", date(2026, 11, 30))
    assert len(data["periods"]) == 12
    assert all(p[k] is None for p in data["periods"]
               for k in ("impressions", "visitors", "inquiries", "inquiries_source"))


def test_an_unknown_kind_is_refused(engine: Engine, store: Store) -> None:
    with read(engine) as conn, pytest.raises(TrendError, match="weekly or monthly"):
        trend(conn, store, "daily", date(2026, 11, 30))
