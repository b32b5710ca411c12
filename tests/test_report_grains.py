"""Traffic reports at different grains (shop total, by source, by country, by both) and with
different columns, dropped for the same days: a partial export never replaces a full one's
figures in the checklist's data item, the inquiry-drop alert's traffic hint or the detector's
traffic-report series, and two breakdowns are never added together."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.checklists.daily import build_daily
from bot.ingest.drop import ingest_file
from bot.storage import read, write
from bot.stores import Store, bind_channel
from jobs.tick import evaluate_alerts
from templates import render
from tests.facts import put
from tests.files import write_csv
from tests.test_alerts import history, outbox_rows, seed_inquiries

# Tuesday 2026-11-17, 09:00 in Shanghai; yesterday is Monday 2026-11-16.
NOW = datetime(2026, 11, 17, 1, 0)
YESTERDAY = date(2026, 11, 16)
WEEKS = [YESTERDAY - timedelta(weeks=k) for k in range(1, 6)]

FULL_HEADER = ["日期", "流量来源", "国家/地区", "店铺访问人数", "搜索曝光次数", "搜索点击次数",
               "询盘个数"]
# The shop's day, by source and country (as the back office's overview exports it): 350
# visitors, 10,000 impressions, 300 clicks, 8 inquiries.
SPLIT = [("搜索", "US", 150, 4000, 120, 3), ("搜索", "DE", 100, 3000, 90, 2),
         ("直通车", "US", 60, 2000, 60, 2), ("直通车", "DE", 40, 1000, 30, 1)]


def full_report(tmp_path: Path, days: list[date], name: str = "店铺数据概览.csv",
                inquiries: dict[date, int] | None = None) -> Path:
    """The full export by source and country; `inquiries` replaces a day's inquiry count
    (put on its first row, the others 0)."""
    rows: list[list[object]] = [FULL_HEADER]
    for day in days:
        for i, (source, country, v, imp, clk, inq) in enumerate(SPLIT):
            if inquiries and day in inquiries:
                inq = inquiries[day] if i == 0 else 0
            rows.append([day.isoformat(), source, country, v, imp, clk, inq])
    return write_csv(tmp_path / name, rows)


def ingest(engine: Engine, store: Store, path: Path) -> None:
    result = ingest_file(engine, store, path)
    assert (result.status, result.kind) == ("ingested", "traffic"), result.errors


def data_item(engine: Engine, store: Store) -> tuple[dict[str, Any], str]:
    with read(engine) as conn:
        data = build_daily(conn, store, NOW)
    text = str(render("checklist_daily.json.j2", checklist=data))
    return next(i for i in data["items"] if i["key"] == "data")["facts"], text


def test_a_partial_export_by_country_does_not_replace_the_full_report(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    ingest(engine, store, full_report(tmp_path, [YESTERDAY, *WEEKS]))
    # then an export by country for the same day with visitors only: 70 of the shop's 350
    ingest(engine, store, write_csv(tmp_path / "visitors_by_country.csv", [
        ["Date", "Country", "Visitors"],
        [YESTERDAY.isoformat(), "US", 40], [YESTERDAY.isoformat(), "DE", 30]]))
    f, text = data_item(engine, store)
    assert f["visitors"]["value"] == 350 and f["visitors"]["usual"] == 350.0
    assert (f["impressions"]["value"], f["clicks"]["value"]) == (10000, 300)
    assert f["inquiries"]["value"] == 8 and f["not_in_report"] == []
    assert "Visitors *350* (usual Monday 350, +0%)" in text
    assert "Impressions *10,000*" in text and "Clicks *300*" in text
    assert "not in the traffic report" not in text


def test_a_partial_export_alone_gives_what_it_has_and_names_what_it_lacks(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    ingest(engine, store, write_csv(tmp_path / "visitors_by_country.csv", [
        ["Date", "Country", "Visitors"],
        [YESTERDAY.isoformat(), "US", 40], [YESTERDAY.isoformat(), "DE", 30]]))
    f, text = data_item(engine, store)
    assert f["visitors"]["value"] == 70
    assert f["not_in_report"] == ["impressions", "clicks", "inquiries"]
    assert "Impressions: not in the traffic report" in text


def test_the_shop_total_row_wins_per_metric_and_breakdowns_are_never_added(
        engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "traffic", [
            # the shop total carries visitors only
            {"date": YESTERDAY, "visitors": 350},
            # by source: visitors and impressions (the fuller breakdown)
            {"date": YESTERDAY, "source": "search", "visitors": 250, "impressions": 7000},
            {"date": YESTERDAY, "source": "p4p", "visitors": 100, "impressions": 3000},
            # by country: impressions and clicks, and fewer countries than the shop's
            {"date": YESTERDAY, "country": "US", "impressions": 6000, "clicks": 180},
        ], NOW - timedelta(minutes=30))
    f, _ = data_item(engine, store)
    assert f["visitors"]["value"] == 350  # the total row, not 350 + 350
    # both breakdowns carry impressions and two metrics each: the coarser (by source) is
    # read, never 10,000 + 6,000
    assert f["impressions"]["value"] == 10000
    assert f["clicks"]["value"] == 180  # only the country breakdown carries clicks


def alert_where(engine: Engine) -> str:
    message = outbox_rows(engine)[0].payload
    return " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_the_alerts_traffic_hint_reads_the_full_report(engine: Engine, store: Store,
                                                      tmp_path: Path) -> None:
    bind_channel(engine, store, "C1")
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 0
    seed_inquiries(engine, store, series, ingested_at=NOW)
    ingest(engine, store, full_report(tmp_path, [YESTERDAY, *WEEKS]))
    # a by-country export of yesterday with visitors only: not "traffic down, 70 visitors"
    ingest(engine, store, write_csv(tmp_path / "visitors_by_country.csv", [
        ["Date", "Country", "Visitors"],
        [YESTERDAY.isoformat(), "US", 40], [YESTERDAY.isoformat(), "DE", 30]]))
    (event,) = [e for e in evaluate_alerts(engine, store, NOW, force=True)
                if e["rule"] == "inquiry_drop"]
    assert event["event"] == "fired"
    where = alert_where(engine)
    assert "Traffic looks normal (350 visitors vs usually 350)" in where
    assert "Traffic is down too" not in where


def test_the_detectors_traffic_series_reads_the_full_report(engine: Engine, store: Store,
                                                           tmp_path: Path) -> None:
    """No inquiry list: the detector judges the traffic report's inquiries; a visitors-only
    export by source for yesterday does not make yesterday's count unknown."""
    bind_channel(engine, store, "C1")
    days = [YESTERDAY - timedelta(days=i) for i in range(0, 7 * 10)]
    usual = history(YESTERDAY - timedelta(days=1))
    ingest(engine, store, full_report(tmp_path, days, inquiries={
        **{d: usual.get(d, 0) for d in days}, YESTERDAY: 1}))
    ingest(engine, store, write_csv(tmp_path / "visitors_by_source.csv", [
        ["Date", "Source", "Visitors"],
        [YESTERDAY.isoformat(), "search", 250], [YESTERDAY.isoformat(), "p4p", 100]]))
    (event,) = [e for e in evaluate_alerts(engine, store, NOW, force=True)
                if e["rule"] == "inquiry_drop"]
    assert (event["event"], event["source"], event["observed"]) == ("fired", "traffic report", 1)
