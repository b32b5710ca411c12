"""When the daily checklist is due, on a frozen clock: timezones with and without DST,
workdays only, catch-up inside and outside the grace period, invalid settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.periods import local_time
from bot.schedule import ScheduleError, checklist_due, next_checklist, scheduled_at

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
DEFAULTS = {"checklist_time": "09:00", "workdays_only": False, "catch_up_hours": 3}


def utc(*args: int) -> datetime:
    return datetime(*args)


def test_shanghai_due_at_nine_local_and_within_the_grace_only() -> None:
    # 09:00 in Shanghai (UTC+8, no DST) is 01:00 UTC.
    assert checklist_due(SHANGHAI, DEFAULTS, utc(2026, 11, 17, 0, 59)) is None
    due = checklist_due(SHANGHAI, DEFAULTS, utc(2026, 11, 17, 1, 0))
    assert due is not None and due.day == date(2026, 11, 17) and not due.catch_up
    late = checklist_due(SHANGHAI, DEFAULTS, utc(2026, 11, 17, 3, 59))  # 11:59 local
    assert late is not None and late.day == date(2026, 11, 17) and late.catch_up
    assert late.late_by == timedelta(hours=2, minutes=59)
    assert checklist_due(SHANGHAI, DEFAULTS, utc(2026, 11, 17, 4, 0)) is None  # 12:00 local


@pytest.mark.parametrize(("tz", "day", "expected_utc_hour"), [
    # New York: EST (UTC-5) before 2026-03-08, EDT (UTC-4) from it, EST again from 2026-11-01.
    (NEW_YORK, date(2026, 3, 7), 14),
    (NEW_YORK, date(2026, 3, 8), 13),
    (NEW_YORK, date(2026, 10, 31), 13),
    (NEW_YORK, date(2026, 11, 1), 14),
    # London: GMT until 2026-03-29, BST (UTC+1) until 2026-10-25.
    (LONDON, date(2026, 3, 28), 9),
    (LONDON, date(2026, 3, 29), 8),
    (LONDON, date(2026, 10, 24), 8),
    (LONDON, date(2026, 10, 25), 9),
])
def test_nine_oclock_local_across_dst_changes(tz: ZoneInfo, day: date,
                                             expected_utc_hour: int) -> None:
    moment = utc(day.year, day.month, day.day, expected_utc_hour, 0)
    assert local_time(moment, tz).hour == 9
    assert checklist_due(tz, DEFAULTS, moment - timedelta(minutes=1)) is None
    due = checklist_due(tz, DEFAULTS, moment)
    assert due is not None and due.day == day and due.late_by == timedelta(0)


@pytest.mark.parametrize("tz", [NEW_YORK, LONDON, SHANGHAI])
def test_every_day_of_a_year_has_exactly_three_hours_due(tz: ZoneInfo) -> None:
    """Walking 2026 hour by hour: each local day is due at exactly 09:00, 10:00 and 11:00
    local, never before 09:00, never for another day."""
    seen: dict[date, list[datetime]] = {}
    moment = utc(2026, 1, 1, 0, 0)
    while moment < utc(2027, 1, 1, 0, 0):
        due = checklist_due(tz, DEFAULTS, moment)
        if due is not None:
            seen.setdefault(due.day, []).append(moment)
            wall = local_time(moment, tz)
            assert wall.date() == due.day and 9 <= wall.hour < 12
        moment += timedelta(hours=1)
    days = [d for d in seen if d.year == 2026]
    assert len(days) == 365
    assert all(len(seen[d]) == 3 for d in days)


def test_nonexistent_and_ambiguous_local_times() -> None:
    # 02:30 does not exist in New York on 2026-03-08: it moves forward by the gap, to 03:30.
    gap = scheduled_at(date(2026, 3, 8), datetime.strptime("02:30", "%H:%M").time(), NEW_YORK)
    assert local_time(gap, NEW_YORK).strftime("%H:%M %Z") == "03:30 EDT"
    # 01:30 happens twice on 2026-11-01: the first (EDT) one counts.
    twice = scheduled_at(date(2026, 11, 1), datetime.strptime("01:30", "%H:%M").time(), NEW_YORK)
    assert twice == utc(2026, 11, 1, 5, 30)
    settings = {**DEFAULTS, "checklist_time": "02:30"}
    assert checklist_due(NEW_YORK, settings, utc(2026, 3, 8, 7, 29)) is None
    due = checklist_due(NEW_YORK, settings, utc(2026, 3, 8, 7, 30))
    assert due is not None and due.day == date(2026, 3, 8)


def test_workdays_only_skips_the_weekend() -> None:
    settings = {**DEFAULTS, "workdays_only": True}
    saturday, monday = utc(2026, 11, 14, 1, 0), utc(2026, 11, 16, 1, 0)
    assert checklist_due(SHANGHAI, settings, saturday) is None
    assert checklist_due(SHANGHAI, DEFAULTS, saturday) is not None
    due = checklist_due(SHANGHAI, settings, monday)
    assert due is not None and due.day == date(2026, 11, 16)
    assert next_checklist(SHANGHAI, settings, saturday) == monday


def test_catch_up_after_midnight_belongs_to_the_day_before() -> None:
    settings = {**DEFAULTS, "checklist_time": "23:00"}
    # 01:00 on Saturday 2026-11-14 in Shanghai: Friday's 23:00 checklist, two hours late.
    due = checklist_due(SHANGHAI, settings, utc(2026, 11, 13, 17, 0))
    assert due is not None and due.day == date(2026, 11, 13) and due.catch_up
    # Sunday 01:00: Saturday's is late too, but not a workday.
    assert checklist_due(SHANGHAI, {**settings, "workdays_only": True},
                         utc(2026, 11, 14, 17, 0)) is None


def test_an_aware_moment_in_any_zone_is_the_same_moment() -> None:
    settings = {**DEFAULTS, "checklist_time": "23:00"}
    # 00:30 on 2026-11-18 in Shanghai, given as a Shanghai time: the 17th's 23:00 checklist.
    aware = datetime(2026, 11, 18, 0, 30, tzinfo=SHANGHAI)
    due = checklist_due(SHANGHAI, settings, aware)
    assert due == checklist_due(SHANGHAI, settings, utc(2026, 11, 17, 16, 30))
    assert due is not None and due.day == date(2026, 11, 17)
    assert due.scheduled_at == utc(2026, 11, 17, 15, 0)
    assert next_checklist(NEW_YORK, DEFAULTS, aware) == utc(2026, 11, 18, 14, 0)  # 11:30 in NY


def test_grace_period_is_a_setting() -> None:
    at_noon_thirty = utc(2026, 11, 17, 4, 30)  # 12:30 in Shanghai
    assert checklist_due(SHANGHAI, DEFAULTS, at_noon_thirty) is None
    assert checklist_due(SHANGHAI, {**DEFAULTS, "catch_up_hours": 4}, at_noon_thirty) is not None
    assert checklist_due(SHANGHAI, {**DEFAULTS, "catch_up_hours": 0.5},
                         utc(2026, 11, 17, 1, 31)) is None


@pytest.mark.parametrize(("settings", "message"), [
    ({"checklist_time": "9am"}, "checklist_time must look like 09:00"),
    ({"checklist_time": "25:00"}, "checklist_time must look like 09:00"),
    ({"catch_up_hours": "soon"}, "catch_up_hours must be a number"),
    ({"catch_up_hours": 30}, "catch_up_hours must be between 0 and 23"),
])
def test_bad_settings_say_how_to_fix_them(settings: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        checklist_due(SHANGHAI, {**DEFAULTS, **settings}, utc(2026, 11, 17, 1, 0))


def test_no_catch_up_still_posts_at_the_tick_that_reaches_the_time() -> None:
    """catch_up_hours 0: the worker ticks some seconds past the minute (09:00:17), and that
    tick posts; a tick minutes later (after downtime) does not make it up."""
    settings = {**DEFAULTS, "catch_up_hours": 0}
    due = checklist_due(SHANGHAI, settings, datetime(2026, 11, 17, 1, 0, 17))  # 09:00:17
    assert due is not None and due.day == date(2026, 11, 17) and not due.catch_up
    assert due.late_by == timedelta(seconds=17)
    assert checklist_due(SHANGHAI, settings, utc(2026, 11, 17, 1, 1, 45)) is not None
    assert checklist_due(SHANGHAI, settings, utc(2026, 11, 17, 1, 2)) is None
    assert checklist_due(SHANGHAI, settings, utc(2026, 11, 17, 1, 30)) is None
