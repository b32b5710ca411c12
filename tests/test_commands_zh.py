"""`/inquiries` and `/opsbot` in a `zh` store: every answer, error, usage line, age, status
field and report-kind name reads in Chinese. Each template the two commands render is rendered
here in zh and fails on any English word left beyond command syntax (code spans), setting
names and the shop's own data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest.drop import ingest_file
from bot.stores import Store, add_store, bind_channel
from handlers.commands import CommandResult, run_command
from tests.slack_limits import assert_within_slack_limits, iter_texts
from tests.test_inquiries import FIXTURE, NOW, add_inquiries, inquiry, local

# Names (the bot, Slack, file formats), the shop's own data in FIXTURE and below (buyers,
# owners, countries, products, a file name), timezones and values as typed: not sentences.
DATA = {
    "opsbot", "Slack", "CSV", "Excel",
    "Ann", "Bob", "Cem", "Dee", "Eve", "Fay", "Tom", "Amy", "Germany", "LED", "lamp", "Solar",
    "light", "pcs", "Spammer", "Lily", "Chen", "Leo", "Wang", "csv", "xlsx", "inquiries",
    "Asia", "Shanghai", "America", "New_York", "UTC", "IANA", "many", "Narnia", "Zed", "Mars",
    "Olympus", "EST",
}


def english_left(message: dict) -> set[str]:
    """Latin words of 3+ letters in what Slack shows, outside code spans (command syntax),
    command names (/opsbot), quoted values as typed ('many') and setting names (with an
    underscore), less DATA."""
    found: set[str] = set()
    for _, text in iter_texts(message):
        text = re.sub(r"`[^`]*`|'[^']*'|/[a-z]+", " ", text)
        text = re.sub(r"\b\w*_\w*\.\w+", " ", text)  # a rule setting: cpc_jump.min_clicks
        words = re.findall(r"[A-Za-z_]*[A-Za-z]{3,}[A-Za-z_]*", text)
        found |= {w for w in words if "_" not in w} - DATA
    return found


@pytest.fixture
def zh(engine: Engine) -> Store:
    store = add_store(engine, "华东灯饰", "Asia/Shanghai", "zh")
    bind_channel(engine, store, "C1")
    add_inquiries(engine, store, [
        *FIXTURE,
        inquiry("L1", "2026-11-18 10:00", owner="Lily Chen", country="US"),
        inquiry("W1", "2026-11-18 11:00", owner="Leo Wang", country="US"),
        inquiry("old", "2026-10-02 09:00", owner="Tom", country="US"),
    ], arrived=local("2026-11-20 08:30"))
    return store


def ask(engine: Engine, line: str, **kw) -> CommandResult:
    command, _, text = line.partition(" ")
    result = run_command(engine, command, text, **{"channel_id": "C1", "now": NOW, **kw})
    assert_within_slack_limits(result.message)
    return result


ANSWERS = [
    "/inquiries", "/inquiries yesterday", "/inquiries 本周 owner:lily country:US",
    "/inquiries 上周", "/inquiries 近30天", "/inquiries 2026-11-01~2026-11-19",
    "/inquiries 2026-09-01", "/inquiries last month", "/inquiries 未回复",
    "/inquiries unreplied owner:tom", "/inquiries 垃圾", "/inquiries spam 7d",
    "/inquiries help", "/inquiries 帮助", "/opsbot help", "/opsbot status", "/opsbot config",
    "/opsbot config posts_per_day 5", "/opsbot config workdays_only 是",
    "/opsbot setup 华东灯饰", "/opsbot rules", "/opsbot config quiet_hours 22:00-07:30",
    "/opsbot config cooldown_hours 12", "/opsbot config inquiry_drop.watch_level 0.1",
]


@pytest.mark.parametrize("line", ANSWERS)
def test_every_answer_reads_in_chinese(engine: Engine, zh: Store, line: str) -> None:
    result = ask(engine, line)
    assert result.ok, result.message["text"]
    assert not english_left(result.message), (line, english_left(result.message),
                                              result.message)


ERRORS = [
    "/inquiries yesterady", "/inquiries unreplid", "/inquiries 2026-02-30",
    "/inquiries 2026-12-01", "/inquiries 2026-11-07~2026-11-01", "/inquiries last 0d",
    "/inquiries colour:red", "/inquiries contry:US", "/inquiries country:",
    "/inquiries country:US country:DE", "/inquiries unreplied spam", "/inquiries owner:l",
    "/inquiries owner:Zed", "/inquiries country:Narnia", "/inquiries product:NOPE",
    "/opsbot frobnicate", "/opsbot status now", "/opsbot setup", "/opsbot config timezone",
    "/opsbot config colour red", "/opsbot config posts_per_day many",
    "/opsbot config timezone Mars/Olympus", "/opsbot config timezone EST",
    "/opsbot config language fr", "/opsbot config checklist_time 25:00",
    "/opsbot config alert_level 5", "/opsbot config posts_per_day 20",
    "/opsbot config hesitant_days 100", "/opsbot config catch_up_hours 30",
    "/opsbot config alert_mention everyone", "/opsbot rules now",
    "/opsbot config quiet_hours 22:00", "/opsbot config cooldown_hours -3", "/nope",
]


@pytest.mark.parametrize("line", ERRORS)
def test_every_error_and_usage_line_reads_in_chinese(engine: Engine, zh: Store,
                                                     line: str) -> None:
    result = ask(engine, line)
    assert not result.ok and result.ephemeral
    assert re.search(r"[\u4e00-\u9fff]", result.message["text"]), result.message["text"]
    assert not english_left(result.message), (line, english_left(result.message),
                                              result.message)


def test_usage_lists_the_chinese_period_words(engine: Engine, zh: Store) -> None:
    text = str(ask(engine, "/inquiries yesterady").message)
    for word in ("`今天`", "`昨天`", "`本周`", "`上周`", "`本月`", "`上月`", "`近7天`"):
        assert word in text
    for word in ("今天", "昨天", "本周", "上周", "本月", "上月", "近7天", "近30天"):
        assert ask(engine, f"/inquiries {word}").ok, word


def test_ages_and_kinds_are_chinese(engine: Engine, zh: Store, tmp_path: Path) -> None:
    listed = ask(engine, "/inquiries 60d unreplied")
    text = str(listed.message)
    assert "49 天 1 小时" in text and "1 天 1 小时" in text and "19 小时 0 分钟" in text
    assert "49d" not in text and "1d 1h" not in text
    assert listed.data is not None and listed.data["items"][0]["age"] == "49d 1h"  # data
    export = tmp_path / "询盘列表_20261119.csv"
    export.write_text("询盘ID,客户名,创建时间\nQ1,张三,2026/11/19 09:00:00\n", encoding="utf-8")
    assert ingest_file(engine, zh, export).status == "ingested"
    status = ask(engine, "/opsbot status", now=None)
    text = str(status.message)
    assert "*询盘列表* — " in text and "*数据管家产品报表* — 尚无数据" in text and "分钟前" in text
    assert "inquiries —" not in text and "no drop yet" not in text


def test_an_internal_failure_apologises_in_chinese(engine: Engine, zh: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("bot.metrics.inquiries.summarize", boom)
    result = ask(engine, "/inquiries yesterday")
    assert not result.ok and "抱歉" in result.message["text"]
    assert not english_left(result.message) and "Sorry" not in result.message["text"]


def test_without_a_store_both_languages_are_shown(engine: Engine) -> None:
    result = run_command(engine, "/inquiries", "yesterday", channel_id="CNEW")
    text = result.message["text"]
    assert "not bound to a store" in text and "尚未绑定店铺" in text
    assert result.data == {"error": "this channel is not bound to a store: /opsbot setup STORE"}
