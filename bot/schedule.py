"""When a checklist is due: pure decisions on a store's clock, no I/O.

A store's checklist is due at `checklist_time` (default 09:00) on the local days its kind
posts on (bot/checklists/registry.py: the daily one every day or Monday to Friday only,
`workdays_only`; a weekly one on its weekday; a monthly one on its day of the month). The
worker asks every minute; a run missed because the worker was down is made up when it comes
back within `catch_up_hours` (default 3) of the scheduled moment, and not later: a 09:00
checklist first posted at 15:00 would arrive next to the afternoon's work, not before it.
The grace is never shorter than TICK_GRACE (two minutes, twice the worker's one-minute
tick): the worker ticks some seconds past the minute, so `catch_up_hours` 0 means "no catch-
up beyond the tick that reaches the checklist time", not "never". The decision is only an
optimisation: the checklists table's unique key (store, kind, day) is what keeps a day from
being posted twice.

DST: the scheduled moment is a wall-clock time in the store's zone, so a 09:00 checklist stays
at 09:00 local across a change (its UTC moment moves by an hour). Wall-clock times that do not
exist on a change day (02:30 in New York on the spring-forward Sunday) are moved forward by the
length of the gap (03:30 local, the moment the clock would have shown 02:30 without the
change); times that occur twice (01:30 on the fall-back Sunday) mean the first occurrence
(fold=0). Either way a day has exactly one scheduled moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.periods import as_utc, local_today

DEFAULT_TIME = "09:00"
DEFAULT_CATCH_UP_HOURS = 3.0
MAX_CATCH_UP_HOURS = 23.0  # a longer grace would let two days be due at once
# The shortest grace: the worker ticks every minute, at some seconds past it (and APScheduler
# may start a tick up to 30 s late), so one tick always lands in [moment, moment + 2 min).
TICK_GRACE = timedelta(minutes=2)


class ScheduleError(ValueError):
    """A store's schedule setting cannot be understood; the message says how to fix it."""


@dataclass(frozen=True)
class Due:
    day: date  # the store's local day the checklist is for
    scheduled_at: datetime  # naive UTC
    late_by: timedelta  # how long after the scheduled moment `now` is (a catch-up if large)

    @property
    def catch_up(self) -> bool:
        return self.late_by >= TICK_GRACE


def parse_time(text: Any) -> time:
    """"09:00" or "9:30" -> time; anything else is a ScheduleError naming the setting."""
    try:
        hours, minutes = str(text).strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ScheduleError(
            f"checklist_time must look like 09:00 (24-hour HH:MM), got {text!r}"
        ) from None


def catch_up_window(value: Any) -> timedelta:
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ScheduleError(f"catch_up_hours must be a number of hours, got {value!r}") from None
    if not 0 <= hours <= MAX_CATCH_UP_HOURS:
        raise ScheduleError(f"catch_up_hours must be between 0 and {MAX_CATCH_UP_HOURS:g}")
    return timedelta(hours=hours)


def scheduled_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The naive-UTC moment of local wall-clock `at` on `day` (see the module doc for DST)."""
    # zoneinfo resolves a nonexistent time with the offset before the gap, which is exactly
    # "moved forward by the gap"; fold=0 picks the first of two ambiguous times.
    return as_utc(datetime.combine(day, at, tzinfo=tz))


def is_workday(day: date) -> bool:
    return day.weekday() < 5


PostsOn = Callable[[date, Mapping[str, Any]], bool]


def daily_posts_on(day: date, settings: Mapping[str, Any]) -> bool:
    """The daily checklist's days: every day, or workdays only (`workdays_only`)."""
    return is_workday(day) or not settings.get("workdays_only", False)


def checklist_due(tz: ZoneInfo, settings: Mapping[str, Any], now: datetime,
                  posts_on: PostsOn = daily_posts_on) -> Due | None:
    """The checklist due at `now` (aware, or naive UTC) for a store in `tz`, or None.

    `settings` holds checklist_time and catch_up_hours (missing keys take the defaults);
    `posts_on` says which local days the kind posts on (the settings it reads too). Due
    means: the scheduled moment of the local day has passed, by less than the catch-up grace
    (at least TICK_GRACE, so catch_up_hours 0 still lets the tick at 09:00:17 post a 09:00
    checklist).
    """
    at = parse_time(settings.get("checklist_time") or DEFAULT_TIME)
    grace = max(catch_up_window(settings.get("catch_up_hours", DEFAULT_CATCH_UP_HOURS)),
                TICK_GRACE)
    now = as_utc(now)
    today = local_today(now, tz)
    # Yesterday too: a 23:00 checklist caught up at 01:00 belongs to the day before.
    for day in (today, today - timedelta(days=1)):
        if not posts_on(day, settings):
            continue
        moment = scheduled_at(day, at, tz)
        if moment <= now < moment + grace:
            return Due(day, moment, now - moment)
    return None


def next_checklist(tz: ZoneInfo, settings: Mapping[str, Any], now: datetime,
                   posts_on: PostsOn = daily_posts_on) -> datetime:
    """The next scheduled moment (naive UTC) after `now` (aware, or naive UTC), for the
    worker's status line."""
    at = parse_time(settings.get("checklist_time") or DEFAULT_TIME)
    now = as_utc(now)
    day = local_today(now, tz)
    for offset in range(400):  # a monthly kind's next day is at most a year away
        candidate = day + timedelta(days=offset)
        if not posts_on(candidate, settings):
            continue
        moment = scheduled_at(candidate, at, tz)
        if moment > now:
            return moment
    raise AssertionError("a scheduled moment exists within a year")


# ---- quiet hours (alert delivery) -------------------------------------------------------------
#
# `quiet_hours` "21:00-08:00": wall-clock times in the store's zone, the end excluded; a start
# later than the end runs across midnight. Wall-clock times, as checklist_time: across a DST
# change the quiet hours stay 21:00-08:00 local (one hour more or less of them in UTC).


def parse_quiet_hours(text: Any) -> tuple[time, time]:
    """"21:00-08:00" -> (start, end); ScheduleError for anything else, or equal ends."""
    try:
        first, second = str(text).replace("–", "-").split("-")
        start, end = parse_time(first), parse_time(second)
    except (ValueError, ScheduleError):
        raise ScheduleError(f"quiet_hours must look like 21:00-08:00, got {text!r}") from None
    if start == end:
        raise ScheduleError(f"quiet_hours must start and end at different times, got {text!r}")
    return start, end


def quiet_until(tz: ZoneInfo, setting: Any, now: datetime) -> datetime | None:
    """The moment (naive UTC) the quiet hours `setting` end when `now` (aware, or naive UTC)
    is inside them, else None (also without quiet hours)."""
    if not setting:
        return None
    start, end = parse_quiet_hours(setting)
    now = as_utc(now)
    local = now.replace(tzinfo=UTC).astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:  # across midnight: the evening belongs to the night that ends tomorrow
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1 if clock >= start else 0)
    if not inside:
        return None
    moment = scheduled_at(end_day, end, tz)
    # the repeated hour of a fall-back night reads as inside on the wall clock, though the
    # first 08:00-like end (fold 0) is past: still quiet until the clock passes the end
    return max(moment, now)
