"""Slash commands without a transport: `/inquiries` and `/opsbot`, as `run_command` answers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest.drop import ingest_file
from bot.stores import Store, add_store, find_store, store_for_channel
from handlers.commands import CommandResult, run_command
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.test_inquiries import FIXTURE, NOW, add_inquiries, inquiry


def ask(engine: Engine, line: str, **kw) -> CommandResult:
    command, _, text = line.partition(" ")
    result = run_command(engine, command, text, **kw)
    assert_within_slack_limits(result.message)
    assert_no_mentions(result.message)
    assert "Traceback" not in str(result.message)
    return result


def all_text(result: CommandResult) -> str:
    return str(result.message)


@pytest.fixture
def bound(engine: Engine, store: Store) -> Store:
    ask(engine, f"/opsbot setup {store.name}", channel_id="C1", user_id="U1", team_id="T1")
    add_inquiries(engine, store, FIXTURE)
    return store


def test_unbound_channel_says_how_to_bind(engine: Engine, store: Store) -> None:
    result = ask(engine, "/inquiries yesterday", channel_id="CNEW", now=NOW)
    assert not result.ok and result.ephemeral
    assert "/opsbot setup STORE" in result.message["text"]
    assert result.data == {"error": "this channel is not bound to a store: /opsbot setup STORE"}


def test_setup_binds_the_channel_and_answers_in_channel(engine: Engine) -> None:
    result = ask(engine, "/opsbot setup Acme Lighting", channel_id="C9", user_id="U1")
    assert result.ok and not result.ephemeral
    assert result.data == {"store": "Acme Lighting", "timezone": "Asia/Shanghai",
                           "language": "en", "channel": "C9", "created": True,
                           "previous_store": None}
    assert store_for_channel(engine, "C9") == find_store(engine, "Acme Lighting")
    again = ask(engine, "/opsbot setup other", channel_id="C9")
    assert again.data is not None
    assert again.data["previous_store"] == "Acme Lighting" and again.data["created"] is True
    assert "Acme Lighting" in again.message["blocks"][0]["text"]["text"]
    assert store_for_channel(engine, "C9").name == "other"  # type: ignore[union-attr]


@pytest.mark.parametrize(("line", "says"), [
    ("/opsbot setup", "name the store"),
    ("/opsbot frobnicate", "unknown /opsbot command"),
    ("/opsbot status now", "takes no words"),
])
def test_opsbot_usage(engine: Engine, bound: Store, line: str, says: str) -> None:
    result = ask(engine, line, channel_id="C1")
    assert not result.ok and result.ephemeral
    assert says in result.message["text"]


def test_setup_needs_a_channel(engine: Engine) -> None:
    result = ask(engine, "/opsbot setup acme")
    assert not result.ok and "channel" in result.message["text"]


def test_a_channel_answers_for_its_own_store_only(engine: Engine, bound: Store) -> None:
    other = add_store(engine, "other", "UTC")
    add_inquiries(engine, other, [inquiry(f"o{n}", "2026-11-19 12:00") for n in range(7)])
    ask(engine, "/opsbot setup other", channel_id="C2")
    mine = ask(engine, "/inquiries yesterday", channel_id="C1", now=NOW)
    theirs = ask(engine, "/inquiries yesterday", channel_id="C2", now=NOW)
    assert mine.data is not None and theirs.data is not None
    assert (mine.data["total"], theirs.data["total"]) == (5, 7)
    assert theirs.data["store"] == "other"


def test_inquiries_summary_contract(engine: Engine, bound: Store) -> None:
    result = ask(engine, "/inquiries yesterday", channel_id="C1", now=NOW)
    assert result.ok and not result.ephemeral
    data = result.data
    assert data is not None
    for key in ("start", "end", "total", "spam", "valid", "replied", "unreplied",
                "by_country", "previous"):
        assert key in data
    assert (data["start"], data["end"], data["total"], data["spam"], data["valid"],
            data["replied"], data["unreplied"]) == ("2026-11-19", "2026-11-19", 5, 1, 4, 2, 2)
    assert data["by_country"][0] == {"country": "US", "count": 2, "valid": 2}
    assert set(data["previous"]) >= {"start", "end", "total"}
    text = all_text(result)
    assert "+150%" in text and "Top countries" in text and "LED lamp" in text
    assert result.to_json() == {"command": "/inquiries", "text": "yesterday", "ok": True,
                                "data": data, "message": result.message}


@pytest.mark.parametrize(("text", "kind", "ids"), [
    ("unreplied", "unreplied", ["i2", "i5", "i7"]),
    ("yesterday unreplied", "unreplied", ["i2", "i5"]),
    ("UNREPLIED owner:tom", "unreplied", ["i2", "i7"]),
    ('unreplied owner:"tom"', "unreplied", ["i2", "i7"]),
    ("spam week", "spam", ["i6", "i4"]),
    ("spam", "spam", []),  # no period: today's spam
])
def test_lists(engine: Engine, bound: Store, text: str, kind: str, ids: list[str]) -> None:
    result = ask(engine, f"/inquiries {text}", channel_id="C1", now=NOW)
    assert result.ok and not result.ephemeral and result.data is not None
    assert result.data["list"] == kind
    assert [i["inquiry_id"] for i in result.data["items"]] == ids


def test_filters_and_slack_escaping_of_typed_text(engine: Engine, bound: Store) -> None:
    add_inquiries(engine, bound, [inquiry("x1", "2026-11-19 10:00", owner="A & B Ltd")])
    # Slack sends `&` escaped and may curl the quotes
    result = ask(engine, "/inquiries yesterday owner:“A &amp; B Ltd”", channel_id="C1", now=NOW)
    assert result.ok and result.data is not None
    assert result.data["total"] == 1 and result.data["filters"]["owner"] == "A & B Ltd"
    combined = ask(engine, "/inquiries yesterday country:germany product:P2", channel_id="C1",
                   now=NOW)
    assert combined.data is not None and combined.data["total"] == 2


@pytest.mark.parametrize(("text", "says"), [
    ("yesterdy", "unknown period `yesterdy`"),
    ("2026-02-30", "not a date"),
    ("2026-11-07..2026-11-01", "ends before it starts"),
    ("2026-11-21", "in the future"),
    ("colour:red", "unknown filter `colour:`"),
    ("country:", "needs a value"),
    ("unreplied spam", "one of `unreplied` or `spam`"),
])
def test_bad_input_gets_a_short_ephemeral_usage(
    engine: Engine, bound: Store, text: str, says: str,
) -> None:
    result = ask(engine, f"/inquiries {text}", channel_id="C1", now=NOW)
    assert not result.ok and result.ephemeral
    assert says in result.message["text"]
    assert len(result.message["text"]) < 150
    assert "/inquiries [period]" in all_text(result)
    assert result.data == {"error": result.message["text"].removeprefix("⚠️ ")}


def test_unknown_command(engine: Engine) -> None:
    result = ask(engine, "/inquire yesterday")
    assert not result.ok and result.ephemeral and "unknown command" in result.message["text"]


def test_an_internal_failure_is_an_apology_not_a_traceback(
    engine: Engine, bound: Store, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("bot.metrics.inquiries.summarize", boom)
    with caplog.at_level(logging.ERROR, logger="opsbot.commands"):
        result = ask(engine, "/inquiries yesterday", channel_id="C1", now=NOW)
    assert not result.ok and result.ephemeral
    assert result.data is not None and result.data["error"] == "internal error"
    assert "database on fire" not in all_text(result)
    assert result.data["ref"] in result.message["text"]
    assert "database on fire" in caplog.text and result.data["ref"] in caplog.text


def test_help_is_ephemeral_and_points_unbound_channels_to_setup(engine: Engine) -> None:
    unbound = ask(engine, "/opsbot help", channel_id="CX")
    assert unbound.ok and unbound.ephemeral and "/opsbot setup STORE" in all_text(unbound)
    empty = ask(engine, "/opsbot", channel_id="CX")
    assert empty.message == unbound.message


def test_status_lists_the_last_drop_of_each_kind(
    engine: Engine, store: Store, tmp_path: Path,
) -> None:
    ask(engine, "/opsbot setup acme", channel_id="C1")
    export = tmp_path / "inquiries-2026-11-19.csv"
    export.write_text("询盘ID,客户名,国家/地区,创建时间,最新回复时间,业务员\n"
                      "Q1,Ann,US,2026/11/19 09:00:00,,Tom\n"
                      "Q2,Bob,DE,2026/11/19 10:00:00,2026/11/19 11:00:00,Amy\n",
                      encoding="utf-8")
    drop = ingest_file(engine, store, export)
    assert drop.status == "ingested"
    result = ask(engine, "/opsbot status", channel_id="C1")
    assert result.ok and result.ephemeral and result.data is not None
    kinds = {k["kind"]: k["last_drop"] for k in result.data["drops"]}
    assert kinds["inquiries"]["file"] == "inquiries-2026-11-19.csv"
    assert kinds["inquiries"]["age"].endswith("m")  # minutes old
    assert kinds["orders"] is None
    assert result.data["timezone"] == "Asia/Shanghai" and result.data["channels"] == ["C1"]
    assert "inquiries" in all_text(result) and "no drop yet" in all_text(result)
    # the same drop answers /inquiries: local export times, the store's day
    answer = ask(engine, "/inquiries 2026-11-19", channel_id="C1", now=NOW)
    assert answer.data is not None and (answer.data["total"], answer.data["unreplied"]) == (2, 1)


def test_config_changes_are_announced_and_used(engine: Engine, bound: Store) -> None:
    shown = ask(engine, "/opsbot config", channel_id="C1")
    assert shown.ok and shown.ephemeral and "unreplied_hours" in all_text(shown)
    tz = ask(engine, "/opsbot config timezone Asia/Tokyo", channel_id="C1")
    assert tz.ok and not tz.ephemeral and tz.data is not None
    assert tz.data["changed"] == {"timezone": "Asia/Tokyo"}
    assert find_store(engine, "acme").timezone == "Asia/Tokyo"  # type: ignore[union-attr]
    hours = ask(engine, "/opsbot config unreplied_hours 12", channel_id="C1")
    assert hours.data is not None and hours.data["settings"]["unreplied_hours"] == 12
    words = ask(engine, "/opsbot config key_keywords led lamp, solar light", channel_id="C1")
    assert words.data is not None
    assert words.data["changed"] == {"key_keywords": ["led lamp", "solar light"]}
    lang = ask(engine, "/opsbot config language zh", channel_id="C1")
    assert lang.ok and "language" in lang.message["text"]
    chinese = ask(engine, "/inquiries yesterday", channel_id="C1", now=NOW)
    assert "询盘" in chinese.message["text"] and "未回复" in all_text(chinese)
    assert "Unreplied" not in all_text(chinese)


@pytest.mark.parametrize(("line", "says"), [
    ("/opsbot config timezone Mars/Olympus", "unknown timezone"),
    ("/opsbot config timezone EST", "such as America/New_York"),
    ("/opsbot config language fr", "unknown language"),
    ("/opsbot config posts_per_day many", "whole number of at least 1"),
    ("/opsbot config posts_per_day -3", "whole number of at least 1"),
    ("/opsbot config posts_per_day 20", "cannot be more than posts_max_per_day"),
    ("/opsbot config workdays_only maybe", "yes or no"),
    ("/opsbot config checklist_time 25:00", "00:00 to 23:59"),
    ("/opsbot config checklist_time nine", "HH:MM"),
    ("/opsbot config catch_up_hours 30", "from 0 to 23"),
    ("/opsbot config alert_level 5", "above 0 and below 1"),
    ("/opsbot config alert_min_drop 0", "above 0 and below 1"),
    ("/opsbot config alert_min_expected -1", "above 0"),
    ("/opsbot config lost_days -5", "whole number of at least 1"),
    ("/opsbot config p4p_daily_budget 0", "positive amount"),
    ("/opsbot config colour red", "unknown setting"),
    ("/opsbot config timezone", "needs a value"),
])
def test_config_usage(engine: Engine, bound: Store, line: str, says: str) -> None:
    result = ask(engine, line, channel_id="C1")
    assert not result.ok and result.ephemeral and says in result.message["text"]
    assert "\n" not in result.message["text"] and len(result.message["text"]) < 400
    stored = find_store(engine, "acme")
    assert stored is not None and stored.timezone == "Asia/Shanghai"
    assert stored.settings == {}  # never stored


@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("1", True), ("是", True), ("off", False), ("0", False), ("否", False)])
def test_config_booleans_are_stored_as_booleans(engine: Engine, bound: Store, text: str,
                                                value: bool) -> None:
    result = ask(engine, f"/opsbot config workdays_only {text}", channel_id="C1")
    assert result.ok and result.data is not None
    assert result.data["changed"] == {"workdays_only": value}
    stored = find_store(engine, "acme")
    assert stored is not None and stored.settings["workdays_only"] is value


def test_config_stores_a_checklist_time_the_worker_reads(engine: Engine, bound: Store) -> None:
    result = ask(engine, "/opsbot config checklist_time 7:30", channel_id="C1")
    assert result.ok and result.data is not None
    assert result.data["changed"] == {"checklist_time": "07:30"}
    assert "07:30" in result.message["text"]
    cleared = ask(engine, "/opsbot config p4p_daily_budget none", channel_id="C1")
    assert cleared.ok and cleared.data is not None
    assert cleared.data["changed"] == {"p4p_daily_budget": None}


def test_a_cli_store_overrides_the_channel(engine: Engine, bound: Store) -> None:
    other = add_store(engine, "other")
    result = ask(engine, "/inquiries yesterday", channel_id="C1", store=other, now=NOW)
    assert result.data is not None and (result.data["store"], result.data["total"]) == ("other", 0)
