"""Socket Mode end to end: the same app through bolt's SocketModeHandler (builtin client),
which finds the local WebSocket server through the mock's apps.connections.open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.ingest.drop import ingest_file
from bot.stores import Store
from handlers.app import create_app, make_client
from handlers.socket_mode import SocketModeHandler
from tests.slack_app_env import (
    CHANNEL,
    inquiry_export,
    posted,
    settle,
    slack_drops,
    wait_for,
)
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import MockSlackAPI
from tests.slack_signing import event_payload, slash_command_payload
from tests.socket_mock import MockSocketModeServer, close_socket_client


@pytest.fixture
def handler(settings: Settings, engine: Engine, api: MockSlackAPI, sock: MockSocketModeServer,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketModeHandler]:
    # Socket Mode needs no signing secret: requests come over the authenticated socket.
    no_secret = Settings(**{**settings.__dict__, "slack_signing_secret": None})
    app = create_app(no_secret, engine, client=make_client(no_secret), socket_mode=True)
    handler = SocketModeHandler(app, app_token=settings.slack_app_token)
    handler.connect()
    sock.wait_for_connection()
    yield handler
    close_socket_client(handler.client)


def test_connects_with_the_app_token_through_the_configured_api_url(
    api: MockSlackAPI, handler: SocketModeHandler
) -> None:
    (call,) = api.calls_to("apps.connections.open")
    assert call.token == api.app_token


def test_slash_command_is_acked_with_the_answer(
    api: MockSlackAPI, handler: SocketModeHandler, sock: MockSocketModeServer, engine: Engine,
    bound: Store, tmp_path: Path
) -> None:
    path = tmp_path / "inquiries.csv"
    path.write_bytes(inquiry_export(["Ann", "<!channel>"], replied=1))
    assert ingest_file(engine, bound, path).status == "ingested"

    envelope = sock.send_envelope("slash_commands", slash_command_payload(
        "/inquiries", "yesterday", channel_id=CHANNEL, response_url=api.response_url()))
    ack = sock.wait_for_ack(envelope, timeout=2.5)

    answer = ack["payload"]
    assert answer["response_type"] == "in_channel"
    assert "Total 2" in answer["text"] and "Replied 1" in answer["text"]
    assert_within_slack_limits(answer)
    assert_no_mentions(answer)


def test_unbound_channel_gets_an_ephemeral_hint(
    handler: SocketModeHandler, sock: MockSocketModeServer, store: Store
) -> None:
    envelope = sock.send_envelope("slash_commands",
                                  slash_command_payload("/inquiries", "", channel_id="C0NEW"))
    answer = sock.wait_for_ack(envelope, timeout=2.5)["payload"]
    assert answer["response_type"] == "ephemeral" and "/opsbot setup" in str(answer)


def test_upload_event_and_its_retry_ingest_once(
    api: MockSlackAPI, handler: SocketModeHandler, sock: MockSocketModeServer, engine: Engine,
    bound: Store
) -> None:
    file = api.add_file("FS1", "inquiries.csv", inquiry_export(["Ann", "Bob"]),
                        filetype="csv", mimetype="text/csv")
    event = {"type": "message", "subtype": "file_share", "channel": CHANNEL,
             "channel_type": "channel", "user": "U1", "text": "", "ts": "1700000700.000100",
             "files": [file]}
    first = sock.send_envelope("events_api", event_payload(event, "EvSock"))
    retry = sock.send_envelope("events_api", event_payload(event, "EvSock"), retry_attempt=1,
                               retry_reason="timeout")

    assert sock.wait_for_ack(first) == {"envelope_id": first}
    assert sock.wait_for_ack(retry) == {"envelope_id": retry}
    (reply,) = wait_for(lambda: posted(api))
    settle()
    assert len(posted(api)) == 1 and reply["thread_ts"] == "1700000700.000100"
    assert [d.status for d in slack_drops(engine)] == ["ingested"]
