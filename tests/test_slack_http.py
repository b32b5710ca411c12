"""HTTP mode end to end: `opsbot serve`'s WSGI app on a local port, requests signed with
Slack's real v0 scheme, the Web API and response_url served by the mock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest.drop import ingest_file
from bot.storage import make_engine
from bot.stores import Store, store_for_channel
from handlers import slash
from handlers.commands import CommandResult, run_command
from handlers.wsgi import make_wsgi_app
from tests.slack_app_env import (
    CHANNEL,
    decoded,
    inquiry_export,
    settle,
    wait_for,
)
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import RESPONSE_URL, MockSlackAPI
from tests.slack_signing import (
    block_action_body,
    event_body,
    signed_headers,
    slash_command_body,
    url_verification_body,
)


def _command(server, api: MockSlackAPI, command: str, text: str, channel: str = CHANNEL):
    body = slash_command_body(command, text, channel_id=channel,
                              response_url=api.response_url("cmd"))
    status, data = server.post(body)
    return status, decoded(data)


def _drop(engine: Engine, store: Store, tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert ingest_file(engine, store, path).status == "ingested"


def _all_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


# ---------------------------------------------------------------------------- health
def test_healthz_reports_the_database(server, store: Store) -> None:
    status, headers, body = server.request("GET", "/healthz")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"ok": True, "database": "ok", "stores": 1}


def test_healthz_is_503_when_the_database_is_gone(slack_app, tmp_path: Path) -> None:
    gone = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'opsbot.db'}")
    seen: list[str] = []
    body = b"".join(make_wsgi_app(slack_app, gone)(
        {"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda s, h: seen.append(s)))
    assert seen[0].startswith("503") and json.loads(body)["ok"] is False


def test_unknown_paths_are_404(server) -> None:
    assert server.request("GET", "/slack/events")[0] == 404
    assert server.request("POST", "/other", "x")[0] == 404


# ---------------------------------------------------------------------------- signatures
def test_forged_signature_is_401_and_runs_nothing(
    api: MockSlackAPI, server, monkeypatch: pytest.MonkeyPatch, bound
) -> None:
    ran: list[tuple] = []
    answer = CommandResult("/inquiries", "yesterday", True, {}, {"text": "ok"}, True)

    def recorder(*args, **kwargs) -> CommandResult:
        ran.append(args)
        return answer

    monkeypatch.setattr(slash, "run_command", recorder)
    body = slash_command_body("/inquiries", "yesterday", channel_id=CHANNEL)
    status, _ = server.post(body, secret="not-the-signing-secret")
    assert status == 401
    assert ran == []
    # The recorder does see a correctly signed command: the check above can catch a run.
    assert server.post(body)[0] == 200
    assert [args[1:] for args in ran] == [("/inquiries", "yesterday")]


def test_tampered_body_is_401(server, bound) -> None:
    body = slash_command_body("/inquiries", "yesterday", channel_id=CHANNEL)
    headers = signed_headers(body, server.secret)
    status, _, _ = server.request("POST", "/slack/events", body.replace("yesterday", "week"),
                                  headers)
    assert status == 401


def test_stale_timestamp_is_401(server, bound) -> None:
    body = slash_command_body("/inquiries", "yesterday", channel_id=CHANNEL)
    status, _ = server.post(body, timestamp=int(time.time()) - 10 * 60)
    assert status == 401


def test_url_verification_echoes_the_challenge(server) -> None:
    status, data = server.post(url_verification_body("abc123"))
    assert status == 200 and decoded(data)["challenge"] == "abc123"


# ---------------------------------------------------------------------------- slash commands
def test_inquiries_yesterday_is_answered_in_the_ack(
    api: MockSlackAPI, server, engine: Engine, bound: Store, tmp_path: Path
) -> None:
    _drop(engine, bound, tmp_path, inquiry_export(["Ann", "Bob", "Cyd", "Dan"], replied=3),
          "inquiries.csv")
    status, reply = _command(server, api, "/inquiries", "yesterday")

    assert status == 200
    assert reply["response_type"] == "in_channel"
    assert_within_slack_limits(reply)
    assert "Total 4" in reply["text"] and "Replied 3" in reply["text"]
    assert "Unreplied 1" in reply["text"] and "acme" in _all_text(reply)
    # exactly what `opsbot ask "/inquiries yesterday"` prints for this channel
    twin = run_command(engine, "/inquiries", "yesterday", channel_id=CHANNEL)
    assert (reply["text"], reply["blocks"]) == (twin.message["text"], twin.message["blocks"])
    assert api.calls_to(RESPONSE_URL) == []  # one round trip: the ack carried the answer


def test_inquiries_in_an_unbound_channel_says_how_to_bind(
    api: MockSlackAPI, server, store: Store
) -> None:
    status, reply = _command(server, api, "/inquiries", "yesterday", channel="C0NEW")
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert "/opsbot setup" in _all_text(reply)


def test_bad_input_gets_an_ephemeral_usage_reply(api: MockSlackAPI, server, bound) -> None:
    status, reply = _command(server, api, "/inquiries", "fortnight-ish")
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert_within_slack_limits(reply)


def test_opsbot_setup_binds_the_channel(api: MockSlackAPI, server, engine: Engine) -> None:
    status, reply = _command(server, api, "/opsbot", "setup globex", channel="C0GLOBEX")
    assert status == 200
    assert_within_slack_limits(reply)
    found = store_for_channel(engine, "C0GLOBEX")
    assert found is not None and found.name == "globex"


def test_buyer_named_channel_pings_nobody_in_the_listing(
    api: MockSlackAPI, server, engine: Engine, bound: Store, tmp_path: Path
) -> None:
    _drop(engine, bound, tmp_path, inquiry_export(["<!channel>", "<@U0BOSS>"], replied=0),
          "inquiries.csv")
    for words in ("yesterday", "week unreplied"):
        status, reply = _command(server, api, "/inquiries", words)
        assert status == 200
        assert_within_slack_limits(reply)
        assert_no_mentions(reply)
    assert "&lt;!channel&gt;" in _all_text(reply)


def _slow(result: CommandResult, seconds: float):
    def run(*args, **kwargs) -> CommandResult:
        time.sleep(seconds)
        return result

    return run


def test_slow_answer_acks_first_then_follows_through_response_url(
    api: MockSlackAPI, server, monkeypatch: pytest.MonkeyPatch, bound
) -> None:
    message = {"text": "42 inquiries", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*42* inquiries"}}]}
    done = CommandResult("/inquiries", "month", True, {}, message, False)
    monkeypatch.setattr(slash, "ACK_DEADLINE", 0.1)
    monkeypatch.setattr(slash, "run_command", _slow(done, 0.4))

    started = time.monotonic()
    status, ack = _command(server, api, "/inquiries", "month")
    assert status == 200 and time.monotonic() - started < 0.4
    assert ack["response_type"] == "ephemeral" and "Working on" in ack["text"]

    (later,) = wait_for(lambda: api.calls_to(RESPONSE_URL))
    assert later.params["text"] == "42 inquiries"
    assert later.params["response_type"] == "in_channel"
    assert_within_slack_limits(later.params)


def test_a_crash_in_the_dispatcher_still_gets_an_answer(
    api: MockSlackAPI, server, monkeypatch: pytest.MonkeyPatch, bound
) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(slash, "run_command", boom)
    status, reply = _command(server, api, "/opsbot", "status")
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert "failed on my side" in reply["text"]


def test_concurrent_commands_are_served_in_parallel(
    api: MockSlackAPI, server, monkeypatch: pytest.MonkeyPatch, bound
) -> None:
    message = {"text": "ok", "blocks": []}
    monkeypatch.setattr(slash, "run_command", _slow(
        CommandResult("/opsbot", "", True, {}, message, True), 0.5))
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        _command(server, api, "/opsbot", "status")[0])) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4 and time.monotonic() - started < 1.5


# ---------------------------------------------------------------------------- events
def test_retried_event_has_exactly_one_effect(
    api: MockSlackAPI, server, engine: Engine, bound: Store
) -> None:
    file = api.add_file("FR1", "inquiries.csv", inquiry_export(["Ann"]), filetype="csv",
                        mimetype="text/csv")
    event = {"type": "message", "subtype": "file_share", "channel": CHANNEL,
             "channel_type": "channel", "user": "U1", "text": "", "ts": "1700000500.000100",
             "files": [file]}
    body = event_body(event, "EvRetry")
    statuses = [server.post(body)[0]]
    for attempt in (1, 2):
        statuses.append(server.post(body, extra={"X-Slack-Retry-Num": str(attempt),
                                                 "X-Slack-Retry-Reason": "http_timeout"})[0])

    assert statuses == [200, 200, 200]
    wait_for(lambda: api.calls_to("chat.postMessage"))
    settle()
    assert len(api.calls_to("chat.postMessage")) == 1
    assert len(api.calls_to("files.info")) == 1


def test_interactivity_posts_reach_the_same_endpoint(server) -> None:
    status, _ = server.post(block_action_body("opsbot-unknown-action",
                                              response_url="http://127.0.0.1:9/x"))
    # Signature accepted and the request routed to the app: an action no listener knows is
    # bolt's 404, not the WSGI router's.
    assert status == 404


# ---------------------------------------------------------------------------- hostile requests
def test_a_non_numeric_signature_timestamp_is_401(server, bound) -> None:
    body = slash_command_body("/inquiries", "yesterday", channel_id=CHANNEL)
    headers = {**signed_headers(body, server.secret), "X-Slack-Request-Timestamp": "soon"}
    status, _, _ = server.request("POST", "/slack/events", body, headers)
    assert status == 401


def test_an_oversized_body_is_refused_unread(slack_app, engine: Engine) -> None:
    """A 200 MB POST is refused from its Content-Length: not one byte of it is read."""
    import io
    import tracemalloc

    from handlers.wsgi import MAX_BODY

    class Untouchable(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("the body was read")

    seen: list[str] = []
    environ = {"PATH_INFO": "/slack/events", "REQUEST_METHOD": "POST",
               "CONTENT_LENGTH": str(200 * 1024 * 1024), "wsgi.input": Untouchable()}
    tracemalloc.start()
    body = b"".join(make_wsgi_app(slack_app, engine)(environ, lambda s, h: seen.append(s)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == ["413 Content Too Large"] and b"limited" in body
    assert peak < MAX_BODY  # nothing near the body's size was allocated


def test_a_body_without_a_length_is_refused(slack_app, engine: Engine) -> None:
    seen: list[str] = []
    environ = {"PATH_INFO": "/slack/events", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": ""}
    b"".join(make_wsgi_app(slack_app, engine)(environ, lambda s, h: seen.append(s)))
    assert seen == ["411 Length Required"]


def test_a_200_mb_unsigned_post_over_the_wire_is_refused_without_growing_memory(
        server, bound) -> None:
    """The same through the running server: a client announcing and sending a 200 MB body
    gets 413 without the server waiting for the body, and the server allocated nothing like
    it."""
    import contextlib
    import socket
    import tracemalloc

    from handlers.wsgi import MAX_BODY

    host, port = server.url.split("//", 1)[1].split(":")
    start_of_body = b"x" * (1024 * 1024)  # the client's, made before counting
    tracemalloc.start()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /slack/events HTTP/1.1\r\nHost: opsbot\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % (200 * 1024 * 1024))
        # The rest never goes. The server may have answered and closed already: it does
        # not wait for the body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(start_of_body)
        answer = conn.recv(4096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert answer.split(b"\r\n")[0].endswith(b" 413 Content Too Large")
    assert peak < MAX_BODY  # not even the megabyte sent was kept
