"""`opsbot checklist daily`: the checklist in the terminal and as JSON, computed, not recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from bot.models import checklists
from bot.storage import read, write
from bot.stores import Store, add_store
from tests.cli_helpers import Run, run_cli
from tests.slack_limits import assert_within_slack_limits
from tests.test_checklist import P4P_ROWS, put


@pytest.fixture
def cli(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    yield from run_cli(database_url, monkeypatch, capsys)


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
