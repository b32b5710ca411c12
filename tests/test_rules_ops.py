"""The operations rules of issue 13: position_lost (a key keyword out of P4P positions 1-5),
unreplied_backlog (valid inquiries left unreplied) and stale_data (a regular report that stopped
arriving). For each: the boundary of every threshold (just below, at, above), no verdict on
data that does not say, the lifecycle through bot.alerts.incidents.run (fire, worse, recover,
acknowledge, snooze, one incident per keyword), and the wording in English and Chinese with
untrusted keyword and owner text escaped. Frozen clock throughout."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from bot.alerts import incidents
from bot.alerts.rules import RULES, Finding, position_lost, stale_data, unreplied_backlog
from bot.ingest.kinds import KINDS
from bot.models import alerts as alerts_table
from bot.models import drops
from bot.models import facts as tables
from bot.storage import read, write
from bot.stores import Store, add_store, configure_store
from templates import _safe, environment, render
from tests import facts
from tests.slack_limits import (
    assert_data_escaped,
    assert_no_mentions,
    assert_within_slack_limits,
    iter_texts,
)

# Tuesday 2026-11-17, 10:00 in Shanghai; yesterday is Monday 2026-11-16.
NOW = datetime(2026, 11, 17, 2, 0)
YESTERDAY = date(2026, 11, 16)


def judge(engine: Engine, store: Store, name: str, now: datetime = NOW) -> list[Finding]:
    with read(engine) as conn:
        return RULES[name].evaluate(conn, store, now)


def one(findings: list[Finding], subject: str = "") -> Finding:
    (found,) = [f for f in findings if f.subject == subject]
    return found


def verdict(finding: Finding) -> tuple[str, str | None, str | None]:
    """(state, tier, severity) with tier and severity only when down."""
    if finding.state != "down":
        return finding.state, None, None
    return finding.state, finding.tier, finding.severity


def run(engine: Engine, store: Store, now: datetime, rule: str) -> list[dict[str, Any]]:
    """incidents.run (every rule, as the worker does), the events of `rule`."""
    with write(engine) as conn:
        events = incidents.run(conn, store, now, force=True)
    return [e for e in events if e.get("rule") == rule]


def incident_rows(engine: Engine, rule: str) -> list[Any]:
    with read(engine) as conn:
        return conn.execute(select(alerts_table).where(alerts_table.c.rule == rule)
                            .order_by(alerts_table.c.id)).all()


def with_settings(engine: Engine, store: Store, **settings: Any) -> Store:
    return configure_store(engine, store, settings=settings)


# ---- position_lost ----------------------------------------------------------------------------


def p4p_day(engine: Engine, store: Store, day: date, positions: dict[str, int | None],
            spend: float = 10.0, **extra: Any) -> None:
    """One day of a P4P keyword report: a row per keyword with its position (None: the
    report has no position for it)."""
    rows = [{"date": day, "plan": "plan A", "keyword": word, "position": position,
             "spend": spend, "clicks": 3, "currency": "CNY", **extra}
            for word, position in positions.items()]
    with write(engine) as conn:
        facts.put(conn, store, "p4p", rows, datetime.combine(day + timedelta(days=1),
                                                            datetime.min.time()))


def positions(engine: Engine, store: Store, days: list[dict[str, int | None]],
              last: date = YESTERDAY, **extra: Any) -> None:
    """Consecutive report days ending on `last`, oldest first."""
    for i, day_positions in enumerate(days):
        p4p_day(engine, store, last - timedelta(days=len(days) - 1 - i), day_positions, **extra)


@pytest.fixture
def keyed(engine: Engine, store: Store) -> Store:
    return with_settings(engine, store, key_keywords="led light, solar lamp")


@pytest.mark.parametrize(("position", "state"), [
    (4, ("normal", None, None)), (5, ("normal", None, None)),
    (6, ("down", "watch", None)), (-1, ("down", "watch", None))])
def test_positions_1_to_5_are_in_and_6_or_others_are_out(
        engine: Engine, keyed: Store, position: int, state: tuple[str, Any, Any]) -> None:
    positions(engine, keyed, [{"led light": 2}, {"led light": position}])
    assert verdict(one(judge(engine, keyed, "position_lost"), "led light")) == state


@pytest.mark.parametrize(("days_out", "threshold", "state"), [
    (1, 2, ("down", "watch", None)),  # just below the default
    (2, 2, ("down", "alert", "warning")),  # at it
    (3, 2, ("down", "alert", "warning")),  # above it
    (2, 3, ("down", "watch", None)),  # a store's own threshold
    (3, 3, ("down", "alert", "warning")),
])
def test_out_for_position_lost_days_report_days_running_is_an_alert(
        engine: Engine, keyed: Store, days_out: int, threshold: int,
        state: tuple[str, Any, Any]) -> None:
    store = with_settings(engine, keyed, **{"position_lost.days": threshold})
    positions(engine, store, [{"led light": 3}] + [{"led light": 9}] * days_out)
    found = one(judge(engine, store, "position_lost"), "led light")
    assert verdict(found) == state
    first_out = YESTERDAY - timedelta(days=days_out - 1)
    assert found.figures == {
        "keyword": "led light", "position": 9, "out_days": days_out,
        "out_since": first_out.isoformat(), "previous": 3,
        "previous_day": (first_out - timedelta(days=1)).isoformat(), "clicks": 3,
        "stars": None, "days": threshold, "key_source": "setting"}


def test_a_keyword_absent_from_the_report_is_skipped_never_lost(
        engine: Engine, keyed: Store) -> None:
    # solar lamp is out, then absent yesterday; led light has no position yesterday
    positions(engine, keyed, [{"led light": 2, "solar lamp": 8}, {"solar lamp": 8},
                              {"led light": None, "other": 1}])
    found = judge(engine, keyed, "position_lost")
    assert verdict(one(found, "solar lamp")) == ("skipped", None, None)
    assert one(found, "solar lamp").why == "not in the P4P report of 2026-11-16"
    assert one(found, "led light").why == "no position in the P4P report of 2026-11-16"


def test_a_day_absent_from_the_report_neither_counts_nor_breaks_the_run(
        engine: Engine, keyed: Store) -> None:
    positions(engine, keyed, [{"led light": 1}, {"led light": 7}, {"other": 1},
                              {"led light": 7}])
    found = one(judge(engine, keyed, "position_lost"), "led light")
    assert verdict(found) == ("down", "alert", "warning")
    assert (found.figures["out_days"], found.figures["out_since"]) == (2, "2026-11-14")


def test_no_verdict_without_yesterdays_report_or_its_positions(
        engine: Engine, keyed: Store) -> None:
    assert judge(engine, keyed, "position_lost") == []  # no keyword report at all
    positions(engine, keyed, [{"led light": 9}, {"led light": 9}],
              last=YESTERDAY - timedelta(days=1))
    (found,) = judge(engine, keyed, "position_lost")
    assert (found.state, found.why) == ("skipped", "no P4P keyword report for 2026-11-16 yet")
    p4p_day(engine, keyed, YESTERDAY, {"led light": None, "solar lamp": None})
    (found,) = judge(engine, keyed, "position_lost")
    assert (found.state, found.why) == ("skipped",
                                        "the P4P report of 2026-11-16 has no positions")


def test_key_keywords_are_the_ten_with_most_spend_in_7_days_without_the_setting(
        engine: Engine, store: Store) -> None:
    words = {f"word {i:02d}": 9 for i in range(12)}
    # eight days ago (outside the 7 days): a big spender that does not count
    p4p_day(engine, store, YESTERDAY - timedelta(days=7), {"old big": 9}, spend=10_000)
    for i, word in enumerate(words):
        p4p_day(engine, store, YESTERDAY - timedelta(days=1), {word: 9}, spend=100 - i)
    p4p_day(engine, store, YESTERDAY, {**words, "OLD BIG": 9}, spend=1)
    found = judge(engine, store, "position_lost")
    assert sorted(f.subject for f in found) == [f"word {i:02d}" for i in range(10)]
    assert {f.figures["key_source"] for f in found} == {"spend"}
    fewer = with_settings(engine, store, **{"position_lost.keywords": 3})
    assert [f.subject for f in judge(engine, fewer, "position_lost")] == [
        "word 00", "word 01", "word 02"]


def test_the_setting_matches_the_report_whatever_the_case(engine: Engine, store: Store) -> None:
    store = with_settings(engine, store, key_keywords="LED Light")
    positions(engine, store, [{"led light": 8}, {"Led Light": 8}])
    assert verdict(one(judge(engine, store, "position_lost"), "LED Light")) == (
        "down", "alert", "warning")


def test_quality_stars_below_3_hint_that_a_bid_will_not_help(engine: Engine,
                                                             keyed: Store) -> None:
    positions(engine, keyed, [{"led light": 8}, {"led light": 8}], quality_stars=2)
    found = one(judge(engine, keyed, "position_lost"), "led light")
    assert found.hints == [{"kind": "low_stars", "stars": 2}]
    p4p_day(engine, keyed, YESTERDAY, {"led light": 8}, quality_stars=3)
    assert one(judge(engine, keyed, "position_lost"), "led light").hints == []


def test_position_lifecycle_one_incident_per_keyword(engine: Engine, keyed: Store) -> None:
    day1 = YESTERDAY - timedelta(days=2)
    positions(engine, keyed, [{"led light": 1, "solar lamp": 2}], last=day1)
    assert {e["event"] for e in run(engine, keyed, NOW - timedelta(days=2), NAME_POS)} == {
        "normal"}
    # day 2: both out (a watch each); day 3: still out (alerts), one incident per keyword
    p4p_day(engine, keyed, day1 + timedelta(days=1), {"led light": 7, "solar lamp": -1})
    events = run(engine, keyed, NOW - timedelta(days=1), NAME_POS)
    assert sorted((e["subject"], e["event"], e["tier"]) for e in events) == [
        ("led light", "fired", "watch"), ("solar lamp", "fired", "watch")]
    p4p_day(engine, keyed, YESTERDAY, {"led light": 7, "solar lamp": -1})
    events = run(engine, keyed, NOW, NAME_POS)
    assert sorted((e["subject"], e["tier"]) for e in events) == [
        ("led light", "alert"), ("solar lamp", "alert")]
    rows = incident_rows(engine, NAME_POS)
    assert sorted((r.subject, r.tier, r.status) for r in rows) == [
        ("led light", "alert", "open"), ("solar lamp", "alert", "open")]
    # acknowledged, then back in 1-5 the next day: recovered with the recovering position
    led = next(r for r in rows if r.subject == "led light")
    with write(engine) as conn:
        assert incidents.acknowledge(conn, led.id, "U0ANNA", NOW)["status"] == "acknowledged"
    p4p_day(engine, keyed, YESTERDAY + timedelta(days=1), {"led light": 4, "solar lamp": -1})
    events = {e["subject"]: e for e in run(engine, keyed, NOW + timedelta(days=1), NAME_POS)}
    assert events["led light"]["event"] == "recovered"
    assert events["led light"]["back"]["position"] == 4
    assert events["solar lamp"]["event"] == "continues"
    assert sorted((r.subject, r.status) for r in incident_rows(engine, NAME_POS)) == [
        ("led light", "resolved"), ("solar lamp", "open")]


def test_a_keyword_that_left_the_key_list_still_recovers(engine: Engine, keyed: Store) -> None:
    positions(engine, keyed, [{"solar lamp": 9}, {"solar lamp": 9}])
    assert [e["event"] for e in run(engine, keyed, NOW, NAME_POS)
            if e["subject"] == "solar lamp"] == ["fired"]
    narrower = with_settings(engine, keyed, key_keywords="led light")
    p4p_day(engine, narrower, YESTERDAY + timedelta(days=1), {"solar lamp": 3, "led light": 1})
    events = {e["subject"]: e["event"]
              for e in run(engine, narrower, NOW + timedelta(days=1), NAME_POS)}
    assert events == {"led light": "normal", "solar lamp": "recovered"}


NAME_POS = position_lost.NAME


# ---- unreplied_backlog ------------------------------------------------------------------------

AS_OF = NOW - timedelta(minutes=30)  # when the inquiry list was exported (and dropped)


def inquiry_list(engine: Engine, store: Store, ages: list[float], at: datetime = AS_OF,
                 **extra: Any) -> None:
    """An inquiry export dropped at `at` (its rows run up to then), one unreplied valid
    inquiry per age in hours before `at`, and one replied the day before (the export has
    reply times)."""
    rows = [{"inquiry_id": uuid.uuid4().hex, "created_at": at - timedelta(hours=age),
             "buyer": f"buyer {i}", **extra} for i, age in enumerate(ages)]
    rows.append({"inquiry_id": uuid.uuid4().hex, "created_at": at - timedelta(hours=30),
                 "replied_at": at - timedelta(hours=29), "buyer": "answered"})
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", rows, at)


@pytest.mark.parametrize(("ages", "state"), [
    ([], ("normal", None, None)),
    ([24.0], ("normal", None, None)),  # exactly 24 h is not more than 24 h
    ([24 + 1 / 60], ("down", "watch", None)),  # a minute more
    ([25] * 4, ("down", "watch", None)),  # just below the minimum (5)
    ([25] * 5, ("down", "alert", "warning")),  # at it
    ([25] * 6, ("down", "alert", "warning")),  # above it
    ([25] * 9, ("down", "alert", "warning")),  # just below twice the minimum
    ([25] * 10, ("down", "alert", "critical")),  # at it
    ([48.0], ("down", "watch", None)),  # exactly 48 h
    ([48 + 1 / 60], ("down", "alert", "warning")),  # any over 48 h
    ([72.0], ("down", "alert", "warning")),  # exactly 72 h
    ([72 + 1 / 60], ("down", "alert", "critical")),  # any over 72 h
])
def test_backlog_thresholds(engine: Engine, store: Store, ages: list[float],
                            state: tuple[str, Any, Any]) -> None:
    inquiry_list(engine, store, [*ages, 1.0])  # a fresh one never counts
    found = one(judge(engine, store, "unreplied_backlog"))
    assert verdict(found) == state
    assert found.day == YESTERDAY
    assert found.figures["waiting"] == len([a for a in ages if a > 24])


def test_backlog_counts_valid_unreplied_as_of_the_export(engine: Engine, store: Store) -> None:
    inquiry_list(engine, store, [30] * 3, owner="Lily")
    inquiry_list(engine, store, [30] * 3, is_spam=True)  # spam is not waiting for a reply
    # replied before the export: done; "replied" after it: not in the export's "now"
    inquiry_list(engine, store, [30], replied_at=AS_OF - timedelta(hours=1))
    inquiry_list(engine, store, [50], replied_at=AS_OF + timedelta(hours=1), owner="Tom")
    inquiry_list(engine, store, [24 * 31])  # older than unreplied_max_days (30): not counted
    found = one(judge(engine, store, "unreplied_backlog"))
    assert verdict(found) == ("down", "alert", "warning")  # one over 48 h
    assert found.figures == {
        "waiting": 4, "overdue": 1, "critical_count": 0, "oldest_hours": 50, "older": 1,
        "as_of": "2026-11-17 09:30", "min": 5, "critical_min": 10, "hours": 24,
        "overdue_hours": 48, "critical_hours": 72}
    assert found.hints == [{"kind": "owners", "owners": [{"owner": "Lily", "count": 3},
                                                        {"owner": "Tom", "count": 1}]}]
    # the same list judged hours later: ages are counted at the export, not at `now`
    later = one(judge(engine, store, "unreplied_backlog", NOW + timedelta(hours=10)))
    assert later.figures["oldest_hours"] == 50


def test_not_judged_when_the_lists_carry_no_reply_times(engine: Engine,
                                                        store: Store) -> None:
    rows = [{"inquiry_id": str(i), "created_at": AS_OF - timedelta(hours=50)} for i in range(8)]
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", rows, AS_OF)
    assert judge(engine, store, "unreplied_backlog") == []  # the rule does not apply
    inquiry_list(engine, store, [])  # a later export with a reply time in it
    found = one(judge(engine, store, "unreplied_backlog"))
    assert (verdict(found), found.figures["waiting"]) == (("down", "alert", "warning"), 8)


def test_backlog_settings_are_the_stores(engine: Engine, store: Store) -> None:
    store = with_settings(engine, store, **{"unreplied_backlog.min": 2,
                                            "unreplied_backlog.hours": 12})
    inquiry_list(engine, store, [13, 13])
    assert verdict(one(judge(engine, store, "unreplied_backlog"))) == (
        "down", "alert", "warning")


def test_no_verdict_on_a_stale_inquiry_list(engine: Engine, store: Store) -> None:
    assert judge(engine, store, "unreplied_backlog") == []  # no inquiry list at all
    inquiry_list(engine, store, [30] * 8, at=NOW - timedelta(days=2))
    found = one(judge(engine, store, "unreplied_backlog"))
    assert (found.state, found.why) == ("skipped",
                                        "the inquiry list covers only up to 2026-11-14")


def test_backlog_lifecycle_watch_alert_worse_snooze_recover(engine: Engine,
                                                            store: Store) -> None:
    name = unreplied_backlog.NAME
    inquiry_list(engine, store, [30] * 2)
    (event,) = run(engine, store, NOW, name)
    assert (event["event"], event["tier"], event["waiting"]) == ("fired", "watch", 2)
    # a later export the same morning: the backlog grew to the minimum, an alert now
    inquiry_list(engine, store, [30] * 3, at=AS_OF + timedelta(hours=1))
    (event,) = run(engine, store, NOW + timedelta(hours=1), name)
    assert (event["tier"], event["severity"], event["waiting"]) == ("alert", "warning", 5)
    (row,) = incident_rows(engine, name)
    assert (row.tier, row.severity, row.started_day) == ("alert", "warning", YESTERDAY)
    # snoozed: twice the minimum is critical, but not announced while snoozed
    with write(engine) as conn:
        assert incidents.snooze(conn, row.id, "U0ANNA", NOW + timedelta(hours=1))[
            "status"] == "snoozed"
    inquiry_list(engine, store, [30] * 5, at=AS_OF + timedelta(hours=2))
    (event,) = run(engine, store, NOW + timedelta(hours=2), name)
    assert (event["event"], event["severity"], event["waiting"]) == (
        "continues", "critical", 10)
    # the snooze ran out: the next export, still critical, is announced as worse
    later = NOW + timedelta(days=1, hours=2)
    inquiry_list(engine, store, [], at=later - timedelta(minutes=30))
    woke, event = run(engine, store, later, name)
    assert (woke["event"], event["event"], event["severity"]) == ("woke", "worse", "critical")
    assert (event["overdue"], event["waiting"]) == (10, 10)  # waited another day
    # acknowledged, then every inquiry answered by the next export: recovered
    with write(engine) as conn:
        assert incidents.acknowledge(conn, row.id, "U0ANNA", later)["status"] == "acknowledged"
        conn.execute(update(tables["inquiries"]).values(replied_at=later))
    inquiry_list(engine, store, [], at=later + timedelta(hours=1))
    (event,) = run(engine, store, later + timedelta(hours=1), name)
    assert (event["event"], event["back"]["as_of"]) == ("recovered", "2026-11-18 13:00")
    assert [r.status for r in incident_rows(engine, name)] == ["resolved"]


# ---- stale_data -------------------------------------------------------------------------------

TODAY = YESTERDAY + timedelta(days=1)


def drop(engine: Engine, store: Store, kind: str, day: date, status: str = "ingested",
         file_name: str | None = None, duplicate_of: int | None = None) -> int:
    """A drop of `kind` that arrived at 09:00 Shanghai time on `day`."""
    with write(engine) as conn:
        return conn.execute(insert(drops).values(
            store_id=store.id, file_name=file_name or f"{kind}-{day}.csv",
            sha256=uuid.uuid4().hex, kind=kind, status=status, source="cli", rows=1,
            errors=[], created_at=datetime.combine(day, datetime.min.time()) + timedelta(hours=1),
            duplicate_of=duplicate_of).returning(drops.c.id)).scalar_one()


def weekly(engine: Engine, store: Store, kind: str, last: date, weeks: int, every: int = 7
           ) -> None:
    """A drop every `every` days, the newest on `last`, over `weeks` weeks back from it."""
    day = last
    while day > last - timedelta(weeks=weeks):
        drop(engine, store, kind, day)
        day -= timedelta(days=every)


@pytest.mark.parametrize(("days_since", "state"), [
    (7, ("normal", None, None)),  # a weekly report: due today, not late
    (8, ("down", "alert", "warning")),  # at stale_data.days
    (9, ("down", "alert", "warning")),
])
def test_a_weekly_report_is_stale_from_stale_data_days(
        engine: Engine, store: Store, days_since: int, state: tuple[str, Any, Any]) -> None:
    weekly(engine, store, "products", TODAY - timedelta(days=days_since), weeks=7)
    found = one(judge(engine, store, "stale_data"), "products")
    assert verdict(found) == state
    assert found.figures["days_since"] == days_since
    assert found.figures["usual_gap"] == 7


@pytest.mark.parametrize(("days_since", "state"), [
    (5, ("normal", None, None)),
    (6, ("down", "watch", None)),  # days - 2, for a report that usually comes daily
    (7, ("down", "watch", None)),
    (8, ("down", "alert", "warning")),
])
def test_a_daily_report_is_watched_two_days_before(engine: Engine, store: Store,
                                                   days_since: int,
                                                   state: tuple[str, Any, Any]) -> None:
    weekly(engine, store, "p4p", TODAY - timedelta(days=days_since), weeks=6, every=1)
    assert verdict(one(judge(engine, store, "stale_data"), "p4p")) == state


@pytest.mark.parametrize(("weeks_seen", "judged"), [(3, False), (4, True), (5, True)])
def test_only_a_kind_dropped_in_min_weeks_of_the_last_weeks_is_judged(
        engine: Engine, store: Store, weeks_seen: int, judged: bool) -> None:
    for k in range(weeks_seen):  # one drop in each of the weeks 2, 3, ... back
        drop(engine, store, "traffic", TODAY - timedelta(days=10 + 7 * k))
    drop(engine, store, "traffic", TODAY - timedelta(weeks=8))  # just outside the 8 weeks
    found = [f for f in judge(engine, store, "stale_data") if f.subject == "traffic"]
    assert bool(found) is judged
    if judged:
        assert found[0].figures["weeks_seen"] == weeks_seen


def test_what_counts_as_an_arrival(engine: Engine, store: Store) -> None:
    weekly(engine, store, "orders", TODAY - timedelta(days=10), weeks=7)
    first = drop(engine, store, "orders", TODAY - timedelta(days=10),
                 file_name="信保订单_20261107.csv")
    # the same file copied again, a rejected and a deleted drop: no arrival
    drop(engine, store, "orders", TODAY - timedelta(days=2), status="duplicate",
         file_name="信保订单_20261107.csv", duplicate_of=first)
    drop(engine, store, "orders", TODAY - timedelta(days=2), status="rejected")
    drop(engine, store, "orders", TODAY - timedelta(days=2), status="deleted")
    assert one(judge(engine, store, "stale_data"), "orders").figures["days_since"] == 10
    # the same content exported again under a new name: the operator did export
    drop(engine, store, "orders", TODAY - timedelta(days=1), status="duplicate",
         file_name="信保订单_20261116.csv", duplicate_of=first)
    assert verdict(one(judge(engine, store, "stale_data"), "orders"))[0] == "normal"


def test_stale_lifecycle_and_a_kind_no_longer_regular_still_recovers(
        engine: Engine, store: Store) -> None:
    name = stale_data.NAME
    weekly(engine, store, "inquiries", TODAY - timedelta(days=8), weeks=5)
    (event,) = run(engine, store, NOW, name)
    assert (event["event"], event["subject"], event["days_since"]) == ("fired", "inquiries", 8)
    # five weeks later nothing came: no longer dropped in 4 of the last 8 weeks, still down
    later = NOW + timedelta(weeks=5)
    (event,) = run(engine, store, later, name)
    assert (event["event"], event["days_since"]) == ("continues", 43)
    drop(engine, store, "inquiries", TODAY + timedelta(weeks=5))
    (event,) = run(engine, store, later + timedelta(hours=1), name)
    assert event["event"] == "recovered"
    assert event["back"]["last"] == (TODAY + timedelta(weeks=5)).isoformat()


# ---- wording ----------------------------------------------------------------------------------

# Latin words a zh message may show: shop data, a setting's name, a mention.
LATIN_ALLOWED = {"key_keywords", "Lily", "Tom", "led", "light", "channel", "bold", "here"}
_DAY_LABEL = re.compile(r"\b[A-Z][a-z]{2} (\d{1,2} [A-Z][a-z]{2} \d{4})\b")


def latin_words(text: str) -> set[str]:
    """English left in a zh text: Latin words of 3+ letters that are not allowed data."""
    text = re.sub(r":[a-z_]+:|<@[A-Z0-9]+>", "", text)  # emoji codes, the mention sent
    return set(re.findall(r"[A-Za-z_]*[A-Za-z]{3,}[A-Za-z_]*", text)) - LATIN_ALLOWED


def numbers(text: str) -> list[str]:
    """The numbers of a text, English day labels (`Mon 16 Nov 2026`) read as the ISO days a
    zh message shows; P4P's 4 is a name, not a figure."""
    text = _DAY_LABEL.sub(lambda m: datetime.strptime(m.group(1), "%d %b %Y").date()
                          .isoformat(), text).replace("P4P", "")
    return sorted(re.findall(r"\d+", text))


def partial(rule: str, macro: str, lang: str, *args: dict[str, Any], **kwargs: Any) -> str:
    """One macro of a rule's words, imported as the alert frame imports it."""
    source = (f'{{% import "alert_rules/{rule}.j2" as R with context %}}'
              f'{{{{ R.{macro}(*args, **kwargs) }}}}')
    return environment(lang).from_string(source).render(lang=lang, args=[_safe(a) for a in args],
                                                  kwargs=kwargs)


BASE = {"store": "东方灯具", "day": "2026-11-16", "tier": "alert", "severity": "warning"}
CASES = {
    "position_lost": (
        {**BASE, "keyword": "led light", "position": -1, "out_days": 2, "out_since": "2026-11-15",
         "previous": 3, "previous_day": "2026-11-14", "clicks": 3, "stars": 2, "days": 2,
         "key_source": "setting"},
        {"kind": "low_stars", "stars": 2},
        {"keyword": "led light", "position": 4, "day": "2026-11-17"}),
    "unreplied_backlog": (
        {**BASE, "waiting": 6, "overdue": 2, "critical_count": 0, "oldest_hours": 50,
         "older": 1, "as_of": "2026-11-17 09:30", "min": 5, "critical_min": 10, "hours": 24,
         "overdue_hours": 48, "critical_hours": 72},
        {"kind": "owners", "owners": [{"owner": "Lily", "count": 3},
                                      {"owner": "Tom", "count": 1}]},
        {"hours": 24, "as_of": "2026-11-18 09:00"}),
    "stale_data": (
        {**BASE, "kind": "p4p", "last": "2026-11-08", "days_since": 9, "weeks_seen": 7,
         "weeks": 8, "min_weeks": 4, "usual_gap": 1, "days": 8},
        {"kind": "export", "report": "p4p"},
        {"kind": "p4p", "last": "2026-11-18"}),
}


@pytest.mark.parametrize("rule", list(CASES))
@pytest.mark.parametrize("tier", ["watch", "alert"])
def test_every_macro_reads_in_chinese_with_the_same_figures(rule: str, tier: str) -> None:
    alert, hint, back = CASES[rule]
    alert = {**alert, "tier": tier}
    for macro, args, kwargs in (
            ("title", (alert,), {}), ("title_worse", (alert,), {}), ("what", (alert,), {}),
            ("what", (alert,), {"plain": True}), ("facts", (alert,), {}),
            ("severity", (alert,), {}), ("hint", (hint,), {}), ("back", (alert, back), {})):
        en = partial(rule, macro, "en", *args, **kwargs)
        zh = partial(rule, macro, "zh", *args, **kwargs)
        assert zh and en != zh, (macro, en)
        assert latin_words(zh) == set(), (macro, zh)
        assert numbers(en) == numbers(zh), (macro, en, zh)
        assert '"' not in en + zh and "\n" not in en + zh  # inside a JSON string as it is


def test_the_words_say_what_happened() -> None:
    alert, _, _ = CASES["position_lost"]
    assert partial("position_lost", "what", "en", alert) == (
        "*led light* is below position 5 (the back office's “others”) on Mon 16 Nov 2026: "
        "out of positions 1–5 for *2* report days running; last in positions 1–5: position 3 "
        "on Sat 14 Nov 2026")
    assert partial("position_lost", "what", "zh", alert) == (
        "*led light* 2026-11-16 排在第 5 位以后（后台的“其他”）：已连续 *2* 个报表日掉出第 1–5 位"
        "；上次在第 1–5 位：2026-11-14 第 3 位")
    assert partial("position_lost", "what", "en", {**alert, "out_days": 1, "position": 6,
                                                   "previous": None}) == (
        "*led light* is at position 6 on Mon 16 Nov 2026: out of positions 1–5 for *1* "
        "report day; not in positions 1–5 in the last 30 days")
    alert, hint, _ = CASES["unreplied_backlog"]
    assert partial("unreplied_backlog", "what", "en", alert) == (
        "*6* valid inquiries unreplied for over 24 h as of 2026-11-17 09:30, *2* of them over "
        "48 h; the oldest has waited 2d 2h (1 older ones not counted)")
    assert partial("unreplied_backlog", "hint", "zh", hint) == (
        "等待回复最多的业务员：Lily（3 条）、Tom（1 条）")
    alert, hint, _ = CASES["stale_data"]
    assert partial("stale_data", "title", "zh", alert) == "已 9 天没有直通车报表 - 东方灯具"
    assert partial("stale_data", "what", "en", alert) == (
        "No P4P report dropped since Sun 8 Nov 2026 (*9* days), though one came in 7 of the "
        "last 8 weeks")
    assert partial("stale_data", "hint", "en", hint) == (
        "Make it in the back office: P4P › Reports: export each plan's daily report, then "
        "drop the file in a bound channel or the watched folder.")
    assert partial("stale_data", "hint", "zh", hint) == (
        "请在后台导出：外贸直通车 › 数据报告：导出每个推广计划的每日报表，然后把文件发到已绑定的"
        "频道或放入监控文件夹。")


@pytest.mark.parametrize("kind", [k.name for k in KINDS])
def test_every_report_kind_says_where_to_export_it(kind: str) -> None:
    hint = {"kind": "export", "report": kind}
    for lang in ("en", "zh"):
        assert "›" in partial("stale_data", "hint", lang, hint)
    assert latin_words(partial("stale_data", "hint", "zh", hint)) == set()


# ---- whole messages, from real incidents ------------------------------------------------------

KEYWORD = "<!channel> *bold*"
OWNER = "<!here> Lily"


def fire_all(engine: Engine, store: Store) -> None:
    """Data on which each of the three rules fires for `store`."""
    store = with_settings(engine, store, key_keywords=KEYWORD)
    positions(engine, store, [{KEYWORD: 2}, {KEYWORD: 9}, {KEYWORD: -1}], quality_stars=1)
    inquiry_list(engine, store, [30] * 6, owner=OWNER)
    weekly(engine, store, "traffic", TODAY - timedelta(days=9), weeks=8)
    with write(engine) as conn:
        incidents.run(conn, store, NOW, force=True)


def contexts(engine: Engine, store: Store) -> dict[str, dict[str, Any]]:
    with read(engine) as conn:
        return {c["rule"]: c for c in incidents.unresolved(conn, store, NOW)}


def test_whole_alerts_in_both_languages_escape_shop_data(engine: Engine, store: Store) -> None:
    zh_store = add_store(engine, "东方灯具", "Asia/Shanghai", "zh")
    for s in (store, zh_store):
        fire_all(engine, s)
    en, zh = contexts(engine, store), contexts(engine, zh_store)
    assert set(en) == set(zh) >= {"position_lost", "unreplied_backlog", "stale_data"}
    mention = {"kind": "user", "id": "U0ANNA"}
    for rule in ("position_lost", "unreplied_backlog", "stale_data"):
        for status in ("open", "acknowledged", "resolved"):
            states = {"status": status, "acknowledged_by": "U0ANNA", "resolved_day": "2026-11-17"}
            messages = {
                lang: render("alert.json.j2", alert={**context[rule], **states}, lang=lang,
                             mention=mention, escalation=status == "open")
                for lang, context in (("en", en), ("zh", zh))}
            for message in messages.values():
                assert_within_slack_limits(message)
                assert_no_mentions(message, allow=("<@U0ANNA>",))
                assert_data_escaped(message, KEYWORD, OWNER)
            text_en = "\n".join(t for _, t in iter_texts(messages["en"]))
            text_zh = "\n".join(t for _, t in iter_texts(messages["zh"]))
            assert latin_words(text_zh) == set(), text_zh
            assert numbers(text_en.replace("acme", "")) == numbers(text_zh), (text_en, text_zh)
    lost = render("alert.json.j2", alert=en["position_lost"])
    assert lost["blocks"][0]["text"]["text"] == (
        "Key keyword out of positions 1–5: ‹!channel› ∗bold∗ - acme")
    assert "*&lt;!channel&gt; ∗bold∗* is below position 5 (the back office's “others”) on " \
        "Mon 16 Nov 2026: out of positions 1–5 for *2* report days running; last in " \
        "positions 1–5: position 2 on Sat 14 Nov 2026." in lost["blocks"][1]["text"]["text"]
    assert "Quality 1★" in str(lost)
    backlog = render("alert.json.j2", alert=zh["unreplied_backlog"], lang="zh")
    assert backlog["text"] == (
        "询盘未回复 - 东方灯具：截至 2026-11-17 09:30，6 条有效询盘超过 24 小时未回复")
    assert "等待回复最多的业务员：&lt;!here&gt; Lily（6 条）" in str(backlog)
    stale = render("alert.json.j2", alert=zh["stale_data"], lang="zh")
    assert stale["blocks"][0]["text"]["text"] == "已 9 天没有流量报表 - 东方灯具"
    assert "数据管家 › 店铺概况：按流量来源导出每日数据" in str(stale)


@pytest.mark.parametrize("rule", ["position_lost", "unreplied_backlog", "stale_data"])
def test_the_recovery_reply_in_both_languages(engine: Engine, store: Store, rule: str) -> None:
    fire_all(engine, store)
    context = contexts(engine, store)[rule]
    back = CASES[rule][2]
    if rule == "position_lost":
        back = {**back, "keyword": KEYWORD}
    en = render("alert_recovered.json.j2", alert=context, back=back)
    zh = render("alert_recovered.json.j2", alert=context, back=back, lang="zh")
    assert en["text"].startswith(":white_check_mark: ") and "acme" in en["text"]
    assert latin_words(zh["text"].replace("acme", "")) == set(), zh["text"]
    assert numbers(en["text"]) == numbers(zh["text"])
    for message in (en, zh):
        assert_no_mentions(message)
        assert_data_escaped(message, KEYWORD)


def test_each_rule_has_its_switch(engine: Engine, store: Store) -> None:
    names = ("position_lost", "unreplied_backlog", "stale_data")
    fire_all(engine, store)
    for name in names:
        assert [e["event"] for e in run(engine, store, NOW, name)
                if e["event"] != "normal"] == ["continues"]
        switched = configure_store(engine, store, settings={f"{name}.enabled": "否"})
        assert run(engine, switched, NOW, name) == []


def test_posted_to_bound_channels_in_the_stores_language(engine: Engine, store: Store) -> None:
    from bot.models import outbox as outbox_table
    from bot.stores import bind_channel
    from jobs.tick import evaluate_alerts

    zh_store = add_store(engine, "东方灯具", "Asia/Shanghai", "zh")
    for s, channel in ((store, "C1"), (zh_store, "C2")):
        bind_channel(engine, s, channel)
        s = with_settings(engine, s, key_keywords=KEYWORD)
        positions(engine, s, [{KEYWORD: 2}, {KEYWORD: 9}, {KEYWORD: -1}])
        inquiry_list(engine, s, [30] * 6, owner=OWNER)
        weekly(engine, s, "traffic", TODAY - timedelta(days=9), weeks=8)
        evaluate_alerts(engine, s, NOW, force=True)
    with read(engine) as conn:
        posts = conn.execute(select(outbox_table).where(outbox_table.c.purpose == "alert")
                             .order_by(outbox_table.c.id)).all()
    headers = {(p.channel, p.payload["blocks"][0]["text"]["text"]) for p in posts}
    assert ("C2", "已 9 天没有流量报表 - 东方灯具") in headers
    assert ("C1", "Unreplied inquiries - acme") in headers
    for post in posts:
        assert_data_escaped(post.payload, KEYWORD, OWNER)
        if post.channel == "C2":
            assert latin_words("\n".join(t for _, t in iter_texts(post.payload))) == set()
