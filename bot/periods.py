"""Periods as operators say them ("yesterday", "last week", "7d", "2026-11-01~2026-11-07")
turned into inclusive ranges of the store's local days, and back into naive-UTC moments.

The grammar (case-insensitive; full-width forms are read as ASCII by the command layer; no
words means `today`, or the caller's default):

| words                                   | days                                              |
| --------------------------------------- | ------------------------------------------------- |
| `today` / `yesterday` (今天 / 昨天)      | that one local day                                |
| `week`, `this week` (本周)               | Monday to today: the calendar week so far         |
| `last week` (上周)                       | the previous calendar week, Monday to Sunday, so  |
|                                         | it never overlaps `this week`                     |
| `month`, `this month` (本月)             | the month to date                                 |
| `last month` (上月)                      | the previous calendar month                       |
| `7d`, `last 14d`, `last 30 days` (近7天) | N days ending today                               |
| `2026-11-03`, `2026/11/03`              | that day                                          |
| `2026-11-01~2026-11-07` (the back       | those days; a range running past today ends today |
| office's form), `2026-11-01..2026-11-07` |                                                   |

The previous period (`Period.previous`) is the same number of days right before, except for
`this week`, which is compared with the same weekdays of the week before (Monday to Wednesday
with Monday to Wednesday, not with Friday to Sunday); `last week` is thus compared with the
calendar week before it.

Errors are `PeriodError` carrying a `Text` (templates.i18n): data that a message words in the
store's language, with a suggestion for a near miss (`yesterady` -> `yesterday`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from templates.i18n import Text


def utcnow() -> datetime:
    """The clock: now as naive UTC, the form every stored moment takes."""
    return datetime.now(UTC).replace(tzinfo=None)

MAX_DAYS = 3660  # ten years: anything longer is a typo, and would scan a whole store

# Chinese operators type the same words in Chinese; aliases map onto the English grammar.
ALIASES: dict[str, str] = {
    "今天": "today", "今日": "today", "昨天": "yesterday", "昨日": "yesterday",
    "本周": "week", "这周": "week", "this week": "week", "上周": "last week",
    "本月": "month", "这个月": "month", "this month": "month", "上月": "last month",
    "上个月": "last month",
}
WORDS = ("today", "yesterday", "week", "last week", "month", "last month")  # the base words
# Everything a near miss may be close to, for "did you mean …?".
KNOWN = (*WORDS, *ALIASES)

_DAYS = re.compile(r"^(?:last\s+|近|最近)?(\d+)\s*(?:d|day|days|天)$")
_DATE = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}$")
_RANGE = re.compile(r"\s*(?:\.\.|~|～|至)\s*")


class PeriodError(ValueError):
    """A period the user typed that cannot be answered; `text` says why, in a few words."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


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
        """The period this one is compared with: the same number of days right before, or
        for `this week` (Monday to today) the same weekdays a week earlier."""
        if self.name == "week":
            week = timedelta(days=7)
            return Period(self.start - week, self.end - week, "previous")
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
    """`2026-11-03` or `2026/11/3` (the back office writes both)."""
    if _DATE.match(text):
        try:
            return date(*(int(part) for part in re.split(r"[-/]", text)))
        except ValueError:
            pass
    raise PeriodError(Text("`%(text)s` is not a date: use YYYY-MM-DD", text=text))


def parse_period(text: str, today: date, default: str = "today") -> Period:
    """The period `text` means on the local date `today` (`default` when it is empty);
    PeriodError when it means none."""
    words = " ".join(text.lower().split()) or default
    words = ALIASES.get(words, words)
    period = _period(words, today)
    if period.start > today:
        raise PeriodError(Text("%(start)s is in the future (today is %(today)s)",
                               start=period.start.isoformat(), today=today.isoformat()))
    if period.end > today:  # no data can exist after today; compare like with like
        period = Period(period.start, today, period.name)
    if period.days > MAX_DAYS:
        raise PeriodError(Text("a period is at most %(days)s days", days=MAX_DAYS))
    return period


def _period(words: str, today: date) -> Period:
    if words == "today":
        return Period(today, today, "today")
    if words == "yesterday":
        day = today - timedelta(days=1)
        return Period(day, day, "yesterday")
    if words == "week":
        return Period(today - timedelta(days=today.weekday()), today, "week")
    if words == "last week":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6), "last_week")
    if words == "month":
        return Period(today.replace(day=1), today, "month")
    if words == "last month":
        end = today.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end, "last_month")
    if match := _DAYS.match(words):
        count = int(match.group(1))
        if not 1 <= count <= MAX_DAYS:
            raise PeriodError(Text("`%(words)s`: the number of days must be 1 to %(max)s",
                                   words=words, max=MAX_DAYS))
        return Period(today - timedelta(days=count - 1), today, "days")
    first, *rest = _RANGE.split(words.strip(), maxsplit=1)
    if rest:
        start, end = parse_date(first), parse_date(rest[0])
        if end < start:
            raise PeriodError(Text("`%(words)s` ends before it starts: write the earlier date "
                                   "first", words=words))
        return Period(start, end, "range")
    if words[:1].isdigit():
        day = parse_date(words)
        return Period(day, day, "date")
    raise unknown_period(words)


def unknown_period(words: str) -> PeriodError:
    """The error for words that are no period, naming the nearest period word if one is near
    (a typo such as `yesterady`)."""
    close = difflib.get_close_matches(words, KNOWN, n=1, cutoff=0.7)
    if close:
        return PeriodError(Text("unknown period `%(words)s`: did you mean `%(suggestion)s`?",
                                words=words, suggestion=close[0]))
    return PeriodError(Text("unknown period `%(words)s`", words=words))


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
