"""Whole columns (bot.ingest.columns): the vectorised conversion reads every cell exactly as the
scalar parsers of bot.ingest.parsing do, which define the values; numeric dates whose order the
column does not know are flagged, not guessed; the units of bare rates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.columns import bare_rate_units, convert, numeric_date_orders
from bot.ingest.kinds import Type
from bot.ingest.parsing import (
    DAY_FIRST,
    MONTH_FIRST,
    BadValue,
    bare_rates,
    parse_rate,
    parser_for,
)

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]

# Near misses of the fast paths, each tried on its own below, and mixed into random columns.
ODD_NUMBERS = ["-", "--", "", " ", "N/A", "nan", "inf", "1_000", "1e5", ".5", "5.", "1.2万",
               "０１２", " 12", "12 ", "US $1.20", "¥-3.00", "-¥3", "+¥-3", "-¥-3", "3¥", "¥¥3",
               "1,2,3", ",", "+", "-0", "9" * 15, "9" * 16, "99,999,999,999,999",
               "¥99,999,999,999", "¥999,999,999,999", "1." + "5" * 20, "12%%", "%", "1%2",
               "3.25 %", "+5%", "1,000%", float("nan"), float("inf"), 1e20, 2.0**60, True, 7.5]
ODD_DATES = ["2026-11-03 24:00:00", "2026-11-03 14:05:60", "2026-11-3 9:5:00", "2026-02-30",
             "0001-01-01", "1899-12-31", "9999-12-31 23:59:59", "2026-03-08 02:30:00",
             "2026-11-01 01:30:00", "2026/11/3 下午2:05:00", "Nov 10, 2026", "10-Nov-26",
             "20261110", "-1", "-", "", "yesterday", "11/10/2026", "13/11/2026 10:00",
             "11/13/2026", "2026-11-03T14:05:00+0800", "2026-11-03T14:05Z", "2026-11-03 14:05Z",
             "1793685900", "1793685900000", "179368590000", "17936859000000",
             datetime(2026, 11, 3, 1, 29, 59, 997000), 46329.5, 1793685900, 20261110]
NUMBERISH = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(-10**16, 10**16).map(str),
    st.integers(0, 10**13).map(lambda n: f"{n:,}"),
    st.floats(-1e15, 1e15, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.floats(0, 1e9, allow_nan=False).map(lambda x: f"¥{x:,.2f}"),
    st.floats(0, 1e9, allow_nan=False).map(lambda x: f"-￥{x:,.4f}"),
    st.floats(0, 100, allow_nan=False).map(lambda x: f"{x:.2f}%"),
    st.floats(allow_nan=True, allow_infinity=True),  # spreadsheet cells
    st.integers(-10**20, 10**20),
    st.booleans(),
)
DAYS = st.dates(date(1990, 1, 1), date(2100, 12, 31))
MOMENTS = st.datetimes(datetime(1990, 1, 1), datetime(2100, 12, 31))
DATEISH = st.one_of(
    st.sampled_from(ODD_DATES),
    DAYS.map(str), DAYS.map(lambda d: d.strftime("%Y/%m/%d")),
    DAYS.map(lambda d: f"{d.year}/{d.month}/{d.day}"),
    DAYS.map(lambda d: d.strftime("%m/%d/%Y")), DAYS.map(lambda d: d.strftime("%d/%m/%Y")),
    MOMENTS.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S")),
    MOMENTS.map(lambda m: m.strftime("%Y-%m-%d %H:%M")),
    MOMENTS.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S")),
    MOMENTS.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S+08:00")),
    MOMENTS.map(lambda m: m.strftime("%Y-%m-%dT%H:%MZ")),
    MOMENTS.map(lambda m: m.strftime("%m/%d/%Y %H:%M")),
    MOMENTS.map(lambda m: f"{m.year}/{m.month}/{m.day} {m.hour}:{m.minute:02d}:{m.second:02d}"),
    st.integers(10**9, 4 * 10**9).map(str), st.integers(10**12, 4 * 10**12).map(str),
    MOMENTS,  # spreadsheet cells
    st.floats(20_000, 80_000),
)


def scalar(cells: list[object], kind_type: Type, tz: ZoneInfo, percent: bool = False,
           order: str | None = None) -> tuple[list[object], set[int]]:
    parse = parser_for(kind_type, tz, order)
    if percent:
        def parse(raw: object) -> object:
            return parse_rate(raw, percent_units=True)
    values, bad = [], set()
    for i, raw in enumerate(cells):
        try:
            values.append(parse(raw))
        except BadValue:
            values.append(None)
            bad.add(i)
    return values, bad


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=0)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("kind_type", [Type.INT, Type.NUMBER, Type.MONEY, Type.RATE])
@pytest.mark.parametrize("percent", [False, True])
def test_each_odd_number_reads_as_the_scalar_parsers_read_it(kind_type: Type,
                                                             percent: bool) -> None:
    percent = percent and kind_type is Type.RATE
    for odd in ODD_NUMBERS:
        for cells in ([odd], [odd, "12"], ["12", odd, "1,234"]):  # alone, or among plain ones
            column = convert(np.array(cells, dtype=object), kind_type, ZONES[0],
                             percent=percent)
            values, bad = scalar(cells, kind_type, ZONES[0], percent)
            assert set(column.errors) == bad, cells
            assert all(same(a, b) for a, b in zip(column.values, values, strict=True)), cells


@pytest.mark.parametrize("kind_type", [Type.DATE, Type.DATETIME])
@pytest.mark.parametrize("order", [None, MONTH_FIRST, DAY_FIRST])
def test_each_odd_date_reads_as_the_scalar_parsers_read_it(kind_type: Type,
                                                           order: str | None) -> None:
    for tz in ZONES:
        for odd in ODD_DATES:
            for cells in ([odd], [odd, "2026-11-03 14:05:00"], ["2026-11-03", odd]):
                column = convert(np.array(cells, dtype=object), kind_type, tz, order=order)
                values, bad = scalar(cells, kind_type, tz, order=order)
                assert (set(column.errors), column.values) == (bad, values), (cells, tz)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(NUMBERISH, min_size=1, max_size=30),
       kind_type=st.sampled_from([Type.INT, Type.NUMBER, Type.MONEY, Type.RATE]),
       percent=st.booleans())
def test_numbers_read_as_the_scalar_parsers_read_them(cells: list[object], kind_type: Type,
                                                      percent: bool) -> None:
    percent = percent and kind_type is Type.RATE
    column = convert(np.array(cells, dtype=object), kind_type, ZONES[0], percent=percent)
    values, bad = scalar(cells, kind_type, ZONES[0], percent)
    assert set(column.errors) == bad
    assert all(same(a, b) for a, b in zip(column.values, values, strict=True)), (
        column.values, values)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(DATEISH, min_size=1, max_size=30),
       kind_type=st.sampled_from([Type.DATE, Type.DATETIME]), tz=st.sampled_from(ZONES),
       order=st.sampled_from([None, MONTH_FIRST, DAY_FIRST]))
def test_dates_read_as_the_scalar_parsers_read_them(cells: list[object], kind_type: Type,
                                                    tz: ZoneInfo, order: str | None) -> None:
    column = convert(np.array(cells, dtype=object), kind_type, tz, order=order)
    values, bad = scalar(cells, kind_type, tz, order=order)
    assert set(column.errors) == bad
    assert column.values == values


def test_numeric_dates_without_an_order_are_flagged_not_guessed() -> None:
    cells = np.array(["2026-11-10", "11/10/2026", "Nov 11, 2026"], dtype=object)
    column = convert(cells, Type.DATE, ZONES[0])
    assert column.numeric and column.values == [date(2026, 11, 10), None, date(2026, 11, 11)]
    assert "month first or day first" in column.errors[1]
    again = convert(cells, Type.DATE, ZONES[0], order=DAY_FIRST)
    assert not again.numeric and again.values[1] == date(2026, 10, 11)
    assert not convert(cells[[0, 2]], Type.DATE, ZONES[0]).numeric


def test_the_order_each_numeric_date_shows() -> None:
    cells = np.array(["2026-11-10", "11/10/2026", "11/13/2026", "14/11/2026", "11/13/2026"],
                     dtype=object)
    assert numeric_date_orders(cells) == {None: 1, MONTH_FIRST: 2, DAY_FIRST: 3}


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(NUMBERISH, max_size=30))
def test_rate_units_as_the_scalar_rule_decides_them(cells: list[object]) -> None:
    assert bare_rate_units(np.array(cells, dtype=object)) == bare_rates(cells)
