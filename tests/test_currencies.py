"""Money keeps its currency: a value's own mark (US $, $, USD, ¥, ￥, CNY, RMB) wins over the
file's currency column, which wins over the kind's default; amounts in different currencies
are never added up - shown apart, or converted at the store's `usd_cny_rate`, which the
message names - in the checklist's P4P item and the inquiry-drop alert's P4P hint."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.alerts import incidents as alerts
from bot.checklists.daily import build_daily
from bot.ingest.drop import ingest_file
from bot.metrics.money import currency_of
from bot.storage import read, write
from bot.stores import Store, StoreError, bind_channel, configure_store, parse_setting
from jobs.tick import evaluate_alerts
from templates import render
from tests.facts import put
from tests.files import by, quarantined, stored, write_csv
from tests.test_alerts import history, outbox_rows, seed_inquiries

# Tuesday 2026-11-17, 09:00 in Shanghai; yesterday is Monday 2026-11-16.
NOW = datetime(2026, 11, 17, 1, 0)
YESTERDAY = date(2026, 11, 16)
DAY = YESTERDAY.isoformat()


def ingested(engine: Engine, store: Store, path: Path) -> None:
    result = ingest_file(engine, store, path)
    assert (result.status, result.quarantined) == ("ingested", 0), result.errors


def currencies(engine: Engine, kind: str, by_field: str, *fields: str
               ) -> dict[str, tuple[Any, ...]]:
    """Each stored fact's money `fields` as (value, currency), by the text of `by_field`."""
    rows = by(stored(engine, kind), by_field)
    return {k: tuple(v for f in fields for v in (row[f], currency_of(SimpleNamespace(**row), f,
                                                                     kind)))
            for k, row in rows.items()}


def test_a_values_own_mark_wins_over_the_currency_column_and_the_default(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "p4p.csv", [
        ["日期", "计划名称", "关键词", "花费", "出价", "日预算"],
        [DAY, "A", "led", "US $20.00", "$0.80", "US$50"],
        [DAY, "B", "lamp", "￥300.00", "¥1.20", "800"],
        [DAY, "C", "bulb", "12.5", "USD 1", "RMB 100"]]))
    assert currencies(engine, "p4p", "plan", "spend", "bid", "daily_budget") == {
        "A": (20.0, "USD", 0.8, "USD", 50.0, "USD"),
        "B": (300.0, "CNY", 1.2, "CNY", 800.0, "CNY"),  # ad spend is CNY by default
        "C": (12.5, "CNY", 1.0, "USD", 100.0, "CNY")}  # one row, each value its own


def test_a_currency_column_states_the_rows_currency(engine: Engine, store: Store,
                                                    tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "plan_usd.csv", [
        ["Date", "Campaign", "Keyword", "Spend", "Currency"],
        [DAY, "US plan", "led", "20.00", "USD"],
        [DAY, "US plan", "lamp", "¥30", "USD"],  # the value's mark wins over the column
        [DAY, "CN plan", "bulb", "5", "人民币"],
        [DAY, "CN plan", "tube", "5", "-"]]))  # no currency stated: the default
    assert currencies(engine, "p4p", "keyword", "spend") == {
        "led": (20.0, "USD"), "lamp": (30.0, "CNY"), "bulb": (5.0, "CNY"),
        "tube": (5.0, "CNY")}


def test_a_currency_column_that_names_no_currency_quarantines_the_row(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", [
        ["Date", "Plan", "Spend", "Currency"],
        [DAY, "A", "20", "USD"], [DAY, "B", "30", "<!here> dollars"]]))
    assert (result.status, result.inserted, result.quarantined) == ("ingested", 1, 1)
    ((row, reason, _),) = quarantined(engine, result.drop_id)
    assert (row, reason) == (
        3, "Currency: not a currency: '<!here> dollars' (a code like USD or CNY)")


def test_a_later_file_in_another_currency_updates_only_its_own_values(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "usd.csv", [
        ["Date", "Plan", "Spend", "Daily Budget", "Currency"], [DAY, "A", "20", "50", "USD"]]))
    ingested(engine, store, write_csv(tmp_path / "cny.csv", [
        ["Date", "Plan", "Spend"], [DAY, "A", "¥140"]]))
    assert currencies(engine, "p4p", "plan", "spend", "daily_budget") == {
        "A": (140.0, "CNY", 50.0, "USD")}


def test_order_amounts_keep_their_currency(engine: Engine, store: Store,
                                           tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "orders.csv", [
        ["订单号", "买家", "金额", "币种", "交货期"],
        ["T1", "Ann", "1,200.00", "USD", "2026-11-18"],
        ["T2", "Bob", "¥8,000", "USD", "2026-11-18"],
        ["T3", "Cy", "900", "", "2026-11-18"]]))
    assert currencies(engine, "orders", "order_id", "amount") == {
        "T1": (1200.0, "USD"), "T2": (8000.0, "CNY"), "T3": (900.0, "USD")}
    with read(engine) as conn:
        data = build_daily(conn, store, NOW)
    due = next(i for i in data["items"] if i["key"] == "transactions")["facts"]["orders_due"]
    assert {o["order_id"]: o["currency"] for o in due["orders"]} == {
        "T1": "USD", "T2": "CNY", "T3": "USD"}


MIXED = [["Date", "Plan", "Keyword", "Spend", "Clicks", "Impressions", "Daily Budget"],
         [DAY, "A", "led", "US $20.00", 10, 100, "US $50"],
         [DAY, "B", "lamp", "¥300.00", 50, 1000, "¥800"]]


def p4p_item(engine: Engine, store: Store, language: str = "en") -> tuple[dict[str, Any], str]:
    with read(engine) as conn:
        data = build_daily(conn, store, NOW)
    section = render("checklist_daily.json.j2", checklist=data, lang=language)["blocks"][7]
    return next(i for i in data["items"] if i["key"] == "p4p")["facts"], section["text"]["text"]


def test_the_checklist_shows_spend_in_two_currencies_apart(engine: Engine, store: Store,
                                                           tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "p4p.csv", MIXED))
    f, text = p4p_item(engine, store)
    assert f["spend"] is None and f["currency"] is None  # never 320
    assert f["spend_by_currency"] == {"CNY": 300.0, "USD": 20.0}
    assert f["budget"] is None and f["budget_share"] is None and f["cpc"] is None
    assert f["cpc_by_currency"] == {"CNY": 6.0, "USD": 2.0}
    assert "Spend *300.00 CNY + 20.00 USD* (different currencies, not added up" in text
    assert "daily budget 800.00 CNY + 50.00 USD" in text
    assert "CPC 6.00 CNY / 2.00 USD" in text
    assert "320" not in text and "850" not in text
    _, zh = p4p_item(engine, store, "zh")
    assert "直通车花费 *300.00 CNY + 20.00 USD*（币种不同，未合计：请设置 usd_cny_rate）" in zh


def test_the_checklist_converts_at_the_stores_rate_and_names_it(engine: Engine, store: Store,
                                                                tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "p4p.csv", MIXED))
    store = configure_store(engine, store, settings={"usd_cny_rate": "7.1"})
    f, text = p4p_item(engine, store)
    assert (f["spend"], f["currency"]) == (442.0, "CNY")  # 300 + 20 × 7.1
    assert f["budget"] == 1155.0  # 800 + 50 × 7.1
    assert f["budget_share"] == pytest.approx(442 / 1155)
    assert f["cpc"] == pytest.approx(442 / 60, abs=1e-4)
    assert f["rates"] == [{"from": "USD", "to": "CNY", "rate": 7.1, "setting": "usd_cny_rate"}]
    assert ("Spend *442.00 CNY* of 1,155.00 daily budget (*38%*) "
            "(300.00 CNY + 20.00 USD at 1 USD = 7.1 CNY)") in text
    _, zh = p4p_item(engine, store, "zh")
    assert "（300.00 CNY + 20.00 USD，按 1 USD = 7.1 CNY 折算）" in zh


def test_a_usd_plan_is_not_compared_with_a_cny_budget_without_a_rate(
        engine: Engine, store: Store, tmp_path: Path) -> None:
    ingested(engine, store, write_csv(tmp_path / "plan.csv", [
        ["Date", "Plan", "Spend", "Clicks", "Currency"], [DAY, "US plan", "20.00", 10, "USD"]]))
    store = configure_store(engine, store, settings={"p4p_daily_budget": 1000})  # CNY
    f, text = p4p_item(engine, store)
    assert (f["spend"], f["currency"], f["cpc"]) == (20.0, "USD", 2.0)
    assert f["budget"] is None and f["budget_share"] is None
    assert "Spend *20.00 USD* · daily budget 1,000.00 CNY (not compared" in text
    store = configure_store(engine, store, settings={"usd_cny_rate": 8})
    f, text = p4p_item(engine, store)
    assert (f["budget"], f["budget_share"]) == (125.0, 0.16)  # 1,000 CNY at 8 CNY per USD
    assert "Spend *20.00 USD* of 125.00 daily budget (*16%*) (at 1 USD = 8 CNY)" in text


def test_the_rate_setting_is_checked() -> None:
    assert parse_setting("usd_cny_rate", "7.12") == 7.12
    assert parse_setting("usd_cny_rate", "none") is None
    with pytest.raises(StoreError, match="CNY per US dollar"):
        parse_setting("usd_cny_rate", "0")


# ---- the alert's P4P hint ----------------------------------------------------------------


def p4p_days(spend: dict[str, float], yesterday: dict[str, float]) -> list[dict[str, Any]]:
    """Two weeks of one plan per currency spending `spend` a day, then `yesterday`."""
    rows = [{"date": YESTERDAY - timedelta(days=k), "plan": f"plan {currency}",
             "spend": amount, "spend_currency": currency}
            for k in range(1, 15) for currency, amount in spend.items()]
    rows += [{"date": YESTERDAY, "plan": f"plan {currency}", "spend": amount,
              "spend_currency": currency} for currency, amount in yesterday.items()]
    return rows


def alert_where(engine: Engine, store: Store, p4p: list[dict[str, Any]]) -> str:
    bind_channel(engine, store, "C1")
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 0
    seed_inquiries(engine, store, series, ingested_at=NOW)
    with write(engine) as conn:
        put(conn, store, "p4p", p4p, NOW)
    assert evaluate_alerts(engine, store, NOW, force=True)[0]["event"] == "fired"
    message = outbox_rows(engine)[0].payload
    return " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_the_p4p_hint_says_the_currency_it_was_spent_in(engine: Engine, store: Store) -> None:
    where = alert_where(engine, store, p4p_days({"USD": 20.0}, {"USD": 0.0}))
    assert "P4P spent US $0 vs usually US $20 a day - paused" in where
    assert "¥" not in where


def test_the_p4p_hint_never_adds_currencies(engine: Engine, store: Store) -> None:
    # the CNY plan stopped, the USD plan still spends: 20 "of 320" is not a pause
    where = alert_where(engine, store, p4p_days({"CNY": 300.0, "USD": 20.0}, {"USD": 20.0}))
    assert "P4P spent" not in where


def test_the_p4p_hint_shows_currencies_apart_without_a_rate(engine: Engine,
                                                           store: Store) -> None:
    where = alert_where(engine, store, p4p_days({"CNY": 300.0, "USD": 20.0},
                                                {"CNY": 0.0, "USD": 0.0}))
    assert "P4P spent ¥0 + US $0 vs usually ¥300 + US $20 a day - paused" in where


def test_the_p4p_hint_converts_at_the_stores_rate_and_names_it(engine: Engine,
                                                              store: Store) -> None:
    store = configure_store(engine, store, settings={"usd_cny_rate": 7.1})
    where = alert_where(engine, store, p4p_days({"CNY": 300.0, "USD": 20.0},
                                                {"CNY": 0.0, "USD": 1.0}))
    assert "P4P spent ¥7 vs usually ¥442 a day (at 1 USD = 7.1 CNY) - paused" in where
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, store, NOW)
    zh = str(render("alert.json.j2", alert=context, lang="zh"))
    assert "直通车花费 ¥7，通常每天 ¥442（按 1 USD = 7.1 CNY 折算）。" in zh
