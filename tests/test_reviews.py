"""The weekly and monthly reviews (bot/checklists/review.py) against hand-computed figures on
exports in the back office's layouts (Chinese headers, title rows), week and month boundaries
in the store's timezone, a first review with nothing before it, and the worker posting each
review once per store and period with its chart, through a 429."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.checklists.registry import CHECKLISTS
from bot.config import Settings
from bot.ingest.drop import ingest_file
from bot.models import checklists
from bot.models import outbox as outbox_table
from bot.storage import read
from bot.stores import Store, add_store, bind_channel, configure_store
from jobs.delivery import Pacer, deliver
from jobs.tick import run_due
from templates import render
from tests.files import titles, write_csv
from tests.slack_limits import assert_within_slack_limits
from tests.slack_mock import MockSlackAPI
from tests.test_chart_delivery import client_for

NO_SLACK = Settings(slack_bot_token=None, drop_dir=None)
MONDAY = date(2026, 11, 16)  # the weekly review of 11-09..11-15
MONDAY_9 = datetime(2026, 11, 16, 1, 0)  # 09:00 in Shanghai


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def exports(tmp_path: Path, engine: Engine, store: Store) -> None:
    """Traffic every day 10-12..11-15: 100 impressions (200 in the week under review), 10
    visitors, 5 clicks, 2 inquiries; a source breakdown on one day of each of the last two
    weeks; P4P product rows; four orders around the week's edges; two weekly product
    reports."""
    traffic = [["日期", "店铺访问人数", "搜索曝光次数", "搜索点击次数", "询盘个数"]]
    for d in _days(date(2026, 10, 12), date(2026, 11, 15)):
        traffic.append([d.isoformat(), 10, 200 if d >= date(2026, 11, 9) else 100, 5, 2])
    sources = [["日期", "流量来源", "店铺访问人数"],
               ["2026-11-03", "搜索", 30], ["2026-11-03", "直通车", 10],
               ["2026-11-10", "搜索", 20], ["2026-11-10", "直通车", 20]]
    p4p = [["日期", "计划名称", "产品ID", "曝光量", "点击量", "花费", "询盘量"],
           ["2026-11-03", "灯具", "P1", "1,000", "10", "￥25.00", "1"],
           ["2026-11-10", "灯具", "P1", "1,000", "20", "￥40.00", "2"],
           ["2026-11-15", "灯具", "P2", "500", "10", "￥30.00", "0"]]
    orders = [["订单号", "买家", "金额", "币种", "订单状态", "下单时间"],
              ["O0", "Ann", "300", "USD", "shipped", "2026-11-08 23:30"],  # previous week
              ["O1", "Bob", "1,000", "USD", "shipped", "2026-11-10 10:00"],
              ["O2", "Cy", "500", "USD", "wait_seller_send", "2026-11-15 23:30"],  # Sunday night
              ["O3", "Di", "800", "USD", "wait_seller_send", "2026-11-16 00:30"]]  # next week
    header = ["产品ID", "产品名称", "是否橱窗", "搜索曝光次数", "搜索点击次数", "询盘个数",
              "产品分"]
    before = [*titles(2, "时间周期2026-11-02~2026-11-08"), header,
              ["P1", "Solar <b>lamp</b>", "Y", 500, 10, 1, 80],
              ["P2", "Garden light", "N", 100, 2, 0, 72]]
    now = [*titles(2, "时间周期2026-11-09~2026-11-15"), header,
           ["P1", "Solar <b>lamp</b>", "Y", 400, 8, 1, 78],
           ["P2", "Garden light", "N", 120, 2, 0, 73],
           ["P3", "Street light", "N", 900, 30, 3, 90]]
    for name, rows in [("traffic.csv", traffic), ("traffic-sources.csv", sources),
                       ("p4p.csv", p4p), ("orders.csv", orders),
                       ("products-w45.csv", before), ("products-w46.csv", now)]:
        result = ingest_file(engine, store, write_csv(tmp_path / name, rows))
        assert result.status == "ingested", (name, result)


def build(engine: Engine, store: Store, kind: str, day: date) -> dict[str, Any]:
    with read(engine) as conn:
        return CHECKLISTS[kind].build(conn, store, datetime(2026, 12, 2), day)


def items(data: dict[str, Any]) -> dict[str, Any]:
    return {i["key"]: i for i in data["items"]}


def test_weekly_figures_by_hand(engine: Engine, store: Store, tmp_path: Path) -> None:
    exports(tmp_path, engine, store)
    data = build(engine, store, "weekly", MONDAY)
    assert data["period"] == {"start": "2026-11-09", "end": "2026-11-15"}
    assert data["previous"] == {"start": "2026-11-02", "end": "2026-11-08"}
    got = items(data)
    metrics = {m["metric"]: m for m in got["overview"]["facts"]["metrics"]}
    # 7 x 200 against 7 x 100; the 4 weeks before all 700
    assert metrics["impressions"] == {"metric": "impressions", "value": 1400, "previous": 700,
                                      "change": 1.0, "usual": 700.0}
    assert metrics["visitors"]["value"] == 70 and metrics["visitors"]["change"] == 0.0
    assert metrics["clicks"]["value"] == 35
    # no inquiry list: the traffic report's count, 7 x 2
    assert metrics["inquiries"]["value"] == 14
    assert got["overview"]["facts"]["inquiries_source"] == "traffic"
    # P4P: 30 clicks of 1,500 impressions = 2%, 70 CNY / 30 clicks = 2.33; before 1% and 2.50
    assert (metrics["p4p_ctr"]["value"], metrics["p4p_ctr"]["previous"]) == (0.02, 0.01)
    assert (metrics["p4p_cpc"]["value"], metrics["p4p_cpc"]["previous"]) == (2.33, 2.5)
    # orders by local day: O1 and O2 (Sunday 23:30), not O3 (Monday 00:30); O0 before
    assert (metrics["orders"]["value"], metrics["orders"]["previous"]) == (2, 1)
    assert (metrics["order_amount"]["value"], metrics["order_amount"]["previous"]) == (1500.0,
                                                                                        300.0)
    # visitors' share by source: 搜索 75% -> 50%, 直通车 25% -> 50%
    sources = {s["name"]: s for s in got["overview"]["facts"]["sources"]}
    assert (sources["搜索"]["previous"], sources["搜索"]["share"]) == (0.75, 0.5)
    assert sources["直通车"]["change"] == 0.25
    # the largest move: order amount +400%
    assert data["headline"] == {"metric": "order_amount", "change": 4.0, "value": 1500.0,
                                "previous": 300.0}

    p4p = got["p4p"]["facts"]
    assert (p4p["spend"], p4p["currency"], p4p["clicks"], p4p["inquiries"]) == (70.0, "CNY",
                                                                                 30, 2)
    assert p4p["cost_per_inquiry"] == 35.0
    by_product = {p["product_id"]: p for p in p4p["products"]}
    assert by_product["P1"]["cost_per_inquiry"] == 20.0
    assert [p["product_id"] for p in p4p["no_inquiries"]] == ["P2"]
    assert got["p4p"]["staleness"] == []

    products = got["products"]["facts"]
    assert [(p["product_id"], p["previous"], p["score"]) for p in products["score_fell"]] == [
        ("P1", 80.0, 78.0)]
    assert [(p["product_id"], p["gap"]) for p in products["near_target"]] == [("P2", 2.0)]
    assert [(p["product_id"], p["previous"], p["impressions"])
            for p in products["showcase_falling"]] == [("P1", 500, 400)]

    tx = got["transactions"]["facts"]
    assert (tx["orders"], tx["amount"], tx["currency"]) == (2, 1500.0, "USD")
    # the message: escaped data, within Slack's limits, the headline first
    message = render("checklist_review.json.j2", checklist=data, lang="en")
    assert_within_slack_limits(message)
    text = str(message)
    assert "Solar &lt;b&gt;lamp&lt;/b&gt;" in text and "<b>" not in text
    assert "Trade Assurance amount moved most: +400%" in message["blocks"][1]["text"]["text"]


def test_a_first_review_names_the_missing_exports_not_zeros(engine: Engine,
                                                            store: Store) -> None:
    data = build(engine, store, "weekly", MONDAY)
    got = items(data)
    assert data["headline"] is None
    for m in got["overview"]["facts"]["metrics"]:
        assert (m["value"], m["previous"], m["change"], m["usual"]) == (None,) * 4, m
    assert {e["kind"] for e in got["overview"]["staleness"]} == {"traffic", "p4p", "orders"}
    assert got["p4p"]["facts"] is None and got["transactions"]["facts"]["orders"] is None
    message = render("checklist_review.json.j2", checklist=data, lang="en")
    text = str(message)
    assert "export the traffic report: there is none yet" in text
    assert "No figure to compare with the period before yet." in text
    zh = str(render("checklist_review.json.j2", checklist=data, lang="zh"))
    assert "请导出流量报表：还没有数据" in zh and "周复盘" in zh


def test_first_week_with_no_previous_period(engine: Engine, store: Store,
                                            tmp_path: Path) -> None:
    rows = [["日期", "店铺访问人数", "搜索曝光次数"],
            *[[d.isoformat(), 10, 100] for d in _days(date(2026, 11, 9), date(2026, 11, 15))]]
    ingest_file(engine, store, write_csv(tmp_path / "traffic.csv", rows))
    metrics = {m["metric"]: m for m in items(build(engine, store, "weekly", MONDAY))
               ["overview"]["facts"]["metrics"]}
    assert metrics["impressions"] == {"metric": "impressions", "value": 700, "previous": None,
                                      "change": None, "usual": None}


@pytest.mark.parametrize(("tz", "posted", "start", "end"), [
    # Monday 00:30 in Shanghai is still Sunday in UTC: the week of the Shanghai Monday
    ("Asia/Shanghai", datetime(2026, 11, 15, 16, 30), "2026-11-09", "2026-11-15"),
    # New York, the Monday after the fall-back Sunday (11-01)
    ("America/New_York", datetime(2026, 11, 2, 14, 0), "2026-10-26", "2026-11-01"),
    # the 1st in Auckland is still the 31st in UTC
    ("Pacific/Auckland", datetime(2026, 11, 30, 20, 0), "2026-11-01", "2026-11-30"),
])
def test_periods_are_the_stores_local_weeks_and_months(engine: Engine, tz: str,
                                                       posted: datetime, start: str,
                                                       end: str) -> None:
    store = add_store(engine, f"s-{tz.split('/')[1]}", tz)
    kind = "monthly" if start.endswith("-01") and end.endswith("30") else "weekly"
    with read(engine) as conn:
        data = CHECKLISTS[kind].build(conn, store, posted, None)
    assert data["period"] == {"start": start, "end": end}


def test_dst_week_counts_local_days(engine: Engine, tmp_path: Path) -> None:
    """New York's fall-back week 10-26..11-01: seven local days of 100 impressions, whatever
    the UTC offsets."""
    store = add_store(engine, "ny", "America/New_York")
    rows = [["日期", "搜索曝光次数"],
            *[[d.isoformat(), 100] for d in _days(date(2026, 10, 19), date(2026, 11, 2))]]
    ingest_file(engine, store, write_csv(tmp_path / "traffic.csv", rows))
    with read(engine) as conn:
        data = CHECKLISTS["weekly"].build(conn, store, datetime(2026, 11, 2, 14, 0), None)
    metrics = {m["metric"]: m for m in items(data)["overview"]["facts"]["metrics"]}
    assert (metrics["impressions"]["value"], metrics["impressions"]["previous"]) == (700, 700)


def test_monthly_items_by_hand(engine: Engine, store: Store, tmp_path: Path) -> None:
    """November against October; the meeting's agenda from the inquiry list."""
    exports(tmp_path, engine, store)
    inquiries = [["询盘ID", "买家", "业务员", "询盘产品标题", "创建时间", "最新回复时间"],
                 ["Q1", "Ann", "王", "Solar lamp", "2026-11-02 09:00", "2026-11-02 10:00"],
                 ["Q2", "Bob", "李", "Solar lamp", "2026-11-03 09:00", "2026-11-05 09:00"],
                 ["Q3", "Cy", "李", "Street light", "2026-11-20 09:00", ""]]
    ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", inquiries))
    data = build(engine, store, "monthly", date(2026, 12, 1))
    assert data["period"] == {"start": "2026-11-01", "end": "2026-11-30"}
    got = items(data)
    assert list(got) == ["overview", "p4p", "products", "keywords", "transactions", "review"]
    meeting = got["review"]["facts"]
    # Q3 never replied: waits until the month's end (11-20 09:00 -> 12-01 00:00 = 255 h)
    assert [(w["inquiry_id"], w["hours"], w["replied"]) for w in meeting["longest_waits"]] == [
        ("Q3", 255.0, False), ("Q2", 48.0, True), ("Q1", 1.0, True)]
    # 4 orders in November (O0..O3) against 3 valid inquiries
    assert (meeting["orders"], meeting["inquiries"], meeting["conversion"]) == (4, 3, 1.3333)
    assert meeting["products"][0] == {"product": "Solar lamp", "inquiries": 2}
    metrics = {m["metric"]: m for m in got["overview"]["facts"]["metrics"]}
    # October: the 20 days from 10-12 x 100; November: 8 x 100 (11-01..11-08) + 7 x 200
    assert metrics["impressions"]["previous"] == 2000
    assert metrics["impressions"]["value"] == 2200
    assert metrics["impressions"]["usual"] is None  # no November a year before
    zh = render("checklist_review.json.j2", checklist={**data, "id": 0}, lang="zh")
    assert_within_slack_limits(zh)
    assert "月度复盘" in zh["text"] and "复盘会议议程" in str(zh)


def test_monthly_idle_products_and_their_keywords(engine: Engine, store: Store,
                                                 tmp_path: Path) -> None:
    """November's review (90 days: 09-02..11-30): products with no impressions, clicks or
    inquiries in the monthly reports of September to November, each with whether an active
    product's P4P pairs still carry its keywords (matched case-insensitively); and impressions
    rising three months in a row (August to November)."""
    header = ["产品ID", "产品名称", "是否橱窗", "搜索曝光次数", "搜索点击次数", "询盘个数",
              "产品分"]
    months = [("2026-08-01", "2026-08-31"), ("2026-09-01", "2026-09-30"),
              ("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30")]
    for i, (start, end) in enumerate(months):
        rows = [["P1", "Idle lamp", "N", 50 if i == 0 else 0, 0, 0, 60],
                ["P2", "Rising pole", "N", 100 * (i + 1), 5, 1, 80],
                ["P3", "Idle post", "N", 0, 0, 0, 60],
                ["P4", "Idle bollard", "N", 0, 0, 0, 60]]
        result = ingest_file(engine, store, write_csv(
            tmp_path / f"products-{i}.csv", [*titles(2, f"时间周期{start}~{end}"), header, *rows]))
        assert result.status == "ingested", result
    p4p = [["日期", "计划名称", "关键词", "产品ID", "曝光量", "点击量", "花费", "询盘量"],
           ["2026-10-05", "灯具", "Solar Lamp", "P1", 10, 0, "0", 0],
           ["2026-10-05", "灯具", "garden light", "P1", 10, 0, "0", 0],
           ["2026-10-05", "灯具", "solar lamp", "P2", 100, 5, "5", 1],
           ["2026-10-05", "灯具", "bollard", "P2", 100, 5, "5", 0],
           ["2026-10-05", "灯具", "Bollard", "P4", 10, 0, "0", 0]]
    assert ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", p4p)).status == "ingested"
    data = build(engine, store, "monthly", date(2026, 12, 1))
    products = items(data)["products"]["facts"]
    assert [(p["product_id"], p["keywords"], p["uncovered"], p["covered"])
            for p in products["no_effect"]] == [
        ("P1", 2, ["garden light"], False), ("P3", 0, [], None), ("P4", 1, [], True)]
    assert [(p["product_id"], p["impressions"]) for p in products["rising"]] == [
        ("P2", [100, 200, 300, 400])]
    text = str(render("checklist_review.json.j2", checklist=data, lang="en"))
    assert "Idle lamp (keywords no other product covers: garden light)" in text
    assert "Idle bollard (its keywords are covered by other products)" in text
    assert "Idle post (no P4P keywords)" in text


def test_switches_and_posting_days(engine: Engine, store: Store) -> None:
    bind_channel(engine, store, "C1")
    configure_store(engine, store, settings={"weekly_day": "tue", "monthly_checklist": False})
    monday = run_due(engine, MONDAY_9, settings=NO_SLACK)
    assert [c["kind"] for c in monday["checklists"]] == ["daily"]
    tuesday = run_due(engine, MONDAY_9 + timedelta(days=1), settings=NO_SLACK)
    assert [c["kind"] for c in tuesday["checklists"]] == ["daily", "weekly"]
    first = run_due(engine, datetime(2026, 12, 1, 1, 0), settings=NO_SLACK)  # a Tuesday
    assert [c["kind"] for c in first["checklists"]] == ["daily", "weekly"]
    configure_store(engine, store, settings={"weekly_checklist": False})
    assert [c["kind"] for c in run_due(engine, datetime(2026, 12, 8, 1, 0),
                                       settings=NO_SLACK)["checklists"]] == ["daily"]


def test_monday_tick_posts_the_weekly_review_once_with_its_chart_through_a_429(
        engine: Engine, store: Store, tmp_path: Path, api: MockSlackAPI) -> None:
    exports(tmp_path, engine, store)
    bind_channel(engine, store, "C1")
    report = run_due(engine, MONDAY_9, settings=NO_SLACK)
    weekly = [c for c in report["checklists"] if c["kind"] == "weekly"]
    assert len(weekly) == 1 and weekly[0]["day"] == "2026-11-16"
    # a second tick, and a late catch-up tick within the window: nothing new
    assert run_due(engine, MONDAY_9 + timedelta(minutes=1), settings=NO_SLACK)["checklists"] == []
    assert run_due(engine, MONDAY_9 + timedelta(hours=2),
                   settings=NO_SLACK)["checklists"] == []
    with read(engine) as conn:
        rows = conn.execute(select(outbox_table).order_by(outbox_table.c.id)).all()
        assert conn.scalar(select(func.count()).select_from(checklists).where(
            checklists.c.kind == "weekly")) == 1
    charts = [r for r in rows if r.purpose == "chart"]
    assert len(charts) == 1  # the weekly review's; the daily checklist has none
    review_post = next(r for r in rows if r.id == charts[0].thread_of)
    assert review_post.dedupe_key == f"checklist:{weekly[0]['id']}:C1"
    assert_within_slack_limits(review_post.payload)

    api.fail_next("files.getUploadURLExternal", status=429, retry_after=7)
    client = client_for(api)
    first = deliver(engine, client, MONDAY_9, pacer=Pacer(0, 0))
    assert first.retrying == 1
    deliver(engine, client, MONDAY_9 + timedelta(seconds=7), pacer=Pacer(0, 0))
    deliver(engine, client, MONDAY_9 + timedelta(minutes=5), pacer=Pacer(0, 0))
    assert len(api.file_shares()) == 1
    (completed,) = [c for c in api.calls_to("files.completeUploadExternal")
                    if c.status == 200]
    with read(engine) as conn:
        ts = conn.scalar(select(outbox_table.c.ts).where(outbox_table.c.id == review_post.id))
    assert completed.params["thread_ts"] == ts


def test_a_channel_bound_later_gets_the_review_and_its_chart(engine: Engine,
                                                             store: Store) -> None:
    bind_channel(engine, store, "C1")
    run_due(engine, MONDAY_9, settings=NO_SLACK)
    bind_channel(engine, store, "C2")
    late = run_due(engine, MONDAY_9 + timedelta(hours=1), settings=NO_SLACK)
    assert {(p["checklist"], tuple(p["channels"])) for p in late["late_posts"]} >= {
        ("weekly", ("C2",))}
    with read(engine) as conn:
        charts = conn.execute(select(outbox_table.c.thread_of).where(
            outbox_table.c.purpose == "chart")).all()
    assert len(charts) == 2  # one per channel's post of the weekly review


def test_usual_keeps_the_figures_digits(engine: Engine, store: Store, tmp_path: Path) -> None:
    """`usual` is the mean of the weeks before that have data, at the figure's own precision:
    a click rate of 1.5% and 1.7% is usually 1.6% (0.016), not 2%."""
    p4p = [["日期", "计划名称", "产品ID", "曝光量", "点击量", "花费", "询盘量"],
           ["2026-10-27", "灯具", "P1", "1,000", "15", "￥30.00", "1"],
           ["2026-11-03", "灯具", "P1", "1,000", "17", "￥34.00", "1"],
           ["2026-11-10", "灯具", "P1", "1,000", "20", "￥41.00", "2"]]
    ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", p4p))
    metrics = {m["metric"]: m for m in
               items(build(engine, store, "weekly", MONDAY))["overview"]["facts"]["metrics"]}
    assert (metrics["p4p_ctr"]["value"], metrics["p4p_ctr"]["usual"]) == (0.02, 0.016)
    assert (metrics["p4p_cpc"]["value"], metrics["p4p_cpc"]["usual"]) == (2.05, 2.0)


def test_saturday_to_friday_reports_stand_for_the_week_they_end_in(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    """The back office's "last 7 days" exports run Saturday to Friday: the ISO week 11-09..15
    takes the product and keyword reports of 11-07..13 (the one before, 10-31..11-06) and
    says so; the keyword report of the week itself is still asked for."""
    from tests.test_keywords import keyword_report

    header = ["产品ID", "产品名称", "是否橱窗", "搜索曝光次数", "搜索点击次数", "询盘个数",
              "产品分"]
    for name, period, rows in [
            ("p-before.csv", "2026-10-31~2026-11-06", [["P1", "Lamp", "Y", 500, 10, 1, 80]]),
            ("p-now.csv", "2026-11-07~2026-11-13", [["P1", "Lamp", "Y", 300, 8, 1, 71]])]:
        result = ingest_file(engine, store, write_csv(
            tmp_path / name, [*titles(2, f"时间周期{period}"), header, *rows]))
        assert result.status == "ingested", result
    for period, rows in [(("2026-10-31", "2026-11-06"), {"lamp": (100, 5, 0, 0),
                                                         "pole": (400, 8, 0, 0)}),
                         (("2026-11-07", "2026-11-13"), {"lamp": (250, 9, 0, 0),
                                                         "pole": (200, 4, 0, 0)})]:
        assert ingest_file(engine, store, keyword_report(tmp_path, period, rows)
                           ).status == "ingested"
    data = build(engine, store, "weekly", MONDAY)
    got = items(data)
    products = got["products"]["facts"]
    assert products["report"] == {"start": "2026-11-07", "end": "2026-11-13"}
    assert [(p["product"], p["previous"], p["score"]) for p in products["score_fell"]] == [
        ("Lamp", 80.0, 71.0)]
    assert [(p["product"], p["gap"]) for p in products["near_target"]] == [("Lamp", 4.0)]
    words = got["keywords"]["facts"]
    assert words["lists_from"] == {"start": "2026-11-07", "end": "2026-11-13"}
    # lamp 100 -> 250 (+150%), pole 400 -> 200 (-50%)
    assert [(w["keyword"], w["impressions"], w["change"]) for w in words["top"]] == [
        ("lamp", 250, 1.5), ("pole", 200, -0.5)]
    assert [(m["start"], m["end"]) for m in words["missing"] if m["report"] == "keywords"] == [
        ("2026-11-09", "2026-11-15")]
    text = str(render("checklist_review.json.j2", checklist=data, lang="en"))
    assert "From the product report of 2026-11-07 – 2026-11-13." in text
    assert "export the keyword report of 2026-11-09 – 2026-11-15" in text
    assert "The keyword lists are from the reports of 2026-11-07 – 2026-11-13" in text


def test_missing_product_and_p4p_data_names_the_export(engine: Engine, store: Store) -> None:
    data = build(engine, store, "weekly", MONDAY)
    assert items(data)["products"]["facts"] is None and items(data)["p4p"]["facts"] is None
    text = str(render("checklist_review.json.j2", checklist=data, lang="en"))
    assert ("No data for this period: export the product report of 2026-11-09 – 2026-11-15."
            in text)
    assert "No data for this period: export the P4P report of 2026-11-09 – 2026-11-15." in text


def test_shares_from_a_source_by_country_table(engine: Engine, store: Store,
                                              tmp_path: Path) -> None:
    """A traffic export broken down by source and country together (no row by one alone):
    each share is the sum over the other breakdown."""
    rows = [["日期", "流量来源", "国家/地区", "店铺访问人数"],
            ["2026-11-03", "搜索", "US", 20], ["2026-11-03", "搜索", "DE", 10],
            ["2026-11-03", "直通车", "US", 10],
            ["2026-11-10", "搜索", "US", 5], ["2026-11-10", "搜索", "DE", 15],
            ["2026-11-10", "直通车", "US", 20]]
    assert ingest_file(engine, store, write_csv(tmp_path / "t.csv", rows)).status == "ingested"
    overview = items(build(engine, store, "weekly", MONDAY))["overview"]["facts"]
    sources = {s["name"]: (s["previous"], s["share"]) for s in overview["sources"]}
    assert sources == {"搜索": (0.75, 0.5), "直通车": (0.25, 0.5)}
    countries = {s["name"]: (s["previous"], s["share"]) for s in overview["countries"]}
    assert countries == {"US": (0.75, 0.625), "DE": (0.25, 0.375)}


def test_only_p4p_aggregates_leave_the_database(engine: Engine, store: Store,
                                                tmp_path: Path) -> None:
    """A monthly review spans 13 months of P4P rows: SQL sums them per day, plan and level
    (or selects distinct product-keyword pairs); no statement reads the rows themselves."""
    from sqlalchemy import event

    exports(tmp_path, engine, store)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statement = " ".join(statement.split())
        if " FROM p4p" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        monthly = build(engine, store, "monthly", date(2026, 12, 1))
        weekly = build(engine, store, "weekly", MONDAY)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert items(weekly)["p4p"]["facts"]["spend"] == 70.0
    assert items(monthly)["p4p"]["facts"]["spend"] == 95.0  # 25 + 40 + 30 in November
    assert seen
    for statement in seen:
        assert ("GROUP BY" in statement or "DISTINCT" in statement or "max(" in statement
                or "min(" in statement or "LIMIT" in statement), statement


def test_chinese_store_gets_a_chinese_chart(engine: Engine, tmp_path: Path) -> None:
    store = add_store(engine, "深圳", "Asia/Shanghai", language="zh")
    exports(tmp_path, engine, store)
    bind_channel(engine, store, "C9")
    run_due(engine, MONDAY_9, settings=NO_SLACK)
    with read(engine) as conn:
        post = conn.execute(select(outbox_table).where(
            outbox_table.c.purpose == "checklist",
            outbox_table.c.payload["text"].as_string().like("%周复盘%"))).first()
        chart = conn.execute(select(outbox_table).where(
            outbox_table.c.purpose == "chart")).one()
    assert post is not None
    assert "周" in chart.payload["text"]  # the file title, in Chinese


def test_the_keyword_item_takes_the_keywords_review(engine: Engine, store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam to /keywords (bot.metrics.keywords.review): its lists, in short, for the
    period under review."""
    asked: list[Any] = []

    def review(conn: Any, store_: Store, period: Any, today: date) -> dict[str, Any]:
        asked.append((period.start, period.end, today))
        return {"top": [{"keyword": f"w{i}"} for i in range(12)], "rising": [],
                "falling": None, "wasted": [{"keyword": "solar <x>"}],
                "candidates": [{"keyword": "lamp"}], "missing": [], "wasted_spend": 12.5,
                "currency": "CNY"}

    from bot.metrics import keywords

    monkeypatch.setattr(keywords, "review", review)
    data = build(engine, store, "weekly", MONDAY)
    assert asked == [(date(2026, 11, 9), date(2026, 11, 15), MONDAY)]
    found = items(data)["keywords"]["facts"]
    assert (len(found["top"]), found["top_count"]) == (10, 12)
    assert found["falling"] is None and found["wasted"] == [{"keyword": "solar <x>"}]
    text = str(render("checklist_review.json.j2", checklist=data, lang="en"))
    assert "w0, w1, w2, w3, w4 …and 7 more" in text and "solar &lt;x&gt;" in text


def test_stalled_movement_by_class(engine: Engine, store: Store, tmp_path: Path) -> None:
    """Entered and left per class between the week's first and last moment (11-09 00:00 and
    11-16 00:00 Shanghai), judged by /customers' own classifier on an inquiry list: zombie
    after 2 days unanswered, hesitant 7 days after a reply, lost 90 days after it."""
    header = ["询盘ID", "客户名", "国家/地区", "邮箱", "询盘标题", "创建时间", "最新回复时间",
              "业务员"]
    rows = [  # local times (UTC+8)
        ["Q1", "Ann", "US", "ann@x.com", "Hi", "2026-11-01 10:00", "", "Lily"],  # zombie, stays
        ["Q2", "Bo", "US", "bo@x.com", "Hi", "2026-11-10 10:00", "", "Lily"],  # enters zombie
        ["Q3", "Cy", "US", "cy@x.com", "Hi", "2026-11-14 10:00", "", "Lily"],  # 1 day: none
        ["Q4", "Dee", "US", "dee@x.com", "Hi", "2026-10-20 10:00", "2026-10-20 15:00", "Lily"],
        # replied 11-05: hesitant from 11-12
        ["Q5", "Eve", "US", "eve@x.com", "Hi", "2026-10-30 10:00", "2026-11-05 10:00", "Lily"],
        # replied 08-12: hesitant at the start, lost from 11-10
        ["Q6", "Fay", "US", "fay@x.com", "Hi", "2026-08-01 10:00", "2026-08-12 10:00", "Lily"],
        # a zombie at the start, answered on 11-10: left
        ["Q7", "Gus", "US", "gus@x.com", "Hi", "2026-11-02 10:00", "2026-11-10 10:00", "Lily"],
        # a zombie at the week's end, answered after it (on 11-20): still counted in the week
        ["Q8", "Hal", "US", "hal@x.com", "Hi", "2026-11-12 10:00", "2026-11-20 10:00", "Lily"],
    ]
    result = ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", [header, *rows]))
    assert result.status == "ingested", result
    moved = items(build(engine, store, "weekly", MONDAY))["transactions"]["facts"]["stalled"]
    assert moved == {"zombie": {"now": 3, "entered": 2, "left": 1},
                     "hesitant": {"now": 2, "entered": 1, "left": 1},
                     "lost": {"now": 1, "entered": 1, "left": 0}}
    # /customers counts the same at the week's end, but for Hal, answered since
    from bot.metrics.customers import stalled

    with read(engine) as conn:
        counts = stalled(conn, store, datetime(2026, 11, 15, 16))["counts"]
    assert counts == {"zombie": 2, "hesitant": 2, "lost": 1}


def test_cli_weekly_json_and_chart(cli: Any, engine: Engine, store: Store,
                                   tmp_path: Path) -> None:
    exports(tmp_path, engine, store)
    png = tmp_path / "weekly.png"
    code, out, err = cli("checklist", "weekly", "--store", store.name, "--now", "2026-11-16",
                         "--json", "--chart", png)
    assert code == 0, err
    data = json.loads(out)
    assert data["chart"] == str(png) and png.read_bytes().startswith(b"\x89PNG")
    review = data["data"]
    assert (review["period"], review["previous"]) == (
        {"start": "2026-11-09", "end": "2026-11-15"},
        {"start": "2026-11-02", "end": "2026-11-08"})
    # data.items keyed by item, in the message's order
    assert list(review["items"]) == ["overview", "p4p", "products", "keywords", "transactions"]
    overview = review["items"]["overview"]
    assert (overview["title"], overview["done"], overview["stale"]) == ("Overview", False, None)
    assert overview["facts"]["metrics"][0] == {"metric": "impressions", "value": 1400,
                                               "previous": 700, "change": 1.0, "usual": 700.0}
    code, out, err = cli("checklist", "monthly", "--store", store.name, "--now", "2026-12-01",
                         "--chart", tmp_path / "no-such-dir" / "m.png")
    assert code != 0 and "cannot write the chart" in err
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklists)) == 0


def test_review_settings_parse_and_monthly_day_past_a_short_month() -> None:
    from bot.checklists import monthly, weekly
    from bot.stores import StoreError, parse_setting

    assert parse_setting("weekly_day", "Tue") == "tuesday"
    assert parse_setting("monthly_day", "31") == 31
    assert parse_setting("weekly_checklist", "off") is False
    assert parse_setting("product_score_target", "80") == 80
    for key, bad in [("weekly_day", "someday"), ("weekly_day", "t"), ("monthly_day", "32"),
                     ("product_score_target", "120")]:
        with pytest.raises(StoreError):
            parse_setting(key, bad)
    assert weekly.posts_on(date(2026, 11, 17), {"weekly_day": "tuesday"})
    assert not weekly.posts_on(date(2026, 11, 16), {"weekly_day": "tuesday"})
    # monthly_day 31: on the 30th in November, the 28th in February 2027
    assert monthly.posts_on(date(2026, 11, 30), {"monthly_day": 31})
    assert monthly.posts_on(date(2027, 2, 28), {"monthly_day": 31})
    assert not monthly.posts_on(date(2026, 12, 30), {"monthly_day": 31})


def test_a_ticked_review_item_redraws_with_who_did_it(engine: Engine, store: Store) -> None:
    from bot.checklists import records
    from bot.storage import write
    from jobs import checklist_messages

    bind_channel(engine, store, "C1")
    run_due(engine, MONDAY_9, settings=NO_SLACK)
    with write(engine) as conn:
        review_id = records.find(conn, store, "weekly", MONDAY)
        assert review_id is not None
        records.tick(conn, review_id, "p4p", "U12345", True, MONDAY_9 + timedelta(hours=1))
        edits = checklist_messages.redraw(conn, review_id, MONDAY_9, "v1")
        message = checklist_messages.message(conn, review_id)
        with pytest.raises(records.ChecklistError):
            records.tick(conn, review_id, "review", "U1", True, MONDAY_9)  # monthly only
    assert len(edits) == 1
    text = str(message)
    assert "✓ done by <@U12345> at 10:00" in text
    assert f'"value": "{review_id}:p4p"' in json.dumps(message, ensure_ascii=False)


def test_the_keyword_item_names_a_missing_keyword_report(engine: Engine, store: Store,
                                                         tmp_path: Path) -> None:
    """With /keywords on main: no keyword report covers the week, so the item says which to
    export instead of showing empty lists."""
    exports(tmp_path, engine, store)
    data = build(engine, store, "weekly", MONDAY)
    found = items(data)["keywords"]["facts"]
    assert found["top"] is None
    assert {"report": "keywords", "role": "period", "start": "2026-11-09",
            "end": "2026-11-15"} in found["missing"]
    text = str(render("checklist_review.json.j2", checklist=data, lang="en"))
    assert "export the keyword report of 2026-11-09 – 2026-11-15" in text
