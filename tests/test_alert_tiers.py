"""Two tiers, quiet hours and the cool-down (issue 13), in the one lifecycle: a watch is seen
in the checklist and `opsbot alerts`, never pings, is posted quietly only with `watch_posts`;
a watch that becomes an alert pings; quiet hours hold every alert message and post the state
once when they end; a subject down again within `cooldown_hours` reopens its incident.
Frozen clock, mock Slack API."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine

from bot.alerts import incidents
from bot.alerts.detector import DetectorSettings, evaluate
from bot.alerts.rules import RULES, Finding
from bot.periods import as_utc
from bot.schedule import ScheduleError, parse_quiet_hours, quiet_until
from bot.storage import read, write
from bot.stores import Store, StoreError, add_store, bind_channel, configure_store, parse_setting
from jobs import alert_messages
from jobs.delivery import Pacer
from jobs.tick import evaluate_alerts, run_due
from tests.slack_mock import MockSlackAPI
from tests.test_alerts import alert_rows, outbox_rows, seed_inquiries
from tests.test_alerts import run as step
from tests.test_outbox import client_for
from tests.test_tick import NO_SLACK

WEDNESDAY = date(2026, 11, 11)
# Wednesdays of the 8 weeks before: noisy, about 12 (the issue's example)
WEDNESDAYS = [9, 15, 11, 14, 10, 13, 12, 16]
OTHER_DAYS = {0: 12, 1: 13, 3: 11, 4: 12, 5: 6, 6: 5}  # Monday .. Sunday but Wednesday
WIGGLE = [0, 2, -1, 1, -2, 1, 0, -1, 2, 0]


def noisy_history(day: date = WEDNESDAY, weeks: int = 9) -> dict[date, int]:
    """`weeks` weeks before `day` with a weekly rhythm; Wednesdays as WEDNESDAYS."""
    counts = {}
    start = day - timedelta(days=7 * weeks)
    for i in range((day - start).days):
        d = start + timedelta(days=i)
        back = (day - d).days // 7
        counts[d] = (WEDNESDAYS[(back - 1) % 8] if d.weekday() == 2
                     else OTHER_DAYS[d.weekday()] + WIGGLE[i % len(WIGGLE)])
    return counts


# ---- the detector's watch tier ------------------------------------------------------------


def test_the_issues_wednesday_is_a_watch_not_an_alert() -> None:
    counts = {**noisy_history(), WEDNESDAY: 5}
    verdict = evaluate(counts, WEDNESDAY)
    assert verdict.method == "daily" and verdict.observed == 5
    assert verdict.expected == pytest.approx(12.5, abs=0.6)
    assert 0.01 < verdict.p_value < 0.05 and verdict.drop > 0.55
    assert (verdict.fired, verdict.tier, verdict.severity) == (False, "watch", "none")
    # an ordinary Wednesday is neither
    assert evaluate({**noisy_history(), WEDNESDAY: 11}, WEDNESDAY).tier is None


def test_watch_level_and_watch_min_drop_are_the_boundaries() -> None:
    counts = {**noisy_history(), WEDNESDAY: 5}
    found = evaluate(counts, WEDNESDAY)
    p, drop = found.p_value, found.drop

    def tier(**settings: float) -> str | None:
        return evaluate(counts, WEDNESDAY, DetectorSettings(**settings)).tier

    assert tier(watch_level=p * 1.001) == "watch"
    assert tier(watch_level=p) is None  # strictly below the level
    assert tier(watch_min_drop=drop) == "watch"  # at least the drop
    assert tier(watch_min_drop=drop + 0.001) is None
    # the alert tier is unchanged: the same day at a looser alert level is an alert
    loose = evaluate(counts, WEDNESDAY, DetectorSettings(level=0.2))
    assert (loose.tier, loose.fired) == ("alert", True)


# ---- the issue's example end to end: a watch in the checklist, pinging nobody ---------------


def _slack_text(api: MockSlackAPI) -> str:
    return json.dumps([c.params for c in api.calls], ensure_ascii=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_minus_57_percent_wednesday_is_a_watch_in_the_checklist_and_pings_nobody(
        database_url: str, engine: Engine, api: MockSlackAPI, lang: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    store = add_store(engine, "acme", "Asia/Shanghai", lang)
    bind_channel(engine, store, "C1")
    seed_inquiries(engine, store, {**noisy_history(), WEDNESDAY: 5},
                   ingested_at=datetime(2026, 11, 11, 23, 0))
    for key, value in api.env().items():  # `opsbot tick` talks to the mock Slack API
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPSBOT_DROP_DIR", raising=False)
    # Thursday 09:00 in Shanghai: the alert step, then the checklist, then delivery
    assert main(["--database", database_url, "tick", "--now", "2026-11-12T09:00",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (event,) = [a for a in report["alerts"] if a["rule"] == "inquiry_drop"]
    assert (event["event"], event["tier"], event["severity"]) == ("fired", "watch", None)
    assert event["post"] is False and event["messages"] == 0
    assert len(report["checklists"]) == 1 and report["delivered"] == 1
    # one message in Slack: the checklist, with the watch highlighted in its data item
    (posted,) = api.calls_to("chat.postMessage")
    text = _slack_text(api)
    assert "<!here>" not in text and "<!channel>" not in text
    data = next(b for b in posted.params["blocks"] if "data" in str(b.get("block_id", "")))
    assert (":mag: *Worth a look - Inquiry drop*" if lang == "en"
            else ":mag: *值得一看 - 询盘下降*") in data["text"]["text"]
    with read(engine) as conn:
        (shown,) = incidents.active(conn, store, datetime(2026, 11, 12, 1, 0))
    assert (shown["tier"], shown["severity"], shown["observed"]) == ("watch", None, 5)


# ---- a toy rule drives the lifecycle --------------------------------------------------------


class Toy:
    """A store-wide rule whose verdict the test sets: "normal", "watch", "warning",
    "critical"; it judges the local day before `now` (`offset`: the zone's hours from UTC,
    Shanghai by default)."""

    def __init__(self, offset: int = 8) -> None:
        self.state = "normal"
        self.offset = offset
        # inquiry_drop's name, figures and wording: the lifecycle is every rule's
        self.rule = dataclasses.replace(RULES["inquiry_drop"], evaluate=self.evaluate)

    def evaluate(self, conn: Connection, store: Store, now: datetime) -> list[Finding]:
        day = (as_utc(now) + timedelta(hours=self.offset)).date() - timedelta(days=1)
        observed = {"normal": 12, "watch": 5, "warning": 3, "critical": 0}[self.state]
        figures = {"method": "daily", "observed": observed, "expected": 12.0,
                   "p_value": {"normal": 0.5, "watch": 0.02, "warning": 0.003,
                               "critical": 0.00001}[self.state],
                   "source": "inquiries", "baseline_weeks": 8}
        back = {"day": day.isoformat(), "day_label": day.strftime("%a %d %b %Y"),
                "observed": observed, "expected": 12.0, "span": 1}
        if self.state == "normal":
            return [Finding(day=day, state="normal", figures=figures, back=back)]
        tier = "watch" if self.state == "watch" else "alert"
        return [Finding(day=day, state="down", tier=tier, figures=figures,
                        severity=None if tier == "watch" else self.state)]


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Toy:
    made = Toy()
    monkeypatch.setattr(incidents, "RULES", {"inquiry_drop": made.rule})
    return made


@pytest.fixture
def shop(engine: Engine) -> Store:
    store = add_store(engine, "shop", "Asia/Shanghai")
    bind_channel(engine, store, "C1")
    return store


MORNING = datetime(2026, 11, 17, 1, 0)  # 09:00 in Shanghai




def test_a_watch_is_not_posted_then_worse_to_an_alert_pings(
        engine: Engine, shop: Store, toy: Toy) -> None:
    toy.state = "watch"
    (fired,) = step(engine, shop, MORNING)
    assert (fired["event"], fired["tier"], fired["post"]) == ("fired", "watch", False)
    assert outbox_rows(engine) == []
    # still a watch the next day: nothing
    assert step(engine, shop, MORNING + timedelta(days=1))[0]["event"] == "continues"
    toy.state = "warning"
    (worse,) = step(engine, shop, MORNING + timedelta(days=2))
    assert worse["event"] == "worse" and worse["alert_id"] == fired["alert_id"]
    (post,) = outbox_rows(engine)
    # the watch was never posted: the alert's first post, pinged
    assert post.payload["text"].startswith("<!here> ")
    assert "further" not in post.payload["text"]


def test_with_watch_posts_a_watch_is_posted_quietly_and_its_escalation_pings(
        engine: Engine, shop: Store, toy: Toy) -> None:
    store = configure_store(engine, shop, settings={"watch_posts": "on"})
    toy.state = "watch"
    (fired,) = step(engine, store, MORNING)
    assert fired["post"] is True and fired["messages"] == 1
    (watch_post,) = outbox_rows(engine)
    assert "<!" not in json.dumps(watch_post.payload)
    assert watch_post.payload["text"].startswith("Worth a look")
    toy.state = "critical"
    assert step(engine, store, MORNING + timedelta(days=1))[0]["event"] == "worse"
    posts = [r for r in outbox_rows(engine) if r.purpose == "alert"]
    assert len(posts) == 2 and posts[1].payload["text"].startswith("<!here> ")
    # the watch's post is redrawn superseded (no buttons), without a mention
    (edit,) = [r for r in outbox_rows(engine) if r.update_of == watch_post.id]
    assert "<!" not in json.dumps(edit.payload)
    # drawn as it was sent: a watch, with its own figures
    assert edit.payload["blocks"][0]["text"]["text"] == "Worth a look: Inquiries dropped - shop"
    assert "*5* inquiries" in json.dumps(edit.payload) and "None" not in json.dumps(edit.payload)
    assert not [b for b in edit.payload["blocks"] if b["type"] == "actions"]


def test_a_subject_down_again_within_the_cooldown_reopens_its_incident(
        engine: Engine, shop: Store, toy: Toy) -> None:
    toy.state = "warning"
    (fired,) = step(engine, shop, MORNING)
    toy.state = "normal"
    assert step(engine, shop, MORNING + timedelta(days=1))[0]["event"] == "recovered"
    toy.state = "warning"
    (again,) = step(engine, shop, MORNING + timedelta(days=2))
    assert again["event"] == "reopened" and again["alert_id"] == fired["alert_id"]
    (row,) = alert_rows(engine)
    assert (row.status, row.resolved_day) == ("open", None)
    rows = outbox_rows(engine)
    posts = [r for r in rows if r.purpose == "alert"]
    assert len(posts) == 1  # no new post, no second ping
    (reply,) = [r for r in rows if r.purpose == "alert_again"]
    assert reply.thread_of == posts[0].id and "<!" not in json.dumps(reply.payload)
    # the post is redrawn open again, with its buttons
    latest = [r for r in rows if r.update_of == posts[0].id][-1]
    assert [b for b in latest.payload["blocks"] if b["type"] == "actions"]
    # recovering again gets its own reply
    toy.state = "normal"
    assert step(engine, shop, MORNING + timedelta(days=3))[0]["event"] == "recovered"
    replies = [r for r in outbox_rows(engine) if r.purpose == "alert_recovered"]
    assert len(replies) == 2


def test_down_again_after_the_cooldown_is_a_new_incident(
        engine: Engine, shop: Store, toy: Toy) -> None:
    toy.state = "warning"
    step(engine, shop, MORNING)
    toy.state = "normal"
    step(engine, shop, MORNING + timedelta(days=1))
    toy.state = "warning"
    (new,) = step(engine, shop, MORNING + timedelta(days=3))  # 48 hours on
    assert new["event"] == "fired"
    assert len(alert_rows(engine)) == 2
    store = configure_store(engine, shop, settings={"cooldown_hours": 0})
    toy.state = "normal"
    step(engine, store, MORNING + timedelta(days=4))
    toy.state = "warning"
    assert step(engine, store, MORNING + timedelta(days=5))[0]["event"] == "fired"


def test_reopened_at_a_higher_level_than_announced_is_worse(
        engine: Engine, shop: Store, toy: Toy) -> None:
    toy.state = "warning"
    step(engine, shop, MORNING)
    toy.state = "normal"
    step(engine, shop, MORNING + timedelta(days=1))
    toy.state = "critical"
    (event,) = step(engine, shop, MORNING + timedelta(days=2))
    assert event["event"] == "worse"
    posts = [r for r in outbox_rows(engine) if r.purpose == "alert"]
    assert len(posts) == 2 and posts[1].payload["text"].startswith("<!here> ")


def test_acknowledge_and_snooze_a_watch(engine: Engine, shop: Store, toy: Toy) -> None:
    store = configure_store(engine, shop, settings={"watch_posts": "yes"})
    toy.state = "watch"
    (fired,) = step(engine, store, MORNING)
    with write(engine) as conn:
        shown = incidents.snooze(conn, fired["alert_id"], "U0ANNA", MORNING)
    assert shown is not None and shown["status"] == "snoozed" and shown["tier"] == "watch"
    # snoozed: the escalation is not posted until the snooze runs out
    toy.state = "warning"
    assert step(engine, store, MORNING + timedelta(hours=12))[0]["event"] == "continues"
    assert len([r for r in outbox_rows(engine) if r.purpose == "alert"]) == 1
    events = step(engine, store, MORNING + timedelta(days=1, hours=1))
    assert [e["event"] for e in events] == ["woke", "worse"]
    with write(engine) as conn:
        acked = incidents.acknowledge(conn, fired["alert_id"], "U0BEN", MORNING)
    assert acked is not None and acked["status"] == "acknowledged"


# ---- quiet hours --------------------------------------------------------------------------


NY = ZoneInfo("America/New_York")


def ny(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return as_utc(datetime.combine(day, time(hour, minute), tzinfo=NY).replace(fold=fold))


@pytest.mark.parametrize(("moment", "until"), [
    (ny(date(2026, 11, 17), 20, 59), None),
    (ny(date(2026, 11, 17), 21, 0), ny(date(2026, 11, 18), 8, 0)),  # across midnight
    (ny(date(2026, 11, 18), 0, 30), ny(date(2026, 11, 18), 8, 0)),
    (ny(date(2026, 11, 18), 7, 59), ny(date(2026, 11, 18), 8, 0)),
    (ny(date(2026, 11, 18), 8, 0), None),
    # spring forward (Sunday 8 March 2026, 02:00 -> 03:00): the night is an hour shorter
    (ny(date(2026, 3, 7), 22, 0), ny(date(2026, 3, 8), 8, 0)),
    # fall back (Sunday 1 November 2026, 02:00 -> 01:00): an hour longer, both 01:30s quiet
    (ny(date(2026, 11, 1), 1, 30, fold=1), ny(date(2026, 11, 1), 8, 0)),
])
def test_quiet_hours_on_the_stores_wall_clock(moment: datetime, until: datetime | None) -> None:
    assert quiet_until(NY, "21:00-08:00", moment) == until


def test_quiet_hours_length_follows_dst() -> None:
    spring = quiet_until(NY, "21:00-08:00", ny(date(2026, 3, 7), 21, 0))
    fall = quiet_until(NY, "21:00-08:00", ny(date(2026, 10, 31), 21, 0))
    assert spring - ny(date(2026, 3, 7), 21, 0) == timedelta(hours=10)
    assert fall - ny(date(2026, 10, 31), 21, 0) == timedelta(hours=12)
    # a daytime window does not cross midnight
    assert quiet_until(NY, "12:00-13:00", ny(date(2026, 3, 8), 12, 30)) == \
        ny(date(2026, 3, 8), 13, 0)
    assert quiet_until(NY, None, ny(date(2026, 3, 8), 12, 30)) is None


@pytest.mark.parametrize(("typed", "stored"), [
    ("21:00-08:00", "21:00-08:00"), ("9:30-7:05", "09:30-07:05"), ("none", None), ("-", None)])
def test_quiet_hours_setting(typed: str, stored: str | None) -> None:
    assert parse_setting("quiet_hours", typed) == stored


@pytest.mark.parametrize("typed", ["21:00", "21:00-21:00", "25:00-08:00", "evening"])
def test_quiet_hours_setting_refuses(typed: str) -> None:
    with pytest.raises(StoreError, match="quiet_hours must be two 24-hour times"):
        parse_setting("quiet_hours", typed)
    with pytest.raises(ScheduleError):
        parse_quiet_hours(typed)


@pytest.fixture
def nyshop(engine: Engine) -> Store:
    store = add_store(engine, "brooklyn", "America/New_York")
    bind_channel(engine, store, "C1")
    return configure_store(engine, store, settings={"quiet_hours": "21:00-08:00"})


@pytest.fixture
def nytoy(monkeypatch: pytest.MonkeyPatch) -> Toy:
    made = Toy(offset=-5)  # New York in November (EST)
    monkeypatch.setattr(incidents, "RULES", {"inquiry_drop": made.rule})
    return made


def test_quiet_hours_hold_the_alert_and_post_it_once_when_they_end(
        engine: Engine, nyshop: Store, nytoy: Toy, api: MockSlackAPI) -> None:
    client = client_for(api)
    nytoy.state = "warning"
    (held,) = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 17), 23, 0), force=True)
    assert held["event"] == "fired" and held["held"] is True
    # it gets worse in the night: still nothing
    nytoy.state = "critical"
    (worse,) = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 3, 0), force=True)
    assert worse["event"] == "worse" and worse["held"] is True
    run_due(engine, ny(date(2026, 11, 18), 3, 0), client=client, settings=NO_SLACK,
            pacer=Pacer(0, 0))
    assert api.calls_to("chat.postMessage") == []
    # the tick at 07:59: still quiet; at 08:00 one post, at the current (critical) level
    assert run_due(engine, ny(date(2026, 11, 18), 7, 59), client=client, settings=NO_SLACK,
                   pacer=Pacer(0, 0))["alerts"] == []
    report = run_due(engine, ny(date(2026, 11, 18), 8, 0), client=client, settings=NO_SLACK,
                     pacer=Pacer(0, 0))
    (flushed,) = [a for a in report["alerts"] if a.get("flushed")]
    assert (flushed["event"], flushed["severity"]) == ("fired", "critical")
    (post,) = [c for c in api.calls_to("chat.postMessage") if c.params["channel"] == "C1"
               and "blocks" in c.params and "alert" in json.dumps(c.params).lower()]
    assert post.params["text"].startswith("<!here> ")
    # and never again
    run_due(engine, ny(date(2026, 11, 18), 8, 1), client=client, settings=NO_SLACK,
            pacer=Pacer(0, 0))
    assert len([r for r in outbox_rows(engine) if r.purpose == "alert"]) == 1


def test_an_incident_that_came_and_went_in_the_night_is_one_checklist_line(
        engine: Engine, nyshop: Store, nytoy: Toy, api: MockSlackAPI) -> None:
    client = client_for(api)
    nytoy.state = "critical"
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 17), 23, 0), force=True)
    nytoy.state = "normal"
    events = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 1, 0), force=True)
    assert [(e["event"], e["held"]) for e in events] == [("recovered", True)]
    report = run_due(engine, ny(date(2026, 11, 18), 9, 0), client=client, settings=NO_SLACK,
                     pacer=Pacer(0, 0))
    assert [a for a in report["alerts"] if a.get("flushed")] == []
    assert [r.purpose for r in outbox_rows(engine)] == ["checklist"]
    (checklist,) = [c.params for c in api.calls_to("chat.postMessage")]
    text = json.dumps(checklist, ensure_ascii=False)
    assert "<!here>" not in text and "Back to normal" in text


def test_a_recovery_in_the_night_of_an_alert_posted_before_is_one_reply_in_the_morning(
        engine: Engine, nyshop: Store, nytoy: Toy) -> None:
    nytoy.state = "warning"
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 17), 20, 0), force=True)
    nytoy.state = "normal"
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 1, 0), force=True)
    assert [r.purpose for r in outbox_rows(engine)] == ["alert"]
    events = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 8, 30))
    assert [e["event"] for e in events] == ["recovered"]
    assert [r.purpose for r in outbox_rows(engine)] == ["alert", "alert_recovered",
                                                       "alert_update"]


def test_a_channel_bound_in_quiet_hours_waits_for_them_to_end(
        engine: Engine, nyshop: Store, nytoy: Toy) -> None:
    nytoy.state = "warning"
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 17), 20, 0), force=True)
    bind_channel(engine, nyshop, "C2")
    with read(engine) as conn:
        assert alert_messages.unposted(conn, nyshop, ["C1", "C2"],
                                       ny(date(2026, 11, 17), 22, 0)) == {}
        assert alert_messages.unposted(conn, nyshop, ["C1", "C2"],
                                       ny(date(2026, 11, 18), 9, 0)) != {}


def test_cooldown_hours_setting() -> None:
    assert parse_setting("cooldown_hours", "0") == 0
    assert parse_setting("cooldown_hours", "36") == 36
    with pytest.raises(StoreError, match="cooldown_hours must be a number of hours"):
        parse_setting("cooldown_hours", "-1")


# ---- opsbot rules / /opsbot rules ----------------------------------------------------------


def test_opsbot_rules_lists_every_rule_with_its_switch_and_thresholds(
        database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    store = add_store(engine, "acme")
    configure_store(engine, store, settings={"inquiry_drop.watch_level": "0.1",
                                             "quiet_hours": "22:00-07:00"})
    assert main(["--database", database_url, "rules", "--json"]) == 0
    defaults = json.loads(capsys.readouterr().out)
    assert defaults["store"] is None
    assert [r["name"] for r in defaults["rules"]] == list(RULES)
    (drop,) = [r for r in defaults["rules"] if r["name"] == "inquiry_drop"]
    assert drop["enabled"] is True and drop["subject"] == "store"
    assert drop["settings"]["watch_level"] == 0.05 and drop["settings"]["watch_min_drop"] == 0.5
    assert drop["setting_names"]["watch_level"] == "inquiry_drop.watch_level"
    assert defaults["delivery"] == {"alert_mention": "here", "watch_posts": False,
                                    "quiet_hours": None, "cooldown_hours": 24}
    assert main(["--database", database_url, "rules", "--store", "acme", "--json"]) == 0
    mine = json.loads(capsys.readouterr().out)
    (drop,) = [r for r in mine["rules"] if r["name"] == "inquiry_drop"]
    assert drop["settings"]["watch_level"] == 0.1
    assert mine["delivery"]["quiet_hours"] == "22:00-07:00"
    assert main(["--database", database_url, "rules", "--store", "acme"]) == 0
    text = capsys.readouterr().out
    assert "`inquiry_drop.watch_level` `0.1`" in text and "`quiet_hours` `22:00-07:00`" in text


def test_slash_opsbot_rules_answers_the_channel_privately(engine: Engine) -> None:
    from handlers.commands import run_command

    store = add_store(engine, "acme", language="zh")
    bind_channel(engine, store, "C1")
    result = run_command(engine, "/opsbot", "rules", channel_id="C1", now=MORNING)
    assert result.ok and result.ephemeral and result.data is not None
    assert result.data["store"] == "acme"
    assert "询盘下降" in json.dumps(result.message, ensure_ascii=False)


# ---- words, both languages ----------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [
    ("en", {"watch": "Worth a look: Inquiries dropped - shop", "quiet": "nobody was pinged",
            "facts": "Watch · a day this low", "again": "Down again: *3* inquiries on",
            "line": "Worth a look - Inquiry drop"}),
    ("zh", {"watch": "值得一看：询盘下降 - shop", "quiet": "没有@任何人",
            "facts": "观察 · 单日这么低", "again": "再次下降：", "line": "值得一看 - 询盘下降"}),
])
def test_a_watch_and_a_reopening_read_in_the_stores_language(
        engine: Engine, shop: Store, toy: Toy, lang: str, words: dict[str, str]) -> None:
    from bot.checklists.daily import build_daily
    from templates import render

    store = configure_store(engine, shop, settings={"watch_posts": "on"}, language=lang)
    toy.state = "watch"
    step(engine, store, MORNING)
    (post,) = outbox_rows(engine)
    shown = json.dumps(post.payload, ensure_ascii=False)
    assert post.payload["blocks"][0]["text"]["text"] == words["watch"]
    assert words["quiet"] in shown and words["facts"] in shown and "<!" not in shown
    with read(engine) as conn:
        checklist = build_daily(conn, store, MORNING)
    data = render("checklist_daily.json.j2", checklist={**checklist, "language": lang},
                  lang=lang)
    assert words["line"] in json.dumps(data, ensure_ascii=False)
    toy.state = "normal"
    step(engine, store, MORNING + timedelta(days=1))
    toy.state = "warning"
    step(engine, store, MORNING + timedelta(days=2))
    # a watch's incident reopened as an alert is worse: a new post, pinged
    assert [r.purpose for r in outbox_rows(engine) if r.purpose == "alert"] == ["alert"] * 2
    toy.state = "normal"
    step(engine, store, MORNING + timedelta(days=3))
    toy.state = "warning"
    (again,) = step(engine, store, MORNING + timedelta(days=4))
    assert again["event"] == "reopened"
    (reply,) = [r for r in outbox_rows(engine) if r.purpose == "alert_again"]
    assert words["again"] in json.dumps(reply.payload, ensure_ascii=False)


def test_opsbot_alerts_lists_a_watch_in_its_contract(
        database_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    store = add_store(engine, "acme")
    seed_inquiries(engine, store, {**noisy_history(), WEDNESDAY: 5},
                   ingested_at=datetime(2026, 11, 11, 23, 0))
    assert main(["--database", database_url, "alerts", "--now", "2026-11-12T09:00",
                 "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)["alerts"]
    assert {"rule", "subject", "store", "day", "tier", "severity", "status", "figures",
            "hints"} <= set(found)
    assert (found["rule"], found["subject"], found["tier"], found["severity"]) == (
        "inquiry_drop", "", "watch", None)
    assert (found["observed"], found["day"]) == (5, "2026-11-11")
    assert 0.01 < found["p_value"] < 0.05 and found["figures"]["observed"] == 5
    assert main(["--database", database_url, "alerts", "--now", "2026-11-12T09:00"]) == 0
    assert "Worth a look: Inquiries dropped - acme" in capsys.readouterr().out


def test_a_reopening_in_the_night_is_told_once_when_quiet_hours_end(
        engine: Engine, nyshop: Store, nytoy: Toy) -> None:
    nytoy.state = "warning"
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 17), 19, 0), force=True)
    nytoy.state = "normal"  # the next day is back to normal
    evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 20, 0), force=True)
    nytoy.state = "warning"  # newer data on that day, judged in the night: down again
    (held,) = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 18), 23, 0), force=True)
    assert (held["event"], held["held"]) == ("reopened", True)
    assert "alert_again" not in [r.purpose for r in outbox_rows(engine)]
    events = evaluate_alerts(engine, nyshop, ny(date(2026, 11, 19), 8, 0))
    assert [e["event"] for e in events if e.get("flushed")] == ["reopened"]
    assert [r.purpose for r in outbox_rows(engine)].count("alert_again") == 1
    assert [r.purpose for r in outbox_rows(engine)].count("alert") == 1
