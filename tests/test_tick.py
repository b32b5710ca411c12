"""`run_due` on a frozen clock: the checklist at 09:00 local, made up within the grace
period only, once per store and day even with two workers on one database; alerts judged
on new data; queued without a token; one broken store does not stop the others."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update

from bot.config import Settings
from bot.models import checklists, slack_receipts, stores
from bot.models import outbox as outbox_table
from bot.receipts import EVENT, KEEP, claim
from bot.storage import read, write
from bot.stores import Store, add_store, bind_channel, configure_store
from jobs.delivery import Pacer
from jobs.tick import run_due
from tests.slack_limits import assert_within_slack_limits
from tests.slack_mock import MockSlackAPI
from tests.test_alerts import YESTERDAY, history, seed_inquiries
from tests.test_outbox import at_once, client_for

NO_SLACK = Settings(slack_bot_token=None, drop_dir=None)
# 09:00 on Tuesday 2026-11-17 in New York (EST, UTC-5) is 14:00 UTC.
NY_NINE = datetime(2026, 11, 17, 14, 0)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def ny(engine: Engine) -> Store:
    store = add_store(engine, "brooklyn", "America/New_York")
    bind_channel(engine, store, "C1")
    bind_channel(engine, store, "C2")
    return store


def count(engine: Engine, table: object) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(table)) or 0  # type: ignore[arg-type]


def test_checklist_at_nine_local_queued_without_a_token(engine: Engine, ny: Store) -> None:
    early = run_due(engine, NY_NINE - timedelta(minutes=1), settings=NO_SLACK)
    assert early["checklists"] == []
    report = run_due(engine, NY_NINE, settings=NO_SLACK)
    (posted,) = report["checklists"]
    assert (posted["store"], posted["day"], posted["channels"]) == (
        "brooklyn", "2026-11-17", ["C1", "C2"])
    assert report["pending"] == 2 and report["delivered"] == 0
    assert "no SLACK_BOT_TOKEN" in report["slack"]
    with read(engine) as conn:
        rows = conn.execute(select(outbox_table)).all()
    assert {r.dedupe_key for r in rows} == {f"checklist:{posted['id']}:C1",
                                            f"checklist:{posted['id']}:C2"}
    assert_within_slack_limits(rows[0].payload)
    # Every later tick that morning: nothing new.
    again = run_due(engine, NY_NINE + timedelta(minutes=1), settings=NO_SLACK)
    assert again["checklists"] == [] and again["pending"] == 2


def test_delivered_with_a_client(engine: Engine, ny: Store, api: MockSlackAPI) -> None:
    report = run_due(engine, NY_NINE, client=client_for(api), settings=NO_SLACK,
                     pacer=Pacer(0, 0))
    assert report["delivered"] == 2 and report["pending"] == 0 and report["slack"] == "sent"
    assert sorted(c.params["channel"] for c in api.calls_to("chat.postMessage")) == ["C1", "C2"]


@pytest.mark.parametrize(("back_after", "expected"), [
    (timedelta(hours=2, minutes=59), 1),  # the worker was down at 09:00, back at 11:59
    (timedelta(hours=3), 0),  # back at 12:00: too late, skipped for the day
])
def test_catch_up_within_the_grace_period_only(engine: Engine, ny: Store,
                                               back_after: timedelta, expected: int) -> None:
    report = run_due(engine, NY_NINE + back_after, settings=NO_SLACK)
    assert len(report["checklists"]) == expected
    if expected:
        assert report["checklists"][0]["catch_up"] is True
    assert count(engine, checklists) == expected


def test_dst_change_day_and_workdays_only(engine: Engine, ny: Store) -> None:
    # Sunday 2026-11-01: New York falls back; 09:00 EST is 14:00 UTC, 13:00 UTC is 08:00.
    assert run_due(engine, datetime(2026, 11, 1, 13, 0), settings=NO_SLACK)["checklists"] == []
    # the 1st: the monthly review too, at the same 09:00 local
    assert kinds(run_due(engine, datetime(2026, 11, 1, 14, 0), settings=NO_SLACK)) == [
        "daily", "monthly"]
    configure_store(engine, ny, settings={"workdays_only": True})
    assert run_due(engine, datetime(2026, 11, 7, 14, 0), settings=NO_SLACK)["checklists"] == []
    # a Monday: the weekly review too
    assert kinds(run_due(engine, datetime(2026, 11, 9, 14, 0), settings=NO_SLACK)) == [
        "daily", "weekly"]


def kinds(report: dict[str, object]) -> list[str]:
    return [c["kind"] for c in report["checklists"]]  # type: ignore[attr-defined]


def test_a_caught_up_checklist_does_not_take_the_next_days_place(engine: Engine,
                                                                 store: Store) -> None:
    configure_store(engine, store, settings={"checklist_time": "23:00"})
    bind_channel(engine, store, "C1")
    # The worker was down at 23:00 on the 17th and comes back at 00:30 on the 18th.
    late = run_due(engine, datetime(2026, 11, 18, 0, 30, tzinfo=SHANGHAI), settings=NO_SLACK)
    (posted,) = late["checklists"]
    assert (posted["day"], posted["catch_up"]) == ("2026-11-17", True)
    with read(engine) as conn:
        assert conn.scalars(select(checklists.c.day)).all() == [date(2026, 11, 17)]
    on_time = run_due(engine, datetime(2026, 11, 18, 23, 5, tzinfo=SHANGHAI), settings=NO_SLACK)
    (posted,) = on_time["checklists"]
    assert (posted["day"], posted["catch_up"]) == ("2026-11-18", True)
    with read(engine) as conn:
        assert conn.scalars(select(checklists.c.day).order_by(checklists.c.day)).all() == [
            date(2026, 11, 17), date(2026, 11, 18)]


def test_old_delivery_receipts_are_pruned_once_a_day(engine: Engine) -> None:
    now = datetime(2026, 11, 17, 1, 0)
    claim(engine, EVENT, "old", now=now - KEEP - timedelta(minutes=1))
    claim(engine, EVENT, "recent", now=now - timedelta(days=1))
    assert run_due(engine, now, settings=NO_SLACK)["receipts_pruned"] == 1
    assert not claim(engine, EVENT, "recent", now=now)  # kept: still a repeat
    assert claim(engine, EVENT, "old", now=now)  # forgotten: a new delivery
    claim(engine, EVENT, "stale", now=now - KEEP - timedelta(days=1))
    # The same UTC day: pruned already, nothing touched.
    assert run_due(engine, now + timedelta(hours=22), settings=NO_SLACK)["receipts_pruned"] is None
    assert count(engine, slack_receipts) == 3
    # The clock passes midnight UTC: pruned again.
    assert run_due(engine, now + timedelta(hours=23), settings=NO_SLACK)["receipts_pruned"] == 1
    assert count(engine, slack_receipts) == 2


def test_each_store_in_its_own_timezone(engine: Engine) -> None:
    shanghai = add_store(engine, "shanghai", "Asia/Shanghai")
    london = add_store(engine, "london", "Europe/London")
    bind_channel(engine, shanghai, "CS")
    bind_channel(engine, london, "CL")
    at_one_utc = run_due(engine, datetime(2026, 11, 17, 1, 0), settings=NO_SLACK)
    assert [c["store"] for c in at_one_utc["checklists"]] == ["shanghai"]
    at_nine_utc = run_due(engine, datetime(2026, 11, 17, 9, 0), settings=NO_SLACK)
    assert [c["store"] for c in at_nine_utc["checklists"]] == ["london"]


def test_two_workers_against_one_database_post_once(database_url: str, engine: Engine,
                                                    ny: Store, api: MockSlackAPI) -> None:
    reports = at_once(database_url, lambda own: run_due(
        own, NY_NINE, client=client_for(api), settings=NO_SLACK, pacer=Pacer(0, 0)))
    assert sum(len(r["checklists"]) for r in reports) == 1
    assert count(engine, checklists) == 1
    assert count(engine, outbox_table) == 2
    posts = api.calls_to("chat.postMessage")
    assert sorted(c.params["channel"] for c in posts) == ["C1", "C2"]
    assert sum(r["delivered"] for r in reports) == 2


def test_alerts_are_judged_on_new_data_and_queued_before_the_checklist(
        engine: Engine, store: Store) -> None:
    bind_channel(engine, store, "C1")
    now = datetime(2026, 11, 17, 1, 0)  # 09:00 in Shanghai
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 0
    seed_inquiries(engine, store, series, ingested_at=now - timedelta(minutes=5))
    report = run_due(engine, now, settings=NO_SLACK)
    (alert,) = report["alerts"]
    assert (alert["event"], alert["day"], alert["observed"]) == ("fired", "2026-11-16", 0)
    with read(engine) as conn:
        purposes = [r.purpose for r in conn.execute(select(outbox_table)
                                                   .order_by(outbox_table.c.id))]
    assert purposes == ["alert", "checklist"]
    # No new data, same day: not judged again.
    later = run_due(engine, now + timedelta(minutes=1), settings=NO_SLACK)
    assert later["alerts"] == [] and later["alerts_evaluated"] == 0


def test_a_broken_store_is_reported_and_the_others_go_on(engine: Engine, ny: Store) -> None:
    broken = add_store(engine, "broken", "America/New_York")
    with write(engine) as conn:  # a setting `opsbot store set` would refuse, as if hand-edited
        conn.execute(update(stores).where(stores.c.id == broken.id)
                     .values(settings={"checklist_time": "nine"}))
    report = run_due(engine, NY_NINE, settings=NO_SLACK)
    assert [c["store"] for c in report["checklists"]] == ["brooklyn"]
    (error,) = report["errors"]
    assert error["store"] == "broken" and "checklist_time must look like 09:00" in error["error"]
