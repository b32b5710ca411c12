"""The traffic and P4P alert rules (issue 13): exposure_drop, p4p_spend and cpc_jump. Each
threshold just below, at and above its boundary; no verdict on data that does not cover
yesterday; the incident lifecycle through bot.alerts.incidents.run (fire, worse, recover,
acknowledge, snooze); the wording in both languages, plan names from files escaped."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.alerts import incidents
from bot.alerts.detector import evaluate
from bot.alerts.rules import RULES, Finding
from bot.alerts.rules import exposure_drop as exposure
from bot.storage import read, write
from bot.stores import Store, add_store, configure_store, known_settings, parse_setting
from tests import facts

NOW = datetime(2026, 11, 17, 1, 0)  # 09:00 in Shanghai; yesterday is Monday 2026-11-16
YESTERDAY = date(2026, 11, 16)
PLAN = "Main plan"


def morning_after(day: date) -> datetime:
    """09:00 in Shanghai the day after `day` (naive UTC): `day` is yesterday."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=1)


def put(engine: Engine, store: Store, kind: str, rows: list[dict[str, Any]]) -> None:
    with write(engine) as conn:
        facts.put(conn, store, kind, rows, ingested_at=NOW - timedelta(minutes=30))


def judged(engine: Engine, store: Store, rule: str, now: datetime = NOW) -> list[Finding]:
    with read(engine) as conn:
        return RULES[rule].evaluate(conn, store, now)


def one(engine: Engine, store: Store, rule: str, subject: str, now: datetime = NOW) -> Finding:
    (found,) = [f for f in judged(engine, store, rule, now) if f.subject == subject]
    return found


def verdict(finding: Finding) -> str:
    """"normal", "watch", "warning", "critical" or "skipped"."""
    if finding.state != "down":
        return finding.state
    return "watch" if finding.tier == "watch" else str(finding.severity)


def run(engine: Engine, store: Store, now: datetime, rule: str) -> dict[str, dict[str, Any]]:
    """The lifecycle step the worker takes; the rule's events by subject."""
    with write(engine) as conn:
        events = incidents.run(conn, store, now, force=True)
    return {e["subject"]: e for e in events if e["rule"] == rule and "subject" in e}


def settings(engine: Engine, store: Store, **values: Any) -> Store:
    """The store with rule settings typed as in `/opsbot config` (`rule__key` for rule.key)."""
    return configure_store(engine, store, settings={
        k.replace("__", "."): v for k, v in values.items()})


def test_each_rule_has_its_switch_and_thresholds() -> None:
    known = known_settings()
    assert {k: known[k] for k in known if k.split(".")[0] in
            ("exposure_drop", "p4p_spend", "cpc_jump")} == {
        "exposure_drop.enabled": True, "exposure_drop.level": 0.01,
        "exposure_drop.min_drop": 0.30, "exposure_drop.min_expected": 20.0,
        "exposure_drop.watch_level": 0.05, "exposure_drop.watch_min_drop": 0.50,
        "p4p_spend.enabled": True, "p4p_spend.runaway_ratio": 2.0, "p4p_spend.idle_days": 7,
        "cpc_jump.enabled": True, "cpc_jump.min_rise": 0.30, "cpc_jump.alert_rise": 0.60,
        "cpc_jump.min_clicks": 20}
    assert parse_setting("cpc_jump.min_rise", "0.25") == 0.25
    assert parse_setting("p4p_spend.enabled", "否") is False


# ---- exposure_drop ----------------------------------------------------------------------


def traffic(until: date, weeks: int = 10, impressions: int = 1000, visitors: int = 100,
            skip: tuple[date, ...] = ()) -> list[dict[str, Any]]:
    """A steady shop: the same impressions and visitors every day up to `until`."""
    start = until - timedelta(weeks=weeks)
    return [{"date": start + timedelta(days=i), "impressions": impressions,
             "visitors": visitors}
            for i in range((until - start).days + 1) if start + timedelta(days=i) not in skip]


def yesterday_traffic(engine: Engine, store: Store, **values: Any) -> None:
    put(engine, store, "traffic", [*traffic(YESTERDAY - timedelta(days=1)),
                                   {"date": YESTERDAY, "impressions": 1000, "visitors": 100,
                                    **values}])


@pytest.mark.parametrize(("impressions", "expected"), [
    (701, "normal"),  # -29.9 %
    (700, "warning"),  # -30 %: exposure_drop.min_drop
    (699, "warning"),
])
def test_exposure_alert_from_its_min_drop(engine: Engine, store: Store, impressions: int,
                                          expected: str) -> None:
    yesterday_traffic(engine, store, impressions=impressions)
    found = one(engine, store, "exposure_drop", "impressions")
    assert verdict(found) == expected
    assert found.figures["observed"] == impressions and found.figures["expected"] == 1000
    assert verdict(one(engine, store, "exposure_drop", "visitors")) == "normal"


@pytest.mark.parametrize(("impressions", "expected"), [
    (501, "normal"),  # -49.9 %: no alert (min_drop 0.6 here), no watch
    (500, "watch"),  # -50 %: exposure_drop.watch_min_drop
    (499, "watch"),
    (400, "critical"),  # -60 %: the alert tier again
])
def test_exposure_watch_from_its_watch_min_drop(engine: Engine, store: Store, impressions: int,
                                                expected: str) -> None:
    store = settings(engine, store, exposure_drop__min_drop="0.6")
    yesterday_traffic(engine, store, impressions=impressions)
    found = one(engine, store, "exposure_drop", "impressions")
    assert verdict(found) == expected
    assert found.tier == ("watch" if expected == "watch" else "alert")


@pytest.mark.parametrize(("factor", "expected"), [(0.99, "normal"), (1.01, "warning")])
def test_exposure_alert_at_its_level(engine: Engine, store: Store, factor: float,
                                     expected: str) -> None:
    """The detector's probability of yesterday's 62 visitors (usually 100), and the rule's
    level set just below (no alert) or just above it (alert); the watch tier's drop (50 %)
    is not reached."""
    rows = [*traffic(YESTERDAY - timedelta(days=1)),
            {"date": YESTERDAY, "impressions": 1000, "visitors": 62}]
    put(engine, store, "traffic", rows)
    counts = {r["date"]: r["visitors"] for r in rows}
    p = evaluate(counts, YESTERDAY, exposure.detector_settings(store))
    assert 0 < p.p_value < 0.01 and p.windows == 3
    store = settings(engine, store, exposure_drop__level=str(p.p_value * p.windows * factor))
    assert verdict(one(engine, store, "exposure_drop", "visitors")) == expected


def test_exposure_hint_p4p_paused(engine: Engine, store: Store) -> None:
    from templates import render

    yesterday_traffic(engine, store, impressions=500)
    put(engine, store, "p4p", [*week(days=14, spend=300.0, clicks=60),
                               p4p(YESTERDAY, spend=0.0, clicks=0)])
    found = one(engine, store, "exposure_drop", "impressions")
    assert found.hints == [{"kind": "p4p_paused", "spent": 0.0, "usual": 300.0,
                            "currency": "CNY", "rates": []}]
    events = run(engine, store, NOW, "exposure_drop")
    with read(engine) as conn:
        context = incidents.message_context(conn, events["impressions"]["alert_id"], NOW)
    message = str(render("alert.json.j2", alert=context, lang="zh"))
    assert "直通车花费 ¥0，通常每天 ¥300" in message


def test_exposure_a_day_missing_from_the_report_is_not_a_drop(engine: Engine,
                                                               store: Store) -> None:
    """The day before yesterday is not in the report: read as 0, the 3 days to yesterday would
    be a third down."""
    gap = YESTERDAY - timedelta(days=1)
    put(engine, store, "traffic", traffic(YESTERDAY, skip=(gap,)))
    for metric in ("impressions", "visitors"):
        assert verdict(one(engine, store, "exposure_drop", metric)) == "normal"


def test_exposure_no_verdict_on_data_that_does_not_cover_yesterday(engine: Engine,
                                                                   store: Store) -> None:
    assert judged(engine, store, "exposure_drop") == []  # never a traffic report: no rule
    put(engine, store, "traffic", traffic(YESTERDAY - timedelta(days=1)))
    found = judged(engine, store, "exposure_drop")
    assert [(f.subject, f.state, f.why) for f in found] == [
        (m, "skipped", "the traffic report does not cover 2026-11-16 yet")
        for m in ("impressions", "visitors")]
    # yesterday's export without a visitors column: impressions judged, visitors not
    put(engine, store, "traffic", [{"date": YESTERDAY, "impressions": 300}])
    assert verdict(one(engine, store, "exposure_drop", "impressions")) == "critical"
    visitors = one(engine, store, "exposure_drop", "visitors")
    assert (visitors.state, visitors.why) == (
        "skipped", "the traffic report of 2026-11-16 has no visitors column")


def test_exposure_no_verdict_without_four_weeks(engine: Engine, store: Store) -> None:
    put(engine, store, "traffic", traffic(YESTERDAY, weeks=2, impressions=1000))
    found = one(engine, store, "exposure_drop", "impressions")
    assert found.state == "skipped" and "not enough history" in str(found.why)


def test_exposure_lifecycle_fire_worse_recover(engine: Engine, store: Store) -> None:
    monday, tuesday, wednesday = YESTERDAY, YESTERDAY + timedelta(1), YESTERDAY + timedelta(2)
    put(engine, store, "traffic", [
        *traffic(YESTERDAY - timedelta(days=1)),
        {"date": monday, "impressions": 650, "visitors": 100},
        {"date": tuesday, "impressions": 200, "visitors": 100},
        {"date": wednesday, "impressions": 1000, "visitors": 100}])
    events = run(engine, store, morning_after(monday), "exposure_drop")
    assert (events["impressions"]["event"], events["impressions"]["severity"]) == (
        "fired", "warning")
    assert events["visitors"]["event"] == "normal"
    assert events["impressions"]["observed"] == 650
    assert events["impressions"]["drop"] == pytest.approx(0.35)
    events = run(engine, store, morning_after(tuesday), "exposure_drop")
    assert (events["impressions"]["event"], events["impressions"]["severity"]) == (
        "worse", "critical")
    events = run(engine, store, morning_after(wednesday), "exposure_drop")
    assert events["impressions"]["event"] == "recovered"
    assert events["impressions"]["back"]["observed"] == 1000
    with read(engine) as conn:
        assert incidents.active(conn, store, morning_after(wednesday)) == []


def test_exposure_snoozed_gets_worse_without_a_new_message(engine: Engine,
                                                           store: Store) -> None:
    monday, tuesday = YESTERDAY, YESTERDAY + timedelta(1)
    put(engine, store, "traffic", [
        *traffic(YESTERDAY - timedelta(days=1)),
        {"date": monday, "impressions": 1000, "visitors": 65},
        {"date": tuesday, "impressions": 1000, "visitors": 10}])
    fired = run(engine, store, morning_after(monday), "exposure_drop")["visitors"]
    assert fired["event"] == "fired"
    with write(engine) as conn:
        incidents.snooze(conn, fired["alert_id"], "U1", morning_after(monday) + timedelta(hours=2))
    later = run(engine, store, morning_after(tuesday), "exposure_drop")["visitors"]
    assert (later["event"], later["severity"]) == ("continues", "critical")
    with read(engine) as conn:
        (alert,) = incidents.active(conn, store, morning_after(tuesday))
    assert (alert["rule"], alert["subject"], alert["status"], alert["severity"]) == (
        "exposure_drop", "visitors", "snoozed", "critical")


# ---- p4p_spend ----------------------------------------------------------------------------


def p4p(day: date, plan: str = PLAN, **values: Any) -> dict[str, Any]:
    return {"date": day, "plan": plan, "currency": "CNY", **values}


IDLE = {"spend": 450.0, "clicks": 90, "inquiries": 0, "daily_budget": 500.0}


def week(plan: str = PLAN, days: int = 7, until: date = YESTERDAY - timedelta(days=1),
         **values: Any) -> list[dict[str, Any]]:
    """The plan's rows of the `days` days to `until`, each with `values`."""
    return [p4p(until - timedelta(days=k), plan, **values) for k in range(days)]


@pytest.mark.parametrize(("spend", "expected"), [
    (999.99, "normal"), (1000.0, "warning"), (1000.01, "warning")])
def test_p4p_spend_alert_from_twice_the_budget(engine: Engine, store: Store, spend: float,
                                               expected: str) -> None:
    put(engine, store, "p4p", [*week(spend=400.0, clicks=100, daily_budget=500.0),
                               p4p(YESTERDAY, spend=spend, clicks=200, daily_budget=500.0)])
    found = one(engine, store, "p4p_spend", PLAN)
    assert verdict(found) == expected
    assert {k: found.figures[k] for k in ("spend", "budget", "currency", "budget_source")} == {
        "spend": spend, "budget": 500.0, "currency": "CNY", "budget_source": "report"}


@pytest.mark.parametrize(("spend", "expected"), [
    (500.0, "normal"),  # at the budget, not above it
    (500.01, "watch"),
    (999.0, "watch"),
])
def test_p4p_spend_watch_over_budget_without_inquiries(engine: Engine, store: Store,
                                                        spend: float, expected: str) -> None:
    put(engine, store, "p4p", [*week(days=6, **IDLE),
                               p4p(YESTERDAY, **dict(IDLE, spend=spend, clicks=100))])
    found = one(engine, store, "p4p_spend", PLAN)
    assert verdict(found) == expected
    assert (found.figures["inquiries"], found.figures["clicks"]) == (0, 640)


@pytest.mark.parametrize(("days_ago", "expected"), [
    (6, "normal"),  # an inquiry inside the 7 days to yesterday
    (7, "watch"),  # only before them
])
def test_p4p_spend_idle_days_boundary(engine: Engine, store: Store, days_ago: int,
                                      expected: str) -> None:
    rows = week(days=8, **IDLE)
    rows = [dict(r, inquiries=1) if r["date"] == YESTERDAY - timedelta(days=days_ago) else r
            for r in rows]
    put(engine, store, "p4p", [*rows, p4p(YESTERDAY, **dict(IDLE, spend=600.0))])
    assert verdict(one(engine, store, "p4p_spend", PLAN)) == expected


def test_p4p_spend_no_watch_without_seven_days_of_the_plan(engine: Engine,
                                                          store: Store) -> None:
    put(engine, store, "p4p", [*week(days=5, **IDLE), p4p(YESTERDAY, **dict(IDLE, spend=600.0))])
    found = one(engine, store, "p4p_spend", PLAN)  # 6 days of data: not 7 without inquiries
    assert (verdict(found), found.figures["inquiries"]) == ("normal", None)
    # a plan started 3 days ago has not been idle for 7 days, whatever the store's history
    put(engine, store, "p4p", [*week(plan="New", days=2, **IDLE),
                               p4p(YESTERDAY, "New", **dict(IDLE, spend=600.0))])
    found = one(engine, store, "p4p_spend", "New")
    assert (verdict(found), found.figures["inquiries"]) == ("normal", None)


def test_p4p_spend_inquiries_column_absent_or_dashes(engine: Engine, store: Store) -> None:
    """No row of the store's 7 days carries an inquiry count: the export has no such column,
    no verdict on inquiries. Once one does, a plan's empty cells (`-`) read as none, as
    `/keywords wasted` reads them."""
    no_column = {k: v for k, v in IDLE.items() if k != "inquiries"}
    put(engine, store, "p4p", [*week(plan="Other", **no_column),
                               p4p(YESTERDAY, "Other", **dict(no_column, spend=600.0))])
    found = one(engine, store, "p4p_spend", "Other")
    assert (verdict(found), found.figures["inquiries"]) == ("normal", None)
    put(engine, store, "p4p", [p4p(YESTERDAY, "Brand", spend=100.0, clicks=30, inquiries=2)])
    found = one(engine, store, "p4p_spend", "Other")
    assert (verdict(found), found.figures["inquiries"]) == ("watch", 0)


def test_p4p_spend_sums_one_report_level_per_plan(engine: Engine, store: Store) -> None:
    """The plan's keyword rows repeat its plan-level spend: 600, not 1,200 (2.4x 500)."""
    put(engine, store, "p4p", [
        p4p(YESTERDAY, spend=600.0, clicks=100, daily_budget=500.0),
        p4p(YESTERDAY, keyword="led strip", spend=400.0, clicks=60),
        p4p(YESTERDAY, keyword="led bulb", spend=200.0, clicks=40)])
    found = one(engine, store, "p4p_spend", PLAN)
    assert (verdict(found), found.figures["spend"]) == ("normal", 600.0)


def test_p4p_spend_budget_from_the_store_and_money_in_its_currency(engine: Engine,
                                                                   store: Store) -> None:
    put(engine, store, "p4p", [p4p(YESTERDAY, spend=1200.0, clicks=100)])
    found = one(engine, store, "p4p_spend", PLAN)
    assert (found.state, found.why) == (
        "skipped", "no daily budget: none in the P4P report, no p4p_daily_budget set")
    store = settings(engine, store, p4p_daily_budget="600")
    found = one(engine, store, "p4p_spend", PLAN)
    assert verdict(found) == "warning" and found.figures["budget_source"] == "setting"
    # a plan spending US dollars against the store's budget in yuan: only at a rate
    put(engine, store, "p4p", [{"date": YESTERDAY, "plan": "Export", "spend": 170.0,
                                "spend_currency": "USD", "clicks": 50}])
    found = one(engine, store, "p4p_spend", "Export")
    assert found.state == "skipped" and "usd_cny_rate" in str(found.why)
    store = settings(engine, store, usd_cny_rate="7.1")
    found = one(engine, store, "p4p_spend", "Export")
    assert verdict(found) == "warning"  # US $170 = ¥1,207 >= 2 x ¥600
    assert (found.figures["spend"], found.figures["currency"]) == (1207.0, "CNY")
    assert found.figures["rates"] == [{"from": "USD", "to": "CNY", "rate": 7.1,
                                       "setting": "usd_cny_rate"}]


def test_p4p_spend_hints_a_budget_change(engine: Engine, store: Store) -> None:
    put(engine, store, "p4p", [*week(spend=450.0, clicks=90, daily_budget=500.0),
                               p4p(YESTERDAY, spend=700.0, clicks=140, daily_budget=300.0)])
    found = one(engine, store, "p4p_spend", PLAN)
    assert verdict(found) == "warning"
    assert found.hints == [{"kind": "budget_changed", "before": 500.0, "after": 300.0,
                            "currency": "CNY"}]
    # without a budget column, against the store's p4p_daily_budget: is the setting right?
    put(engine, store, "p4p", [p4p(YESTERDAY, "Other", spend=700.0, clicks=140)])
    store = settings(engine, store, p4p_daily_budget="300")
    found = one(engine, store, "p4p_spend", "Other")
    assert (verdict(found), found.hints) == ("warning", [{"kind": "budget_setting"}])


def test_p4p_spend_no_verdict_on_data_that_does_not_cover_yesterday(engine: Engine,
                                                                    store: Store) -> None:
    assert judged(engine, store, "p4p_spend") == []  # never a P4P report: no rule
    put(engine, store, "p4p", week(spend=2000.0, clicks=100, daily_budget=500.0))
    (found,) = judged(engine, store, "p4p_spend")
    assert (found.subject, found.state, found.why) == (
        "", "skipped", "the P4P report does not cover 2026-11-16 yet")
    # yesterday's report holds another plan only: this one's file may come later
    put(engine, store, "p4p", [p4p(YESTERDAY, "Other", spend=10.0, clicks=5)])
    found = one(engine, store, "p4p_spend", PLAN)
    assert (found.state, found.why) == (
        "skipped", "no row of this plan for 2026-11-16 in the P4P report")


def test_p4p_spend_lifecycle_watch_alert_acknowledge_recover(engine: Engine,
                                                             store: Store) -> None:
    monday, tuesday, wednesday, thursday = (YESTERDAY + timedelta(k) for k in range(4))
    put(engine, store, "p4p", [*week(**IDLE),
                               p4p(monday, **dict(IDLE, spend=600.0, clicks=100)),
                               p4p(tuesday, **dict(IDLE, spend=1500.0, clicks=300)),
                               p4p(wednesday, **dict(IDLE, spend=1400.0, clicks=300)),
                               p4p(thursday, **dict(IDLE, spend=300.0, inquiries=2))])
    event = run(engine, store, morning_after(monday), "p4p_spend")[PLAN]
    assert (event["event"], event["tier"], event["reason"]) == ("fired", "watch", "idle")
    event = run(engine, store, morning_after(tuesday), "p4p_spend")[PLAN]
    # a watch that becomes an alert is worse (the contract's lifecycle)
    assert (event["event"], event["tier"], event["reason"]) == ("worse", "alert", "runaway")
    assert event["ratio"] == pytest.approx(3.0)
    with write(engine) as conn:
        incidents.acknowledge(conn, event["alert_id"], "U1", morning_after(tuesday))
    event = run(engine, store, morning_after(wednesday), "p4p_spend")[PLAN]
    assert event["event"] == "continues"
    with read(engine) as conn:
        (alert,) = incidents.active(conn, store, morning_after(wednesday))
    assert (alert["subject"], alert["status"], alert["figures"]["spend"]) == (
        PLAN, "acknowledged", 1400.0)
    event = run(engine, store, morning_after(thursday), "p4p_spend")[PLAN]
    assert event["event"] == "recovered"
    assert event["back"]["spend"] == 300.0 and event["back"]["budget"] == 500.0


# ---- cpc_jump -----------------------------------------------------------------------------


def cpc_history(plan: str = PLAN, days: int = 7) -> list[dict[str, Any]]:
    """The 7 days before yesterday: 30 clicks a day at ¥2.00."""
    return week(plan, days=days, spend=60.0, clicks=30)


@pytest.mark.parametrize(("spend", "expected"), [
    (51.8, "normal"),  # ¥2.59 a click: +29.5 %
    (52.0, "watch"),  # ¥2.60: +30 %, cpc_jump.min_rise
    (52.4, "watch"),
    (63.8, "watch"),  # ¥3.19: +59.5 %
    (64.0, "warning"),  # ¥3.20: +60 %, cpc_jump.alert_rise
    (64.4, "warning"),
])
def test_cpc_jump_tiers(engine: Engine, store: Store, spend: float, expected: str) -> None:
    put(engine, store, "p4p", [*cpc_history(), p4p(YESTERDAY, spend=spend, clicks=20)])
    found = one(engine, store, "cpc_jump", PLAN)
    assert verdict(found) == expected
    assert (found.figures["usual_cpc"], found.figures["clicks"]) == (2.0, 20)


@pytest.mark.parametrize(("clicks", "expected"), [
    (19, "skipped"), (20, "warning"), (21, "warning")])  # at ¥4.00 a click: +100 %
def test_cpc_jump_needs_min_clicks(engine: Engine, store: Store, clicks: int,
                                   expected: str) -> None:
    put(engine, store, "p4p", [*cpc_history(), p4p(YESTERDAY, spend=4.0 * clicks, clicks=clicks)])
    found = one(engine, store, "cpc_jump", PLAN)
    assert verdict(found) == expected
    if expected == "skipped":
        assert found.why == "19 clicks yesterday, fewer than 20"


def test_cpc_jump_thresholds_are_the_store_settings(engine: Engine, store: Store) -> None:
    put(engine, store, "p4p", [*cpc_history(), p4p(YESTERDAY, spend=30.0, clicks=10)])
    assert verdict(one(engine, store, "cpc_jump", PLAN)) == "skipped"  # 10 clicks
    store = settings(engine, store, cpc_jump__min_clicks="10", cpc_jump__min_rise="0.4",
                     cpc_jump__alert_rise="0.5")
    assert verdict(one(engine, store, "cpc_jump", PLAN)) == "warning"  # ¥3.00: +50 %
    store = settings(engine, store, cpc_jump__enabled="off")
    with write(engine) as conn:
        assert [e for e in incidents.run(conn, store, NOW, force=True)
                if e["rule"] == "cpc_jump"] == []


def test_cpc_jump_average_is_weighted_by_clicks(engine: Engine, store: Store) -> None:
    """One quiet day at ¥10 a click does not make the average: 6 x 30 clicks at ¥2 and 1 x 2
    clicks at ¥10 average ¥2.09, so ¥2.60 is still +24 %, no watch."""
    rows = [*cpc_history(days=6), p4p(YESTERDAY - timedelta(days=7), spend=20.0, clicks=2)]
    put(engine, store, "p4p", [*rows, p4p(YESTERDAY, spend=52.0, clicks=20)])
    found = one(engine, store, "cpc_jump", PLAN)
    assert verdict(found) == "normal"
    assert found.figures["usual_cpc"] == pytest.approx(380 / 182, abs=1e-4)


def test_cpc_jump_no_verdict_without_history(engine: Engine, store: Store) -> None:
    put(engine, store, "p4p", [*cpc_history(days=2), p4p(YESTERDAY, spend=80.0, clicks=20)])
    found = one(engine, store, "cpc_jump", PLAN)
    assert (found.state, found.why) == (
        "skipped", "too little history: 2 days and 60 clicks in the 7 days before")
    put(engine, store, "p4p", [*cpc_history("Free"), p4p(YESTERDAY, "Free", clicks=40)])
    found = one(engine, store, "cpc_jump", "Free")  # a spend column left empty: no CPC
    assert (found.state, found.why) == ("skipped", "no spend in the P4P report")


def test_cpc_jump_lifecycle_per_plan(engine: Engine, store: Store) -> None:
    monday, tuesday, wednesday = YESTERDAY, YESTERDAY + timedelta(1), YESTERDAY + timedelta(2)
    put(engine, store, "p4p", cpc_history() + cpc_history("Brand") + [
        p4p(monday, spend=56.0, clicks=20),  # ¥2.80: +40 %
        p4p(monday, "Brand", spend=40.0, clicks=20),  # ¥2.00
        p4p(tuesday, spend=70.0, clicks=20),  # ¥3.50 against ¥2.08: +68 %
        p4p(tuesday, "Brand", spend=40.0, clicks=20),
        p4p(wednesday, spend=40.0, clicks=20),
        p4p(wednesday, "Brand", spend=40.0, clicks=20)])
    events = run(engine, store, morning_after(monday), "cpc_jump")
    assert (events[PLAN]["event"], events[PLAN]["tier"]) == ("fired", "watch")
    assert events[PLAN]["rise"] == pytest.approx(0.4)
    assert events["Brand"]["event"] == "normal"
    events = run(engine, store, morning_after(tuesday), "cpc_jump")
    assert (events[PLAN]["event"], events[PLAN]["tier"], events[PLAN]["severity"]) == (
        "worse", "alert", "warning")
    events = run(engine, store, morning_after(wednesday), "cpc_jump")
    assert events[PLAN]["event"] == "recovered" and events["Brand"]["event"] == "normal"


# ---- the words --------------------------------------------------------------------------

ZH_PLAN = "主推计划"
COMMAND_WORDS = {"keywords", "opsbot", "config", "_daily_budget"}  # typed as they are


def _exposure(engine: Engine, store: Store) -> None:
    put(engine, store, "traffic", [*traffic(YESTERDAY - timedelta(days=1)),
                                   {"date": YESTERDAY, "impressions": 300, "visitors": 62}])


def _runaway(engine: Engine, store: Store, plan: str = ZH_PLAN) -> None:
    put(engine, store, "p4p", [*week(plan, spend=400.0, clicks=100, daily_budget=500.0),
                               p4p(YESTERDAY, plan, spend=1200.0, clicks=240,
                                   daily_budget=500.0)])


def _idle(engine: Engine, store: Store) -> None:
    put(engine, store, "p4p", [*week(ZH_PLAN, **IDLE),
                               p4p(YESTERDAY, ZH_PLAN, **dict(IDLE, spend=640.0))])


def _cpc(engine: Engine, store: Store, spend: float = 70.0) -> None:
    """¥2.80 a click yesterday (70 / 25), ¥2.00 the 7 days before: +40 %, a watch."""
    put(engine, store, "p4p", [*cpc_history(ZH_PLAN), p4p(YESTERDAY, ZH_PLAN, spend=spend,
                                                          clicks=25)])


def _cpc_alert(engine: Engine, store: Store) -> None:
    _cpc(engine, store, spend=80.0)  # ¥3.20: +60 %, an alert


WORDS = [  # (seed, rule, subject, English words the message must show)
    (_exposure, "exposure_drop", "impressions",
     ["Impressions dropped - 东方灯具", "*300* impressions on Mon 16 Nov 2026, usually about "
      "*1,000* on that weekday (-70%)", "from the traffic report"]),
    (_exposure, "exposure_drop", "visitors",
     ["Visitors dropped - 东方灯具", "*62* visitors on Mon 16 Nov 2026", "Warning · a day"]),
    (_runaway, "p4p_spend", ZH_PLAN,
     ["P4P plan far over budget - 东方灯具", f"P4P plan *{ZH_PLAN}* spent *¥1,200.00* on Mon 16 "
      "Nov 2026: *2.4×* its daily budget of ¥500.00", "an alert from 2.0× the daily budget",
      "• The P4P report shows no budget change"]),
    (_idle, "p4p_spend", ZH_PLAN,
     ["P4P plan spending without inquiries - 东方灯具", "over its daily budget of ¥500.00, with "
      "no inquiry from its clicks in 7 days", "Watch · 630 clicks and no inquiry in the 7 days",
      "`/keywords wasted` lists P4P words"]),
    (_cpc, "cpc_jump", ZH_PLAN,
     ["P4P cost per click up - 东方灯具", f"P4P plan *{ZH_PLAN}* paid *¥2.80* a click on Mon 16 "
      "Nov 2026, against ¥2.00 on average over the 7 days before (+40%, 25 clicks)",
      "a competitor bidding up"]),
]


@pytest.mark.parametrize(("seed", "rule", "subject", "words"), WORDS,
                         ids=[f"{w[1]}-{w[2]}" for w in WORDS])
def test_rendered_in_english_and_chinese(engine: Engine, seed: Any, rule: str, subject: str,
                                         words: list[str]) -> None:
    from templates import render
    from tests.slack_limits import assert_within_slack_limits
    from tests.test_messages_zh import figures, latin_words, texts

    store = add_store(engine, "东方灯具", "Asia/Shanghai", "zh")
    seed(engine, store)
    events = run(engine, store, NOW, rule)
    assert events[subject]["event"] == "fired"
    with read(engine) as conn:
        context = incidents.message_context(conn, events[subject]["alert_id"], NOW)
    en, zh = (render("alert.json.j2", alert=context, lang=lang) for lang in ("en", "zh"))
    for message in (en, zh):
        assert_within_slack_limits(message)
    for word in words:
        assert word in texts(en), texts(en)
    assert latin_words(texts(zh)) <= COMMAND_WORDS, texts(zh)
    assert figures(texts(en)) == figures(texts(zh))
    # the "back to normal" reply, from the figures the rule recorded
    back = {"day": "2026-11-17", "observed": 990, "expected": 1000.0, "span": 1, "spend": 300.0,
            "budget": 500.0, "currency": "CNY", "cpc": 2.1, "usual_cpc": 2.0}
    en, zh = (render("alert_recovered.json.j2", alert=context, back=back, lang=lang)["text"]
              for lang in ("en", "zh"))
    assert "back" in en and "2026-11-17" in zh
    assert latin_words(zh) == set(), zh
    assert figures(en) == figures(zh)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("rule", ["p4p_spend", "cpc_jump"])
def test_plan_names_from_files_are_escaped(engine: Engine, store: Store, rule: str,
                                           lang: str) -> None:
    from templates import render
    from tests.slack_limits import assert_data_escaped, assert_no_mentions

    plan = "<!channel> *free* <https://evil.example|click>"
    put(engine, store, "p4p", [*cpc_history(plan), p4p(YESTERDAY, plan, spend=1200.0, clicks=240,
                                                       daily_budget=500.0)])
    events = run(engine, store, NOW, rule)
    assert events[plan]["event"] == "fired"
    with read(engine) as conn:
        context = incidents.message_context(conn, events[plan]["alert_id"], NOW)
    back = {"day": "2026-11-17", "spend": 300.0, "budget": 500.0, "currency": "CNY",
            "cpc": 2.1, "usual_cpc": 2.0}
    for message in (render("alert.json.j2", alert=context, lang=lang),
                    render("alert_recovered.json.j2", alert=context, back=back, lang=lang)):
        assert_no_mentions(message)
        assert_data_escaped(message, plan)
        assert "∗free∗" in str(message)  # no bold from data either


@pytest.mark.parametrize(("seed", "rule", "subject", "words"), [
    pytest.param(_exposure, "exposure_drop", "impressions", "Impressions dropped - acme"),
    pytest.param(_runaway, "p4p_spend", ZH_PLAN, "P4P plan far over budget - acme"),
    pytest.param(_cpc_alert, "cpc_jump", ZH_PLAN, "P4P cost per click up - acme"),
])
def test_posted_by_the_worker(engine: Engine, store: Store, seed: Any, rule: str, subject: str,
                              words: str) -> None:
    """The worker's tick posts a rule's alert like inquiry_drop's, pinging the channel."""
    from sqlalchemy import select

    from bot.models import outbox
    from bot.stores import bind_channel
    from jobs.tick import evaluate_alerts

    bind_channel(engine, store, "C1")
    seed(engine, store)
    events = [e for e in evaluate_alerts(engine, store, NOW, force=True)
              if e["rule"] == rule and e.get("subject") == subject]
    assert [(e["event"], e["messages"]) for e in events] == [("fired", 1)]
    with read(engine) as conn:
        (post,) = [r.payload for r in conn.execute(select(outbox)).all()
                   if words in str(r.payload)]
    assert post["text"].startswith("<!here> " + words)
