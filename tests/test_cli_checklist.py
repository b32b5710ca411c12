"""`opsbot checklist daily`: the checklist in the terminal and as JSON, computed, not recorded."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.alerts.rules import inquiry_drop
from bot.models import checklists
from bot.storage import read, write
from bot.stores import Store, add_store
from tests.cli_helpers import Run
from tests.slack_limits import assert_within_slack_limits
from tests.test_checklist import P4P_ROWS, put


def test_json_contract_and_nothing_recorded(cli: Run, engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "p4p", P4P_ROWS)
    code, out, err = cli("checklist", "daily", "--store", "acme", "--now", "2026-11-13",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"store", "day", "data", "message"}
    assert (data["store"], data["day"]) == ("acme", "2026-11-13")
    items = data["data"]["items"]
    assert [i["key"] for i in items] == ["inquiries", "data", "p4p", "posts", "transactions"]
    for i in items:
        assert {"key", "title", "facts", "done"} <= set(i) and i["done"] is False
    p4p = next(i for i in items if i["key"] == "p4p")
    assert p4p["facts"]["spend"] == 500.0 and p4p["stale"] is None
    assert_within_slack_limits(data["message"])
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklists)) == 0


def test_text_shows_items_with_boxes_and_figures(cli: Run, engine: Engine, store: Store
                                                 ) -> None:
    with write(engine) as conn:
        put(conn, store, "p4p", P4P_ROWS)
    code, out, _ = cli("checklist", "daily", "--now", "2026-11-13T09:00")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Daily checklist · acme · 2026-11-13"
    assert [line for line in lines if line.startswith("☐")] == [
        "☐ 1. Inquiries", "☐ 2. Data monitoring", "☐ 3. P4P", "☐ 4. Fan posts",
        "☐ 5. Transactions"]
    assert "   • Spend 500.00 CNY of 800.00 daily budget (63%)" in lines
    assert "   ⚠ no traffic report yet" in lines
    assert "*" not in out and "&lt;" not in out


@pytest.mark.parametrize(("now", "day"), [
    ("2026-11-13", "2026-11-13"),  # 09:00 local
    ("2026-11-13T00:30", "2026-11-13"),  # store-local
    ("2026-11-12T16:30Z", "2026-11-13"),  # 00:30 in Shanghai
    ("2026-11-12T15:30+00:00", "2026-11-12"),  # 23:30 in Shanghai
])
def test_now_forms(cli: Run, store: Store, now: str, day: str) -> None:
    code, out, err = cli("checklist", "daily", "--now", now, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["day"] == day


def test_bare_date_means_the_checklist_time(cli: Run, store: Store) -> None:
    code, out, _ = cli("checklist", "daily", "--now", "2026-11-13", "--json")
    assert code == 0
    assert json.loads(out)["data"]["generated_at"] == datetime(2026, 11, 13, 1).isoformat()


def test_bad_input_gets_one_clear_line(cli: Run, engine: Engine, store: Store) -> None:
    code, out, err = cli("checklist", "daily", "--now", "tomorrow")
    assert code == 2 and "Traceback" not in err and out == ""
    assert "--now 'tomorrow' is not an ISO date" in err
    add_store(engine, "other")
    code, _, err = cli("checklist", "daily")
    assert code == 2 and "name one with --store" in err
    code, _, err = cli("checklist", "daily", "--store", "nope")
    assert code == 2 and "no store named 'nope'" in err


# ---- the data line: valid inquiries, their source, columns the report lacks ------------------

THURSDAY = date(2026, 11, 12)  # yesterday of the checklist of 2026-11-13


def _texts(message: dict[str, Any]) -> str:
    """The message's mrkdwn as the reader sees it, one line per line."""
    out = []
    for block in message["blocks"]:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(text["text"])
        out += [e["text"] for e in block.get("elements", []) if isinstance(e, dict)
                and "text" in e]
    return "\n".join(out)


def _checklist(cli: Run) -> tuple[dict[str, Any], str]:
    code, out, err = cli("checklist", "daily", "--now", "2026-11-13", "--json")
    assert code == 0, err
    data = json.loads(out)
    return data["data"], _texts(data["message"])


def _facts(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(i for i in data["items"] if i["key"] == key)["facts"]


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour) - timedelta(hours=8)  # Shanghai


def test_spam_is_left_out_of_new_the_data_line_and_the_alert_series(
        cli: Run, engine: Engine, store: Store) -> None:
    """Five valid inquiries and one spam a day for nine weeks; yesterday a spam wave (six) and
    two valid ones: a drop of real inquiries, which counting spam would hide (8 against 6)."""
    rows = []
    for k in range(63, 0, -1):
        day = THURSDAY - timedelta(days=k)
        rows += [{"inquiry_id": f"V{k}-{i}", "created_at": _at(day, 9 + i)} for i in range(5)]
        rows.append({"inquiry_id": f"S{k}", "created_at": _at(day, 15), "is_spam": True})
    rows += [{"inquiry_id": f"V0-{i}", "created_at": _at(THURSDAY, 9 + i)} for i in range(2)]
    rows += [{"inquiry_id": f"S0-{i}", "created_at": _at(THURSDAY, 12 + i), "buyer": f"Spam{i}",
              "is_spam": True} for i in range(6)]
    with write(engine) as conn:
        put(conn, store, "inquiries", rows)
    data, text = _checklist(cli)
    f, q = _facts(data, "data"), _facts(data, "inquiries")
    assert (f["inquiries"]["value"], f["inquiries"]["usual"], q["new"], q["spam_count"]) == (
        2, 5.0, 2, 6)
    assert "• Valid inquiries *2* (usual Thursday 5, -60%) _from the inquiry list_" in text
    assert (f["inquiries_source"], f["inquiries_valid_only"]) == ("inquiries", True)
    assert f["inquiries"] == {"value": 2, "usual": 5.0, "change": pytest.approx(-0.6),
                              "weeks": 8}
    assert "• *2* new valid inquiries yesterday" in text
    assert "• *6* spam suspects to verify by hand: Spam0, Spam1, Spam2, …" in text
    with read(engine) as conn:
        counts, _, source = inquiry_drop.daily_inquiries(conn, store, THURSDAY)
        assert (counts[THURSDAY], counts[THURSDAY - timedelta(days=7)], source) == (
            2, 5, "inquiry list")


def test_a_young_inquiry_list_gives_way_to_the_traffic_reports_usual_level(
        cli: Run, engine: Engine, store: Store) -> None:
    """Two weeks of inquiry list, eight of traffic report: the usual level (and the value, so
    both are one measure) come from the traffic report, and the message says so."""
    traffic = [{"date": THURSDAY - timedelta(weeks=k), "impressions": 1000, "visitors": 100,
                "clicks": 30, "inquiries": 10} for k in range(1, 9)]
    traffic.append({"date": THURSDAY, "impressions": 1000, "visitors": 100, "clicks": 30,
                    "inquiries": 7})
    listed = [{"inquiry_id": f"I{k}-{i}", "created_at": _at(THURSDAY - timedelta(days=k), 10 + i)}
              for k in range(14) for i in range(3)]
    with write(engine) as conn:
        put(conn, store, "traffic", traffic)
        put(conn, store, "inquiries", listed)
    data, text = _checklist(cli)
    f = _facts(data, "data")
    assert "no usual level" not in text
    assert "• Inquiries *7* (usual Thursday 10, -30%) _from the traffic report_" in text
    assert f["inquiries"] == {"value": 7, "usual": 10.0, "change": pytest.approx(-0.3),
                              "weeks": 8}
    assert (f["inquiries_source"], f["inquiries_valid_only"]) == ("traffic", False)


def test_a_column_the_traffic_report_lacks_is_named(cli: Run, engine: Engine,
                                                     store: Store) -> None:
    traffic = [{"date": THURSDAY - timedelta(weeks=k), "impressions": 1000, "visitors": 100}
               for k in range(0, 9)]
    with write(engine) as conn:
        put(conn, store, "traffic", traffic)
    data, text = _checklist(cli)
    f = _facts(data, "data")
    assert "• Visitors *100* (usual Thursday 100, +0%)" in text
    assert "• Clicks: not in the traffic report" in text
    assert "• Inquiries: not in the traffic report" in text
    assert f["not_in_report"] == ["clicks", "inquiries"]
    assert f["clicks"]["value"] is None and f["inquiries"]["value"] is None
    code, _, err = cli("store", "set", "acme", "--language", "zh")
    assert code == 0, err
    _, text = _checklist(cli)
    assert "• 点击：流量报表中没有这一列" in text and "• 询盘：流量报表中没有这一列" in text
