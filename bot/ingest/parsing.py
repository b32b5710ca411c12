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


# Whole columns of plain numbers, checked by one regex over the joined column and converted
# by float()/int() at C speed; anything else (1.2万, US$5, 1.0 as an int, a long fraction)
# is left to the scalar parsers above. Digit counts keep every match finite and in range.
def _whole_column(line: str) -> re.Pattern[str]:
    """A regex matching a column of `line`s joined by newlines."""
    return re.compile(rf"(?:(?:{line})\n)*(?:{line})", re.ASCII)


_PLAIN_COLUMNS = {
    Type.INT: (_whole_column(r"[+-]?\d{1,15}"), int),
    Type.NUMBER: (_whole_column(r"[+-]?\d{1,15}(?:\.\d{1,15})?"), float),
    # At most 4 decimals, so round(value, 4) would change nothing; under 10**14 (MAX_MONEY).
    Type.MONEY: (_whole_column(r"(?:[¥￥]?\d{1,3}(?:,\d{3}){0,3}|[+-]?\d{1,14})(?:\.\d{1,4})?"),
                 float),
}
PLAIN_TYPES = frozenset(_PLAIN_COLUMNS)


def parse_plain_column(raws: list[object], kind_type: Type) -> list[object] | None:
    """The values of a column whose every cell is a plain number (`1234`, `-5.5`,
    `¥1,234.50` for money), exactly as the type's scalar parser would give them; None when
    some cell is anything else, or the type has no fast path."""
    plain = _PLAIN_COLUMNS.get(kind_type)
    if plain is None or not raws:
        return None
    pattern, convert = plain
    try:
        text = "\n".join(raws)  # type: ignore[arg-type]
    except TypeError:  # numbers or dates from a spreadsheet
        return None
    if text.count("\n") != len(raws) - 1 or not pattern.fullmatch(text):
        return None
    if kind_type is Type.MONEY:
        text = text.replace(",", "").replace("¥", "").replace("￥", "")
    return list(map(convert, text.split("\n")))


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


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(
    r"^(?:T|\s)*(上午|下午|AM|PM)?\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(上午|下午|AM|PM)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$",
    re.I,
)
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?(?:\.\d+)?$")
_ENGLISH_DATE = "%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y"


def _epoch(value: float) -> datetime:
    seconds = value / 1000 if value >= 1e11 else value  # 13 digits: milliseconds
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _excel_serial(value: float) -> datetime:
    return _EXCEL_EPOCH + timedelta(days=value)


def _split_date(text: str) -> tuple[date, str]:
    m = _DATE.match(text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        try:
            return date(y, mo, d), text[m.end():]
        except ValueError:
            raise BadValue(f"no such date: {text!r}") from None
    m = _COMPACT_DATE.match(text)
    if m:
        try:
            return date(*(int(g) for g in m.groups())), ""
        except ValueError:
            raise BadValue(f"no such date: {text!r}") from None
    head, _, rest = text.partition(" ") if "," not in text else (text, "", "")
    for fmt in _ENGLISH_DATE:
        for candidate, tail in ((text, ""), (head, rest)):
            try:
                return datetime.strptime(candidate, fmt).date(), tail
            except ValueError:
                continue
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
    def checked(raw: object, *args: object) -> _T:
        try:
            return parse(raw, *args)
        except BadValue:
            raise
        except (OverflowError, OSError, ValueError):
            raise BadValue(f"date out of range: {clean(raw)!r}") from None

    return checked


@_in_range
def parse_datetime(raw: object, tz: ZoneInfo) -> datetime | None:
    """A moment as naive UTC. Export times are the store's local time (`tz`) unless they
    carry an offset; epoch seconds and milliseconds are UTC by definition."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime.combine(raw, time(0))
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        if isinstance(raw, float) and math.isnan(raw):
            return None
        if raw >= 1e9:
            return _epoch(float(raw))
        if 20_000 <= raw < 80_000:  # an Excel date serial that lost its date format
            moment = _excel_serial(float(raw))
        else:
            raise BadValue(f"expected a date and time, got {raw!r}")
    else:
        text = clean(raw)
        if text.lower() in MISSING or text in HIDDEN:
            return None
        if _EPOCH.match(text):
            return _epoch(float(text))
        day, rest = _split_date(text)
        clock, zone = _time_of_day(rest)
        moment = datetime.combine(day, clock)
        if zone:
            return (moment - _zone_offset(zone)).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


@_in_range
def parse_date(raw: object, tz: ZoneInfo | None = None) -> date | None:
    """A calendar date. Epoch values are turned into the store's local date."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if isinstance(raw, float) and math.isnan(raw):
            return None
        if 19_000_101 <= raw <= 21_001_231 and float(raw).is_integer():
            return _split_date(str(int(raw)))[0]  # 20261103 typed as a number
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
    day, rest = _split_date(text)
    _time_of_day(rest)  # a trailing time is allowed, garbage is not
    return day


def parser_for(kind_type: Type, tz: ZoneInfo) -> Callable[[object], object]:
    """The scalar parser of a column type (rates get their unit decided by the caller)."""
    return {
        Type.TEXT: parse_text,
        Type.INT: parse_int,
        Type.NUMBER: parse_number,
        Type.RATE: parse_rate,
        Type.MONEY: parse_money,
        Type.BOOL: parse_bool,
        Type.DATE: lambda raw: parse_date(raw, tz),
        Type.DATETIME: lambda raw: parse_datetime(raw, tz),
    }[kind_type]
