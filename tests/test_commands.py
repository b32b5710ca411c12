"""Slash commands without a transport: `/inquiries` and `/opsbot`, as `run_command` answers."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.checklists.records import stale_note
from bot.ingest.drop import ingest_file
from bot.metrics.freshness import newest_days, staleness
from bot.roles import change_admins
from bot.storage import read
from bot.stores import Store, add_store, find_store, store_for_channel
from handlers.commands import COMMANDS, CommandResult, run_command
from handlers.commands.call import usage_entry
from templates import render
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.test_inquiries import FIXTURE, NOW, add_inquiries, inquiry, local


def ask(engine: Engine, line: str, **kw) -> CommandResult:
    command, _, text = line.partition(" ")
    result = run_command(engine, command, text, **kw)
    assert_within_slack_limits(result.message)
    assert_no_mentions(result.message)
    assert "Traceback" not in str(result.message)
    return result


def all_text(result: CommandResult) -> str:
    return str(result.message)


def all_text_lines(message: dict) -> list[str]:
    """Every line of every section of a message."""
    return [row for block in message["blocks"] if "text" in block
            for row in block["text"]["text"].split("\n")]


@pytest.fixture
def bound(engine: Engine, store: Store) -> Store:
    change_admins(engine, store, add=["U1"])  # an existing store: its admins bind it
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
    assert {"country": "US", "count": 2, "valid": 2, "spam": 0} in data["by_country"]
    assert set(data["previous"]) >= {"start", "end", "total"}
    text = all_text(result)
    assert "+150%" in text and "Top countries" in text and "LED lamp" in text
    assert result.to_json() == {"command": "/inquiries", "text": "yesterday", "ok": True,
                                "data": data, "message": result.message}


@pytest.mark.parametrize(("text", "kind", "ids"), [
    ("unreplied", "unreplied", ["i2", "i5", "i7"]),  # no period: yesterday and today
    ("yesterday unreplied", "unreplied", ["i2", "i5"]),
    ("UNREPLIED owner:tom", "unreplied", ["i2", "i7"]),
    ('unreplied owner:"tom"', "unreplied", ["i2", "i7"]),
    ("spam week", "spam", ["i6", "i4"]),  # this week: Monday the 16th to today
    ("spam 2026-11-18", "spam", ["i6"]),
    ("spam", "spam", ["i4"]),  # no period: yesterday and today, as for unreplied
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
    assert "did you mean `/inquiries`?" in result.message["text"]  # a near miss
    far = ask(engine, "/weather today")
    assert "did you mean" not in far.message["text"]
    assert "use /inquiries, /keywords, /customers, /opsbot" in far.message["text"]


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
    assert result.data is not None and result.data["store"] == "other"
    assert result.data["total"] is None  # a store without any inquiry list knows nothing


# ---- coverage: days no inquiry list covers are unknown, not 0 (issue 8, point 7) ----------


@pytest.fixture
def exported_yesterday(engine: Engine, store: Store) -> Store:
    """One inquiry export, dropped at 10:00 on the 19th (Shanghai): it holds the 18th whole
    and the 19th until 10:00; nothing of the 20th yet."""
    add_inquiries(engine, store, [
        inquiry("a", "2026-11-18 09:00", country="US"),
        inquiry("b", "2026-11-18 15:00", country="US", is_spam=True),
        inquiry("c", "2026-11-19 08:00", country="DE"),
    ], arrived=local("2026-11-19 10:00"))
    return store


def test_today_before_the_days_export_is_unknown_and_says_so_as_the_checklist(
    engine: Engine, exported_yesterday: Store,
) -> None:
    morning = local("2026-11-20 09:00")
    result = ask(engine, "/inquiries today", store=exported_yesterday, now=morning)
    assert result.ok and result.data is not None
    data = result.data
    assert (data["total"], data["valid"], data["spam"], data["unreplied"]) == (None,) * 4
    assert data["coverage"]["covered"] is False and data["coverage"]["last"] == "2026-11-18"
    text = all_text(result)
    assert "Total" not in text and "No inquiries" not in text  # no 0 shown as a figure
    with read(engine) as conn:
        newest = newest_days(conn, exported_yesterday, ("inquiries",))["inquiries"]
    note = stale_note([staleness("inquiries", newest, date(2026, 11, 19))])
    assert note == "no inquiry list since 2026-11-18"  # what the checklist says
    assert note in text.lower()


def test_a_partly_covered_period_says_which_days_are_covered(
    engine: Engine, exported_yesterday: Store,
) -> None:
    morning = local("2026-11-20 09:00")
    yesterday = ask(engine, "/inquiries yesterday", store=exported_yesterday, now=morning)
    assert yesterday.data is not None and yesterday.data["total"] == 1  # c, before 10:00
    coverage = yesterday.data["coverage"]
    assert (coverage["complete"], coverage["start"], coverage["end"], coverage["until"]) == (
        False, "2026-11-19", "2026-11-19", "10:00")
    assert "cover only 2026-11-19 until 10:00 of this period" in all_text(yesterday)
    week = ask(engine, "/inquiries 7d", store=exported_yesterday, now=morning)
    assert week.data is not None and week.data["total"] == 3
    text = all_text(week)
    assert "cover only 2026-11-18 – 2026-11-19 until 10:00 of this period" in text
    assert "They start on 2026-11-18" in text and "No inquiry list since 2026-11-18" in text
    # the previous 7 days are not covered at all: no comparison with a 0
    assert week.data["change"] is None and week.data["previous"]["total"] is None


def test_a_date_before_the_first_export_is_unknown(engine: Engine,
                                                   exported_yesterday: Store) -> None:
    result = ask(engine, "/inquiries 2026-11-01", store=exported_yesterday, now=NOW)
    assert result.ok and result.data is not None and result.data["total"] is None
    assert "the inquiry lists start on 2026-11-18" in all_text(result)
    listed = ask(engine, "/inquiries 2026-11-01 unreplied", store=exported_yesterday, now=NOW)
    assert listed.data is not None and listed.data["count"] is None
    assert "Nothing unanswered" not in all_text(listed)


def test_the_days_export_covers_the_day_before_and_the_morning(
    engine: Engine, exported_yesterday: Store,
) -> None:
    add_inquiries(engine, exported_yesterday, [inquiry("d", "2026-11-20 08:00")],
                  arrived=local("2026-11-20 08:30"))
    at_nine = local("2026-11-20 09:00")
    yesterday = ask(engine, "/inquiries yesterday", store=exported_yesterday, now=at_nine)
    assert yesterday.data is not None and yesterday.data["coverage"]["complete"] is True
    assert "cover only" not in all_text(yesterday)
    today = ask(engine, "/inquiries today", store=exported_yesterday, now=at_nine)
    assert today.data is not None and today.data["total"] == 1
    assert "cover only 2026-11-20 until 08:30" in all_text(today)


def test_a_fresh_store_has_no_figures(engine: Engine, store: Store) -> None:
    for line in ("/inquiries yesterday", "/inquiries unreplied", "/inquiries spam"):
        result = ask(engine, line, store=store, now=NOW)
        assert result.ok and result.data is not None
        assert result.data.get("total", result.data.get("count")) is None
        assert "No inquiry list yet" in all_text(result)
        assert "Nothing unanswered" not in all_text(result)


# ---- filters (point 8) ---------------------------------------------------------------------


@pytest.fixture
def owners(engine: Engine, bound: Store) -> Store:
    add_inquiries(engine, bound, [
        *(inquiry(f"L{n}", "2026-11-18 10:00", owner="Lily Chen",
                  country="US" if n < 3 else "DE") for n in range(5)),
        inquiry("W1", "2026-11-18 11:00", owner="Leo Wang", country="US"),
    ])
    return bound


def test_the_list_hint_keeps_every_filter_and_lists_what_was_counted(
    engine: Engine, owners: Store,
) -> None:
    summary = ask(engine, "/inquiries week country:US owner:lily", channel_id="C1", now=NOW)
    assert summary.data is not None and summary.data["unreplied"] == 3
    hint = summary.data["list_command"]
    assert hint == '/inquiries week unreplied country:US owner:"Lily Chen"'
    assert f"`{hint}`" in all_text(summary).replace('\\"', '"')
    listed = ask(engine, hint, channel_id="C1", now=NOW)
    assert listed.data is not None and listed.data["count"] == summary.data["unreplied"]
    assert {i["inquiry_id"] for i in listed.data["items"]} == {"L0", "L1", "L2"}


@pytest.mark.parametrize("typed", ["Lily", "lily", "chen", '"LILY CHEN"', '"lily c"'])
def test_an_owner_is_matched_by_a_unique_prefix_or_word(engine: Engine, owners: Store,
                                                        typed: str) -> None:
    result = ask(engine, f"/inquiries 2026-11-18 owner:{typed}", channel_id="C1", now=NOW)
    assert result.ok and result.data is not None
    assert result.data["filters"]["owner"] == "Lily Chen" and result.data["total"] == 5
    assert result.data["asked"]["owner"] == typed.strip('"')
    assert "owner: Lily Chen" in all_text(result)


@pytest.mark.parametrize(("text", "says"), [
    ("owner:l", "owner `l` could be Leo Wang, Lily Chen: write more of the name"),
    ("owner:Zed", "no owner `Zed` in this store's inquiries: owners are Lily Chen, "),
    ("country:Narnia", "no inquiry from `Narnia` in this store: its countries are US, "),
    ("product:NOPE", "no inquiry for product `NOPE` in this store"),
    ("country:US country:DE", "`country:` is given twice: give each filter once"),
    ("owner:tom owner:amy", "`owner:` is given twice"),
])
def test_unknown_ambiguous_or_repeated_filters_are_reported_not_counted(
    engine: Engine, owners: Store, text: str, says: str,
) -> None:
    result = ask(engine, f"/inquiries week {text}", channel_id="C1", now=NOW)
    assert not result.ok and result.ephemeral
    assert says in result.message["text"]
    assert result.data is not None and "total" not in result.data


# ---- periods and words as operators type them (point 9) -------------------------------------


@pytest.mark.parametrize("text", ["help", "帮助", "yesterday help"])
def test_help_is_an_answer(engine: Engine, bound: Store, text: str) -> None:
    result = ask(engine, f"/inquiries {text}", channel_id="C1", now=NOW)
    assert result.ok and result.ephemeral and result.data == {"help": "/inquiries"}
    text_shown = all_text(result)
    assert "/inquiries [period]" in text_shown and "`this week` (Monday to today)" in text_shown
    assert "without a period both cover yesterday and today" in text_shown  # point 10
    assert "⚠️" not in text_shown


@pytest.mark.parametrize(("text", "says"), [
    ("yesterady", "unknown period `yesterady`: did you mean `yesterday`?"),
    ("unreplid", "unknown word `unreplid`: did you mean `unreplied`?"),
    ("contry:US", "unknown filter `contry:`: did you mean `country:`?"),
])
def test_a_near_miss_gets_a_suggestion(engine: Engine, bound: Store, text: str,
                                       says: str) -> None:
    result = ask(engine, f"/inquiries {text}", channel_id="C1", now=NOW)
    assert not result.ok and says in result.message["text"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("昨天　未回复", "yesterday unreplied"),  # an IME's full-width space
    ("yesterday country：US", "yesterday country:US"),  # and colon
    ("２０２６－１１－１９", "2026-11-19"),
    ("2026-11-14～2026-11-19", "2026-11-14~2026-11-19"),
])
def test_full_width_forms_read_as_ascii(engine: Engine, bound: Store, typed: str,
                                        meant: str) -> None:
    got = ask(engine, f"/inquiries {typed}", channel_id="C1", now=NOW)
    wanted = ask(engine, f"/inquiries {meant}", channel_id="C1", now=NOW)
    assert got.ok and wanted.ok
    assert {**got.data, "asked": None} == {**wanted.data, "asked": None}  # type: ignore[dict-item]


def test_every_period_the_help_and_the_manifest_offer_is_accepted(engine: Engine,
                                                                  bound: Store) -> None:
    hint = COMMANDS["/inquiries"].usage_hint
    offered = hint[1:hint.index("]")].split("|")
    for lang in ("en", "zh"):
        line = render("usage.json.j2", lang=lang, error="x",
                      commands=[usage_entry(COMMANDS["/inquiries"], lang)])
        heading = "*Periods*" if lang == "en" else "*时间段*"
        periods = next(row for row in all_text_lines(line) if row.startswith(heading))
        offered += re.findall(r"`([^`]+)`", periods)
    assert "本周" in offered and "30d" in offered and "2026-11-01~2026-11-07" in offered
    for words in offered:
        if words.startswith("/") or ":" in words:
            continue  # the examples
        result = ask(engine, f"/inquiries {words}", channel_id="C1", now=NOW)
        assert result.ok, (words, result.message["text"])


# ---- one default period for both lists (point 10) ------------------------------------------


def test_unreplied_and_spam_default_to_yesterday_and_today(engine: Engine,
                                                           bound: Store) -> None:
    spam = ask(engine, "/inquiries spam", channel_id="C1", now=NOW)
    unreplied = ask(engine, "/inquiries unreplied", channel_id="C1", now=NOW)
    assert spam.data is not None and unreplied.data is not None
    both = {(d["start"], d["end"]) for d in (spam.data, unreplied.data)}
    assert both == {("2026-11-19", "2026-11-20")}


def test_older_unanswered_inquiries_are_counted_with_a_command_to_list_them(
    engine: Engine, bound: Store,
) -> None:
    add_inquiries(engine, bound, [inquiry("old", "2026-11-02 09:00", owner="Tom")])
    result = ask(engine, "/inquiries unreplied owner:tom", channel_id="C1", now=NOW)
    assert result.data is not None and [i["inquiry_id"] for i in result.data["items"]] == [
        "i2", "i7"]
    assert (result.data["older"], result.data["older_since"]) == (1, "2026-11-02")
    command = result.data["older_command"]
    assert command == "/inquiries 19d unreplied owner:Tom" and command in all_text(result)
    everything = ask(engine, command, channel_id="C1", now=NOW)
    assert everything.data is not None and everything.data["count"] == 3


# ---- countries count valid inquiries (point 11) --------------------------------------------


def test_the_country_list_adds_up_to_the_valid_total_with_spam_apart(
    engine: Engine, bound: Store,
) -> None:
    result = ask(engine, "/inquiries yesterday", channel_id="C1", now=NOW)
    assert result.data is not None and (result.data["valid"], result.data["spam"]) == (4, 1)
    section = next(b["text"]["text"] for b in result.message["blocks"]
                   if b.get("text", {}).get("text", "").startswith("*Top countries"))
    counts = [int(line.rsplit(" ", 1)[1]) for line in section.split("\n")[1:]]
    assert sum(counts) == result.data["valid"]
    assert "Germany  1" in section  # DE and Germany: one country, its valid inquiry only
    assert "Spam, not counted above: 1 (Germany 1)" in all_text(result)
