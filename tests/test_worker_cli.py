"""`opsbot tick`, `opsbot alerts` and `opsbot worker` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.models import alerts as alerts_table
from bot.models import outbox as outbox_table
from bot.storage import read
from bot.stores import Store, add_store, bind_channel, configure_store
from cli.main import main
from tests.test_alerts import NOW, YESTERDAY, history, insert_alert, seed_inquiries


@pytest.fixture(autouse=True)
def _no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SLACK_BOT_TOKEN", "OPSBOT_DROP_DIR", "OPSBOT_SLACK_API_URL"):
        monkeypatch.delenv(var, raising=False)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tick_json(database_url: str, engine: Engine, store: Store,
                   capsys: pytest.CaptureFixture[str]) -> None:
    bind_channel(engine, store, "C1")
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T09:00:00+08:00", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["now"] == "2026-11-17T01:00:00Z"
    assert [(c["store"], c["day"], c["channels"]) for c in report["checklists"]] == [
        ("acme", "2026-11-17", ["C1"])]
    assert report["pending"] == 1 and report["delivered"] == 0
    assert "no SLACK_BOT_TOKEN" in report["slack"]
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T01:01:00")
    assert code == 0 and "nothing was due" in out and "1 pending" in out


def test_tick_without_catch_up_posts_at_the_tick_past_the_minute(
        database_url: str, engine: Engine, store: Store,
        capsys: pytest.CaptureFixture[str]) -> None:
    """catch_up_hours=0 is accepted; the worker's tick at 09:00:17 still posts the 09:00
    checklist (and a tick after downtime does not)."""
    bind_channel(engine, store, "C1")
    code, out, _ = run_cli(capsys, "--database", database_url, "store", "set", "acme",
                           "catch_up_hours=0")
    assert code == 0
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T09:00:17+08:00")
    assert code == 0
    assert "checklist acme 2026-11-17: #1 queued for C1" in out and "catch-up" not in out
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-18T09:20:00+08:00")
    assert code == 0 and "nothing was due" in out


def test_tick_says_a_drop_is_still_being_written(
        database_url: str, engine: Engine, store: Store, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    drop_dir = tmp_path / "drop"
    (drop_dir / "acme" / "2026-11").mkdir(parents=True)
    monkeypatch.setenv("OPSBOT_DROP_DIR", str(drop_dir))
    fresh = drop_dir / "acme" / "2026-11" / "inquiries.csv"
    fresh.write_text("询盘ID,创建时间\nQ1,2026-11-03 14:05\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T12:00:00+08:00")
    assert code == 0
    assert ("drop acme/2026-11/inquiries.csv: waiting: still being written (changed in the "
            "last 10 s): taken once it stops changing") in out
    assert "nothing was due" not in out
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T12:00:00+08:00", "--json")
    (drop,) = json.loads(out)["drops"]
    assert (drop["file"], drop["store"], drop["status"], drop["moved_to"]) == (
        "acme/2026-11/inquiries.csv", "acme", "waiting", None)
    old = time.time() - 60
    os.utime(fresh, (old, old))
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T12:00:00+08:00")
    assert code == 0 and "drop acme/2026-11/inquiries.csv: ingested -> " in out
    assert (drop_dir / "acme" / "2026-11" / "processed" / "inquiries.csv").exists()


def test_tick_lists_a_download_in_progress_and_rejects_a_file_left_empty(
        database_url: str, engine: Engine, store: Store, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    drop_dir = tmp_path / "drop"
    (drop_dir / "acme").mkdir(parents=True)
    monkeypatch.setenv("OPSBOT_DROP_DIR", str(drop_dir))
    (drop_dir / "acme" / "orders.csv.part").write_text("订单号\n", encoding="utf-8")
    empty = drop_dir / "acme" / "inquiries.csv"
    empty.touch()
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T12:00:00+08:00")
    assert code == 0
    assert ("drop acme/inquiries.csv: waiting: empty so far: waiting for it to be written "
            "(rejected if still empty after 10 min)") in out
    assert ("drop acme/orders.csv.part: waiting: still being downloaded or copied (a .part "
            "file): taken once it is renamed to its final name") in out
    old = time.time() - 11 * 60
    os.utime(empty, (old, old))
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-17T12:00:00+08:00")
    rejected = drop_dir / "acme" / "rejected" / "inquiries.csv"
    assert f"drop acme/inquiries.csv: rejected -> {rejected}" in out
    assert Path(f"{rejected}.why.txt").read_text(encoding="utf-8").startswith("empty file")


def test_tick_on_a_bare_date_runs_that_morning(database_url: str, engine: Engine,
                                               store: Store,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`--now 2026-11-13` means the store's checklist time that day, as for `checklist daily`:
    the checklist is posted (it used to mean 23:59:59, when nothing is ever due)."""
    bind_channel(engine, store, "C1")
    code, out, _ = run_cli(capsys, "--database", database_url, "tick", "--now", "2026-11-13")
    assert code == 0
    assert out.startswith("tick at 2026-11-13T01:00:00Z\n")  # 09:00 in Shanghai
    assert "checklist acme 2026-11-13: #1 queued for C1" in out


def test_now_with_several_stores(database_url: str, engine: Engine, store: Store,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Several stores: a naive time is UTC; a bare date is their common morning, and when
    their mornings differ the command asks for an offset instead of guessing."""
    add_store(engine, "globex", "Europe/London")
    code, out, err = run_cli(capsys, "--database", database_url, "tick", "--now", "2026-11-13")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert ("--now 2026-11-13 is a date, but the stores' mornings differ (acme 09:00 "
            "Asia/Shanghai, globex 09:00 Europe/London): give a moment with an offset, e.g. "
            "2026-11-13T09:00+08:00") in err
    code, _, err = run_cli(capsys, "--database", database_url, "alerts", "--now", "2026-11-13")
    assert code == 2 and err.rstrip().endswith(", or pick one store with --store")
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--store", "globex",
                           "--now", "2026-11-13", "--json")
    assert code == 0 and json.loads(out)["now"] == "2026-11-13T09:00:00Z"
    code, out, _ = run_cli(capsys, "--database", database_url, "tick",
                           "--now", "2026-11-13T09:00")  # UTC: 09:00 in London
    assert code == 0 and out.startswith("tick at 2026-11-13T09:00:00Z\n")
    assert "checklist globex 2026-11-13" in out and "checklist acme" not in out
    configure_store(engine, store, timezone="Europe/London")  # the same morning again
    code, out, _ = run_cli(capsys, "--database", database_url, "tick", "--now", "2026-11-16")
    assert code == 0 and "checklist acme 2026-11-16" in out and "checklist globex 2026-11-16" in out


def test_now_rules_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["tick"], ["alerts"], ["checklist", "daily"], ["ask"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ("without one it is the store's local time when the command is for one store, "
                "else UTC; a bare date means the store's checklist time that day (09:00 local "
                "by default)") in text, command


def test_tick_rejects_a_bad_moment(database_url: str, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    code, _, err = run_cli(capsys, "--database", database_url, "tick", "--now", "9am")
    assert code == 2 and "--now '9am' is not an ISO date" in err and "Traceback" not in err


@pytest.mark.parametrize("entry", [["-m", "cli.main"], ["-m", "cli"], ["opsbot"]])
def test_a_bad_moment_is_one_line_from_every_entry_point(tmp_path: Path, entry: list[str]
                                                         ) -> None:
    """`python -m cli.main` runs cli/main.py as __main__: its errors must still be caught
    (cli/errors.py holds the one UserError every module raises)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSBOT_"))}
    env["OPSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'opsbot.db'}"
    command = ([str(Path(sys.executable).with_name("opsbot"))] if entry == ["opsbot"]
               else [sys.executable, *entry])
    done = subprocess.run([*command, "tick", "--now", "2026-13-01"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("opsbot: --now '2026-13-01' is not an ISO date or date-time "
                           "(e.g. 2026-11-20, 2026-11-20T09:30 or 2026-11-20T09:30+08:00)\n")


def test_alerts_lists_without_recording(database_url: str, engine: Engine, store: Store,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bind_channel(engine, store, "C1")
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = 1
    seed_inquiries(engine, store, series, ingested_at=NOW - timedelta(minutes=5))
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--store", "acme",
                           "--now", NOW.isoformat(), "--json")
    assert code == 0
    (alert,) = json.loads(out)["alerts"]
    assert {k: alert[k] for k in ("rule", "store", "day", "observed", "status")} == {
        "rule": "inquiry_drop", "store": "acme", "day": "2026-11-16", "observed": 1,
        "status": "open"}
    assert alert["expected"] > 10 and alert["p_value"] < 0.01
    assert alert["severity"] in ("warning", "critical")
    with read(engine) as conn:  # a preview: nothing recorded, nothing queued
        assert conn.scalar(select(func.count()).select_from(alerts_table)) == 0
        assert conn.scalar(select(func.count()).select_from(outbox_table)) == 0
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts",
                           "--now", (NOW + timedelta(days=3)).isoformat())
    assert code == 0 and "acme: not judged: the inquiry list does not cover 2026-11-19" in out


def test_alerts_text_says_a_window_is_a_sum(database_url: str, engine: Engine, store: Store,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    insert_alert(engine, store, "3day_sum", 30, 55.5)
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--now", NOW.isoformat())
    assert code == 0
    assert out.startswith("Inquiries dropped - acme\n")
    assert ("⚠ acme: 30 inquiries in the 3 days to Mon 16 Nov 2026, usually about 56 (-46%)."
            in out)
    assert "a 3-day stretch this low comes by chance about once in 1,000 days" in out


def test_alerts_text_is_in_the_stores_language(database_url: str, engine: Engine,
                                               store: Store,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A zh store's alerts read in Chinese in the terminal, as its Slack post does; --json
    stays data."""
    configure_store(engine, store, language="zh")
    insert_alert(engine, store, "3day_sum", 30, 55.5)
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--now", NOW.isoformat())
    assert code == 0
    assert out.startswith("询盘下降 - acme\n" + "=" * 15 + "\n")  # CJK: two columns each
    assert "⚠ acme：截至 2026-11-16 的 3 天内收到 30 条询盘，通常约 56 条（-46%）。" in out
    assert "警告 · 连续 3 天这么低，纯属偶然的话约 1,000 天出现一次 · 基线：前 8 周同期 3 天" in out
    assert "Inquiry drop" not in out and "usually" not in out
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--now", NOW.isoformat(),
                           "--json")
    (alert,) = json.loads(out)["alerts"]
    assert (alert["title"], alert["severity"], alert["status"], alert["observed"]) == (
        "Inquiry drop", "warning", "open", 30)


def test_alerts_text_without_alerts(database_url: str, engine: Engine, store: Store,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    series = history(YESTERDAY - timedelta(days=1))
    series[YESTERDAY] = series[YESTERDAY - timedelta(days=7)]
    seed_inquiries(engine, store, series, ingested_at=NOW - timedelta(minutes=5))
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--now", NOW.isoformat())
    assert (code, out) == (0, "no alerts\n")
    configure_store(engine, store, language="zh")
    code, out, _ = run_cli(capsys, "--database", database_url, "alerts", "--now", NOW.isoformat())
    assert (code, out) == (0, "没有预警\n")


def _worker(database: str, tmp_path: Path, **extra_env: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLACK_BOT_TOKEN", "OPSBOT_DROP_DIR")}
    env["OPSBOT_DATABASE_URL"] = database
    env.update(extra_env)
    return subprocess.Popen([sys.executable, "-m", "cli", "worker"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(process: subprocess.Popen[str], words: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    assert process.stdout is not None
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen += line
        if words in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"worker never said {words!r}; output:\n{seen}")


def test_worker_runs_one_leader_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'opsbot.db'}"
    first = _worker(database, tmp_path)
    second = None
    try:
        line = _wait_for(first, "opsbot worker: running")
        assert "lock file" in line and "send off (no SLACK_BOT_TOKEN" in line
        second = _worker(database, tmp_path)
        assert "standing by" in _wait_for(second, "standing by")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_worker_log_shows_its_own_events_not_every_scheduler_run(tmp_path: Path) -> None:
    """APScheduler's "Running job ..." / "executed successfully" lines (three jobs, every few
    seconds) are not logged; the worker's own lines (a drop taken) are."""
    database = f"sqlite:///{tmp_path / 'opsbot.db'}"
    drop_dir = tmp_path / "drop"
    drop_dir.mkdir()
    report = drop_dir / "inquiries.csv"
    report.write_text("询盘ID,创建时间\nQ1,2026-11-03 14:05\n", encoding="utf-8")
    old = time.time() - 60
    os.utime(report, (old, old))
    worker = _worker(database, tmp_path, OPSBOT_DROP_DIR=str(drop_dir))
    try:
        assert worker.stdout is not None
        seen = ""
        deadline = time.monotonic() + 20
        while "drop folder: inquiries.csv -> ingested" not in seen:
            line = worker.stdout.readline()
            assert line and time.monotonic() < deadline, f"no drop taken; output:\n{seen}"
            seen += line
        time.sleep(1.5)  # the jobs that just ran would have said "executed successfully"
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=15)
        assert worker.returncode == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    log = seen + rest
    assert " INFO drop folder: inquiries.csv -> ingested (" in log
    assert "opsbot worker: stopped" in log
    # Alembic's start-up chatter is not logged either (its warnings would be)
    assert "Context impl" not in log and "Will assume" not in log
    for noise in ("Running job", "executed successfully", "Scheduler started", "Added job"):
        assert noise not in log, log
