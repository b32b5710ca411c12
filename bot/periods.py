"""Periods as operators say them ("yesterday", "last week", "last 14d", "2026-11-01..2026-11-07")
turned into inclusive ranges of the store's local days, and back into naive-UTC moments.

The grammar (case-insensitive; no words means `today`):

| words                      | days                                                        |
| -------------------------- | ----------------------------------------------------------- |
| `today` / `yesterday`      | that one local day                                          |
| `week`                     | the last 7 days, today included                             |
| `last week`                | the previous calendar week, Monday to Sunday: the weekly    |
|                            | review looks back at a whole week, not a rolling window     |
| `month`                    | the month to date                                           |
| `last month`               | the previous calendar month                                 |
| `last Nd` (`last N days`)  | N days ending today                                         |
| `2026-11-03`               | that day                                                    |
| `2026-11-01..2026-11-07`   | those days; a range running past today ends today           |

The previous period is always the same number of days right before (`Period.previous`);
`last week` is thus compared with the calendar week before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # ten years: anything longer is a typo, and would scan a whole store

# Chinese operators type the same words in Chinese; aliases map onto the English grammar.
ALIASES: dict[str, str] = {
    "今天": "today", "今日": "today", "昨天": "yesterday", "昨日": "yesterday",
    "本周": "week", "近7天": "week", "上周": "last week", "本月": "month", "上月": "last month",
    "this week": "week", "this month": "month",
}

_LAST_DAYS = re.compile(r"^last\s+(\d+)\s*(?:d|day|days)$")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


class PeriodError(ValueError):
    """A period the user typed that cannot be answered; the message is short and says why."""


@dataclass(frozen=True)
class Period:
    start: date  # first local day
    end: date  # last local day, inclusive
    name: str  # today|yesterday|week|last_week|month|last_month|days|date|range|previous

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        """The period of the same length right before this one."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end, "previous")

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Naive-UTC [start, end) covering the local days, for comparing with stored moments."""
        return local_midnight(self.start, tz), local_midnight(self.end + timedelta(days=1), tz)

    @property
    def label(self) -> str:
        if self.name in ("today", "yesterday", "week", "month"):
            return self.name
        if self.name in ("last_week", "last_month"):
            return self.name.replace("_", " ")
        if self.name == "days":
            return f"last {self.days}d"
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The naive-UTC moment a local day begins."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def as_utc(moment: datetime) -> datetime:
    """Naive UTC from an aware datetime or one that already is naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
    """The store's (aware) local time at `moment` (aware, or naive UTC)."""
    return as_utc(moment).replace(tzinfo=UTC).astimezone(tz)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The store's local date at `now` (aware, or naive UTC)."""
    return local_time(now, tz).date()


def utc_stamp(moment: datetime) -> str:
    """A naive-UTC moment as data shows it: ISO 8601 to the second, with `Z`."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def parse_date(text: str) -> date:
    if not _DATE.match(text):
        raise PeriodError(f"`{text}` is not a date: use YYYY-MM-DD")
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        raise PeriodError(f"`{text}` is not a date: use YYYY-MM-DD") from None


def parse_period(text: str, today: date) -> Period:
    """The period `text` means on the local date `today`; PeriodError when it means none."""
    words = " ".join(text.lower().split())
    words = ALIASES.get(words, words)
    period = _period(words, today)
    if period.start > today:
        raise PeriodError(f"{period.start.isoformat()} is in the future (today is "
                          f"{today.isoformat()})")
    if period.end > today:  # no data can exist after today; compare like with like
        period = Period(period.start, today, period.name)
    if period.days > MAX_DAYS:
        raise PeriodError(f"a period is at most {MAX_DAYS} days")
    return period


def _period(words: str, today: date) -> Period:
    if words in ("", "today"):
        return Period(today, today, "today")
    if words == "yesterday":
        day = today - timedelta(days=1)
        return Period(day, day, "yesterday")
    if words == "week":
        return Period(today - timedelta(days=6), today, "week")
    if words == "last week":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6), "last_week")
    if words == "month":
        return Period(today.replace(day=1), today, "month")
    if words == "last month":
        end = today.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end, "last_month")
    if match := _LAST_DAYS.match(words):
        count = int(match.group(1))
        if not 1 <= count <= MAX_DAYS:
            raise PeriodError(f"`{words}`: the number of days must be 1 to {MAX_DAYS}")
        return Period(today - timedelta(days=count - 1), today, "days")
    if ".." in words:
        first, _, last = words.partition("..")
        start, end = parse_date(first.strip()), parse_date(last.strip())
        if end < start:
            raise PeriodError(f"`{words}` ends before it starts: write the earlier date first")
        return Period(start, end, "range")
    if _DATE.match(words):
        day = parse_date(words)
        return Period(day, day, "date")
    if words[:1].isdigit():
        raise PeriodError(f"`{words}` is not a date: use YYYY-MM-DD")
    raise PeriodError(f"unknown period `{words}`")


def age_parts(delta: timedelta) -> dict[str, int]:
    """An age as whole {"days", "hours", "minutes"} (never negative), for a message to word."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return {"days": days, "hours": hours, "minutes": minutes}


def format_age(delta: timedelta) -> str:
    """A compact age an operator reads at a glance: 45m, 5h 10m, 3d 4h (its largest unit
    and the next, as the checklist words age_parts)."""
    age = age_parts(delta)
    if age["days"]:
        return f"{age['days']}d {age['hours']}h"
    if age["hours"]:
        return f"{age['hours']}h {age['minutes']}m"
    return f"{age['minutes']}m"
