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
from bot.stores import Store, bind_channel
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


def test_tick_rejects_a_bad_moment(database_url: str, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    code, _, err = run_cli(capsys, "--database", database_url, "tick", "--now", "9am")
    assert code == 2 and "--now '9am' is not an ISO date" in err and "Traceback" not in err


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
    assert ("acme: Inquiry drop (warning, open): 30 in the 3 days to 2026-11-16, usually about 56"
            in out)


def _worker(database: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLACK_BOT_TOKEN", "OPSBOT_DROP_DIR")}
    env["OPSBOT_DATABASE_URL"] = database
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
