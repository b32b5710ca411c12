"""A review's chart uploaded into the review's thread through the outbox, against the mock
Slack API: Slack's upload flow (getUploadURLExternal, the bytes to the upload URL,
completeUploadExternal into the thread), after its post and only then, retried through 429s,
5xx and timeouts on every step, and shared exactly once, whenever a sender dies."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, func, select

from bot import outbox
from bot.config import Settings
from bot.models import outbox as outbox_table
from bot.models import outbox_files
from bot.storage import read, write
from bot.stores import Store
from jobs import uploads
from jobs.charts import queue_chart, queue_charts
from jobs.delivery import Delivery, Pacer, deliver, outbox_client
from templates.chart import Chart
from tests.slack_mock import UPLOAD, MockSlackAPI

NOW = datetime(2026, 11, 16, 1, 0)
ROOT = Path(__file__).resolve().parent.parent
PICTURE = Chart(png=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
                title="Weekly trend 2026-11-09 – 2026-11-15",
                filename="weekly-trend-2026-11-09.png")


class KilledAfter(WebClient):
    """A sender that dies (as a killed process: nothing after it runs, nothing is caught)
    right after Slack answered `method`."""

    def __init__(self, method: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.method = method

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().api_call(api_method, **kwargs)
        if api_method == self.method:
            raise SystemExit(f"killed after {api_method}")
        return response


def client_for(api: MockSlackAPI, timeout: float = 5) -> WebClient:
    client = outbox_client(Settings(slack_bot_token=api.bot_token, slack_api_url=api.base_url),
                           timeout=timeout)
    assert client is not None
    return client


def send(engine: Engine, client: WebClient, now: datetime) -> Delivery:
    return deliver(engine, client, now, pacer=Pacer(0, 0))


def post_with_chart(engine: Engine, store: Store, channel: str = "C1") -> tuple[int, int]:
    """A review's post and its chart, queued in one transaction as the review will."""
    with write(engine) as conn:
        post = outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="review",
                              subject="review:1", dedupe_key=f"review:1:{channel}",
                              payload={"text": "Weekly review"}, now=NOW)
        upload = queue_chart(conn, post, PICTURE, NOW)
    assert upload is not None
    return post, upload


def row(engine: Engine, outbox_id: int) -> Any:
    with read(engine) as conn:
        return conn.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one()


def ok_calls(api: MockSlackAPI, method: str) -> list[Any]:
    return [c for c in api.calls_to(method) if c.status == 200]


def assert_shared_once_in_thread(api: MockSlackAPI, engine: Engine, post: int,
                                 upload: int) -> None:
    parent_ts = row(engine, post).ts
    (share,) = api.file_shares()
    assert share["channel"] == "C1" and share["thread_ts"] == parent_ts
    (file,) = share["files"]
    assert file["title"] == PICTURE.title and file["name"] == PICTURE.filename
    assert api.files[file["id"]].content == PICTURE.png
    assert row(engine, upload).status == "delivered"


def test_the_chart_goes_into_its_posts_thread_once(engine: Engine, store: Store,
                                                   api: MockSlackAPI) -> None:
    post, upload = post_with_chart(engine, store)
    result = send(engine, client_for(api), NOW)
    assert result.delivered == 2
    (asked,) = api.calls_to("files.getUploadURLExternal")
    assert asked.params["filename"] == PICTURE.filename
    assert asked.params["length"] == str(len(PICTURE.png))
    (bytes_sent,) = api.calls_to(UPLOAD)
    assert bytes_sent.body == PICTURE.png
    (completed,) = api.calls_to("files.completeUploadExternal")
    assert completed.params["channel_id"] == "C1"
    assert completed.params["thread_ts"] == row(engine, post).ts
    assert_shared_once_in_thread(api, engine, post, upload)
    assert send(engine, client_for(api), NOW + timedelta(hours=1)).delivered == 0
    assert len(api.file_shares()) == 1


def test_the_chart_waits_for_its_post(engine: Engine, store: Store,
                                      api: MockSlackAPI) -> None:
    post, upload = post_with_chart(engine, store)
    api.fail_next("chat.postMessage", status=429, retry_after=7)
    result = send(engine, client_for(api), NOW)
    assert (result.delivered, result.retrying) == (0, 1)
    assert api.calls_to("files.getUploadURLExternal") == []  # nothing to attach it to yet
    assert row(engine, upload).status == "pending"
    assert send(engine, client_for(api), NOW + timedelta(seconds=6)).delivered == 0
    assert send(engine, client_for(api), NOW + timedelta(seconds=7)).delivered == 2
    assert_shared_once_in_thread(api, engine, post, upload)


def test_a_chart_whose_post_failed_fails_too(engine: Engine, store: Store,
                                             api: MockSlackAPI) -> None:
    _, upload = post_with_chart(engine, store, channel="C404")
    api.error_next("chat.postMessage", "channel_not_found")
    send(engine, client_for(api), NOW)
    send(engine, client_for(api), NOW)
    assert row(engine, upload).status == "failed"
    assert api.calls_to("files.getUploadURLExternal") == []


@pytest.mark.parametrize("step", ["files.getUploadURLExternal", UPLOAD,
                                  "files.completeUploadExternal"])
@pytest.mark.parametrize(("status", "wait"), [(429, 7), (503, 5)])
def test_uploaded_once_through_a_429_or_5xx_at_any_step(
        engine: Engine, store: Store, api: MockSlackAPI, step: str, status: int,
        wait: int) -> None:
    """429 waits Slack's Retry-After (7 s here), 5xx backs off (5 s), like any outbox row;
    the file id is asked for once and kept through the retry."""
    post, upload = post_with_chart(engine, store)
    api.fail_next(step, status=status, retry_after=7)
    result = send(engine, client_for(api), NOW)
    assert (result.delivered, result.retrying) == (1, 1)
    waiting = row(engine, upload)
    assert waiting.status == "pending"
    assert waiting.next_attempt_at == NOW + timedelta(seconds=wait)
    assert ("ratelimited" if status == 429 else f"HTTP {status}") in waiting.last_error
    assert send(engine, client_for(api), NOW + timedelta(seconds=wait - 1)).delivered == 0
    assert send(engine, client_for(api), NOW + timedelta(seconds=wait)).delivered == 1
    assert_shared_once_in_thread(api, engine, post, upload)
    assert len(ok_calls(api, "files.getUploadURLExternal")) == 1
    assert len(ok_calls(api, "files.completeUploadExternal")) == 1


@pytest.mark.parametrize("killed_after", ["files.getUploadURLExternal", UPLOAD,
                                          "files.completeUploadExternal"])
def test_a_sender_killed_mid_upload_does_not_upload_twice(
        engine: Engine, store: Store, api: MockSlackAPI, monkeypatch: pytest.MonkeyPatch,
        killed_after: str) -> None:
    """The sender dies right after a step succeeded at Slack, before it could record it.
    Another sender takes the row over once its claim is stale and finishes the upload: one
    completion, one file in the thread."""
    post, upload = post_with_chart(engine, store)
    with write(engine) as conn:  # the post is out already
        outbox.delivered(conn, post, client_for(api).chat_postMessage(
            channel="C1", text="Weekly review")["ts"], NOW)
    if killed_after == UPLOAD:
        real_post = uploads._post

        def post_then_die(*args: Any) -> None:
            real_post(*args)
            raise SystemExit("killed after the upload URL")

        monkeypatch.setattr(uploads, "_post", post_then_die)
        dying: WebClient = client_for(api)
    else:
        dying = KilledAfter(killed_after, token=api.bot_token, base_url=api.base_url,
                            retry_handlers=[])
    with pytest.raises(SystemExit):
        send(engine, dying, NOW)
    monkeypatch.undo()
    assert row(engine, upload).status == "sending"

    # Still within the dead sender's claim: nobody touches the row.
    assert send(engine, client_for(api), NOW + timedelta(minutes=1)).delivered == 0
    later = send(engine, client_for(api), NOW + outbox.STALE_SENDING + timedelta(seconds=1))
    assert later.delivered + later.recovered == 1
    assert_shared_once_in_thread(api, engine, post, upload)
    # A file id Slack gave to a sender that died before recording it is never completed (Slack
    # drops it); one that was recorded is used to the end.
    asked = 2 if killed_after == "files.getUploadURLExternal" else 1
    assert len(ok_calls(api, "files.getUploadURLExternal")) == asked
    assert len(ok_calls(api, "files.completeUploadExternal")) == 1
    if killed_after == "files.completeUploadExternal":
        assert later.recovered == 1 and len(api.calls_to("files.info")) == 1


def test_a_timeout_on_completion_that_did_complete_is_not_completed_again(
        engine: Engine, store: Store, api: MockSlackAPI) -> None:
    """The client gives up after 0.3 s; the mock completes after 0.8 s, as Slack may. The
    retry asks files.info, finds the file, and completes nothing."""
    post, upload = post_with_chart(engine, store)
    api.delay_next("files.completeUploadExternal", 0.8)
    result = send(engine, client_for(api, timeout=0.3), NOW)
    assert result.retrying == 1 and "network" in result.errors[0]["error"]
    for _ in range(200):  # wait for the mock's delayed answer to land (bounded)
        if api.file_shares():
            break
        time.sleep(0.01)
    later = send(engine, client_for(api), NOW + timedelta(seconds=5))
    assert (later.delivered, later.recovered) == (0, 1)
    assert len(api.calls_to("files.completeUploadExternal")) == 1
    assert_shared_once_in_thread(api, engine, post, upload)


def test_a_refused_upload_url_starts_over_with_a_new_one(engine: Engine, store: Store,
                                                         api: MockSlackAPI) -> None:
    post, upload = post_with_chart(engine, store)
    api.fail_next(UPLOAD, status=404)  # the URL expired
    assert send(engine, client_for(api), NOW).delivered == 2
    assert len(ok_calls(api, "files.getUploadURLExternal")) == 2
    assert_shared_once_in_thread(api, engine, post, upload)


def test_the_chart_is_queued_with_what_produced_it_and_once(engine: Engine,
                                                            store: Store) -> None:
    with pytest.raises(RuntimeError), write(engine) as conn:
        post = outbox.enqueue(conn, store_id=store.id, channel="C1", purpose="review",
                              subject="review:1", dedupe_key="review:1:C1",
                              payload={"text": "Weekly review"}, now=NOW)
        queue_chart(conn, post, PICTURE, NOW)
        raise RuntimeError("the review failed to build")
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(outbox_table)) == 0
        assert conn.scalar(select(func.count()).select_from(outbox_files)) == 0
    post, _ = post_with_chart(engine, store)
    with write(engine) as conn:
        assert queue_chart(conn, post, PICTURE, NOW) is None
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(outbox_files)) == 1


def test_queue_charts_reaches_every_channel_once(engine: Engine, store: Store,
                                                 api: MockSlackAPI) -> None:
    with write(engine) as conn:
        for channel in ("C1", "C2"):
            outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="review",
                           subject="review:1", dedupe_key=f"review:1:{channel}",
                           payload={"text": "Weekly review"}, now=NOW)
        assert len(queue_charts(conn, "review:1", "review", PICTURE, NOW)) == 2
    with write(engine) as conn:  # a later call (a channel bound late) adds none twice
        assert queue_charts(conn, "review:1", "review", PICTURE, NOW) == []
    assert send(engine, client_for(api), NOW).delivered == 4
    posted = {m["channel"]: ts for ts, m in api.messages.items() if "files" not in m}
    assert sorted((s["channel"], s["thread_ts"]) for s in api.file_shares()) == sorted(
        posted.items())


def test_files_write_is_in_the_manifest_and_the_readme() -> None:
    manifest = (ROOT / "slack-app-manifest.yml").read_text()
    scopes = re.findall(r"^\s+- ([a-z]+:[a-z]+|commands)\s", manifest, re.M)
    assert "files:write" in scopes
    readme = (ROOT / "README.md").read_text()
    install = readme[readme.index("allow the scopes"):][:300]
    for scope in scopes:
        assert f"`{scope}`" in install, scope
