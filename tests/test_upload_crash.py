"""Nothing lost to a crash: an upload whose process died (kill -9, out of memory, a worker
timeout) is taken up again by the worker's sweep or a new share of the file, and its thread
gets exactly one answer. A lease still running is never taken."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Row

from bot import receipts
from bot.config import Settings
from bot.ingest.drop import ingest_file
from bot.models import facts, slack_receipts
from bot.periods import utcnow
from bot.storage import read
from bot.stores import Store
from jobs.delivery import outbox_client
from jobs.upload_sweep import sweep
from tests.slack_app_env import (
    CHANNEL,
    file_share_event,
    inquiry_export,
    posted,
    settle,
    slack_drops,
    wait_for,
)
from tests.slack_mock import DOWNLOAD, MockSlackAPI

THREAD = "1700000100.000100"
LONG_AGO = timedelta(minutes=11)  # a lease of 10 minutes has run out


def _file(api: MockSlackAPI, file_id: str) -> dict:
    return api.add_file(file_id, "inquiries-2026.csv", inquiry_export(["Ann", "Bob", "Cyd"]),
                        filetype="csv", mimetype="text/csv")


def _inquiries(engine: Engine) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(facts["inquiries"])) or 0


def _receipt(engine: Engine, file_id: str) -> Row:
    with read(engine) as conn:
        return conn.execute(select(slack_receipts).where(
            slack_receipts.c.kind == receipts.FILE, slack_receipts.c.ref == file_id)).one()


def _died_holding(engine: Engine, store: Store, file_id: str, *, ago: timedelta = LONG_AGO
                  ) -> None:
    """What a process that took the upload and then died leaves: a lease `ago` old."""
    assert receipts.lease(engine, receipts.FILE, file_id, store_id=store.id, channel=CHANNEL,
                          thread_ts=THREAD, now=utcnow() - ago)


def test_the_sweep_answers_an_upload_whose_process_died_once(
    api: MockSlackAPI, settings: Settings, engine: Engine, bound: Store
) -> None:
    _file(api, "F1")
    _died_holding(engine, bound, "F1")
    client = outbox_client(settings)
    assert client is not None

    (taken,) = sweep(engine, settings, client)
    assert (taken["file"], taken["attempt"], taken["status"]) == ("F1", 2, "ingested")
    assert sweep(engine, settings, client) == []  # done: nothing left to take

    (reply,) = posted(api)
    assert reply["channel"] == CHANNEL and reply["thread_ts"] == THREAD
    assert "3 new" in reply["blocks"][0]["text"]["text"]
    assert _inquiries(engine) == 3 and _receipt(engine, "F1").state == receipts.DONE


def test_a_live_lease_is_not_stolen_by_the_sweep_or_a_new_share(
    api: MockSlackAPI, server, settings: Settings, engine: Engine, bound: Store
) -> None:
    file = _file(api, "F2")
    _died_holding(engine, bound, "F2", ago=timedelta(minutes=1))  # busy, not dead
    client = outbox_client(settings)
    assert client is not None

    assert sweep(engine, settings, client) == []
    server.post(file_share_event([file], event_id="EvLive"))
    settle()
    assert posted(api) == [] and api.calls_to(DOWNLOAD) == []
    assert _receipt(engine, "F2").attempt == 1


def test_a_new_share_takes_up_an_upload_whose_process_died(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    file = _file(api, "F3")
    _died_holding(engine, bound, "F3")
    server.post(file_share_event([file], event_id="EvAgain", ts="1700000900.000100"))

    (reply,) = wait_for(lambda: posted(api))
    settle()
    assert len(posted(api)) == 1 and reply["thread_ts"] == "1700000900.000100"
    assert "3 new" in reply["blocks"][0]["text"]["text"]
    assert _inquiries(engine) == 3


def test_died_after_ingesting_the_answer_reports_the_drop_not_a_duplicate(
    api: MockSlackAPI, settings: Settings, engine: Engine, bound: Store, tmp_path: Path
) -> None:
    path = tmp_path / "inquiries-2026.csv"
    path.write_bytes(inquiry_export(["Ann", "Bob", "Cyd"]))
    api.add_file("F4", path.name, path.read_bytes(), filetype="csv", mimetype="text/csv")
    _died_holding(engine, bound, "F4")
    ingest_file(engine, bound, path, source="slack", source_ref="F4")  # then it died
    client = outbox_client(settings)
    assert client is not None

    sweep(engine, settings, client)
    (reply,) = posted(api)
    assert "3 new" in reply["blocks"][0]["text"]["text"]
    assert "already ingested" not in reply["text"]
    assert _inquiries(engine) == 3


def test_an_upload_that_keeps_killing_its_process_is_given_up_with_a_reply(
    api: MockSlackAPI, settings: Settings, engine: Engine, bound: Store
) -> None:
    _file(api, "F5")
    for minutes in (50, 35, 20):  # three attempts, each died holding the lease
        _died_holding(engine, bound, "F5", ago=timedelta(minutes=minutes))
    client = outbox_client(settings)
    assert client is not None

    sweep(engine, settings, client)
    (reply,) = posted(api)
    assert "stopped 3 times" in reply["text"] and "share it again" in reply["text"]
    assert api.calls_to(DOWNLOAD) == [] and slack_drops(engine) == []
    assert _receipt(engine, "F5").state == receipts.RELEASED  # a new share may try again


def test_killed_mid_upload_then_answered_once_after_restart(
    api: MockSlackAPI, settings: Settings, engine: Engine, bound: Store, database_url: str
) -> None:
    """A real kill -9 of a process that had ingested the file and not answered yet."""
    _file(api, "F6")
    child = textwrap.dedent(f"""
        import os, signal
        from bot.config import Settings
        from bot.storage import get_engine
        from bot.stores import find_store
        from handlers import uploads
        from jobs.delivery import outbox_client

        def ingest_and_die(*args, **kwargs):
            real_ingest(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        real_ingest = uploads.ingest_file
        uploads.ingest_file = ingest_and_die
        settings = Settings.from_env()
        engine = get_engine(settings.database_url)
        uploads.handle_upload(engine, settings, outbox_client(settings),
                              find_store(engine, {bound.name!r}), "F6", {CHANNEL!r}, {THREAD!r})
    """)
    env = {**os.environ, **api.env(), "OPSBOT_DATABASE_URL": database_url,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    died = subprocess.run([sys.executable, "-c", child], env=env, timeout=60,
                          capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert posted(api) == [] and _inquiries(engine) == 3

    client = outbox_client(settings)
    assert client is not None
    assert sweep(engine, settings, client) == []  # its lease is still running
    restarted = utcnow() + receipts.LEASE + timedelta(seconds=1)
    sweep(engine, settings, client, now=restarted)
    sweep(engine, settings, client, now=restarted)

    (reply,) = posted(api)
    assert reply["thread_ts"] == THREAD and "3 new" in reply["blocks"][0]["text"]["text"]
    assert _inquiries(engine) == 3
