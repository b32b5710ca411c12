"""`opsbot ask`: the same answer as Slack's, in the terminal or as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from bot.storage import dispose_all
from bot.stores import Store, add_store, configure_store, list_stores
from cli.main import main
from cli.moments import parse_now
from cli.terminal import message_text
from handlers.commands import run_command
from tests.slack_limits import assert_within_slack_limits
from tests.test_inquiries import FIXTURE, NOW, SHANGHAI, add_inquiries, inquiry


@pytest.fixture
def cli(database_url: str, engine: Engine, store: Store,
        capsys: pytest.CaptureFixture[str]) -> Iterator:
    add_inquiries(engine, store, FIXTURE)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--database", database_url, "ask", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    dispose_all()


def test_json_contract_is_exactly_what_run_command_returns(cli, engine: Engine,
                                                           store: Store) -> None:
    code, out, _ = cli("/inquiries yesterday", "--now", "2026-11-20T10:00", "--json")
    assert code == 0
    printed = json.loads(out)
    assert set(printed) == {"command", "text", "ok", "data", "message"}
    assert (printed["command"], printed["text"], printed["ok"]) == ("/inquiries", "yesterday",
                                                                    True)
    assert (printed["data"]["start"], printed["data"]["total"]) == ("2026-11-19", 5)
    assert printed["data"]["previous"]["total"] == 2
    same = run_command(engine, "/inquiries", "yesterday", store=store, now=NOW).to_json()
    assert printed == json.loads(json.dumps(same, default=str))
    assert_within_slack_limits(printed["message"])


def test_usage_error_exits_1_misuse_exits_2(cli) -> None:
    code, out, _ = cli("/inquiries", "yesterdy", "--json")
    assert code == 1 and json.loads(out)["ok"] is False
    code, out, _ = cli("/inquiries 2026-11-07..2026-11-01")
    assert code == 1 and "ends before it starts" in out
    code, _, err = cli("/inquiries", "--now", "soon")
    assert code == 2 and "--now" in err
    code, _, err = cli("/inquiries", "--store", "nope")
    assert code == 2 and "no store named" in err


def test_bare_date_now_means_the_checklist_time_of_that_local_day(cli, engine: Engine,
                                                                  store: Store) -> None:
    """As for every command: a bare date is the morning the daily checklist sees (the
    store's checklist_time, 09:00 by default); a naive time is the store's local time."""
    add_inquiries(engine, store, [inquiry("late", "2026-11-20 23:30")])

    def today(now: str) -> int:
        code, out, _ = cli("/inquiries today", "--now", now, "--json")
        assert code == 0
        return json.loads(out)["data"]["total"]

    assert today("2026-11-20") == 1  # 09:00 in Shanghai: i7 (08:00)
    assert today("2026-11-20T12:00") == 2  # store-local noon: i7 and i8
    assert today("2026-11-20T12:00+00:00") == 2  # 20:00 in Shanghai
    assert today("2026-11-20T23:59:59") == 3  # and the 23:30 one
    assert today("2026-11-20T16:00:00Z") == 0  # midnight in Shanghai: the 21st, a new day
    configure_store(engine, store, settings={"checklist_time": "11:30"})
    assert today("2026-11-20") == 2  # the store's own checklist time
    assert parse_now("2026-11-20", SHANGHAI) == datetime(2026, 11, 20, 1, 0)
    assert parse_now("2026-11-20T09:00", SHANGHAI) == datetime(2026, 11, 20, 1, 0)
    assert parse_now("2026-11-20T09:00+01:00", SHANGHAI) == datetime(2026, 11, 20, 8, 0)


def test_text_output_is_readable_and_unescaped(cli, engine: Engine, store: Store) -> None:
    add_inquiries(engine, store, [inquiry("x", "2026-11-20 07:00", buyer="a & b <script>")])
    code, out, _ = cli("/inquiries", "unreplied", "--now", "2026-11-20T10:00")
    assert code == 0
    assert out.startswith("Unreplied inquiries\n===")
    assert "a & b <script>" in out and "&lt;" not in out and "&amp;" not in out
    assert "Bob" in out and "1d 1h" in out
    code, out, _ = cli("/inquiries yesterday", "--now", "2026-11-20T10:00")
    assert "Total: 5" in out and "Top countries" in out and "*" not in out.split("\n")[0]


def test_channel_binding_from_the_cli(cli, engine: Engine) -> None:
    add_store(engine, "second")  # two stores: the CLI can no longer guess
    code, _, err = cli("/inquiries yesterday")
    assert code == 2 and "several stores" in err
    code, out, _ = cli("/inquiries yesterday", "--channel", "C7")
    assert code == 1 and "not bound" in out
    code, out, _ = cli("/opsbot setup acme", "--channel", "C7", "--json")
    assert code == 0 and json.loads(out)["data"]["store"] == "acme"
    code, out, _ = cli("/inquiries yesterday", "--channel", "C7", "--now", "2026-11-20",
                       "--json")
    assert code == 0 and json.loads(out)["data"]["total"] == 5
    code, out, _ = cli("/opsbot help")  # needs no store
    assert code == 0 and "/opsbot setup" in out


@pytest.mark.parametrize("channel", ["notachannel", "#sales", "c0123abc"])
def test_a_channel_that_is_not_an_id_is_refused_as_store_bind_refuses_it(
        cli, engine: Engine, channel: str) -> None:
    """Slack names channels by ID: a name would just find no binding and answer "not bound",
    sending the user to bind a channel that may well be bound."""
    code, out, err = cli("/inquiries yesterday", "--channel", channel)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{channel!r} is not a Slack channel ID (like C0123456789)" in err
    code, out, _ = cli("/opsbot setup acme", "--channel", " C7 ", "--json")  # pasted: spaces
    assert code == 0 and json.loads(out)["data"]["channel"] == "C7"


def test_block_rendering() -> None:
    message = {"text": "t", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Bold* &lt;b&gt; <https://x.io|site>"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Total*\n12"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "a &amp;lt; b"}]},
    ]}
    assert message_text(message) == ("Title\n=====\nBold <b> site (https://x.io)\n  Total: 12\n"
                                     "\n  a &lt; b")
    assert message_text({"text": "only &amp; text"}) == "only & text"


def test_a_question_never_creates_a_store(database_url: str, engine: Engine,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """On an empty database, asking creates no store named `default`: it says which store
    to create and name."""
    try:
        code = main(["--database", database_url, "ask", "/inquiries yesterday"])
        _, err = capsys.readouterr()
        assert code == 2 and "no store yet" in err and "opsbot store add NAME" in err
        assert "Traceback" not in err
        assert list_stores(engine) == []
        for words in ("/inquiries help", "/inquiries 帮助", "/opsbot help"):
            code = main(["--database", database_url, "ask", words])
            out, _ = capsys.readouterr()
            assert code == 0 and "/inquiries [period]" in out, words  # help needs no store
        assert list_stores(engine) == []
    finally:
        dispose_all()


def test_help_exits_0(cli) -> None:
    code, out, _ = cli("/inquiries help", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
