"""The inquiry-drop alert: fires once, no repeat while down, a new message when worse, a
"back to normal" reply in its thread, acknowledge and snooze; hints from other data; no
verdict on data that does not cover the day. Frozen clock throughout."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.alerts import incidents as alerts
from bot.alerts.detector import evaluate
from bot.alerts.rules import inquiry_drop
from bot.audit import entries as audit_entries
from bot.models import alerts as alerts_table
from bot.models import outbox as outbox_table
from bot.periods import as_utc
from bot.storage import read, write
from bot.stores import Store, add_store, bind_channel, configure_store
from handlers import alert_actions
from jobs.alert_messages import redraw
from jobs.delivery import Pacer, deliver
from jobs.tick import evaluate_alerts
from templates import render
from tests.facts import put
from tests.slack_limits import (
    DANGEROUS_MENTIONS,
    assert_data_escaped,
    assert_no_mentions,
    assert_within_slack_limits,
)
from tests.slack_mock import MockSlackAPI
from tests.test_outbox import client_for

# Tuesday 2026-11-17, 09:00 in Shanghai; "yesterday" is Monday 2026-11-16.
NOW = datetime(2026, 11, 17, 1, 0)
YESTERDAY = date(2026, 11, 16)
WEEKLY = [20, 22, 18, 21, 19, 8, 6]  # Monday .. Sunday: a weekly rhythm


def usual(day: date) -> int:
    return WEEKLY[day.weekday()]


def local_moment(store: Store, day: date, hour: int, minute: int = 0) -> datetime:
    return as_utc(datetime.combine(day, time(hour, minute), tzinfo=store.tz))


def seed_inquiries(engine: Engine, store: Store, counts: dict[date, int], ingested_at: datetime,
                   country: Any = lambda i: "US" if i % 2 else "DE",
                   period: tuple[date, date] | None = None) -> None:
    rows = [{"inquiry_id": uuid.uuid4().hex, "created_at": local_moment(store, d, 9, i % 60),
             "country": country(i), "buyer": f"buyer {i}"}
            for d, n in counts.items() for i in range(n)]
    with write(engine) as conn:
        put(conn, store, "inquiries", rows, ingested_at, period)


def history(until: date, weeks: int = 10) -> dict[date, int]:
    start = until - timedelta(days=7 * weeks)
    return {start + timedelta(days=i): usual(start + timedelta(days=i))
            for i in range((until - start).days + 1)}


def count_for(severity: str, day: date) -> int:
    """The largest count the detector calls `severity` on `day` of the usual history."""
    series = history(day)
    for observed in range(usual(day), -1, -1):
        series[day] = observed
        if evaluate(series, day).severity == severity:
            return observed
    raise AssertionError(f"no count gives {severity}")


@pytest.fixture
def acme(engine: Engine, store: Store) -> Store:
    bind_channel(engine, store, "C1")
    bind_channel(engine, store, "C2")
    return store


def run(engine: Engine, store: Store, now: datetime) -> list[dict[str, Any]]:
    """The worker's evaluation, whether or not there is anything new since the last one."""
    return evaluate_alerts(engine, store, now, force=True)


def outbox_rows(engine: Engine) -> list[Any]:
    with read(engine) as conn:
        return conn.execute(select(outbox_table).order_by(outbox_table.c.id)).all()


def posts(engine: Engine) -> list[Any]:
    """The alert posts queued (not the edits nor the thread replies)."""
    return [r for r in outbox_rows(engine) if r.purpose == "alert"]


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]]


def alert_rows(engine: Engine) -> list[Any]:
    with read(engine) as conn:
        return conn.execute(select(alerts_table).order_by(alerts_table.c.id)).all()


def test_fires_once_per_incident_with_one_message_per_channel(engine: Engine,
                                                              acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 2
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=10))
    (event,) = run(engine, acme, NOW)
    assert event["event"] == "fired" and event["day"] == "2026-11-16"
    assert event["observed"] == 2 and event["expected"] == pytest.approx(20, abs=0.5)
    assert event["severity"] == "critical" and event["p_value"] < 0.001
    messages = outbox_rows(engine)
    assert [m.channel for m in messages] == ["C1", "C2"]
    message = messages[0].payload
    assert_within_slack_limits(message)
    text = str(message)
    assert "Mon 16 Nov 2026" in text and "*2* inquiries" in text and "*20*" in text
    assert {e["action_id"] for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]} == {"alert_ack", "alert_snooze"}
    # The same data again (the next tick, a second worker): nothing new.
    assert run(engine, acme, NOW + timedelta(minutes=1))[0]["event"] == "continues"
    assert len(outbox_rows(engine)) == 2 and len(alert_rows(engine)) == 1
    (listed,) = [a for a in _active(engine, acme, NOW)]
    assert {k: listed[k] for k in ("rule", "store", "day", "observed", "severity", "status")} == {
        "rule": "inquiry_drop", "store": "acme", "day": "2026-11-16", "observed": 2,
        "severity": "critical", "status": "open"}
    assert (listed["title"], listed["span"]) == ("Inquiry drop",
                                                 inquiry_drop.span(listed["method"]))


def insert_alert(engine: Engine, store: Store, method: str, observed: int, expected: float,
                 day: date = YESTERDAY) -> int:
    """An open incident as the worker records it, without the data behind it."""
    with write(engine) as conn:
        return conn.execute(insert(alerts_table).values(
            store_id=store.id, rule=inquiry_drop.NAME, started_day=day, last_day=day,
            figures={"method": method, "observed": observed, "expected": expected,
                     "p_value": 0.001, "baseline_weeks": 8, "source": "inquiries"},
            severity="warning", status="open", created_at=NOW, updated_at=NOW)
            .returning(alerts_table.c.id)
        ).scalar_one()


def test_a_window_sum_is_never_shown_as_one_days_count(engine: Engine, acme: Store) -> None:
    insert_alert(engine, acme, "3day_sum", 30, 55.5)
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, acme, NOW)
    message = render("alert.json.j2", alert=context)
    assert "30 inquiries in the 3 days to 2026-11-16, usually about 56" in message["text"]
    summary = message["blocks"][1]["text"]["text"]
    assert "*30* inquiries in the 3 days to Mon 16 Nov 2026, usually about *56*" in summary


def _active(engine: Engine, store: Store, now: datetime) -> list[dict[str, Any]]:
    with read(engine) as conn:
        return alerts.active(conn, store, now)


def test_no_repeat_while_down_new_message_when_worse_thread_reply_on_recovery(
        engine: Engine, acme: Store, api: MockSlackAPI) -> None:
    day1, day2, day3 = YESTERDAY, YESTERDAY + timedelta(days=1), YESTERDAY + timedelta(days=2)
    warning = count_for("warning", day1)
    series = history(day1 - timedelta(days=1))
    series[day1] = warning
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=10))
    assert run(engine, acme, NOW)[0]["event"] == "fired"
    client = client_for(api)
    deliver(engine, client, NOW, pacer=Pacer(0, 0))
    first_ts = {m["channel"]: ts for ts, m in api.messages.items()}

    # Day 2: worse (critical) -> one new message per channel, saying so, and the first
    # messages edited: superseded, no buttons left on them.
    seed_inquiries(engine, acme, {day2: 1}, ingested_at=NOW + timedelta(days=1))
    (event,) = run(engine, acme, NOW + timedelta(days=1))
    assert (event["event"], event["severity"]) == ("worse", "critical")
    assert len(posts(engine)) == 4
    (alert,) = alert_rows(engine)
    assert (alert.started_day, alert.last_day, alert.notified_severity) == (
        day1, day2, "critical")
    deliver(engine, client, NOW + timedelta(days=1), pacer=Pacer(0, 0))
    newer = {m["channel"]: m for ts, m in api.messages.items() if ts not in first_ts.values()}
    assert set(newer) == {"C1", "C2"}
    for message in newer.values():
        assert message["text"].startswith("<!here> Inquiries dropped further - acme")
        assert "now *critical*" in message["blocks"][1]["text"]["text"]
        assert buttons(message) == ["alert_ack", "alert_snooze"]
    for ts in first_ts.values():
        old = api.messages[ts]
        assert buttons(old) == [] and "see the newer alert below" in str(old["blocks"])
        assert "<!here>" not in str(old)

    # Day 3: back to normal -> resolved, a reply in the thread of the latest alert message,
    # and the alert message edited to show it.
    seed_inquiries(engine, acme, {day3: usual(day3)}, ingested_at=NOW + timedelta(days=2))
    (event,) = run(engine, acme, NOW + timedelta(days=2))
    assert event["event"] == "recovered"
    assert alert_rows(engine)[0].status == "resolved"
    assert _active(engine, acme, NOW + timedelta(days=2)) == []
    result = deliver(engine, client, NOW + timedelta(days=2), pacer=Pacer(0, 0))
    assert result.delivered == 6  # two replies, four edits
    escalations = {m.channel: m.ts for m in posts(engine)
                   if m.dedupe_key.split(":")[2] == "critical"}
    replies = [c for c in api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert {c.params["channel"]: c.params["thread_ts"] for c in replies} == escalations
    assert all("back to normal" in c.params["text"] for c in replies)
    # Every message of the alert, the first ones too, now shows it resolved.
    for ts in [*first_ts.values(), *escalations.values()]:
        assert api.messages[ts]["blocks"][0]["text"]["text"] == "Resolved: Inquiries dropped - acme"
        assert buttons(api.messages[ts]) == []
    assert set(first_ts.values()).isdisjoint(escalations.values())
    # Nothing more once resolved, also while a 3- or 7-day window still holds the drop.
    assert run(engine, acme, NOW + timedelta(days=2, hours=1))[0]["event"] in (
        "normal", "aftermath")
    day4 = day3 + timedelta(days=1)
    seed_inquiries(engine, acme, {day4: usual(day4)}, ingested_at=NOW + timedelta(days=3))
    assert run(engine, acme, NOW + timedelta(days=3))[0]["event"] in ("normal", "aftermath")
    assert len(posts(engine)) == 4 and len(alert_rows(engine)) == 1


def test_a_superseded_post_keeps_the_figures_it_was_sent_with(
        engine: Engine, acme: Store, api: MockSlackAPI) -> None:
    day1, day2 = YESTERDAY, YESTERDAY + timedelta(days=1)
    warning = count_for("warning", day1)
    series = history(day1 - timedelta(days=1))
    series[day1] = warning
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=10))
    (fired,) = run(engine, acme, NOW)
    client = client_for(api)
    deliver(engine, client, NOW, pacer=Pacer(0, 0))
    first = {ts: dict(m) for ts, m in api.messages.items()}
    said = f"*{warning}* inquiries on Mon 16 Nov 2026, usually about *{fired['expected']:.0f}*"
    assert all(said in str(m["blocks"]) for m in first.values())
    seed_inquiries(engine, acme, {day2: 1}, ingested_at=NOW + timedelta(days=1))
    (worse,) = run(engine, acme, NOW + timedelta(days=1))
    assert (worse["event"], worse["observed"]) == ("worse", 1)
    deliver(engine, client, NOW + timedelta(days=1), pacer=Pacer(0, 0))
    for ts, before in first.items():
        old = api.messages[ts]
        # "It got worse after this message" under what it said, not the newer figures
        assert "see the newer alert below" in str(old["blocks"]) and buttons(old) == []
        assert said in str(old["blocks"]) and "Tue 17 Nov" not in str(old["blocks"])
        summary = before["blocks"][1]["text"]["text"].removeprefix("<!here> ")  # no ping
        assert old["blocks"][1]["text"]["text"] == summary
        assert old["text"] == before["text"].removeprefix("<!here> ")
        assert old["blocks"][0]["text"]["text"] == "Inquiries dropped - acme"
    # A later edit (a button) keeps them too; the newest posts show the current figures.
    with write(engine) as conn:
        redraw(conn, fired["alert_id"], NOW + timedelta(days=1, hours=1), "test")
    deliver(engine, client, NOW + timedelta(days=1, hours=1), pacer=Pacer(0, 0))
    for ts in first:
        assert said in str(api.messages[ts]["blocks"])
    newer = [m for ts, m in api.messages.items() if ts not in first]
    assert len(newer) == 2 and all("*1* inquiry on Tue 17 Nov 2026" in str(m["blocks"])
                                   for m in newer)


def test_still_down_at_the_same_severity_sends_nothing(engine: Engine, acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 0
    series[YESTERDAY + timedelta(days=1)] = 0
    seed_inquiries(engine, acme, series, ingested_at=NOW + timedelta(days=1))
    assert run(engine, acme, NOW)[0]["event"] == "fired"
    (event,) = run(engine, acme, NOW + timedelta(days=1))
    assert (event["event"], event["severity"]) == ("continues", "critical")
    assert len(outbox_rows(engine)) == 2
    assert alert_rows(engine)[0].last_day == YESTERDAY + timedelta(days=1)


def test_no_verdict_on_a_day_the_data_does_not_cover(engine: Engine, acme: Store) -> None:
    # The list was exported yesterday afternoon: yesterday is incomplete, not a drop.
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 3
    seed_inquiries(engine, acme, series, ingested_at=local_moment(acme, YESTERDAY, 15))
    (event,) = run(engine, acme, NOW)
    assert event["event"] == "skipped" and "does not cover 2026-11-16" in event["why"]
    assert outbox_rows(engine) == [] and alert_rows(engine) == []


def test_an_old_list_ingested_today_does_not_cover_yesterday(engine: Engine,
                                                           acme: Store) -> None:
    # 询盘列表_…-20261111.xlsx ingested this morning: its days stop five days ago, so the
    # days after are unknown, not zeros.
    old_end = YESTERDAY - timedelta(days=5)
    series = history(old_end)
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=10),
                   period=(min(series), old_end))
    (event,) = run(engine, acme, NOW)
    assert event["event"] == "skipped"
    assert "does not cover 2026-11-16" in event["why"]
    assert outbox_rows(engine) == [] and alert_rows(engine) == []
    # A newer list naming today as its end covers yesterday (today is never complete).
    seed_inquiries(engine, acme, {YESTERDAY: 0}, ingested_at=NOW,
                   period=(old_end, YESTERDAY + timedelta(days=1)))
    (event,) = run(engine, acme, NOW)
    assert event["event"] == "fired" and event["day"] == "2026-11-16"


def test_too_little_history_never_fires(engine: Engine, acme: Store) -> None:
    series = {d: n for d, n in history(YESTERDAY).items() if d >= YESTERDAY - timedelta(days=20)}
    series[YESTERDAY] = 0
    seed_inquiries(engine, acme, series, ingested_at=NOW)
    (event,) = run(engine, acme, NOW)
    assert event["event"] == "skipped" and "not enough history" in event["why"]


def test_traffic_report_is_the_fallback_series(engine: Engine, acme: Store) -> None:
    rows = [{"date": d, "inquiries": n, "visitors": 400} for d, n in
            history(YESTERDAY - timedelta(days=1)).items()]
    rows.append({"date": YESTERDAY, "inquiries": 1, "visitors": 100})
    with write(engine) as conn:
        put(conn, acme, "traffic", rows, NOW)
    (event,) = [e for e in run(engine, acme, NOW) if e["rule"] == "inquiry_drop"]
    assert event["event"] == "fired" and event["source"] == "traffic report"
    message = outbox_rows(engine)[0].payload
    assert "Traffic is down too: 100 visitors vs usually 400" in str(message["blocks"])
    assert "• Counted from the traffic report, as the checklist does" in str(message["blocks"])
    with read(engine) as conn:
        # the visitors' drop is exposure_drop's incident, beside this one
        (context,) = [c for c in alerts.unresolved(conn, acme, NOW)
                      if c["rule"] == "inquiry_drop"]
    assert "按流量报表统计" in str(render("alert.json.j2", alert=context, lang="zh"))


def test_hints_country_gone_and_p4p_paused(engine: Engine, acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 4
    # Baseline: every other inquiry from the US; yesterday only Germany.
    seed_inquiries(engine, acme, {d: n for d, n in series.items() if d < YESTERDAY},
                   ingested_at=NOW - timedelta(minutes=20))
    seed_inquiries(engine, acme, {YESTERDAY: 4}, ingested_at=NOW - timedelta(minutes=10),
                   country=lambda i: "DE")
    # Spam from the US yesterday does not bring the US back: the series counts valid ones.
    spam = [{"inquiry_id": f"spam{i}", "created_at": local_moment(acme, YESTERDAY, 10, i),
             "country": "US", "buyer": "bot", "is_spam": True} for i in range(5)]
    with write(engine) as conn:
        put(conn, acme, "inquiries", spam, NOW - timedelta(minutes=10))
    p4p = [{"date": YESTERDAY - timedelta(days=k), "plan": "main", "spend": 300.0}
           for k in range(1, 15)]
    p4p.append({"date": YESTERDAY, "plan": "main", "spend": 0.0})
    with write(engine) as conn:
        put(conn, acme, "p4p", p4p, NOW)
    assert run(engine, acme, NOW)[0]["event"] == "fired"
    message = outbox_rows(engine)[0].payload
    where = next(b["text"]["text"] for b in message["blocks"]
                 if b["type"] == "section" and "Where to look" in b["text"]["text"])
    assert "\n• No inquiries from United States, usually a top source (" in where
    assert "\n• P4P spent ¥0 vs usually ¥300 a day - paused" in where


def where_to_look(engine: Engine) -> str:
    """The first message's one "Where to look" section (fails if there is none)."""
    message = outbox_rows(engine)[0].payload
    (where,) = [b["text"]["text"] for b in message["blocks"]
                if b["type"] == "section" and "Where to look" in b["text"]["text"]]
    return where


def test_several_countries_gone_are_worded_together(engine: Engine, acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=20),
                   country=lambda i: ("US", "DE", "US", "FR")[i % 4])
    seed_inquiries(engine, acme, {YESTERDAY: 4}, ingested_at=NOW - timedelta(minutes=10),
                   country=lambda i: "FR")
    (event,) = run(engine, acme, NOW)
    assert (event["event"], event["method"]) == ("fired", "daily")
    (hint,) = [h for h in alert_rows(engine)[0].hint if "countries" in h]
    assert (hint["kind"], hint["countries"]) == ("countries_gone", ["US", "DE"])
    assert 70 <= hint["share"] <= 80  # the two together, not the first one's share
    assert ("\n• No inquiries from United States, Germany, usually top sources "
            f"(together {hint['share']}% of the last 4 weeks)") in where_to_look(engine)
    with read(engine) as conn:
        (context,) = alerts.unresolved(conn, acme, NOW)
    zh = render("alert.json.j2", alert=context, lang="zh")
    assert ("没有来自 美国，德国 的询盘，通常是主要来源"
            f"（合计占近 4 周的 {hint['share']}%）") in str(zh)


def test_no_country_hint_when_no_inquiry_came_at_all(engine: Engine, acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 0
    seed_inquiries(engine, acme, series, ingested_at=NOW - timedelta(minutes=10),
                   country=lambda i: "US")
    (event,) = run(engine, acme, NOW)
    assert (event["event"], event["observed"]) == ("fired", 0)
    assert [h for h in alert_rows(engine)[0].hint or [] if "countries" in h] == []
    assert "No inquiries from" not in str(outbox_rows(engine)[0].payload)


def test_store_thresholds_are_used(engine: Engine, acme: Store) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = count_for("warning", YESTERDAY)
    seed_inquiries(engine, acme, series, ingested_at=NOW)
    strict = configure_store(engine, acme, settings={"alert_min_drop": 0.9,
                                                     "inquiry_drop.watch_min_drop": 0.9})
    assert run(engine, strict, NOW)[0]["event"] == "normal"
    assert outbox_rows(engine) == []


class StubApp:
    """Collects listeners the way Bolt's `app.action(id)(fn)` registers them."""

    def __init__(self) -> None:
        self.actions: dict[str, Any] = {}

    def action(self, action_id: str) -> Any:
        def decorator(fn: Any) -> Any:
            self.actions[action_id] = fn
            return fn
        return decorator


def _click(app: StubApp, action_id: str, alert_id: int, channel: str, ts: str, client: Any,
           user: str = "U0ANNA") -> list[bool]:
    acked: list[bool] = []
    app.actions[action_id](
        ack=lambda: acked.append(True),
        body={"user": {"id": user}, "channel": {"id": channel}, "message": {"ts": ts}},
        action={"action_id": action_id, "value": str(alert_id)}, client=client)
    return acked


def test_acknowledge_and_snooze_buttons(engine: Engine, acme: Store, api: MockSlackAPI) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = count_for("warning", YESTERDAY)
    seed_inquiries(engine, acme, series, ingested_at=NOW)
    (event,) = run(engine, acme, NOW)
    client = client_for(api)
    deliver(engine, client, NOW, pacer=Pacer(0, 0))
    ts = next(ts for ts, m in api.messages.items() if m["channel"] == "C1")
    app = StubApp()
    alert_actions.register(app, engine, None)  # type: ignore[arg-type]

    assert _click(app, "alert_ack", event["alert_id"], "C1", ts, client) == [True]
    assert alert_rows(engine)[0].status == "acknowledged"
    assert alert_rows(engine)[0].acknowledged_by == "U0ANNA"
    # Both channels' messages show it, not only the one clicked in C1.
    assert [m["channel"] for m in api.messages.values()] == ["C1", "C2"]
    for edited in api.messages.values():
        assert "Acknowledged by <@U0ANNA>" in str(edited["blocks"])
        assert buttons(edited) == ["alert_snooze"]
        assert "<!here>" not in str(edited)  # an edit pings nobody

    snoozed_at = NOW + timedelta(hours=1)
    alert_actions.handle(engine, "alert_snooze", {"user": {"id": "U0BEN"}, "channel": {
        "id": "C1"}, "message": {"ts": ts}}, {"value": str(event["alert_id"])}, client,
        now=snoozed_at)
    (alert,) = alert_rows(engine)
    assert alert.status == "snoozed" and alert.snoozed_until == snoozed_at + timedelta(days=1)
    with read(engine) as conn:  # who clicked what, and when, is in the audit trail
        clicks = [(e.at, e.user, e.action, e.detail) for e in audit_entries(conn, acme)][:2]
    assert clicks == [
        (snoozed_at, "U0BEN", "alert_snooze",
         {"alert": alert.id, "until": (snoozed_at + timedelta(days=1)).isoformat(
             timespec="minutes") + "Z"}),
        (clicks[1][0], "U0ANNA", "alert_ack", {"alert": alert.id})]
    for edited in api.messages.values():  # in the store's timezone, not UTC
        assert ":zzz: Snoozed by <@U0BEN> until 2026-11-18 10:00 (Asia/Shanghai time)." in str(
            edited["blocks"])
    assert _active(engine, acme, snoozed_at)[0]["status"] == "snoozed"
    # Worse while snoozed (the next day's evaluation): recorded, no message.
    seed_inquiries(engine, acme, {YESTERDAY + timedelta(days=1): 0},
                   ingested_at=NOW + timedelta(hours=20))
    (event2,) = run(engine, acme, NOW + timedelta(hours=23))
    assert event2["event"] == "continues" and event2["severity"] == "critical"
    assert len(posts(engine)) == 2
    # The snooze runs out: every message shows it open again, buttons back, no ping.
    snoozed_until = alert.snoozed_until
    woke = evaluate_alerts(engine, acme, snoozed_until + timedelta(minutes=1))
    assert [e["event"] for e in woke] == ["woke"]
    assert alert_rows(engine)[0].status == "open"
    deliver(engine, client, snoozed_until + timedelta(minutes=1), pacer=Pacer(0, 0))
    for edited in api.messages.values():
        assert "Snoozed" not in str(edited["blocks"]) and "<!here>" not in str(edited)
        assert buttons(edited) == ["alert_ack", "alert_snooze"]
    assert evaluate_alerts(engine, acme, snoozed_until + timedelta(minutes=2)) == []  # once
    # ... and the escalation goes out at the next evaluation.
    (event3,) = run(engine, acme, snoozed_until + timedelta(minutes=3))
    assert event3["event"] == "worse"
    assert len(posts(engine)) == 4


def test_unknown_alert_button_is_acked_and_ignored(engine: Engine, acme: Store,
                                                   api: MockSlackAPI) -> None:
    app = StubApp()
    alert_actions.register(app, engine, None)  # type: ignore[arg-type]
    assert _click(app, "alert_ack", 999, "C1", "1.0", client_for(api)) == [True]
    assert api.calls_to("chat.update") == []


def test_store_names_and_countries_are_escaped(engine: Engine) -> None:
    store = add_store(engine, "<!channel> & co", "Europe/London")
    store = configure_store(engine, store, settings={"alert_mention": "<!subteam^S0OPS|@ops>"})
    bind_channel(engine, store, "C9")
    now = datetime(2026, 11, 17, 9, 0)
    series = history(YESTERDAY - timedelta(days=1))
    seed_inquiries(engine, store, {d: n for d, n in series.items()},
                   ingested_at=now - timedelta(hours=1), country=lambda i: "<!here>")
    seed_inquiries(engine, store, {YESTERDAY: 0}, ingested_at=now - timedelta(minutes=5))
    assert run(engine, store, now)[0]["event"] == "fired"
    message = outbox_rows(engine)[0].payload
    assert_within_slack_limits(message)
    # The store's alert_mention (a user group here) is the only mention; the data pings nobody.
    assert_no_mentions(message, dangerous=(*DANGEROUS_MENTIONS, "<!subteam^"),
                       allow=("<!subteam^S0OPS>",))
    assert message["text"].startswith("<!subteam^S0OPS> ")
    assert_data_escaped(message, "<!channel> & co", "<!here>")
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(alerts_table)) == 1
