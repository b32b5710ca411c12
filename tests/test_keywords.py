"""`/keywords`: the weekly keyword review from Data Manager keyword reports and P4P reports,
written in the back office's layouts (BIFF8 `.xls` with title rows; one P4P `.xlsx` per plan
with 3 title rows and a 汇总 row) and ingested like any drop. Every figure below is worked
out by hand from the tables in this file."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bot.ingest.drop import ingest_file
from bot.metrics import keywords as metrics
from bot.stores import Store, StoreError, add_store, configure_store
from bot.text import CLIP
from cli.terminal import message_text
from handlers.commands import run_command
from tests.files import write_xls, write_xlsx
from tests.slack_limits import assert_data_escaped, assert_no_mentions, assert_within_slack_limits

NOW = datetime.fromisoformat("2026-11-17T09:00+08:00")  # a Tuesday; today is 11-17
W1, W2 = ("2026-10-12", "2026-10-18"), ("2026-10-19", "2026-10-25")
W3, W4 = ("2026-10-26", "2026-11-01"), ("2026-11-02", "2026-11-08")
W5 = ("2026-11-09", "2026-11-15")
OCTOBER, MONTH_TO_DATE = ("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-15")

KEYWORD_HEADER = ["词", "曝光量", "点击量", "点击率", "外贸直通车曝光", "外贸直通车点击",
                  "推广时长", "Top10平均曝光", "Top10平均点击", "关键词指数", "卖家规模指数"]
# Keyword report rows: word -> (impressions, clicks, P4P impressions, P4P clicks).
REPORTS: dict[tuple[str, str], dict[str, tuple[int, int, int, int]]] = {
    W1: {"solar street light": (1000, 50, 300, 15), "poste solar": (900, 20, 0, 0),
         "solar flood light": (280, 8, 90, 3), "garden lamp": (210, 3, 0, 0),
         "bollard light": (120, 2, 0, 0), "wall lamp": (90, 1, 0, 0)},
    W2: {"solar street light": (1000, 50, 300, 15), "poste solar": (950, 21, 0, 0),
         "solar flood light": (290, 8, 90, 3), "garden lamp": (205, 3, 0, 0),
         "bollard light": (110, 2, 0, 0), "wall lamp": (95, 1, 0, 0)},
    W3: {"solar street light": (1000, 50, 300, 15), "poste solar": (980, 22, 0, 0),
         "solar flood light": (295, 8, 95, 3), "garden lamp": (200, 3, 0, 0),
         "bollard light": (105, 2, 0, 0), "wall lamp": (97, 1, 0, 0),
         "street lamp": (80, 1, 0, 0)},
    # The previous week spells one word in capitals: still the same keyword.
    W4: {"solar street light": (1000, 50, 300, 15), "poste solar": (1000, 25, 0, 0),
         "Solar Flood Light": (300, 8, 100, 3), "garden lamp": (200, 3, 0, 0),
         "bollard light": (100, 2, 0, 0), "wall lamp": (99, 1, 0, 0)},
    W5: {"solar street light": (1200, 60, 400, 20), "poste solar": (1400, 28, 0, 0),
         "solar flood light": (450, 9, 100, 3), "street lamp": (300, 12, 0, 0),
         "garden lamp": (140, 2, 0, 0), "solar lantern": (100, 4, 0, 0),
         "camping light": (99, 1, 0, 0)},
    # A monthly report and a month-to-date one, overlapping the weeks: never added to them.
    OCTOBER: {"solar street light": (4400, 220, 1300, 60), "poste solar": (3900, 90, 0, 0),
              "solar flood light": (1200, 30, 380, 12), "garden lamp": (900, 12, 0, 0),
              "bollard light": (500, 8, 0, 0), "wall lamp": (400, 4, 0, 0)},
    MONTH_TO_DATE: {"solar street light": (2300, 115, 750, 38), "poste solar": (2500, 55, 0, 0),
                    "solar flood light": (800, 18, 200, 6), "solar lantern": (100, 4, 0, 0),
                    "street lamp": (320, 13, 0, 0), "garden lamp": (350, 5, 0, 0),
                    "bollard light": (100, 2, 0, 0), "camping light": (99, 1, 0, 0)},
}

P4P_HEADER = ["日期", "计划名称", "关键词", "出价", "推广评分", "排名", "曝光量", "点击量",
              "点击率", "花费", "点击成本", "询盘量", "日预算"]
# P4P keyword rows: (day, keyword, position, impressions, clicks, spend, inquiries).
CORE = [
    # every day of W5: the word that sells (7 inquiries, 70.00 CNY)
    *[(f"2026-11-{d:02d}", "solar street light", 2, 200, 5, 10.0, 1) for d in range(9, 16)],
    # exactly 10 clicks, 25.00 spent, never an inquiry (also not on 08-01): wasted
    *[(f"2026-11-{d:02d}", "cheap solar light", 6, 100, 2, 5.0, 0) for d in range(9, 14)],
    ("2026-08-01", "cheap solar light", 7, 300, 6, 9.0, 0),
    # 9 clicks: one short of wasted
    ("2026-11-09", "solar light 9", 8, 100, 3, 6.5, 0),
    ("2026-11-10", "solar light 9", 8, 100, 3, 6.5, 0),
    ("2026-11-11", "solar light 9", 8, 100, 3, 7.0, 0),
    # 30 clicks and no inquiry this week, but one inquiry 60 days before today: not wasted
    *[(f"2026-11-{d:02d}", "solar garden light", 4, 150, 5, 10.0, 0) for d in range(9, 15)],
    ("2026-09-18", "solar garden light", 3, 200, 4, 8.0, 1),
    # 5 clicks here and 7 in the Broad plan as "flood light pro": 12 clicks, 24.00, wasted
    ("2026-11-09", "Flood Light Pro", -1, 150, 5, 10.0, 0),
    # 15 clicks that cost nothing: not wasted
    ("2026-11-12", "free keyword", 5, 300, 15, 0.0, 0),
    # 20 clicks and an inquiry this week
    ("2026-11-13", "converting word", 3, 400, 20, 30.0, 1),
    # P4P spend 33 days before today: not "in P4P" lately
    ("2026-10-15", "poste solar", 5, 200, 3, 6.0, 0),
]
BROAD = [
    ("2026-11-10", "flood light pro", 9, 200, 7, 14.0, 0),
    # within the 30 days before today: "solar flood light" is in P4P
    ("2026-10-20", "Solar Flood Light", 4, 120, 2, 3.0, 0),
]
# P4P spend of W5, one level per (date, plan) (bot.metrics.p4p.spend_rows):
#   Core keyword rows: 70 + 25 + 20 + 60 + 10 + 0 + 30 = 215.00, of which 11-10 holds
#   10 + 5 + 6.50 + 10 = 31.50; a plan-level row says Core spent 50.00 on 11-10, so Core
#   is 215 - 31.50 + 50 = 233.50. Broad 14.00. The Smart plan's product row 100.00.
P4P_SPEND = 233.5 + 14.0 + 100.0
WASTED = [  # keyword, plans, spend, clicks, impressions
    ("cheap solar light", ["Core"], 25.0, 10, 500),
    ("flood light pro", ["Broad", "Core"], 24.0, 12, 350),
]


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.2%}" if whole else "0.00%"


def keyword_report(folder: Path, period: tuple[str, str],
                   rows: dict[str, tuple[int, int, int, int]]) -> Path:
    """A Data Manager keyword export: title rows, the header on row 6, a BIFF8 .xls."""
    table: list[list[object]] = [["关键词分析"], [f"时间周期{period[0]}~{period[1]}"], [], [], [],
                                 KEYWORD_HEADER]
    for word, (imp, clk, p_imp, p_clk) in rows.items():
        table.append([word, f"{imp:,}", clk, _pct(clk, imp), p_imp or "-", p_clk or "-",
                      168 if p_imp else "-", 900, 20, 88, 120])
    end = date.fromisoformat(period[1]) + timedelta(days=1)
    name = f"getKeywords-{end}.xls"
    if (folder / name).exists():  # two reports exported the same day: the browser's (1)
        name = f"getKeywords-{end} (1).xls"
    return write_xls(folder / name, table)


def p4p_report(folder: Path, plan: str, rows: list[tuple[Any, ...]]) -> Path:
    """A P4P plan report: 3 title rows, the header, rows, a 汇总 totals row (.xlsx)."""
    days = sorted(r[0] for r in rows)
    table: list[list[object]] = [["外贸直通车 推广报告"], [f"计划名称：{plan}"],
                                 [f"统计时间：{days[0]} 至 {days[-1]}"], P4P_HEADER]
    for day, word, pos, imp, clk, spend, inq in rows:
        table.append([day, plan, word, "¥4.20", 4, pos, imp, clk, _pct(clk, imp),
                      f"¥{spend:,.2f}", f"¥{spend / clk:.2f}" if clk else "--", inq or "-",
                      "¥300.00"])
    table.append(["汇总", "", "", "", "", "", sum(r[3] for r in rows), sum(r[4] for r in rows),
                  "", f"¥{sum(r[5] for r in rows):,.2f}", "", sum(r[6] for r in rows), ""])
    return write_xlsx(folder / f"{plan} {days[-1].replace('-', '')}(2026-11-16 09_12_30).xlsx",
                      table)


def other_p4p_reports(folder: Path) -> list[Path]:
    """The Smart plan's product-level report and the Core plan's plan-level day."""
    product = write_xlsx(folder / "Smart 20261110(2026-11-16 09_13_00).xlsx", [
        ["外贸直通车 推广报告"], ["计划名称：Smart"], ["统计时间：2026-11-10 至 2026-11-10"],
        ["日期", "计划名称", "产品ID", "曝光量", "点击量", "点击率", "花费", "点击成本", "询盘量"],
        ["2026-11-10", "Smart", "1600123456", 900, 30, "3.33%", "¥100.00", "¥3.33", 2],
        ["汇总", "", "", 900, 30, "3.33%", "¥100.00", "", 2]])
    plan = write_xlsx(folder / "直通车计划报表 Core 20261110.xlsx", [
        ["外贸直通车 计划报告"], ["计划名称：Core"], ["统计时间：2026-11-10 至 2026-11-10"],
        ["日期", "计划名称", "曝光量", "点击量", "花费", "询盘量"],
        ["2026-11-10", "Core", 1200, 20, "¥50.00", 1]])
    return [product, plan]


def ingest(engine: Engine, store: Store, paths: list[Path]) -> None:
    for path in paths:
        result = ingest_file(engine, store, path)
        assert result.status == "ingested" and not result.quarantined, (path, result)


@pytest.fixture
def shop(engine: Engine, store: Store, tmp_path: Path) -> Store:
    """The store with every report of this module ingested."""
    ingest(engine, store, [keyword_report(tmp_path, p, rows) for p, rows in REPORTS.items()])
    ingest(engine, store, [p4p_report(tmp_path, "Core", CORE), p4p_report(tmp_path, "Broad", BROAD),
                           *other_p4p_reports(tmp_path)])
    return store


def ask(engine: Engine, store: Store, text: str) -> Any:
    return run_command(engine, "/keywords", text, store=store, now=NOW)


def rows_by_word(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["keyword"]: r for r in rows}


# ---- the default period and every list ------------------------------------------------------


def test_the_default_is_the_latest_week_a_report_covers(engine: Engine, shop: Store) -> None:
    result = ask(engine, shop, "")
    assert result.ok and not result.ephemeral
    data = result.data
    # The month-to-date report ends on the same day but is not a week.
    assert (data["start"], data["end"]) == W5
    assert data["previous"] == {"start": W4[0], "end": W4[1]}
    assert data["reports"] == [{"start": W5[0], "end": W5[1]}]
    assert data["missing"] == []


def test_top_keywords_with_their_change(engine: Engine, shop: Store) -> None:
    top = ask(engine, shop, "top").data["top"]
    assert [r["keyword"] for r in top] == ["poste solar", "solar street light",
                                           "solar flood light", "street lamp", "garden lamp",
                                           "solar lantern", "camping light"]
    first = top[0]
    assert first == {"keyword": "poste solar", "impressions": 1400, "clicks": 28,
                     "ctr": pytest.approx(0.02), "p4p_impressions": None, "p4p_clicks": None,
                     "previous_impressions": 1000, "change": pytest.approx(0.4)}
    words = rows_by_word(top)
    # 1,200 vs 1,000; the week alone (the month-to-date report's 2,300 is not added)
    assert words["solar street light"]["impressions"] == 1200
    assert words["solar street light"]["p4p_impressions"] == 400
    assert words["solar street light"]["change"] == pytest.approx(0.2)
    # "Solar Flood Light" last week is the same keyword: 300 -> 450
    assert words["solar flood light"]["previous_impressions"] == 300
    # absent from last week's report, which covers the week: 0 before, no change to show
    assert words["street lamp"]["previous_impressions"] == 0
    assert words["street lamp"]["change"] is None


def test_rising_boundaries_and_a_word_new_this_week(engine: Engine, shop: Store) -> None:
    rising = ask(engine, shop, "rising").data["rising"]
    # street lamp: 0 -> 300 (gain 300); solar flood light: 300 -> 450, exactly +50% (gain
    # 150); solar lantern: new this week with exactly 100 impressions (gain 100). Not rising:
    # poste solar +40%, camping light (new, 99 impressions).
    assert [r["keyword"] for r in rising] == ["street lamp", "solar flood light",
                                              "solar lantern"]
    words = rows_by_word(rising)
    assert words["solar lantern"] == {"keyword": "solar lantern", "impressions": 100,
                                      "previous_impressions": 0, "change": None, "new": True,
                                      "in_p4p": False}
    # listed by the report of 10-26..11-01, within the 4 weeks before: not new
    assert words["street lamp"]["new"] is False
    assert words["solar flood light"]["change"] == pytest.approx(0.5)
    assert words["solar flood light"]["in_p4p"] is True  # 3.00 spent on 10-20


def test_falling_boundaries_and_a_word_gone(engine: Engine, shop: Store) -> None:
    falling = ask(engine, shop, "falling").data["falling"]
    # bollard light: 100 -> gone (0); garden lamp: 200 -> 140, exactly -30%. Not falling:
    # wall lamp 99 -> gone (under 100 before).
    assert falling == [
        {"keyword": "bollard light", "impressions": 0, "previous_impressions": 100,
         "change": -1.0, "gone": True},
        {"keyword": "garden lamp", "impressions": 140, "previous_impressions": 200,
         "change": pytest.approx(-0.3), "gone": False},
    ]


def test_wasted_keywords_and_their_boundaries(engine: Engine, shop: Store) -> None:
    data = ask(engine, shop, "wasted").data
    assert [(r["keyword"], r["plans"], r["spend"], r["clicks"], r["impressions"])
            for r in data["wasted"]] == WASTED
    assert all(r["currency"] == "CNY" for r in data["wasted"])
    assert data["wasted_spend"] == pytest.approx(49.0)
    assert data["p4p_spend"] == pytest.approx(P4P_SPEND)
    assert data["currency"] == "CNY"
    words = {r["keyword"] for r in data["wasted"]}
    assert "solar light 9" not in words  # 9 clicks
    assert "solar garden light" not in words  # one inquiry, on 09-18
    assert "free keyword" not in words and "converting word" not in words


def test_candidates_for_p4p(engine: Engine, shop: Store) -> None:
    candidates = ask(engine, shop, "candidates").data["candidates"]
    # rising and not in P4P (solar flood light is), then the top organic clicks not in P4P
    # (solar street light is; poste solar's spend was 33 days ago).
    assert [(c["keyword"], c["reason"]) for c in candidates] == [
        ("street lamp", "rising"), ("solar lantern", "new"),
        ("poste solar", "top_organic_clicks"), ("garden lamp", "top_organic_clicks"),
        ("camping light", "top_organic_clicks")]
    assert rows_by_word(candidates)["poste solar"] == {
        "keyword": "poste solar", "impressions": 1400, "clicks": 28, "organic_clicks": 28,
        "reason": "top_organic_clicks"}


def test_thresholds_are_store_settings(engine: Engine, shop: Store) -> None:
    store = configure_store(engine, shop, settings={"wasted_min_clicks": "11",
                                                    "rising_min_change": "0.6",
                                                    "falling_min_drop": "0.5"})
    data = ask(engine, store, "").data
    assert [r["keyword"] for r in data["wasted"]] == ["flood light pro"]  # 10 < 11
    assert "solar flood light" not in {r["keyword"] for r in data["rising"]}  # +50% < 60%
    assert [r["keyword"] for r in data["falling"]] == ["bollard light"]
    assert data["thresholds"]["wasted_min_clicks"] == 11
    for bad in ({"rising_min_change": "0"}, {"falling_min_drop": "1.5"},
                {"wasted_min_clicks": "ten"}, {"rising_min_impressions": "-3"}):
        with pytest.raises(StoreError):
            configure_store(engine, store, settings=bad)
    typo = run_command(engine, "/opsbot", "config wasted_min_click 12", store=store)
    assert not typo.ok and "did you mean wasted_min_clicks?" in typo.message["text"]


# ---- periods and overlapping reports --------------------------------------------------------


def test_a_monthly_report_is_used_alone_for_its_month(engine: Engine, shop: Store) -> None:
    data = ask(engine, shop, "2026-10-01..2026-10-31 top").data
    assert data["reports"] == [{"start": OCTOBER[0], "end": OCTOBER[1]}]
    words = rows_by_word(data["top"])
    assert words["solar street light"]["impressions"] == 4400  # not + W1 + W2
    # no report covers September: no previous figure, and the answer says so
    assert words["solar street light"]["previous_impressions"] is None
    assert words["solar street light"]["change"] is None
    assert {"report": "keywords", "role": "previous", "start": "2026-08-31",
            "end": "2026-09-30"} in data["missing"]


def test_weekly_reports_tile_four_weeks(engine: Engine, shop: Store) -> None:
    data = ask(engine, shop, "2026-10-12..2026-11-08").data
    assert [r["start"] for r in data["reports"]] == [W1[0], W2[0], W3[0], W4[0]]
    words = rows_by_word(data["top"])
    assert words["solar street light"]["impressions"] == 4000
    assert words["poste solar"]["impressions"] == 900 + 950 + 980 + 1000


def test_overlapping_reports_are_never_added_and_gaps_are_named(engine: Engine,
                                                                shop: Store) -> None:
    # October (31 days) + the week of 11-02 tile the most days; the week of 10-26..11-01
    # overlaps October, so 11-01 is covered by no report that could be added.
    result = ask(engine, shop, "2026-10-01..2026-11-08")
    data = result.data
    assert data["top"] is None and data["rising"] is None and data["candidates"] is None
    assert data["missing"][0] == {"report": "keywords", "role": "period",
                                  "start": "2026-11-01", "end": "2026-11-01"}
    text = message_text(result.message)
    assert "No keyword report covers 2026-11-01" in text
    assert not re.search(r"(?<![\d,])0 impressions", text)  # nothing shown as zero


def test_a_period_no_report_covers_says_what_to_export(engine: Engine, shop: Store) -> None:
    result = ask(engine, shop, "yesterday")
    data = result.data
    assert (data["start"], data["end"]) == ("2026-11-16", "2026-11-16")
    assert data["top"] is None and data["wasted"] is None and data["p4p_spend"] is None
    assert data["nearest_report"] == {"start": W5[0], "end": W5[1]}
    text = message_text(result.message)
    assert "No keyword report covers 2026-11-16: export the Data Manager keyword report" in text
    assert "No P4P report covers 2026-11-16" in text
    assert "/keywords 2026-11-09..2026-11-15" in text


def test_the_tiling_rule() -> None:
    d = date.fromisoformat
    week = (d("2026-11-09"), d("2026-11-15"))
    month = (d("2026-11-01"), d("2026-11-30"))
    weeks = [(d("2026-11-02"), d("2026-11-08")), week, (d("2026-11-16"), d("2026-11-22")),
             (d("2026-11-23"), d("2026-11-29"))]
    assert metrics.tile([*weeks, month], week) == ([week], [])
    assert metrics.tile([*weeks, month], month) == ([month], [])  # the exact match
    chosen, gaps = metrics.tile(weeks, month)
    assert chosen == weeks
    assert gaps == [(d("2026-11-01"), d("2026-11-01")), (d("2026-11-30"), d("2026-11-30"))]
    # shifted weeks overlap: never both
    shifted = [(d("2026-11-09"), d("2026-11-15")), (d("2026-11-12"), d("2026-11-18"))]
    chosen, gaps = metrics.tile(shifted, (d("2026-11-09"), d("2026-11-18")))
    assert chosen == shifted[:1] and gaps == [(d("2026-11-16"), d("2026-11-18"))]


# ---- one keyword ----------------------------------------------------------------------------


def test_one_keyword_matched_across_case_and_width(engine: Engine, shop: Store) -> None:
    # Typed full-width with an ideographic space; stored as "solar flood light" in the
    # keyword reports (and "Solar Flood Light" in last week's) and in the P4P report.
    result = ask(engine, shop, "ＳＯＬＡＲ　Ｆｌｏｏｄ　ｌｉｇｈｔ")
    assert result.ok
    data = result.data
    assert data["keyword"] == "solar flood light"
    # The last report periods up to 11-15, newest first, without overlaps: the weeks (the
    # month-to-date report and October overlap them).
    assert [(p["start"], p["end"]) for p in data["periods"]] == [W5, W4, W3, W2, W1]
    assert data["periods"][0] == {
        "start": W5[0], "end": W5[1], "listed": True, "impressions": 450, "clicks": 9,
        "organic_impressions": 350, "organic_clicks": 6, "p4p_impressions": 100,
        "p4p_clicks": 3}
    assert data["periods"][1]["impressions"] == 300
    weeks = {w["start"]: w for w in data["weeks"]}
    assert len(data["weeks"]) == 8 and data["weeks"][0]["start"] == W5[0]
    assert weeks["2026-10-19"] == {
        "start": "2026-10-19", "end": "2026-10-25", "covered": True, "spend": 3.0,
        "currency": "CNY", "spend_by_currency": [{"currency": "CNY", "amount": 3.0}],
        "rates": [], "clicks": 2, "impressions": 120, "inquiries": 0, "position": 4.0}
    # P4P reports cover W5 but the word had no row: zeros; no report for 11-02..08: unknown
    assert weeks[W5[0]]["spend"] == 0.0 and weeks[W5[0]]["clicks"] == 0
    assert weeks[W4[0]]["covered"] is False and weeks[W4[0]]["spend"] is None
    text = message_text(result.message)
    assert "2026-11-02..08 · no P4P report" in text


def test_an_unknown_word_gets_usage_help(engine: Engine, shop: Store) -> None:
    result = ask(engine, shop, "wated")
    assert not result.ok and result.ephemeral
    text = message_text(result.message)
    assert "no keyword `wated`" in text and "/keywords [period] WORD" in text
    assert "did you mean the list `wasted`?" in text  # a list's name, mistyped
    bad_date = ask(engine, shop, "2026-13-01")
    assert not bad_date.ok and "is not a date" in message_text(bad_date.message)
    both = ask(engine, shop, "top rising")
    assert not both.ok and "choose one list" in message_text(both.message)


def test_a_period_and_a_word_together(engine: Engine, shop: Store) -> None:
    data = ask(engine, shop, "2026-10-19..2026-11-08 poste solar").data
    assert data["end"] == "2026-11-08"
    assert [p["start"] for p in data["periods"]] == [W4[0], W3[0], W2[0], W1[0]]
    named = ask(engine, shop, 'word:"rising" last week')  # a keyword spelled like a list word
    assert not named.ok and "no keyword `rising`" in message_text(named.message)
    assert "did you mean" not in message_text(named.message)  # asked for as a keyword


# ---- words, language, escaping, limits ------------------------------------------------------


@pytest.mark.parametrize(("words", "view"), [
    ("热门", "top"), ("上升", "rising"), ("下降", "falling"), ("浪费", "wasted"),
    ("候选", "candidates"), ("关键词", "all"), ("上周 浪费", "wasted"),
])
def test_chinese_words(engine: Engine, shop: Store, words: str, view: str) -> None:
    zh = configure_store(engine, shop, language="zh")
    result = ask(engine, zh, words)
    assert result.ok
    english = ask(engine, shop, {"top": "top", "rising": "rising", "falling": "falling",
                                 "wasted": "wasted", "candidates": "candidates",
                                 "all": ""}[view] if " " not in words else "last week wasted")
    assert result.data == english.data


def test_a_zh_store_reads_chinese_with_the_same_figures(engine: Engine, shop: Store) -> None:
    en_text = message_text(ask(engine, shop, "").message)
    zh = configure_store(engine, shop, language="zh")
    zh_text = message_text(ask(engine, zh, "").message)
    for heading in ("热门词（按曝光）", "上升词", "下降词", "直通车浪费词", "建议加入直通车"):
        assert heading in zh_text
    assert "Top keywords" not in zh_text and "impressions" not in zh_text
    assert "cheap solar light — 25.00 CNY · 点击 10 · 曝光 500 · Core" in zh_text
    assert "直通车总花费 347.50 CNY，其中浪费 49.00 CNY（14.1%）" in zh_text
    assert "49.00 CNY of 347.50 CNY P4P spend (14.1%)" in en_text
    unknown = ask(engine, zh, "乱写")
    assert not unknown.ok
    assert "关键词报表和直通车报表中都没有关键词 `乱写`" in message_text(unknown.message)
    assert "用法" in message_text(unknown.message)


def test_keyword_and_plan_text_is_escaped(engine: Engine, store: Store, tmp_path: Path) -> None:
    evil, plan = "<!channel> solar & <@U123>", "<!here> plan"
    ingest(engine, store, [
        keyword_report(tmp_path, W4, {"lamp": (500, 5, 0, 0)}),
        keyword_report(tmp_path, W5, {evil: (900, 40, 0, 0), "lamp": (500, 5, 0, 0)}),
        p4p_report(tmp_path, plan, [(f"2026-11-{d:02d}", evil, 3, 100, 4, 5.0, 0)
                                    for d in range(9, 16)])])
    result = ask(engine, store, "")
    assert rows_by_word(result.data["wasted"])[evil]["plans"] == [plan]
    assert evil in {r["keyword"] for r in result.data["top"]}
    for message in (result.message, ask(engine, store, "&lt;!channel&gt; solar &amp; "
                                                       "&lt;@U123&gt;").message):
        assert_no_mentions(message)
        assert_data_escaped(message, evil, plan)
        assert_within_slack_limits(message)
    assert "&lt;!channel&gt; solar &amp; &lt;@U123&gt;" in json.dumps(result.message)


def test_long_lists_are_cut_at_ten_and_complete_in_json(engine: Engine, store: Store,
                                                        tmp_path: Path, cli: Any) -> None:
    long = "solar street light " * 30  # 570 characters
    before = {f"{long}{i:02d}": (200, 2, 0, 0) for i in range(30)}
    now = {f"{long}{i:02d}": (1000 + i, 40 + i, 0, 0) for i in range(30)}
    ingest(engine, store, [
        keyword_report(tmp_path, W4, before), keyword_report(tmp_path, W5, now),
        p4p_report(tmp_path, "Core", [(f"2026-11-{d:02d}", f"{long}ad {i:02d}", 3, 100, 2, 1.5, 0)
                                      for i in range(30) for d in range(9, 16)])])
    result = ask(engine, store, "")
    for name in ("top", "rising", "wasted", "candidates"):
        assert len(result.data[name]) == 30, name
    assert_within_slack_limits(result.message)
    text = message_text(result.message)
    assert text.count("…and 20 more") == 4
    assert f"{long[:CLIP - 1]}…" in text  # each keyword clipped to the one clip length
    # The CLI twin: the same contract, every row.
    code, out, _ = cli("ask", "/keywords wasted", "--store", store.name, "--now", NOW.isoformat(),
                       "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["command"] == "/keywords" and len(answer["data"]["wasted"]) == 30
    assert set(answer["data"]) >= {"start", "end", "previous", "top", "rising", "falling",
                                   "wasted", "wasted_spend", "p4p_spend", "candidates"}


def test_spend_in_two_currencies_is_not_added_up(engine: Engine, store: Store,
                                                 tmp_path: Path) -> None:
    ingest(engine, store, [keyword_report(tmp_path, W5, {"lamp": (500, 5, 0, 0)})])
    rows = [["日期", "计划名称", "关键词", "点击量", "花费", "询盘量", "币种"]]
    rows += [[f"2026-11-{d:02d}", "Core", "lamp", 2, "25.00", 0, "CNY"] for d in range(9, 16)]
    rows += [["2026-11-10", "US plan", "lamp", 3, "3.00", 0, "USD"]]
    ingest(engine, store, [write_xlsx(tmp_path / "直通车 lamp.xlsx", rows)])
    data = ask(engine, store, "wasted").data
    (lamp,) = data["wasted"]
    assert lamp["spend"] is None and lamp["spend_by_currency"] == [
        {"currency": "CNY", "amount": 175.0}, {"currency": "USD", "amount": 3.0}]
    assert data["p4p_spend"] is None and data["currency"] is None
    text = message_text(ask(engine, store, "wasted").message)
    assert "175.00 CNY + 3.00 USD" in text and "set usd_cny_rate" in text
    # With the store's rate, one total in CNY, and the message names the rate.
    rated = configure_store(engine, store, settings={"usd_cny_rate": "7"})
    result = ask(engine, rated, "wasted")
    (lamp,) = result.data["wasted"]
    assert (lamp["spend"], lamp["currency"]) == (pytest.approx(196.0), "CNY")
    assert result.data["p4p_spend"] == pytest.approx(196.0)
    assert result.data["rates"] == [{"from": "USD", "to": "CNY", "rate": 7,
                                     "setting": "usd_cny_rate"}]
    text = message_text(result.message)
    assert "lamp — 196.00 CNY" in text and "spend converted at 1 USD = 7 CNY" in text


def test_only_aggregates_leave_the_database(engine: Engine, shop: Store) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if " FROM p4p" in statement or " FROM keywords" in statement:
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        for words in ("", "solar flood light", "2026-10-01..2026-11-08"):
            assert ask(engine, shop, words).ok
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen
    for statement in seen:
        assert ("GROUP BY" in statement or "max(" in statement or "min(" in statement
                or "LIMIT" in statement), statement


def test_no_reports_at_all(engine: Engine) -> None:
    store = add_store(engine, "empty")
    result = ask(engine, store, "")
    data = result.data
    assert (data["start"], data["end"]) == ("2026-11-10", "2026-11-16")  # 7 days to yesterday
    assert data["top"] is None and data["wasted"] is None
    assert [m["report"] for m in data["missing"]] == ["keywords", "p4p"]
    assert_within_slack_limits(result.message)
