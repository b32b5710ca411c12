"""Who an alert reaches and what it says: the store's `alert_mention` on the first post and
an escalation only; alerts and checklists recorded before a channel was bound are posted
there once it is; the tick's words on a recovery and on an alert with nowhere to go; the
alert's wording for window sums, the baseline and an escalation; the P4P hint's figures
agree with the checklist's. Frozen clock, mock Slack API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot import outbox
from bot.alerts import incidents as alerts
from bot.checklists.daily import KIND as DAILY
from bot.metrics.p4p import p4p_figures
from bot.models import outbox as outbox_table
from bot.storage import read, write
from bot.stores import (
    DEFAULT_SETTINGS,
    Store,
    StoreError,
    bind_channel,
    configure_store,
    parse_setting,
)
from cli.worker import _tick_text
from jobs import alert_messages
from jobs.delivery import Pacer, deliver
from jobs.tick import evaluate_alerts, post_checklist, run_due
from templates import render
from tests.facts import put
from tests.slack_mock import MockSlackAPI
from tests.test_alerts import (
    NOW,
    YESTERDAY,
    buttons,
    count_for,
    history,
    insert_alert,
    posts,
    seed_inquiries,
    usual,
)
from tests.test_outbox import client_for
from tests.test_tick import NO_SLACK


def rows(engine: Engine) -> list[Any]:
    with read(engine) as conn:
        return conn.execute(select(outbox_table).order_by(outbox_table.c.id)).all()


def drop_yesterday(engine: Engine, store: Store, count: int = 2) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = count
    seed_inquiries(engine, store, series, ingested_at=NOW - timedelta(minutes=10))


# ---- 1. alert_mention ---------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("here", "here"), ("@channel", "channel"), ("none", "none"),
    ("<!subteam^S0OPS|@ops>", "S0OPS"), ("S0OPS", "S0OPS"), ("<@U0ANNA>", "U0ANNA"),
    ("W0ANNA", "W0ANNA"),
])
def test_alert_mention_setting_values(typed: str, stored: str) -> None:
    assert DEFAULT_SETTINGS["alert_mention"] == "here"
    assert parse_setting("alert_mention", typed) == stored


@pytest.mark.parametrize("typed", ["everyone", "<!everyone>", "<!subteam^U0X>", "#ops", "u0x", ""])
def test_alert_mention_refuses_anything_else(typed: str) -> None:
    with pytest.raises(StoreError, match="alert_mention must be here, channel, none"):
        parse_setting("alert_mention", typed)


@pytest.mark.parametrize(("setting", "ping"), [
    (None, "<!here>"), ("channel", "<!channel>"), ("S0OPS", "<!subteam^S0OPS>"),
    ("U0ANNA", "<@U0ANNA>"), ("none", ""),
])
def test_the_first_post_pings_the_stores_alert_mention(engine: Engine, store: Store,
                                                       setting: str | None, ping: str) -> None:
    if setting:
        store = configure_store(engine, store, settings={"alert_mention": setting})
    bind_channel(engine, store, "C1")
    drop_yesterday(engine, store)
    assert evaluate_alerts(engine, store, NOW, force=True)[0]["event"] == "fired"
    (post,) = rows(engine)
    text, summary = post.payload["text"], post.payload["blocks"][1]["text"]["text"]
    if ping:
        assert text.startswith(f"{ping} Inquiries dropped - acme")
        assert summary.startswith(f"{ping} :rotating_light: *acme*")
        assert str(post.payload).count(ping) == 2  # the text and the first section, no more
    else:
        assert text.startswith("Inquiries dropped - acme") and "<!" not in str(post.payload)


def test_escalation_pings_again_edits_and_recovery_never_do(engine: Engine, store: Store,
                                                            api: MockSlackAPI) -> None:
    store = configure_store(engine, store, settings={"alert_mention": "S0OPS"})
    bind_channel(engine, store, "C1")
    day2, day3 = YESTERDAY + timedelta(days=1), YESTERDAY + timedelta(days=2)
    drop_yesterday(engine, store, count_for("warning", YESTERDAY))
    evaluate_alerts(engine, store, NOW, force=True)
    seed_inquiries(engine, store, {day2: 0}, ingested_at=NOW + timedelta(days=1))
    assert evaluate_alerts(engine, store, NOW + timedelta(days=1), force=True)[0]["event"] == \
        "worse"
    seed_inquiries(engine, store, {day3: usual(day3)}, ingested_at=NOW + timedelta(days=2))
    assert evaluate_alerts(engine, store, NOW + timedelta(days=2), force=True)[0]["event"] == \
        "recovered"
    deliver(engine, client_for(api), NOW + timedelta(days=2), pacer=Pacer(0, 0))
    pinged = {r.purpose: [] for r in rows(engine)}
    for r in rows(engine):
        pinged[r.purpose].append("<!subteam^S0OPS>" in str(r.payload))
    assert pinged == {"alert": [True, True], "alert_update": [False, False],
                      "alert_recovered": [False]}
    assert all("<!subteam^" not in str(m) for m in api.messages.values())  # as edited now


# ---- 2. channels bound after the fact ------------------------------------------------------


def test_an_alert_that_fired_with_no_channel_is_posted_once_one_is_bound(
        engine: Engine, store: Store) -> None:
    drop_yesterday(engine, store)
    report = run_due(engine, NOW, settings=NO_SLACK)
    (event,) = report["alerts"]
    assert (event["event"], event["channels"]) == ("fired", [])
    assert "fired (critical), 2 on 2026-11-16, usually about 20 - no bound channel to post it " \
        "to: it will be posted when one is bound" in _tick_text(report)
    assert "alert" not in {r.purpose for r in rows(engine)}  # nowhere to post it yet

    bind_channel(engine, store, "C7")
    later = run_due(engine, NOW + timedelta(minutes=5), settings=NO_SLACK)
    assert later["alerts"] == []  # nothing new to judge, but the open alert goes out now
    (late,) = [p for p in later["late_posts"] if p["kind"] == "alert"]
    assert (late["channels"], late["day"]) == (["C7"], "2026-11-16")
    assert f"alert acme: alert #{late['alert_id']} (2026-11-16) queued for newly bound C7" in \
        _tick_text(later)
    (post,) = posts(engine)
    assert post.channel == "C7" and post.payload["text"].startswith("<!here> Inquiries dropped")
    assert buttons(post.payload) == ["alert_ack", "alert_snooze"]
    # Exactly once: the next ticks, and a re-evaluation, add nothing.
    again = run_due(engine, NOW + timedelta(minutes=6), settings=NO_SLACK)
    evaluate_alerts(engine, store, NOW + timedelta(minutes=7), force=True)
    assert [p for p in again["late_posts"] if p["kind"] == "alert"] == []
    assert len(posts(engine)) == 1


def test_a_resolved_alert_is_not_posted_to_a_new_channel(engine: Engine, store: Store) -> None:
    drop_yesterday(engine, store)
    evaluate_alerts(engine, store, NOW, force=True)
    day2 = YESTERDAY + timedelta(days=1)
    seed_inquiries(engine, store, {day2: usual(day2)}, ingested_at=NOW + timedelta(days=1))
    assert evaluate_alerts(engine, store, NOW + timedelta(days=1), force=True)[0]["event"] == \
        "recovered"
    bind_channel(engine, store, "C7")
    run_due(engine, NOW + timedelta(days=1, minutes=1), settings=NO_SLACK)
    assert posts(engine) == []


def test_a_checklist_recorded_before_its_channel_was_bound(engine: Engine, store: Store) -> None:
    nine = datetime(2026, 11, 17, 1, 0)  # 09:00 in Shanghai, catch_up_hours 3
    first = run_due(engine, nine, settings=NO_SLACK)
    (made,) = first["checklists"]
    assert made["channels"] == []
    assert "recorded, but no bound channel to post it to" in _tick_text(first)
    bind_channel(engine, store, "C1")
    later = run_due(engine, nine + timedelta(hours=1), settings=NO_SLACK)
    assert later["checklists"] == []
    assert later["late_posts"] == [{"store": "acme", "kind": "checklist",
                                    "checklist": "daily",
                                    "checklist_id": made["id"], "day": "2026-11-17",
                                    "channels": ["C1"]}]
    assert f"checklist acme: checklist #{made['id']} (2026-11-17) queued for newly bound C1" \
        in _tick_text(later)
    assert [(r.channel, r.purpose) for r in rows(engine)] == [("C1", "checklist")]
    assert rows(engine)[0].payload["text"] == "Daily checklist for acme, 2026-11-17"
    assert run_due(engine, nine + timedelta(hours=1, minutes=1), settings=NO_SLACK)[
        "late_posts"] == []
    # Past the catch-up window the day's checklist is not posted to a new channel.
    bind_channel(engine, store, "C2")
    assert run_due(engine, nine + timedelta(hours=3), settings=NO_SLACK)["late_posts"] == []
    assert [r.channel for r in rows(engine)] == ["C1"]


# ---- 4. the tick's words on a recovery -------------------------------------------------------


def test_tick_text_on_recovery_shows_the_recovery_days_figures(engine: Engine,
                                                              store: Store) -> None:
    bind_channel(engine, store, "C1")
    drop_yesterday(engine, store)
    run_due(engine, NOW, settings=NO_SLACK)
    day2 = YESTERDAY + timedelta(days=1)
    seed_inquiries(engine, store, {day2: usual(day2)}, ingested_at=NOW + timedelta(days=1))
    report = run_due(engine, NOW + timedelta(days=1), settings=NO_SLACK)
    (event,) = report["alerts"]
    assert event["event"] == "recovered"
    text = _tick_text(report)
    assert "alert acme 2026-11-17: back to normal, 22 on 2026-11-17, usually about 22" in text
    assert "usually about 20" not in text and " 2 " not in text


# ---- 5. wording -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "en", "zh"), [
    ("daily", "a day this low comes by chance about once in 1,000 days",
     "单日这么低，纯属偶然的话约 1,000 天出现一次"),
    ("3day_sum", "a 3-day stretch this low comes by chance about once in 1,000 days",
     "连续 3 天这么低，纯属偶然的话约 1,000 天出现一次"),
    ("weekly_sum", "a week this low comes by chance about once in 1,000 days",
     "整周这么低，纯属偶然的话约 1,000 天出现一次"),
])
def test_the_chance_is_worded_for_the_window(engine: Engine, store: Store, method: str,
                                             en: str, zh: str) -> None:
    insert_alert(engine, store, method, 30, 55.5)
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, store, NOW)
    facts_en = render("alert.json.j2", alert=context)["blocks"][2]["elements"][0]["text"]
    facts_zh = render("alert.json.j2", alert=context, lang="zh")["blocks"][2]["elements"][0][
        "text"]
    assert en in facts_en and zh in facts_zh
    assert "previous 8 weeks" in facts_en and "基线：前 8 周" in facts_zh
    assert "0.001" not in facts_en + facts_zh and "chance of" not in facts_en


@pytest.mark.parametrize(("p", "en", "zh"), [
    (0.00055, "about once in 1,800 days", "约 1,800 天出现一次"),
    (0.0099, "about once in 100 days", "约 100 天出现一次"),
    (0.00002, "about once in 140 years", "约 140 年出现一次"),
    (1e-12, "less than once in a million years", "百万年也不到一次"),
])
def test_a_probability_reads_as_how_rarely_it_happens(engine: Engine, store: Store, p: float,
                                                      en: str, zh: str) -> None:
    """A p-value means nothing to an operator; "about once in 1,800 days" does."""
    insert_alert(engine, store, "daily", 2, 20.5)
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, store, NOW)
    context = {**context, "p_value": p}
    facts_en = render("alert.json.j2", alert=context)["blocks"][2]["elements"][0]["text"]
    facts_zh = render("alert.json.j2", alert=context, lang="zh")["blocks"][2]["elements"][0][
        "text"]
    assert f"a day this low comes by chance {en} · baseline" in facts_en
    assert f"单日这么低，纯属偶然的话{zh} · 基线" in facts_zh


def test_the_baseline_names_the_weeks_actually_used(engine: Engine, store: Store) -> None:
    bind_channel(engine, store, "C1")
    series = {d: n for d, n in history(YESTERDAY - timedelta(days=1), weeks=5).items()}
    series[YESTERDAY] = 0
    seed_inquiries(engine, store, series, ingested_at=NOW - timedelta(minutes=10))
    assert evaluate_alerts(engine, store, NOW, force=True)[0]["event"] == "fired"
    facts = next(b["elements"][0]["text"] for b in rows(engine)[0].payload["blocks"]
                 if b["type"] == "context" and "baseline" in b["elements"][0]["text"])
    assert "baseline: same weekday, previous 5 weeks" in facts


# ---- 6. the P4P hint counts each day's spend once --------------------------------------------


def test_the_p4p_hint_sums_one_report_level_like_the_checklist(engine: Engine,
                                                               store: Store) -> None:
    bind_channel(engine, store, "C1")
    drop_yesterday(engine, store)

    def day_rows(day: date, plan_spend: float) -> list[dict[str, Any]]:
        # The plan-level row and its keyword-level rows carry the same money.
        return [{"date": day, "plan": "main", "spend": plan_spend},
                *({"date": day, "plan": "main", "keyword": k, "spend": plan_spend / 2}
                  for k in ("solar light", "garden light"))]

    p4p = [r for k in range(1, 15) for r in day_rows(YESTERDAY - timedelta(days=k), 300.0)]
    p4p += day_rows(YESTERDAY, 20.0)
    with write(engine) as conn:
        put(conn, store, "p4p", p4p, NOW)
    assert evaluate_alerts(engine, store, NOW, force=True)[0]["event"] == "fired"
    where = next(b["text"]["text"] for b in rows(engine)[0].payload["blocks"]
                 if b["type"] == "section" and "Where to look" in b["text"]["text"])
    assert "\n• P4P spent ¥20 vs usually ¥300 a day - paused" in where
    with read(engine) as conn:  # the checklist's P4P item shows the same day's spend
        assert p4p_figures(conn, store, YESTERDAY, fresh=True)["spend"] == 20.0


# ---- 7. review follow-ups: failed posts, late posts during evaluation, escalations -----------


def test_a_channel_whose_post_failed_is_not_posted_to_again(engine: Engine, store: Store,
                                                            api: MockSlackAPI) -> None:
    nine = datetime(2026, 11, 17, 1, 0)  # 09:00 in Shanghai, within the catch-up window
    bind_channel(engine, store, "C1")
    drop_yesterday(engine, store)
    first = run_due(engine, nine, settings=NO_SLACK)
    assert first["checklists"] and first["alerts"]
    api.error_next("chat.postMessage", "not_in_channel", times=2)
    assert deliver(engine, client_for(api), nine, pacer=Pacer(0, 0)).failed == 2
    for minutes in (1, 2):  # every later tick of the window
        later = run_due(engine, nine + timedelta(minutes=minutes), settings=NO_SLACK)
        assert later["late_posts"] == [] and "newly bound" not in _tick_text(later)
    assert [(r.purpose, r.status) for r in rows(engine)] == [("alert", "failed"),
                                                             ("checklist", "failed")]


def test_a_late_alert_post_queued_while_evaluating_is_reported(engine: Engine,
                                                               store: Store) -> None:
    drop_yesterday(engine, store)
    run_due(engine, NOW, settings=NO_SLACK)
    bind_channel(engine, store, "C7")
    drop_yesterday(engine, store)  # a newer drop: the next tick judges again
    later = run_due(engine, NOW + timedelta(minutes=5), settings=NO_SLACK)
    assert later["alerts_evaluated"] == 1
    (late,) = [p for p in later["late_posts"] if p["kind"] == "alert"]
    assert late["channels"] == ["C7"]
    assert f"alert #{late['alert_id']} (2026-11-16) queued for newly bound C7" in \
        _tick_text(later)


def test_the_checklist_window_ticks_only_read_when_nothing_is_missing(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.tick

    nine = datetime(2026, 11, 17, 1, 0)
    bind_channel(engine, store, "C1")
    assert post_checklist(engine, store, nine, DAILY) is not None
    writes = []
    real_write = jobs.tick.write

    def counting_write(engine: Engine) -> Any:
        writes.append(1)
        return real_write(engine)

    monkeypatch.setattr(jobs.tick, "write", counting_write)
    assert post_checklist(engine, store, nine + timedelta(minutes=5), DAILY) is None
    assert writes == []
    bind_channel(engine, store, "C2")
    late = post_checklist(engine, store, nine + timedelta(minutes=6), DAILY)
    assert late is not None and writes == [1]
    assert (late["channels"], late["late"], "catch_up" in late) == (["C2"], True, False)


@pytest.mark.parametrize("how", ["channel bound before the escalation", "first post failed"])
def test_an_escalation_post_stays_drawn_as_one(engine: Engine, store: Store,
                                               how: str) -> None:
    bind_channel(engine, store, "C1")
    day2 = YESTERDAY + timedelta(days=1)
    drop_yesterday(engine, store, count_for("warning", YESTERDAY))
    evaluate_alerts(engine, store, NOW, force=True)
    if how == "first post failed":
        with write(engine) as conn:
            outbox.fail(conn, rows(engine)[0].id, NOW, error="not_in_channel")
    else:
        bind_channel(engine, store, "C2")
    seed_inquiries(engine, store, {day2: 0}, ingested_at=NOW + timedelta(days=1))
    (worse,) = evaluate_alerts(engine, store, NOW + timedelta(days=1), force=True)
    assert worse["event"] == "worse"
    escalations = [r for r in posts(engine) if r.payload["text"].startswith(
        "<!here> Inquiries dropped further")]
    assert escalations
    with write(engine) as conn:
        alerts.acknowledge(conn, worse["alert_id"], "U0ANNA", NOW + timedelta(days=1))
        alert_messages.redraw(conn, worse["alert_id"], NOW + timedelta(days=1), "ack")
    for post in escalations:
        (redrawn,) = [r for r in rows(engine) if r.update_of == post.id]
        assert redrawn.payload["blocks"][0]["text"]["text"] == "Inquiries dropped further - acme"
        assert "escalation" not in str(redrawn.payload["blocks"])


def test_one_inquiry_over_a_window_is_singular(engine: Engine, store: Store) -> None:
    insert_alert(engine, store, "3day_sum", 1, 20.0)
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, store, NOW)
    summary = render("alert.json.j2", alert=context)["blocks"][1]["text"]["text"]
    assert "*1* inquiry in the 3 days to Mon 16 Nov 2026" in summary
