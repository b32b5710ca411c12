"""The period grammar, in the store's local days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.periods import PeriodError, format_age, local_today, parse_period

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)  # a Friday


def days(text: str, today: date = TODAY) -> tuple[str, str]:
    period = parse_period(text, today)
    return period.start.isoformat(), period.end.isoformat()


@pytest.mark.parametrize(("text", "start", "end"), [
    ("", "2026-11-20", "2026-11-20"),
    ("today", "2026-11-20", "2026-11-20"),
    ("  Yesterday ", "2026-11-19", "2026-11-19"),
    ("week", "2026-11-16", "2026-11-20"),  # Monday to today
    ("this week", "2026-11-16", "2026-11-20"),
    ("本周", "2026-11-16", "2026-11-20"),
    ("last week", "2026-11-09", "2026-11-15"),
    ("LAST   WEEK", "2026-11-09", "2026-11-15"),
    ("month", "2026-11-01", "2026-11-20"),
    ("last month", "2026-10-01", "2026-10-31"),
    ("last 14d", "2026-11-07", "2026-11-20"),
    ("last 1d", "2026-11-20", "2026-11-20"),
    ("last 30 days", "2026-10-22", "2026-11-20"),
    ("7d", "2026-11-14", "2026-11-20"),
    ("30d", "2026-10-22", "2026-11-20"),
    ("近7天", "2026-11-14", "2026-11-20"),
    ("2026/11/03", "2026-11-03", "2026-11-03"),
    ("2026/11/3", "2026-11-03", "2026-11-03"),
    ("2026-11-01~2026-11-07", "2026-11-01", "2026-11-07"),  # the back office's own form
    ("2026-11-01 ~ 2026-11-07", "2026-11-01", "2026-11-07"),
    ("2026/11/01～2026/11/07", "2026-11-01", "2026-11-07"),
    ("2026-11-03", "2026-11-03", "2026-11-03"),
    ("2026-11-01..2026-11-07", "2026-11-01", "2026-11-07"),
    ("2026-11-01..2026-11-01", "2026-11-01", "2026-11-01"),
    ("2026-11-15..2026-12-31", "2026-11-15", "2026-11-20"),  # runs past today: ends today
    ("昨天", "2026-11-19", "2026-11-19"),
    ("上周", "2026-11-09", "2026-11-15"),
])
def test_every_form(text: str, start: str, end: str) -> None:
    assert days(text) == (start, end)


def test_this_week_and_last_week_never_overlap() -> None:
    """`this week` is Monday to today and `last week` the Monday to Sunday before it, on
    every weekday: together they are consecutive days, none counted twice."""
    for offset in range(7):
        today = date(2026, 11, 16) + timedelta(days=offset)  # Monday .. Sunday
        this, last = parse_period("this week", today), parse_period("last week", today)
        assert this.start.weekday() == 0 and this.end == today
        assert last.start.weekday() == 0 and last.days == 7
        assert last.end + timedelta(days=1) == this.start


def test_last_week_is_the_previous_calendar_week_whatever_the_weekday() -> None:
    assert days("last week", date(2026, 11, 16)) == ("2026-11-09", "2026-11-15")  # Monday
    assert days("last week", date(2026, 11, 22)) == ("2026-11-09", "2026-11-15")  # Sunday
    assert days("last week", date(2026, 11, 23)) == ("2026-11-16", "2026-11-22")


def test_month_boundaries() -> None:
    assert days("month", date(2026, 3, 1)) == ("2026-03-01", "2026-03-01")
    assert days("last month", date(2026, 3, 31)) == ("2026-02-01", "2026-02-28")
    assert days("last month", date(2026, 1, 15)) == ("2025-12-01", "2025-12-31")


@pytest.mark.parametrize(("text", "says"), [
    ("yesterdy", "unknown period"),
    ("yesterady", "did you mean `yesterday`?"),
    ("last weak", "did you mean `last week`?"),
    ("fortnight", "unknown period"),
    ("2026-02-30", "not a date"),
    ("2026-13-01", "not a date"),
    ("2026-1103", "not a date"),
    ("2026-11-07..2026-11-01", "ends before it starts"),
    ("2026-11-01..nope", "not a date"),
    ("2026-11-21", "in the future"),
    ("2026-12-01..2026-12-07", "in the future"),
    ("last 0d", "1 to"),
    ("last 99999d", "1 to"),
])
def test_errors_are_short_and_say_why(text: str, says: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, TODAY)
    message = str(caught.value)
    assert says in message
    assert len(message) < 120 and "\n" not in message


def test_previous_period_has_the_same_length_right_before() -> None:
    for text in ("today", "last week", "month", "last 14d", "2026-11-01..2026-11-07"):
        period = parse_period(text, TODAY)
        before = period.previous
        assert before.days == period.days
        assert before.end == period.start - timedelta(days=1)
    last_week = parse_period("last week", TODAY).previous
    assert (last_week.start, last_week.end) == (date(2026, 11, 2), date(2026, 11, 8))
    assert last_week.start.weekday() == 0
    # this week so far (Monday to Friday) against the same weekdays a week before, not
    # against the weekend before it
    this_week = parse_period("this week", TODAY).previous
    assert (this_week.start, this_week.end) == (date(2026, 11, 9), date(2026, 11, 13))


def test_errors_are_worded_in_chinese_too() -> None:
    for text in ("yesterady", "2026-02-30", "2026-11-21", "2026-11-07~2026-11-01", "last 0d"):
        with pytest.raises(PeriodError) as caught:
            parse_period(text, TODAY)
        chinese = caught.value.text.render("zh")
        assert chinese != str(caught.value)
        assert not re.findall(r"\b(?:unknown|period|date|future|ends|days|use)\b", chinese)


def test_store_timezone_decides_the_day_at_midnight() -> None:
    # 16:30 UTC on the 19th is already 00:30 on the 20th in Shanghai.
    now = datetime(2026, 11, 19, 16, 30)
    assert local_today(now, SHANGHAI) == date(2026, 11, 20)
    assert local_today(now, ZoneInfo("UTC")) == date(2026, 11, 19)
    assert local_today(now.replace(tzinfo=UTC), SHANGHAI) == date(2026, 11, 20)
    # one minute before Shanghai midnight is still the 19th there
    assert local_today(datetime(2026, 11, 19, 15, 59), SHANGHAI) == date(2026, 11, 19)
    today = parse_period("today", local_today(now, SHANGHAI))
    assert today.utc_bounds(SHANGHAI) == (datetime(2026, 11, 19, 16), datetime(2026, 11, 20, 16))


def test_a_dst_day_is_23_hours_long() -> None:
    new_york = ZoneInfo("America/New_York")
    lo, hi = parse_period("2026-03-08", date(2026, 3, 9)).utc_bounds(new_york)
    assert hi - lo == timedelta(hours=23)


def test_ages_read_at_a_glance() -> None:
    assert format_age(timedelta(minutes=45)) == "45m"
    assert format_age(timedelta(hours=5, minutes=10)) == "5h 10m"
    assert format_age(timedelta(days=3, hours=4, minutes=59)) == "3d 4h"
    assert format_age(timedelta(seconds=-5)) == "0m"
