"""Whole columns of cells -> values, with vectorised operations (pandas and numpy).

A chunk of a report is converted column by column: missing markers, plain numbers (thousands
separators, `¥`, `%`) and the usual date and time layouts go through pandas and numpy at C
speed; what they leave (`1.2万`, full-width digits, `US $1.20`, `2026/11/3 下午2:05:00`, a bad
value) goes to the scalar parsers of bot/ingest/parsing.py, each distinct value once. The
scalar parsers are the definition: a fast path takes only forms that are checked (by one
regular expression over the whole column, or over each cell) to read the same through both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.ingest.kinds import Type
from bot.ingest.parsing import (
    DAY_FIRST,
    MAX_MONEY,
    MONTH_FIRST,
    BadValue,
    clean,
    date_order,
    numeric_date_fields,
    parse_rate,
    parser_for,
)

# The missing markers exports write most; the others (`N/A`, `—`, ` - `) reach the scalar
# parsers, which know them too.
_MISSING_CELLS = ("", "-", "--")


@dataclass
class Column:
    """A converted column: one value per cell (None where missing or bad) and the reasons of
    the bad ones."""

    values: list[object]
    errors: dict[int, str] = field(default_factory=dict)
    # The column has numeric dates (11/10/2026) and was read without knowing whether they
    # are month or day first: read it again once the file's order is decided.
    numeric: bool = False


def convert(cells: np.ndarray, kind_type: Type, tz: ZoneInfo, *, percent: bool = False,
            order: str | None = None) -> Column:
    """The values of a column of raw cells (an object array: str from CSV; str, float, int,
    bool, datetime from a spreadsheet). `percent`: bare rates are in percent units; `order`:
    the file's order of numeric dates (parsing.MONTH_FIRST or DAY_FIRST), if known."""
    codes, cells, text = _distinct(cells)
    out = np.full(len(cells), None, dtype=object)
    todo = np.flatnonzero(~_missing(cells, text))
    numeric = False
    if kind_type in _PLAIN:
        todo = _numbers(cells, todo, kind_type, percent, out)
    elif kind_type in (Type.DATE, Type.DATETIME):
        todo = _moments(cells, todo, kind_type is Type.DATE, tz, order, out)
        numeric = order is None and _has_numeric_dates(cells[todo])
    parse = parser_for(kind_type, tz, order)
    if percent:
        parse = _percent_rate
    errors = _scalar(cells, todo, parse, out)
    by_cell: dict[int, str] = {}
    if errors:
        bad = np.zeros(len(cells), bool)
        bad[list(errors)] = True
        by_cell = {int(i): errors[codes[i]] for i in np.flatnonzero(bad[codes])}
    return Column(out[codes].tolist(), by_cell, numeric)


_TRUE, _FALSE = object(), object()


def _distinct(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Each distinct cell once: hashing a column costs less than reading it, and days, plans,
    keywords, positions, prices and budgets repeat a lot. The cells' codes, the distinct
    cells, and whether all are text. A flag (True) is kept apart from the number it equals
    (1)."""
    keys = cells
    text = pd.api.types.infer_dtype(cells, skipna=False) == "string"
    if not text:
        flags = _instances(cells, bool)
        if flags.any():
            keys = cells.copy()
            keys[flags] = np.where(cells[flags].astype(bool), _TRUE, _FALSE)
    # Text holds no NaN or None: the quicker call, which codes them -1, is safe for it.
    codes, _ = pd.factorize(keys, use_na_sentinel=text)
    first = np.zeros(codes.max() + 1 if len(codes) else 0, np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # each code's first cell
    return codes, cells[first], text


def _percent_rate(raw: object) -> object:
    return parse_rate(raw, percent_units=True)


def _missing(cells: np.ndarray, text: bool = False) -> np.ndarray:
    """Which cells are missing (None, NaN, or a common marker); `text`: all cells are str."""
    missing = np.zeros(len(cells), bool) if text else pd.isna(cells)
    for marker in _MISSING_CELLS:
        missing |= cells == marker
    return missing


def _scalar(cells: np.ndarray, todo: np.ndarray, parse: Callable[[object], object],
            out: np.ndarray) -> dict[int, str]:
    """The cells a fast path left, through the scalar parser (each distinct one once), into
    `out`; the reasons of the bad ones."""
    errors: dict[int, str] = {}
    seen: dict[object, object] = {}
    for i, raw in zip(todo.tolist(), cells[todo].tolist(), strict=True):
        key = (raw,) if isinstance(raw, bool) else raw  # True is not 1
        value = seen[key] if key in seen else seen.setdefault(key, _parse_once(raw, parse))
        if isinstance(value, BadValue):
            errors[i] = str(value)
        else:
            out[i] = value
    return errors


def _parse_once(raw: object, parse: Callable[[object], object]) -> object:
    try:
        return parse(raw)
    except BadValue as exc:
        return exc.with_traceback(None)  # kept as a value: no frames, no reference cycle
    except (ValueError, OverflowError):
        return BadValue(f"cannot read {clean(raw)!r}")


def _strings(cells: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """Which of the `todo` cells are text (every one, from a CSV)."""
    if pd.api.types.infer_dtype(cells[todo], skipna=False) == "string":
        return np.ones(len(todo), bool)
    return _instances(cells[todo], str)


_isinstance = np.frompyfunc(isinstance, 2, 1)


def _instances(cells: np.ndarray, of: type) -> np.ndarray:
    """Which cells are instances of `of`, without a Python frame per cell."""
    return _isinstance(cells, of).astype(bool)


def _matching(texts: np.ndarray, column: re.Pattern[str], cell: re.Pattern[str],
              joined: str | None = None) -> np.ndarray:
    """Which texts match `cell` in full: one regular expression over the whole column (the
    texts `joined` by newlines) when all do, the common case; else one match per text."""
    joined = "\n".join(texts) if joined is None else joined
    if joined.count("\n") == len(texts) - 1 and column.fullmatch(joined):
        return np.ones(len(texts), bool)
    return pd.Series(texts, dtype=object).str.fullmatch(cell).to_numpy(dtype=bool)


def _patterns(cell: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """A cell's pattern, the pattern of a column of such cells joined by newlines, and one
    that finds such a cell on any line of the joined column."""
    return (re.compile(cell, re.ASCII),
            re.compile(rf"(?:(?:{cell})\n)*(?:{cell})", re.ASCII),
            re.compile(rf"^(?:{cell})$", re.ASCII | re.MULTILINE))


# ---- numbers ------------------------------------------------------------------------------
# Plain numbers: ASCII digits with thousands separators (anywhere, as the scalar parser takes
# them), at most 15 characters before the point so that every one is exact as a float; money
# also with a leading ¥/￥ (either side of the sign), at most 4 decimals and 14 characters
# (below 10**14, parsing.MAX_MONEY); rates with or without their % sign.
_PLAIN = {
    Type.INT: _patterns(r"[+-]?\d[\d,]{0,14}"),
    Type.NUMBER: _patterns(r"[+-]?\d[\d,]{0,14}(?:\.\d{1,15})?"),
    Type.MONEY: _patterns(r"(?:[+-]?[¥￥]?|[¥￥][+-])\d[\d,]{0,13}(?:\.\d{1,4})?"),
    Type.RATE: _patterns(r"[+-]?\d[\d,]{0,14}(?:\.\d{1,15})?%?"),
}
_EXACT = 2.0**53  # integers a float holds exactly


def _numbers(cells: np.ndarray, todo: np.ndarray, kind_type: Type, percent: bool,
             out: np.ndarray) -> np.ndarray:
    """Plain numbers into `out`; the cells left for the scalar parser."""
    strings = _strings(cells, todo)
    left = [todo[~strings]]
    if strings.any():
        at = todo[strings]
        texts = cells[at]
        joined = "\n".join(texts)
        plain = _matching(texts, _PLAIN[kind_type][1], _PLAIN[kind_type][0], joined)
        if plain.all():
            out[at] = _plain_values(texts, kind_type, percent, joined)
        elif plain.any():
            out[at[plain]] = _plain_values(texts[plain], kind_type, percent)
        left.append(at[~plain])
    if not strings.all():  # numbers from a spreadsheet
        left[0] = _spreadsheet_numbers(cells, left[0], kind_type, percent, out)
    return np.sort(np.concatenate(left))


def _plain_values(texts: np.ndarray, kind_type: Type, percent: bool,
                  joined: str | None = None) -> np.ndarray | list[object]:
    """The values of plain texts (`joined` by newlines, if at hand)."""
    joined = "\n".join(texts) if joined is None else joined
    if kind_type is Type.INT and "," not in joined:
        return texts.astype(np.int64)  # int() of each, at C speed
    joined = joined.replace(",", "")
    if kind_type is Type.MONEY:
        joined = joined.replace("¥", "").replace("￥", "")
    if kind_type is Type.INT:
        return list(map(int, joined.split("\n")))
    if kind_type is not Type.RATE:
        return list(map(float, joined.split("\n")))
    values = np.fromiter(map(float, joined.replace("%", "").split("\n")), float, len(texts))
    # A rate with its % sign is a percentage; a bare one when the column is in percent units.
    hundredths = np.ones(len(texts), bool) if percent else _signed(texts, joined)
    rates = values.astype(object)
    if hundredths.any():
        rates[hundredths] = list(map(round, (values[hundredths] / 100).tolist(), repeat(8)))
    return rates.tolist()


def _spreadsheet_numbers(cells: np.ndarray, at: np.ndarray, kind_type: Type, percent: bool,
                         out: np.ndarray) -> np.ndarray:
    """Spreadsheet cells that are numbers (not flags): finite ones in range into `out`; the
    rest left for the scalar parser, which says what is wrong with them."""
    if not len(at):
        return at
    raws = cells[at]
    numeric = (_instances(raws, int) | _instances(raws, float)) & ~_instances(raws, bool)
    values = np.full(len(at), np.nan)
    values[numeric] = raws[numeric].astype(float)
    limit = {Type.INT: _EXACT, Type.MONEY: MAX_MONEY}.get(kind_type, np.inf)
    with np.errstate(invalid="ignore"):
        ok = numeric & np.isfinite(values) & (np.abs(values) < limit)
        if kind_type is Type.INT:
            ok &= values == np.floor(values)
    if ok.any():
        good = values[ok]
        if kind_type is Type.INT:
            out[at[ok]] = good.astype(np.int64).astype(object)
        elif kind_type is Type.MONEY:
            out[at[ok]] = list(map(round, good.tolist(), repeat(4)))
        elif kind_type is Type.RATE and percent:
            out[at[ok]] = list(map(round, (good / 100).tolist(), repeat(8)))
        else:
            out[at[ok]] = good.astype(object)
    return at[~ok]


def bare_rate_units(cells: np.ndarray) -> bool | None:
    """What the bare numbers (no % sign) of a rate column say of its units: True when one
    exceeds 1 (percent units: a CTR of 3.25 means 3.25%), False when all are within ±1
    (fractions), None when there are none. As parsing.bare_rates, for a whole column."""
    todo = np.flatnonzero(~_missing(cells))
    if _strings(cells, todo).all() and _signed(cells[todo]).all():
        return None  # the common case: every rate with its % sign
    out = np.full(len(cells), None, dtype=object)
    left = _numbers(cells, todo, Type.RATE, False, out)
    plain = np.setdiff1d(todo, left, assume_unique=True)  # read by the fast path
    bare = plain[~_signed(cells[plain])]
    seen = None
    if len(bare):
        if np.any(np.abs(out[bare].astype(float)) > 1):
            return True
        seen = False
    for raw in dict.fromkeys(cells[left].tolist()):  # the odd ones: 1.2万, full-width digits
        try:
            value = parse_rate(raw)
        except BadValue:
            continue
        if value is None or _signed_rate(raw):
            continue
        if abs(value) > 1:
            return True
        seen = False
    return seen


def _signed(texts: np.ndarray, joined: str | None = None) -> np.ndarray:
    """Which texts end in a % sign (a text holds at most one, at its end, if plain)."""
    joined = "\n".join(map(str, texts)) if joined is None else joined
    signs = joined.count("%")
    if not signs:
        return np.zeros(len(texts), bool)
    if signs == len(texts) == joined.count("%\n") + joined.endswith("%"):
        return np.ones(len(texts), bool)
    return np.char.endswith(texts.astype(str), "%")


def _signed_rate(raw: object) -> bool:
    return isinstance(raw, str) and clean(raw).endswith("%")


# ---- dates and moments --------------------------------------------------------------------
# Layouts read by pandas.to_datetime, each checked first by a regular expression that admits
# what the scalar parser reads the same way (to_datetime alone would take 14:05:60 or 9:5).
_PIECES = {"%Y": r"(?:19|20|21)\d\d", "%m": r"(?:0?[1-9]|1[0-2])",
           "%d": r"(?:0?[1-9]|[12]\d|3[01])", "%H": r"(?:[01]?\d|2[0-3])",
           "%M": r"[0-5]\d", "%S": r"[0-5]\d",
           "%z": r"(?:Z|[+-]\d{2}:?\d{2})"}


def _layout(fmt: str) -> tuple[str, tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]]:
    cell = re.sub(r"%[a-zA-Z]|[^%]+", lambda m: _PIECES.get(m[0], re.escape(m[0])), fmt)
    return fmt, _patterns(cell)


def _layouts(days: tuple[str, ...]) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    return tuple(_layout(day + clock) for day in days
                 for clock in (" %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M", ""))


_LAYOUTS = {
    None: _layouts(("%Y-%m-%d", "%Y/%m/%d")),
    MONTH_FIRST: _layouts(("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y")),
    DAY_FIRST: _layouts(("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y")),
}
_ZONED = (_layout("%Y-%m-%dT%H:%M:%S%z"), _layout("%Y-%m-%dT%H:%M%z"))
_EPOCH = _patterns(r"\d{10}|\d{13}")


def _moments(cells: np.ndarray, todo: np.ndarray, dates: bool, tz: ZoneInfo,
             order: str | None, out: np.ndarray) -> np.ndarray:
    """Dates (`dates`) or moments (as naive UTC) in the usual layouts into `out`; the cells
    left for the scalar parser."""
    strings = _strings(cells, todo)
    if not strings.any():
        return todo
    at = todo[strings]
    texts = cells[at]
    read = np.zeros(len(texts), bool)
    values = np.empty(len(texts), dtype=object)
    for fmt, patterns in _LAYOUTS[order] + (() if dates else _ZONED):
        left = np.flatnonzero(~read)
        if not len(left):
            break
        fits = _matching(texts[left], patterns[1], patterns[0]) if patterns[2].search(
            "\n".join(texts[left])) else None
        if fits is None or not fits.any():
            continue
        chosen = left[fits]
        parsed = pd.to_datetime(pd.Series(texts[chosen], dtype=object), format=fmt,
                                errors="coerce", utc="%z" in fmt)
        if "%z" in fmt:
            moments = pd.DatetimeIndex(parsed).tz_localize(None)
        elif dates:
            moments = pd.DatetimeIndex(parsed)
        else:  # the store's local time; what falls in a DST gap or overlap goes the slow way
            moments = (pd.DatetimeIndex(parsed).tz_localize(tz, ambiguous="NaT",
                                                            nonexistent="NaT")
                       .tz_convert("UTC").tz_localize(None))
        ok = ~np.asarray(moments.isna())
        values[chosen[ok]] = moments[ok].date if dates else moments[ok].to_pydatetime()
        read[chosen[ok]] = True
    if not dates and not read.all():
        left = np.flatnonzero(~read)
        fits = _matching(texts[left], _EPOCH[1], _EPOCH[0])
        if fits.any():  # epoch seconds or milliseconds, UTC by definition
            chosen = left[fits]
            numbers = np.array(texts[chosen], dtype=np.int64)
            millis = np.where(numbers >= 10**11, numbers, numbers * 1000)
            moments = pd.to_datetime(millis, unit="ms")
            values[chosen] = moments.to_pydatetime()
            read[chosen] = True
    out[at[read]] = values[read]
    return np.sort(np.concatenate([todo[~strings], at[~read]]))


_NUMERIC_DATE = re.compile(r"^\s*\d{1,2}\s*([-/.])\s*\d{1,2}\s*\1\s*\d{4}(?!\d)", re.M)


def _has_numeric_dates(cells: np.ndarray) -> bool:
    texts = cells[_instances(cells, str)]
    return bool(len(texts)) and _NUMERIC_DATE.search("\n".join(texts)) is not None


def numeric_date_orders(cells: np.ndarray) -> dict[str | None, int]:
    """The first cell (its index) showing each order among a column's numeric dates:
    MONTH_FIRST (11/13/2026), DAY_FIRST (13/11/2026), and None (11/10/2026: either)."""
    codes, uniques = pd.factorize(cells, use_na_sentinel=False)
    first: dict[str | None, int] = {}
    for k, raw in enumerate(uniques):
        fields = numeric_date_fields(raw)
        if fields is not None:
            first.setdefault(date_order(*fields), k)
    return {order: int(np.argmax(codes == k)) for order, k in first.items()}
