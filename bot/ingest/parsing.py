"""Cell values as the back office exports them -> Python values.

Every parser takes one raw cell (a string from CSV, or whatever the spreadsheet reader gives:
str, int, float, datetime, date, bool, None) and returns the value, None for "missing"
(`-`, `--`, empty), or raises `BadValue` with a reason a person can act on.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.ingest.kinds import Type

_T = TypeVar("_T")


class BadValue(ValueError):
    """A cell that cannot be read as its column's type."""


MISSING = frozenset({"", "-", "--", "—", "——", "–", "n/a", "na", "null", "none", "nan", "/"})
# Text fields where the buyer hid a value carry -1.
HIDDEN = frozenset({"-1"})

_EXCEL_EPOCH = datetime(1899, 12, 30)
# What the columns can hold: BIGINT, and NUMERIC(18, 4) for money. Beyond is a bad value.
MAX_INT = 2**63
MAX_MONEY = 10**14


def clean(raw: object) -> str:
    """Trimmed, NFKC-normalized text of a cell (full-width digits become ASCII)."""
    if raw is None:
        return ""
    if isinstance(raw, float) and math.isnan(raw):
        return ""
    return unicodedata.normalize("NFKC", str(raw)).strip()


def fold(value: str | None) -> str:
    """Text as matching keys compare it: runs of white space made one space, trimmed, case
    folded; "" for None."""
    return " ".join((value or "").split()).casefold()


def parse_text(raw: object) -> str | None:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # an ID typed as a number in Excel: 1600123456.0 -> "1600123456"
    text = clean(raw)
    if text.lower() in MISSING or text in HIDDEN:
        return None
    return text


_MONEY_MARKS = re.compile(r"^(?:US\s*\$|USD|CNY|RMB|[$¥￥€])\s*|\s*(?:USD|CNY|RMB|元)$", re.I)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$", re.I)


_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
_PLAIN_MONEY = re.compile(r"[¥￥]?\d{1,3}(?:,\d{3})*(?:\.\d+)?", re.ASCII)


def _number(raw: object, *, money: bool = False) -> float | None:
    if isinstance(raw, bool):
        raise BadValue(f"expected a number, got {raw!r}")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and math.isnan(raw):
            return None
        if not math.isfinite(raw):
            raise BadValue(f"expected a number, got {raw!r}")
        return float(raw)
    if type(raw) is str and (_PLAIN_NUMBER.fullmatch(raw)
                             or (money and _PLAIN_MONEY.fullmatch(raw))):
        # The common case (`1234`, `¥1,234.50`), without the general path's cleaning.
        value = float(raw.lstrip("¥￥").replace(",", ""))
        if math.isfinite(value):
            return value
    text = clean(raw)
    if text.lower() in MISSING:
        return None
    body = text
    if money:  # the sign may come before the currency: -¥3.00
        sign = body[0] if body[0] in "+-" else ""
        body = sign + _MONEY_MARKS.sub("", body[len(sign):].strip()).strip()
    body = body.replace(",", "").replace(" ", "")
    scale = 1.0
    if body.endswith("万"):  # Chinese exports abbreviate ten-thousands: 1.2万 = 12000
        body, scale = body[:-1], 10_000.0
    if not _NUMBER.match(body) or not math.isfinite(value := float(body) * scale):
        raise BadValue(f"expected a number, got {text!r}")
    return value


def parse_number(raw: object) -> float | None:
    return _number(raw)


def parse_money(raw: object) -> float | None:
    value = _number(raw, money=True)
    if value is not None and abs(value) >= MAX_MONEY:
        raise BadValue(f"amount too large: {clean(raw)!r}")
    return None if value is None else round(value, 4)


def parse_int(raw: object) -> int | None:
    value = _number(raw)
    if value is None:
        return None
    if not value.is_integer():
        raise BadValue(f"expected a whole number, got {clean(raw)!r}")
    if abs(value) >= MAX_INT:
        raise BadValue(f"number too large: {clean(raw)!r}")
    return int(value)


def parse_rate(raw: object, percent_units: bool = False) -> float | None:
    """A rate as a fraction. `3.25%` is 0.0325; a bare number is a percentage only when the
    column is in percent units (decided over the whole column from its `bare_rates`)."""
    text = clean(raw)
    if text.endswith("%"):
        value = _number(text[:-1])
        return None if value is None else round(value / 100, 8)
    value = _number(raw)
    if value is None:
        return None
    return round(value / 100, 8) if percent_units else value


def bare_rates(values: Iterable[object]) -> bool | None:
    """What the bare numbers (no % sign) of a rate column say about its units: True when one
    exceeds 1 (percent units: a CTR of 3.25 means 3.25%), False when all are within ±1
    (already fractions), None when there are none (every rate carries its % sign, and the
    unit decision does not matter)."""
    seen = None
    for raw in values:
        if isinstance(raw, str) and raw.endswith("%"):
            continue  # the common case, decided without cleaning
        text = clean(raw)
        if not text or text.endswith("%") or text.lower() in MISSING:
            continue
        try:
            value = _number(raw)
        except BadValue:
            continue
        if value is not None:
            if abs(value) > 1:
                return True
            seen = False
    return seen


_TRUE = frozenset({"y", "yes", "true", "是", "1", "√", "✓", "t", "有"})
_FALSE = frozenset({"n", "no", "false", "否", "0", "×", "f", "无"})


def parse_bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    text = clean(raw).lower()
    if text in _TRUE:
        return True
    if text in _FALSE or text in MISSING:
        return None if text in MISSING else False
    try:
        number = _number(text)
    except BadValue:
        raise BadValue(f"expected Y/N, got {clean(raw)!r}") from None
    # A count column (e.g. spam inquiries: 2) reads as "yes" when positive.
    return bool(number and number > 0)


# ---- dates and moments -------------------------------------------------------------------
# A numeric date with the year last (11/10/2026) is month first in US exports and day first in
# most others, and one value alone seldom tells which. The order is decided once per file from
# the values that do tell (a field above 12 is the day; bot/ingest/drop.py), and a value is
# read alone only when it tells its own order: a misread date is worse than a rejected one.
MONTH_FIRST = "month first"
DAY_FIRST = "day first"


class AmbiguousDate(BadValue):
    """A numeric date such as 11/10/2026 read without knowing its order."""


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4})(?!\d)")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?!\d)")
# English month names, from a table rather than strptime's %b, which follows the process locale.
_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), start=1) for name in names}
_MONTH_DAY_YEAR = re.compile(r"^([a-z]{3,9})\.?\s*(\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(\d{4})(?!\d)",
                             re.I)  # Nov 10, 2026
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:\s*|-)([a-z]{3,9})\.?(?:\s*|-)(\d{4}|\d{2})(?![\d:])",
                             re.I)  # 10 Nov 2026, 10-Nov-2026, 10-Nov-26 (Excel's d-mmm-yy)
_TIME = re.compile(
    r"^(?:T|\s)*(上午|下午|AM|PM)?\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(上午|下午|AM|PM)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$",
    re.I,
)
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?(?:\.\d+)?$")


def date_order(first: int, second: int) -> str | None:
    """What the two leading fields of a numeric date say of its order: the one above 12 is
    the day. None when both could be a month (or neither: no such date either way)."""
    if first > 12 >= second:
        return DAY_FIRST
    if second > 12 >= first:
        return MONTH_FIRST
    return None


def numeric_date_fields(raw: object) -> tuple[int, int] | None:
    """The two leading fields of a numeric date with the year last (`11/10/2026`, `10.11.2026
    14:05`), None for any other form."""
    if not isinstance(raw, str):
        return None
    m = _NUMERIC_DATE.match(clean(raw))
    return (int(m[1]), int(m[3])) if m else None


def _epoch(value: float) -> datetime:
    seconds = value / 1000 if value >= 1e11 else value  # 13 digits: milliseconds
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def to_second(moment: datetime) -> datetime:
    """A spreadsheet's time rounded to the second. Spreadsheets keep times as binary fractions
    of a day, so 01:30:00 can come back as 01:29:59.997; exports never mean fractions."""
    if not moment.microsecond:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=moment.microsecond >= 500_000)


def _excel_serial(value: float) -> datetime:
    return to_second(_EXCEL_EPOCH + timedelta(days=value))


def _day(year: int, month: int, day: int, text: str, how: str = "") -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise BadValue(f"no such date: {text!r}{how}") from None


def _split_date(text: str, order: str | None = None) -> tuple[date, str]:
    """The date a text starts with, and the rest (a time, maybe). `order` is the file's order
    of numeric dates (MONTH_FIRST or DAY_FIRST), None when it is not known."""
    if m := _DATE.match(text):
        return _day(*(int(g) for g in m.groups()), text), text[m.end():]
    if m := _NUMERIC_DATE.match(text):
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        said = date_order(first, second)
        if order is None and said is None:
            raise AmbiguousDate(f"{text!r} can be read month first or day first")
        order = order or said
        month, day = (first, second) if order == MONTH_FIRST else (second, first)
        return _day(year, month, day, text, f" read {order}"), text[m.end():]
    if m := _COMPACT_DATE.match(text):
        return _day(*(int(g) for g in m.groups()), text), text[m.end():]
    if (m := _MONTH_DAY_YEAR.match(text)) and (month := _MONTHS.get(m[1].lower())):
        return _day(int(m[3]), month, int(m[2]), text), text[m.end():]
    if (m := _DAY_MONTH_YEAR.match(text)) and (month := _MONTHS.get(m[2].lower())):
        year = int(m[3])
        if len(m[3]) == 2:  # as Excel reads two-digit years: 00-29 are 2000s, 30-99 1900s
            year += 2000 if year < 30 else 1900
        return _day(year, month, int(m[1]), text), text[m.end():]
    raise BadValue(f"expected a date like 2026-11-03, got {text!r}")


def _time_of_day(rest: str) -> tuple[time, str | None]:
    rest = rest.strip()
    if not rest:
        return time(0, 0), None
    m = _TIME.match(rest)
    if not m:
        raise BadValue(f"expected a time like 14:05, got {rest!r}")
    before, hh, mm, ss, frac, after, zone = m.groups()
    hour, minute, second = int(hh), int(mm), int(ss or 0)
    meridiem = (before or after or "").upper()
    if meridiem in ("下午", "PM") and hour < 12:
        hour += 12
    elif meridiem in ("上午", "AM") and hour == 12:
        hour = 0
    micro = int((frac or "0").ljust(6, "0"))
    try:
        return time(hour, minute, second, micro), zone
    except ValueError:
        raise BadValue(f"no such time: {rest!r}") from None


def _zone_offset(zone: str) -> timedelta:
    if zone.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _in_range(parse: Callable[..., _T]) -> Callable[..., _T]:
    """Out-of-range moments (year 0 in UTC, epoch 10**20) are bad values, not crashes."""

    @functools.wraps(parse)
    def checked(raw: object, *args: object, **kwargs: object) -> _T:
        try:
            return parse(raw, *args, **kwargs)
        except BadValue:
            raise
        except (OverflowError, OSError, ValueError):
            raise BadValue(f"date out of range: {clean(raw)!r}") from None

    return checked


def _compact_number(raw: float) -> bool:
    """20261103 typed as a number."""
    return 19_000_101 <= raw <= 21_001_231 and float(raw).is_integer()


@_in_range
def parse_datetime(raw: object, tz: ZoneInfo, order: str | None = None) -> datetime | None:
    """A moment as naive UTC. Export times are the store's local time (`tz`) unless they
    carry an offset; epoch seconds and milliseconds are UTC by definition. `order`: the
    file's order of numeric dates, if known."""
    if isinstance(raw, datetime):
        moment = to_second(raw)  # only spreadsheets give datetimes
    elif isinstance(raw, date):
        moment = datetime.combine(raw, time(0))
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        if isinstance(raw, float) and math.isnan(raw):
            return None
        if raw >= 1e9:
            return _epoch(float(raw))
        if 20_000 <= raw < 80_000:  # an Excel date serial that lost its date format
            moment = _excel_serial(float(raw))
        elif _compact_number(raw):
            moment = datetime.combine(_split_date(str(int(raw)))[0], time(0))
        else:
            raise BadValue(f"expected a date and time, got {raw!r}")
    else:
        text = clean(raw)
        if text.lower() in MISSING or text in HIDDEN:
            return None
        if _EPOCH.match(text):
            return _epoch(float(text))
        day, rest = _split_date(text, order)
        clock, zone = _time_of_day(rest)
        moment = datetime.combine(day, clock)
        if zone:
            return (moment - _zone_offset(zone)).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


@_in_range
def parse_date(raw: object, tz: ZoneInfo | None = None, order: str | None = None
               ) -> date | None:
    """A calendar date. Epoch values are turned into the store's local date. `order`: the
    file's order of numeric dates, if known."""
    if isinstance(raw, datetime):
        return to_second(raw).date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if isinstance(raw, float) and math.isnan(raw):
            return None
        if _compact_number(raw):
            return _split_date(str(int(raw)))[0]
        if raw >= 1e9:
            moment = _epoch(float(raw)).replace(tzinfo=UTC)
            return moment.astimezone(tz or UTC).date()
        if 20_000 <= raw < 80_000:
            return _excel_serial(float(raw)).date()
        raise BadValue(f"expected a date, got {raw!r}")
    text = clean(raw)
    if text.lower() in MISSING:
        return None
    if _EPOCH.match(text):
        return parse_date(float(text), tz)
    day, rest = _split_date(text, order)
    _time_of_day(rest)  # a trailing time is allowed, garbage is not
    return day


def parser_for(kind_type: Type, tz: ZoneInfo, order: str | None = None
               ) -> Callable[[object], object]:
    """The scalar parser of a column type (rates get their unit decided by the caller; dates
    their order of numeric dates)."""
    return {
        Type.TEXT: parse_text,
        Type.INT: parse_int,
        Type.NUMBER: parse_number,
        Type.RATE: parse_rate,
        Type.MONEY: parse_money,
        Type.BOOL: parse_bool,
        Type.DATE: lambda raw: parse_date(raw, tz, order),
        Type.DATETIME: lambda raw: parse_datetime(raw, tz, order),
    }[kind_type]
