"""Telling a file's report kind from its header (bot.ingest.drop.detect_kind), on SQLite and
PostgreSQL: a column only one kind has outweighs generic ones, real exports' aliases are
known, and a file that fits two kinds about equally is rejected naming both, never guessed."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest.drop import ingest_file
from bot.metrics.traffic import daily_traffic
from bot.storage import read
from bot.stores import Store
from tests.files import sample, snapshot, stored, write, write_csv


def test_an_inquiry_list_whose_time_column_is_headed_date_is_an_inquiry_list(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    inquiries = write_csv(tmp_path / "export.csv", [
        ["Inquiry ID", "Date", "Buyer", "Country"],
        ["Q1", "2026-11-03 09:15", "John", "US"],
        ["Q2", "2026-11-03 17:40", "Ana", "ES"],
    ])
    result = ingest_file(engine, store, inquiries)
    assert (result.status, result.kind, result.inserted) == ("ingested", "inquiries", 2)
    assert {r["inquiry_id"]: r["created_at"] for r in stored(engine, "inquiries")} == {
        "Q1": datetime(2026, 11, 3, 1, 15), "Q2": datetime(2026, 11, 3, 9, 40)}
    # The day's real traffic, by country, is the day's traffic: nothing else is in its table.
    traffic = write_csv(tmp_path / "traffic.csv", [
        ["Date", "Country", "Visitors"], ["2026-11-03", "US", "300"], ["2026-11-03", "DE", "50"]])
    assert ingest_file(engine, store, traffic).kind == "traffic"
    assert len(stored(engine, "traffic")) == 2
    with read(engine) as conn:
        day = daily_traffic(conn, store, [date(2026, 11, 3)])[date(2026, 11, 3)]
    assert day["visitors"] == 350


@pytest.mark.parametrize("header", [
    ["Inquiry No.", "Received Time", "Buyer Name", "Company", "Country/Region", "Email"],
    ["询盘号", "接收时间", "发件人", "公司名称", "国家/地区", "邮箱"],
])
def test_an_inquiry_list_headed_inquiry_no_and_received_time_is_an_inquiry_list(
    engine: Engine, store: Store, tmp_path: Path, header: list[str]
) -> None:
    path = write(tmp_path / "export.xlsx", [
        header,
        ["Q1", "2026-11-03 09:15", "John", "Acme", "US", "j@acme.com"],
        ["Q2", "2026-11-04 10:00", "Ana", "Luz", "ES", "a@luz.es"],
    ])
    result = ingest_file(engine, store, path)
    assert (result.status, result.kind, result.inserted, result.errors) == (
        "ingested", "inquiries", 2, [])
    found = {r["inquiry_id"]: r for r in stored(engine, "inquiries")}
    assert (found["Q1"]["buyer"], found["Q1"]["company"], found["Q1"]["created_at"]) == (
        "John", "Acme", datetime(2026, 11, 3, 1, 15))
    assert stored(engine, "customers") == []


def test_an_order_number_outweighs_a_date(engine: Engine, store: Store, tmp_path: Path) -> None:
    # Order No. and Country fit an order list; Date and Country a traffic report: the order
    # number is an order list's own, the date anybody's.
    path = write_csv(tmp_path / "export.csv", [
        ["Order No.", "Date", "Country"], ["TA-1", "2026-11-03", "US"]])
    result = ingest_file(engine, store, path)
    assert (result.status, result.kind, result.inserted) == ("ingested", "orders", 1)
    assert stored(engine, "traffic") == []


def test_a_file_is_not_guessed_into_a_kind_when_another_kinds_own_columns_are_there(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    # An inquiry list without its time column: its company column alone would fit a CRM
    # list, but the inquiry ID says what it is. It is refused, naming what is missing.
    path = write_csv(tmp_path / "export.csv", [
        ["Inquiry ID", "Buyer Name", "Company", "Email"], ["Q1", "John", "Acme", "j@acme.com"]])
    before = snapshot(engine)
    result = ingest_file(engine, store, path)
    assert result.status == "rejected"
    [error] = result.errors
    assert "an inquiry list" in error and "创建时间 / Created" in error
    assert "--kind customers" in error
    assert snapshot(engine) == before
    # Told it is a CRM list after all, it goes in as one.
    forced = ingest_file(engine, store, path, kind="customers")
    assert (forced.status, forced.kind) == ("ingested", "customers")


def test_two_kinds_that_fit_about_equally_are_both_named(engine: Engine, store: Store,
                                                         tmp_path: Path) -> None:
    path = write_csv(tmp_path / "report.csv", [
        ["Date", "Impressions", "Clicks", "Inquiries"], ["2026-11-03", "100", "5", "1"]])
    before = snapshot(engine)
    result = ingest_file(engine, store, path)
    assert result.status == "rejected"
    [error] = result.errors
    assert "a P4P ad report" in error and "a daily shop overview" in error
    assert "--kind p4p" in error and "--kind traffic" in error
    assert snapshot(engine) == before


@pytest.mark.parametrize("kind", ["products", "keywords", "p4p", "traffic", "inquiries",
                                  "customers", "orders", "posts"])
def test_every_kind_is_still_told_from_its_own_headers_under_a_neutral_name(
    engine: Engine, store: Store, tmp_path: Path, kind: str
) -> None:
    for language in ("zh", "en", "api"):
        path = write_csv(tmp_path / f"{language}.csv", sample(kind, language))
        result = ingest_file(engine, store, path, file_name=f"export-{language}-2026-11-07.csv")
        assert (result.status, result.kind) == ("ingested", kind), (language, result.errors)


def test_a_wrong_kind_is_worded_with_the_kinds_title(engine: Engine, store: Store,
                                                     tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [["询盘ID", "客户名", "询盘标题"],
                                             ["Q1", "John", "Hi"]])
    result = ingest_file(engine, store, path, kind="inquiries")
    assert result.status == "rejected"
    assert result.errors[0] == "not an inquiry list: missing the column 创建时间 / Created"
    path = write_csv(tmp_path / "posts.csv", [["标题", "类型", "浏览"], ["New", "视频", "3"]])
    result = ingest_file(engine, store, path, kind="posts")
    assert result.errors[0] == "not a fan-post list: missing the column 发布时间 / Published"
    # No header at all for the named kind: the same words.
    path = write_csv(tmp_path / "x.csv", [["a", "b"], ["1", "2"]])
    result = ingest_file(engine, store, path, kind="inquiries")
    assert "names of an inquiry list, which needs" in result.errors[0]
