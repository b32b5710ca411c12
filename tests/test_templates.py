"""Every message the commands produce stays within Slack's limits and pings nobody, however
big or hostile the data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.stores import Store, configure_store
from handlers.commands import CommandResult, run_command
from templates import render
from tests.slack_limits import (
    assert_data_escaped,
    assert_no_mentions,
    assert_within_slack_limits,
)
from tests.test_inquiries import NOW, add_inquiries, inquiry, local

HOSTILE = ["<!channel>", "<@U123>", "a & b <script>", "<!here|here>", "<https://evil.example|click>"]


def checked(result: CommandResult, *raw: str) -> CommandResult:
    assert_within_slack_limits(result.message)
    assert_no_mentions(result.message)
    assert_data_escaped(result.message, *raw)
    assert result.message["text"].strip()
    return result


@pytest.fixture
def crowded(engine: Engine, store: Store) -> Store:
    """500 unanswered inquiries from hostile buyers, 300 countries, 500 products."""
    start = local("2026-11-19 00:00")
    rows = []
    for n in range(500):
        rows.append({
            "inquiry_id": f"q{n}", "created_at": start + timedelta(seconds=n * 60),
            "buyer": HOSTILE[n % len(HOSTILE)] * (1 + n % 40),  # up to ~1,000 chars
            "company": "<!everyone> & co" * 5, "country": f"{HOSTILE[n % 5]} land {n % 300}",
            "product_id": f"<@P{n}>", "product_title": "Lamp <b>&</b> " * 30,
            "owner": "<@UOWNER>", "subject": "<!channel> " * 50, "is_spam": n % 10 == 0,
        })
    add_inquiries(engine, store, rows)
    return store


def test_500_unreplied_hostile_buyers(engine: Engine, crowded: Store) -> None:
    result = checked(run_command(engine, "/inquiries", "unreplied", store=crowded, now=NOW),
                     *HOSTILE)
    assert result.data is not None and result.data["count"] == 450  # 50 are spam
    blocks = result.message["blocks"]
    assert len(blocks) < 50
    assert "…and 430 more" in str(blocks[-1])
    assert "&lt;!channel&gt;" in str(blocks)


def test_big_summary_is_cut_with_and_n_more(engine: Engine, crowded: Store) -> None:
    result = checked(run_command(engine, "/inquiries", "yesterday", store=crowded, now=NOW),
                     *HOSTILE)
    assert result.data is not None and len(result.data["by_country"]) == 300
    # countries of valid inquiries only: 30 of the 300 sent nothing but spam
    assert sum(1 for c in result.data["by_country"] if c["valid"]) == 270
    text = str(result.message["blocks"])
    assert "…and 260 more" in text and "…and 490 more" in text
    for block in result.message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_spam_list_and_chinese_store(engine: Engine, crowded: Store) -> None:
    checked(run_command(engine, "/inquiries", "spam yesterday", store=crowded, now=NOW),
            *HOSTILE)
    chinese = configure_store(engine, crowded, language="zh")
    summary = checked(run_command(engine, "/inquiries", "yesterday", store=chinese, now=NOW))
    assert "询盘" in summary.message["text"] and "主要国家/地区" in str(summary.message)
    listed = checked(run_command(engine, "/inquiries", "unreplied", store=chinese, now=NOW))
    assert "未回复询盘" in str(listed.message) and "另有" in str(listed.message)


@pytest.mark.parametrize("line", [
    "/inquiries", "/inquiries unreplied", "/inquiries spam", "/inquiries last 30d country:US",
    "/opsbot status", "/opsbot config", "/opsbot help", "/opsbot config language zh",
    "/inquiries " + "<!channel> " * 400, "/opsbot " + "<@U1>" * 800, "/nope <!here>",
])
def test_every_reply_within_limits_even_when_empty(engine: Engine, store: Store,
                                                   line: str) -> None:
    command, _, text = line.partition(" ")
    result = checked(run_command(engine, command, text, store=store, channel_id="C1",
                                 now=datetime(2026, 11, 20, 2)), "<!channel>", "<@U1>")
    assert result.ephemeral == (not result.ok or (command == "/opsbot"
                                and text.split()[:2] != ["config", "language"]))


def test_unbound_and_setup_with_a_hostile_store_name(engine: Engine) -> None:
    checked(run_command(engine, "/inquiries", "", channel_id="C1"))
    setup = checked(run_command(engine, "/opsbot", "setup <!channel> & friends",
                                channel_id="C1"), "<!channel> & friends")
    assert setup.ok and setup.data is not None and setup.data["store"] == "<!channel> & friends"
    checked(run_command(engine, "/opsbot", "status", channel_id="C1"), "<!channel> & friends")


def test_counts_of_one_read_as_english(engine: Engine, store: Store) -> None:
    add_inquiries(engine, store, [inquiry("p1", "2026-11-18 10:00", country="US")])
    add_inquiries(engine, store, [inquiry("s1", "2026-11-19 10:00", is_spam=True)])
    summary = checked(run_command(engine, "/inquiries", "yesterday", store=store, now=NOW))
    text = str(summary.message)
    assert "(previous: 1 inquiry)" in text and ": 1 inquiry ·" in text
    assert "1 inquiries" not in text
    one_day = checked(run_command(engine, "/inquiries", "last 1d", store=store, now=NOW))
    assert "last 1 day" in str(one_day.message) and "1 days" not in str(one_day.message)
    spam = checked(run_command(engine, "/inquiries", "spam yesterday", store=store, now=NOW))
    assert "1 spam suspect ·" in str(spam.message)
    status = checked(run_command(engine, "/opsbot", "status", store=store, now=NOW))
    assert "1 row" in str(status.message) and "1 rows" not in str(status.message)
    assert "1 of 8 report kinds has data" in str(status.message)


def test_other_counts_stay_plural_and_chinese_has_no_plural(engine: Engine, store: Store) -> None:
    add_inquiries(engine, store, [inquiry(f"p{n}", "2026-11-18 10:00") for n in range(2)]
                  + [inquiry(f"s{n}", "2026-11-19 10:00", is_spam=True) for n in range(3)])
    summary = checked(run_command(engine, "/inquiries", "yesterday", store=store, now=NOW))
    assert "(previous: 2 inquiries)" in str(summary.message)
    spam = checked(run_command(engine, "/inquiries", "spam yesterday", store=store, now=NOW))
    assert "3 spam suspects ·" in str(spam.message)
    status = checked(run_command(engine, "/opsbot", "status", store=store, now=NOW))
    assert "5 rows" in str(status.message) and "1 of 8 report kinds has data" in str(
        status.message)
    chinese = configure_store(engine, store, language="zh")
    zh = checked(run_command(engine, "/inquiries", "yesterday", store=chinese, now=NOW))
    assert "上期：2 条询盘" in str(zh.message)


def _p4p_text(**figures: Any) -> str:
    """The P4P item of a checklist with these figures, as its message shows it: impressions
    and the budget share in whole numbers, CPC and CTR with two decimals."""
    facts = {"spend": 1, "currency": "CNY", "budget": 100, "budget_share": 0.01,
             "impressions": 1, "clicks": 1, "cpc": 1, "ctr": 0.01, "fell_out": [],
             "key_keywords": ["lamp"], **figures}
    checklist = {"store": "acme", "timezone": "UTC", "day": "2026-11-13",
                 "yesterday": "2026-11-12",
                 "items": [{"key": "p4p", "title": "P4P", "facts": facts, "done": False,
                            "staleness": []}]}
    return str(render("checklist_daily.json.j2", checklist=checklist)["blocks"][3]["text"]["text"])


@pytest.mark.parametrize(("value", "digits", "shown"), [
    (12.5, 0, "13"), (13.5, 0, "14"), (-12.5, 0, "-13"), (2.675, 2, "2.68"),
    (1_234_567.5, 0, "1,234,568"), (-0.4, 0, "0"), (7, 0, "7"), (None, 0, "–")])
def test_number_rounds_half_up(value: float | None, digits: int, shown: str) -> None:
    """Figures in messages round as on paper: 12.5 is 13; percentages alike."""
    share = None if value is None else value / 100
    percent = shown.replace(",", "") + "%" if value is not None else "–"
    if digits == 0:
        text = _p4p_text(impressions=value, budget_share=share)
        assert f"{shown} impressions" in text and f"(*{percent}*)" in text
    else:
        text = _p4p_text(cpc=value, ctr=share)
        assert f"CPC {shown} · CTR {percent}" in text
