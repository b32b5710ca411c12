"""Errors a user sees at start-up: a database opsbot cannot use, a drop folder that is not
there. One line naming the setting and the cause, exit 2, never a traceback, for every
command that opens the database, `opsbot worker` and `opsbot serve`."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import cli.data
import handlers.wsgi
import jobs.scheduler
from bot.storage import dispose_all
from cli.main import main
from jobs.scheduler import _database_guard
from tests.cli_helpers import Run


def _closed_port() -> int:
    """A local TCP port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# (URL, what the line must say about the cause)
BAD_DATABASES = {
    "unreachable": ("postgresql://opsbot:s3cret@127.0.0.1:{port}/opsbot",
                    "cannot use the database: connection failed"),
    "malformed": ("not a url", "not a database URL: use sqlite:///PATH or postgresql://"),
    "unknown driver": ("mysql://opsbot@db.example.com/opsbot",
                       "unknown database driver 'mysql': use sqlite:///PATH or postgresql://"),
    "driver not installed": ("postgresql+psycopg2://opsbot@127.0.0.1/opsbot",
                             "the database driver 'postgresql+psycopg2' is not installed"),
    "missing folder": ("sqlite:///{tmp}/no/such/folder/opsbot.db",
                       "the folder {tmp}/no/such/folder does not exist"),
}

COMMANDS = {
    "store list": ["store", "list"],
    "store add": ["store", "add", "acme"],
    "store bind": ["store", "bind", "acme", "--channel", "C0123"],
    "ingest": ["ingest", "{tmp}/inquiries.csv"],
    "drops": ["drops"],
    "ask": ["ask", "/inquiries yesterday"],
    "checklist": ["checklist", "daily"],
    "alerts": ["alerts"],
    "tick": ["tick"],
    "demo": ["demo", "--dir", "{tmp}/demo"],
    "worker": ["worker"],
    "serve": ["serve", "--port", "0"],
    "serve socket mode": ["serve", "--socket-mode"],
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Slack settings present (so `serve` gets as far as the database) but pointing nowhere;
    no drop folder; a small inquiry list to ingest."""
    for var in ("OPSBOT_DROP_DIR", "OPSBOT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("OPSBOT_SLACK_API_URL", f"http://127.0.0.1:{_closed_port()}/api/")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inquiries.csv").write_text("询盘ID,创建时间\nQ1,2026-11-03 14:05\n",
                                            encoding="utf-8")
    yield tmp_path
    dispose_all()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("problem", BAD_DATABASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_problem_is_one_line_naming_the_setting(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        problem: str, command: str) -> None:
    url, says = BAD_DATABASES[problem]
    url = url.format(port=_closed_port(), tmp=env)
    monkeypatch.setenv("OPSBOT_DATABASE_URL", url)
    argv = [a.format(tmp=env) for a in COMMANDS[command]]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("opsbot: OPSBOT_DATABASE_URL"), err
    assert says.format(tmp=env) in err
    assert "s3cret" not in err  # the password is never shown
    if problem != "malformed":
        assert url.replace("s3cret", "***") in err


def test_the_database_option_and_the_default_are_named(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    missing = env / "gone" / "x.db"
    code, out, err = run(capsys, "--database", f"sqlite:///{missing}", "drops", "--json")
    assert code == 2
    assert json.loads(out) == {"error": f"--database sqlite:///{missing}: the folder "
                                        f"{missing.parent} does not exist: create it, or give "
                                        "a path in an existing folder"}
    assert err == f"opsbot: {json.loads(out)['error']}\n"
    # OPSBOT_DATABASE_URL unset: the default, sqlite:///opsbot.db, here a folder by mistake
    (env / "opsbot.db").mkdir()
    code, _, err = run(capsys, "store", "list")
    assert code == 2 and err.count("\n") == 1
    assert err == ("opsbot: OPSBOT_DATABASE_URL is not set, and the default "
                   "sqlite:///opsbot.db: cannot use the database: unable to open database "
                   "file\n")


def test_a_missing_drop_folder_stops_the_worker_in_one_line(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def started(*_args: object) -> None:
        raise AssertionError("the worker started without its drop folder")

    monkeypatch.setattr(jobs.scheduler.BlockingScheduler, "start", started)
    monkeypatch.setenv("OPSBOT_DATABASE_URL", f"sqlite:///{env / 'opsbot.db'}")
    monkeypatch.setenv("OPSBOT_DROP_DIR", str(env / "drops"))
    code, out, err = run(capsys, "worker")
    assert (code, out) == (2, "")
    assert err == (f"opsbot: OPSBOT_DROP_DIR={env / 'drops'}: no such folder: create it, or "
                   "unset OPSBOT_DROP_DIR to watch no folder\n")
    (env / "drops").write_text("a file, not a folder")
    code, _, err = run(capsys, "worker")
    assert code == 2 and f"OPSBOT_DROP_DIR={env / 'drops'}: not a folder" in err


def test_a_database_lost_mid_command_is_one_line(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The server going away after start-up (a restart, a dropped connection) is the same
    one line, not a traceback."""
    def lost(*_args: object) -> int:
        raise OperationalError("SELECT 1", {}, Exception(
            "server closed the connection unexpectedly\n\tThis probably means ..."))

    monkeypatch.setattr(cli.data, "cmd_drops", lost)
    monkeypatch.setenv("OPSBOT_DATABASE_URL", "postgresql://ops:pw@db.example.com/ops")
    code, out, err = run(capsys, "drops")
    assert (code, out) == (2, "")
    assert err == ("opsbot: OPSBOT_DATABASE_URL=postgresql://ops:***@db.example.com/ops: "
                   "cannot use the database: server closed the connection unexpectedly\n")


def test_the_gunicorn_entry_point_says_it_in_one_line_too(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPSBOT_DATABASE_URL", "mysql://opsbot@db/opsbot")
    monkeypatch.setattr(handlers.wsgi, "_built", None)
    with pytest.raises(SystemExit) as exit_:
        handlers.wsgi.application  # noqa: B018 - gunicorn's import builds the app
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "opsbot: OPSBOT_DATABASE_URL=mysql://opsbot@db/opsbot: unknown database driver "
        "'mysql': use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE\n")


def test_a_database_lost_while_the_worker_runs_is_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    """Each run of a job logs the lost database in one line (no traceback every 5 s) and the
    next run tries again."""
    runs = []

    def tick() -> None:
        runs.append(1)
        raise OperationalError("SELECT 1", {}, Exception("connection refused\nmore"))

    guarded = _database_guard(tick, "postgresql://ops:pw@db/ops")
    with caplog.at_level(logging.INFO):
        guarded()
        guarded()
    assert len(runs) == 2
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("ERROR", "tick: OPSBOT_DATABASE_URL=postgresql://ops:***@db/ops: cannot use the "
                  "database: connection refused (trying again at the next run)", None)] * 2


def test_each_command_is_found_in_its_module() -> None:
    """A run imports only its command's module: the table naming them is what the modules
    register, and a run's parser knows its command and no other."""
    import argparse
    import importlib

    from cli.main import COMMAND_MODULES, COMMANDS, build_parser

    registered = {}
    for module in COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(subparsers)
        registered.update(dict.fromkeys(subparsers.choices, module))
    assert registered == COMMANDS
    args = build_parser(["--database", "sqlite://", "kinds", "--json"]).parse_args(
        ["--database", "sqlite://", "kinds", "--json"])
    assert args.command == "kinds" and args.json
    with pytest.raises(SystemExit):
        build_parser(["kinds"]).parse_args(["tick"])  # only `kinds` was registered


def test_the_database_may_be_named_after_the_command_too(cli: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    code, _, err = cli("--database", url, "store", "add", "shop")
    assert code == 0, err
    for args in (("--database", url, "store", "list"), ("store", "list", "--database", url)):
        code, out, err = cli(*args)
        assert code == 0 and "shop" in out, (args, err)
    code, _, err = cli("ask", "--store", "shop", "/opsbot help", "--database", url)
    assert code == 0 and "Traceback" not in err


def test_a_store_missing_here_names_the_database_looked_in(cli: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, _, err = cli("ask", "--store", "demo", "/inquiries yesterday", "--database", url)
    assert code == 2
    assert "no store named 'demo'" in err and url in err and "--database" in err
