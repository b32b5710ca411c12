"""Data drops by upload, end to end: signed Events API requests to the running HTTP app, files
served by the mock Slack only to the bot token, answers recorded by the mock."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from bot.models import facts
from bot.storage import read
from bot.stores import Store
from tests.slack_app_env import (
    CHANNEL,
    file_share_event,
    file_shared_event,
    inquiry_export,
    posted,
    settle,
    slack_drops,
    wait_for,
)
from tests.slack_limits import assert_data_escaped, assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import DOWNLOAD, MockSlackAPI
from tests.slack_signing import event_body


def _inquiry_count(engine: Engine) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(facts["inquiries"])) or 0


def _csv_file(api: MockSlackAPI, file_id: str, name: str = "inquiries-2026.csv",
              content: bytes | None = None, **fields: object) -> dict:
    return api.add_file(file_id, name, content or inquiry_export(["Ann", "Bob", "Cyd"]),
                        filetype="csv", mimetype="text/csv", **fields)


def _check(message: dict) -> None:
    assert_within_slack_limits(message)
    assert_no_mentions(message)


def test_report_upload_is_ingested_and_answered_in_its_thread(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    file = _csv_file(api, "F1")
    status, _ = server.post(file_share_event([file], ts="1700000100.000100"))
    assert status == 200

    (reply,) = wait_for(lambda: posted(api))
    assert reply["channel"] == CHANNEL and reply["thread_ts"] == "1700000100.000100"
    assert "inquiries-2026.csv" in reply["text"] and "acme" in reply["text"]
    assert "3 new" in reply["blocks"][0]["text"]["text"]
    _check(reply)
    (download,) = api.calls_to(DOWNLOAD)
    assert download.token == api.bot_token
    (drop,) = slack_drops(engine)
    assert (drop.status, drop.kind, drop.source, drop.source_ref) == (
        "ingested", "inquiries", "slack", "F1")
    assert _inquiry_count(engine) == 3


def test_ack_does_not_wait_for_download_and_ingestion(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    file = _csv_file(api, "F2")
    api.delay_next("files.info", 1.0)
    started = time.monotonic()
    status, _ = server.post(file_share_event([file]))
    acked = time.monotonic() - started

    assert status == 200 and acked < 0.5
    wait_for(lambda: posted(api))
    assert len(slack_drops(engine)) == 1


def test_one_upload_announced_twice_and_retried_is_ingested_and_answered_once(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    shares = {"public": {CHANNEL: [{"ts": "1700000100.000100", "channel_name": "ops"}]}}
    file = _csv_file(api, "F3", shares=shares)
    server.post(file_shared_event("F3", event_id="EvA"))
    server.post(file_share_event([file], event_id="EvB"))
    server.post(file_share_event([file], event_id="EvB"),
                extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

    (reply,) = wait_for(lambda: posted(api))
    settle()
    assert len(posted(api)) == 1
    assert reply["thread_ts"] == "1700000100.000100"  # found through files.info shares
    assert len(api.calls_to(DOWNLOAD)) == 1
    assert [d.status for d in slack_drops(engine)] == ["ingested"]
    assert _inquiry_count(engine) == 3


def test_same_content_uploaded_again_is_a_duplicate_and_changes_nothing(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    content = inquiry_export(["Ann", "Bob"])
    first = _csv_file(api, "F4", content=content)
    again = _csv_file(api, "F5", name="inquiries-2026 (1).csv", content=content)
    server.post(file_share_event([first], event_id="Ev4"))
    wait_for(lambda: posted(api))
    server.post(file_share_event([again], event_id="Ev5", ts="1700000200.000100"))

    replies = wait_for(lambda: posted(api) if len(posted(api)) == 2 else None)
    assert "already ingested" in replies[1]["text"]
    assert [d.status for d in slack_drops(engine)] == ["ingested", "duplicate"]
    assert _inquiry_count(engine) == 2


def test_image_gets_a_polite_no_and_is_never_downloaded(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    image = api.add_file("F6", "screenshot.png", b"\x89PNG....", filetype="png",
                         mimetype="image/png")
    server.post(file_share_event([image]))

    (reply,) = wait_for(lambda: posted(api))
    assert "does not look like a report" in reply["text"]
    _check(reply)
    assert api.calls_to(DOWNLOAD) == [] and slack_drops(engine) == []


def test_file_over_the_limit_is_refused_before_downloading(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    big = _csv_file(api, "F7", size=3 * 1024 * 1024)  # the settings fixture allows 1 MB
    server.post(file_share_event([big]))

    (reply,) = wait_for(lambda: posted(api))
    assert "over the 1 MB limit" in reply["text"]
    assert api.calls_to(DOWNLOAD) == [] and slack_drops(engine) == []


def test_file_bigger_than_announced_is_cut_off_while_downloading(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    lying = _csv_file(api, "F8", content=b"a,b\n" * 400_000, size=100)  # 1.6 MB served
    server.post(file_share_event([lying]))

    (reply,) = wait_for(lambda: posted(api))
    assert "over the 1 MB limit" in reply["text"]
    assert slack_drops(engine) == []


def test_failed_download_is_explained_and_a_new_share_can_succeed(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    file = _csv_file(api, "F9")
    api.respond_with("files.info", {"file": {**file, "url_private_download":
                                             api.root_url + "/files-pri/T1-GONE/x.csv"}})
    server.post(file_share_event([file], event_id="Ev9a"))
    (reply,) = wait_for(lambda: posted(api))
    assert "could not download" in reply["text"] and "404" in reply["text"]

    api.reset()
    server.post(file_share_event([file], event_id="Ev9b"))
    (reply,) = wait_for(lambda: posted(api))
    assert "3 new" in reply["blocks"][0]["text"]["text"]


def test_mention_injection_through_a_file_pings_nobody(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    content = inquiry_export(["<!channel>", "<@U999> & co"])
    file = _csv_file(api, "F10", name="<!here> inquiries.csv", content=content)
    server.post(file_share_event([file]))

    (reply,) = wait_for(lambda: posted(api))
    _check(reply)
    assert_data_escaped(reply, "<!here> inquiries.csv")
    assert "&lt;!here&gt; inquiries.csv" in reply["text"]
    assert _inquiry_count(engine) == 2


def test_upload_rate_limited_reply_is_retried_and_delivered_once(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    api.fail_next("chat.postMessage", status=429, retry_after=1)
    server.post(file_share_event([_csv_file(api, "F11")]))

    wait_for(lambda: posted(api), timeout=5)
    calls = api.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert len(api.messages) == 1


def test_dm_naming_the_store_is_ingested_there(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    api.set_members(CHANNEL, ["U0UPLOADER"])  # a member of the store's channel
    file = _csv_file(api, "F12")
    server.post(file_share_event([file], channel="D0DM", channel_type="im",
                                 text="store: acme, yesterday's inquiries"))

    (reply,) = wait_for(lambda: posted(api))
    assert reply["channel"] == "D0DM" and "acme" in reply["text"]
    assert [d.status for d in slack_drops(engine)] == ["ingested"]


def test_dm_without_a_store_asks_which_one(
    api: MockSlackAPI, server, engine: Engine, store: Store
) -> None:
    server.post(file_share_event([_csv_file(api, "F13")], channel="D0DM", channel_type="im"))
    server.post(file_shared_event("F13", channel="D0DM"))

    (reply,) = wait_for(lambda: posted(api))
    settle()
    assert len(posted(api)) == 1
    assert "/opsbot setup" in reply["text"] and "store: NAME" in reply["text"]
    assert slack_drops(engine) == [] and api.calls_to(DOWNLOAD) == []


def test_files_in_unbound_channels_are_left_alone_unless_they_look_like_reports(
    api: MockSlackAPI, server, engine: Engine, store: Store
) -> None:
    image = api.add_file("F14", "cat.jpg", b"jpg", filetype="jpg", mimetype="image/jpeg")
    server.post(file_share_event([image], channel="C0RANDOM", event_id="Ev14"))
    server.post(file_shared_event("F14", channel="C0RANDOM", event_id="Ev14b"))
    settle()
    assert posted(api) == []

    server.post(file_share_event([_csv_file(api, "F15")], channel="C0RANDOM", event_id="Ev15"))
    (reply,) = wait_for(lambda: posted(api))
    assert "/opsbot setup" in reply["text"]
    assert slack_drops(engine) == []


def test_other_messages_are_acked_and_ignored(api: MockSlackAPI, server, bound: Store) -> None:
    body = event_body({"type": "message", "channel": CHANNEL, "user": "U1", "text": "hi",
                       "ts": "1700000300.000100"}, "EvChat")
    status, _ = server.post(body)
    settle(0.1)
    assert status == 200 and posted(api) == []
