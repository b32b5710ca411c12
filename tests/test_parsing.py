"""Cell values as the back office exports them (bot.ingest.parsing): numbers, money, rates, flags,
dates and moments, missing and hidden values."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.ingest.parsing import (
    DAY_FIRST,
    MONTH_FIRST,
    AmbiguousDate,
    BadValue,
    bare_rates,
    date_order,
    numeric_date_fields,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_money,
    parse_number,
    parse_rate,
    parse_text,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("raw", "value"), [
    ("1,234", 1234), ("1,234,567", 1234567), ("56", 56), ("０１２", 12), (" 7 ", 7),
    (1234.0, 1234), ("1.2万", 12000), ("-1", -1),
])
def test_whole_numbers(raw: object, value: int) -> None:
    assert parse_int(raw) == value


@pytest.mark.parametrize("raw", ["-", "--", "", "  ", None, "—", "N/A", float("nan")])
def test_dashes_and_empty_cells_are_missing(raw: object) -> None:
    assert parse_int(raw) is None
    assert parse_number(raw) is None
    assert parse_money(raw) is None
    assert parse_rate(raw) is None
    assert parse_text(raw) is None
    assert parse_datetime(raw, SHANGHAI) is None
    assert parse_date(raw) is None


@pytest.mark.parametrize("raw", ["abc", "1.5", "12 pcs", "1,2,3x"])
def test_not_a_whole_number_says_so(raw: str) -> None:
    with pytest.raises(BadValue, match=r"expected a (whole )?number"):
        parse_int(raw)


@pytest.mark.parametrize(("raw", "value"), [
    ("US $1.20", 1.2), ("US$ 1,200.50", 1200.5), ("$300", 300), ("¥1,234.50", 1234.5),
    ("￥1,234.50", 1234.5), ("￥ 12", 12), ("USD 12", 12), ("12 元", 12), ("1,234", 1234),
    ("-¥3.00", -3), ("¥-3.00", -3), (61.73, 61.73),
])
def test_money(raw: object, value: float) -> None:
    assert parse_money(raw) == pytest.approx(value)


@pytest.mark.parametrize(("raw", "percent_units", "value"), [
    ("3.25%", False, 0.0325), ("3.25%", True, 0.0325), (" 3.25 % ", False, 0.0325),
    ("3.25", True, 0.0325), ("0.0325", False, 0.0325), ("100%", False, 1.0),
])
def test_rates_are_stored_as_fractions(raw: str, percent_units: bool, value: float) -> None:
    assert parse_rate(raw, percent_units) == pytest.approx(value)


@pytest.mark.parametrize(("column", "in_percent"), [
    (["3.25", "0.5", "-"], True),  # one value above 1: the column is in percent
    (["0.0325", "0.5", "1"], False),  # fractions
    (["3.25%", "1.00%", ""], False),  # % signs need no decision
    (["--", "-", ""], False),
])
def test_the_unit_of_a_rate_column_is_decided_per_column(column: list[str],
                                                         in_percent: bool) -> None:
    assert (bare_rates(column) is True) is in_percent


@pytest.mark.parametrize(("raw", "value"), [
    ("Y", True), ("N", False), ("y", True), ("是", True), ("否", False), ("yes", True),
    ("No", False), (True, True), ("-", None), ("", None), ("2", True), ("0", False),
])
def test_flags(raw: object, value: bool | None) -> None:
    assert parse_bool(raw) is value


def test_a_flag_that_is_neither_yes_nor_no_is_bad() -> None:
    with pytest.raises(BadValue, match="Y/N"):
        parse_bool("maybe")


# 2026-11-03 is after both zones' summer time: Shanghai is UTC+8, New York UTC-5.
@pytest.mark.parametrize(("raw", "shanghai_utc", "new_york_utc"), [
    ("2026-11-03 14:05", datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    ("2026/11/3 下午2:05:00", datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    ("2026/11/3 上午9:05:00", datetime(2026, 11, 3, 1, 5), datetime(2026, 11, 3, 14, 5)),
    ("2026/11/3 14:05:00", datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    ("2026-11-03T14:05:00", datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    ("2026年11月3日 14:05", datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    ("2026-11-03", datetime(2026, 11, 2, 16, 0), datetime(2026, 11, 3, 5, 0)),
    (datetime(2026, 11, 3, 14, 5), datetime(2026, 11, 3, 6, 5), datetime(2026, 11, 3, 19, 5)),
    # Summer time in New York (UTC-4).
    ("2026-07-01 14:05", datetime(2026, 7, 1, 6, 5), datetime(2026, 7, 1, 18, 5)),
])
def test_local_times_are_stored_as_utc_in_the_stores_timezone(
    raw: object, shanghai_utc: datetime, new_york_utc: datetime
) -> None:
    assert parse_datetime(raw, SHANGHAI) == shanghai_utc
    assert parse_datetime(raw, NEW_YORK) == new_york_utc


@pytest.mark.parametrize("raw", [
    "2026-11-03T14:05:00+08:00", "2026-11-03T06:05:00Z", "2026-11-03T01:05:00-05:00",
    "2026-11-03T14:05:00+0800", "1793685900", "1793685900000", 1793685900, 1793685900000.0,
])
def test_moments_that_say_their_zone_ignore_the_stores(raw: object) -> None:
    # ISO with an offset or Z, and epoch seconds or milliseconds (UTC by definition).
    utc = datetime(2026, 11, 3, 6, 5)
    assert parse_datetime(raw, SHANGHAI) == utc
    assert parse_datetime(raw, NEW_YORK) == utc


def test_iso_with_fractional_seconds() -> None:
    assert parse_datetime("2026-11-03T06:05:00.250Z", SHANGHAI) == datetime(
        2026, 11, 3, 6, 5, 0, 250000)


@pytest.mark.parametrize("raw", ["2026-13-01 10:00", "2026-11-03 25:00", "next tuesday",
                                 "3/11/2026", "2026-11-03 14:05 garbage"])
def test_impossible_or_unreadable_moments_are_bad(raw: str) -> None:
    with pytest.raises(BadValue):
        parse_datetime(raw, SHANGHAI)


def test_dates_are_calendar_days() -> None:
    assert parse_date("2026-11-03") == date(2026, 11, 3)
    assert parse_date("2026/11/3") == date(2026, 11, 3)
    assert parse_date("20261103") == date(2026, 11, 3)
    assert parse_date(20261103) == date(2026, 11, 3)
    assert parse_date("2026-11-03 14:05") == date(2026, 11, 3)
    # An epoch is a moment: its date is the store's local date. 2026-11-02 19:00 UTC is
    # 03:00 on Nov 3 in Shanghai and 14:00 on Nov 2 in New York.
    assert parse_date(1793646000, SHANGHAI) == date(2026, 11, 3)
    assert parse_date(1793646000, NEW_YORK) == date(2026, 11, 2)


def test_a_hidden_buyer_field_is_missing() -> None:
    assert parse_text("-1") is None
    assert parse_datetime("-1", SHANGHAI) is None
    assert parse_text("Acme Inc") == "Acme Inc"


def test_ids_typed_as_numbers_keep_their_digits() -> None:
    assert parse_text(1600123456.0) == "1600123456"
    assert parse_text("1600123456") == "1600123456"


# ---- dates as exports write them ------------------------------------------------------------


@pytest.mark.parametrize(("raw", "order", "day"), [
    ("11/10/2026", MONTH_FIRST, date(2026, 11, 10)),
    ("11/10/2026", DAY_FIRST, date(2026, 10, 11)),
    ("11/13/2026", None, date(2026, 11, 13)),  # 13 can only be the day
    ("13/11/2026", None, date(2026, 11, 13)),
    ("1/2/2026 14:05", MONTH_FIRST, date(2026, 1, 2)),
    ("10.11.2026", DAY_FIRST, date(2026, 11, 10)),
    ("Nov 10, 2026", None, date(2026, 11, 10)),
    ("November 10 2026", None, date(2026, 11, 10)),
    ("Sept. 3, 2026", None, date(2026, 9, 3)),
    ("10-Nov-2026", None, date(2026, 11, 10)),
    ("10 Nov 2026", None, date(2026, 11, 10)),
    ("10-Nov-26", None, date(2026, 11, 10)),  # Excel's d-mmm-yy: 00-29 are 2000s
    ("10-Nov-95", None, date(1995, 11, 10)),
    ("20261110", None, date(2026, 11, 10)),
    (46336, None, date(2026, 11, 10)),  # an Excel serial date
    (46336.99, None, date(2026, 11, 10)),
])
def test_date_forms(raw: object, order: str | None, day: date) -> None:
    assert parse_date(raw, order=order) == day


@pytest.mark.parametrize("raw", ["11/10/2026", "01/02/2026 14:05", "3.4.2026"])
def test_a_numeric_date_of_unknown_order_is_not_guessed(raw: str) -> None:
    with pytest.raises(AmbiguousDate, match="month first or day first"):
        parse_date(raw)
    with pytest.raises(AmbiguousDate):
        parse_datetime(raw, SHANGHAI)


@pytest.mark.parametrize(("raw", "order"), [("13/11/2026", MONTH_FIRST), ("02/30/2026", None),
                                            ("Foo 10, 2026", None), ("10-Nov-202", None)])
def test_impossible_dates_in_the_new_forms_are_bad(raw: str, order: str | None) -> None:
    with pytest.raises(BadValue):
        parse_date(raw, order=order)


def test_what_a_numeric_date_tells_of_its_order() -> None:
    assert date_order(*numeric_date_fields("11/13/2026")) == MONTH_FIRST  # type: ignore[misc]
    assert date_order(*numeric_date_fields("13/11/2026 9:00")) == DAY_FIRST  # type: ignore[misc]
    assert date_order(*numeric_date_fields("11/10/2026")) is None  # type: ignore[misc]
    assert numeric_date_fields("2026-11-10") is None
    assert numeric_date_fields("Nov 10, 2026") is None


@pytest.mark.parametrize("raw", [
    datetime(2026, 11, 3, 1, 29, 59, 997000),  # a spreadsheet's datetime cell
    46329 + (90 * 60 - 0.003) / 86400,  # the same as a serial number
])
def test_spreadsheet_times_are_rounded_to_the_second(raw: object) -> None:
    utc = ZoneInfo("UTC")
    assert parse_datetime(raw, utc) == datetime(2026, 11, 3, 1, 30)
    assert parse_datetime(datetime(2026, 11, 3, 1, 29, 59, 400000), utc) == datetime(
        2026, 11, 3, 1, 29, 59)
