"""Tests of the Slack test harness itself: if these fail, every Slack test is suspect."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.client import HTTPConnection
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    FixedValueRetryIntervalCalculator,
    RateLimitErrorRetryHandler,
    builtin_handlers,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from tests.slack_limits import (
    assert_data_escaped,
    assert_no_mentions,
    assert_within_slack_limits,
    slack_escape,
    slack_limit_violations,
)
from tests.slack_mock import DOWNLOAD, RESPONSE_URL, MockSlackAPI, json_field
from tests.slack_signing import (
    block_action_body,
    event_body,
    event_payload,
    signature,
    signed_headers,
    slash_command_body,
    slash_command_payload,
)
from tests.socket_mock import MockSocketModeServer, close_socket_client

SECRET = "harness-signing-secret"


# ---------------------------------------------------------------------------- fixtures
# `api` (MockSlackAPI) and `sock` (its Socket Mode server) come from tests.slack_app_fixtures.
@pytest.fixture
def client(api: MockSlackAPI) -> WebClient:
    return WebClient(token=api.bot_token, base_url=api.base_url, timeout=2)


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw GET without following redirects, to see exactly what the mock answered."""
    parts = urlsplit(url)
    conn = HTTPConnection(parts.netloc, timeout=2)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", parts.path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------- Web API mock
def test_post_message_returns_unique_increasing_ts(api: MockSlackAPI, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="hello")
    second = client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])

    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["text"] == "hello"
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]
    calls = api.calls_to("chat.postMessage")
    assert [c.params["text"] for c in calls] == ["hello", "again"]
    assert calls[0].token == api.bot_token
    assert calls[0].headers["Content-Type"].startswith("application/json")


def test_params_merge_query_form_and_json(api: MockSlackAPI, client: WebClient) -> None:
    client.conversations_info(channel="C9")  # form-encoded
    req = urllib.request.Request(
        api.base_url + "users.info?user=U7",
        data=b"include_locale=true",
        headers={"Authorization": f"Bearer {api.bot_token}"},
    )
    with urllib.request.urlopen(req, timeout=2) as resp:
        user = json.loads(resp.read())["user"]

    assert api.calls_to("conversations.info")[0].params == {"channel": "C9"}
    assert api.calls_to("users.info")[0].params == {"user": "U7", "include_locale": "true"}
    assert user["id"] == "U7"


def test_blocks_sent_by_form_method_decode_with_json_field(api: MockSlackAPI) -> None:
    blocks = [{"type": "divider"}]
    WebClient(token=api.bot_token, base_url=api.base_url).api_call(
        "chat.postMessage", params={"channel": "C1", "text": "t", "blocks": json.dumps(blocks)}
    )
    assert json_field(api.calls_to("chat.postMessage")[0].params["blocks"]) == blocks


def test_auth_test_and_bad_tokens(api: MockSlackAPI, client: WebClient) -> None:
    assert api.env()["OPSBOT_SLACK_API_URL"] == api.base_url
    me = client.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("U0BOT", "B0BOT", "T1")

    for token in ("xoxb-wrong", None):
        with pytest.raises(SlackApiError) as err:
            WebClient(token=token, base_url=api.base_url).auth_test()
        assert err.value.response["error"] == "invalid_auth"


def test_rate_limit_is_retried_after_retry_after(
    api: MockSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []  # record instead of sleeping: fast, and proves Retry-After was read
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    api.fail_next("chat.postMessage", status=429, retry_after=7)
    retrying = WebClient(
        token=api.bot_token,
        base_url=api.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )

    resp = retrying.chat_postMessage(channel="C1", text="hi")

    assert resp["ok"]
    assert [c.status for c in api.calls_to("chat.postMessage")] == [429, 200]
    assert len(sleeps) == 1 and 7 <= sleeps[0] < 8


def test_rate_limit_without_handler_surfaces_429(api: MockSlackAPI, client: WebClient) -> None:
    api.fail_next("chat.postMessage", status=429, retry_after=30)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "30"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]  # the fault was used up


def test_server_error_answered_and_retryable(api: MockSlackAPI) -> None:
    api.fail_next("chat.update", status=500, times=2)
    plain = WebClient(token=api.bot_token, base_url=api.base_url)
    posted = plain.chat_postMessage(channel="C1", text="v1")
    with pytest.raises(SlackApiError) as err:
        plain.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert err.value.response.status_code == 500

    retrying = WebClient(
        token=api.bot_token,
        base_url=api.base_url,
        retry_handlers=[ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0))],
    )
    assert retrying.chat_update(channel="C1", ts=posted["ts"], text="v2")["text"] == "v2"
    assert [c.status for c in api.calls_to("chat.update")] == [500, 500, 200]


def test_error_next_gives_ok_false(api: MockSlackAPI, client: WebClient) -> None:
    api.error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C404", text="hi")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "channel_not_found"


def test_delay_next_makes_client_time_out(api: MockSlackAPI) -> None:
    api.delay_next("chat.postMessage", 5)
    impatient = WebClient(token=api.bot_token, base_url=api.base_url, timeout=0.2)
    started = time.monotonic()
    with pytest.raises((TimeoutError, OSError)):
        impatient.chat_postMessage(channel="C1", text="hi")
    assert time.monotonic() - started < 1.5
    # stop() (fixture teardown) cuts the server-side sleep short instead of waiting 5 s


def test_update_ephemeral_permalink_and_custom_responses(
    api: MockSlackAPI, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C1", text="v1")
    client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert api.messages[posted["ts"]]["text"] == "v2"
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel="C1", ts="1.2", text="x")

    assert client.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C1/p" + posted["ts"].replace(".", ""))

    api.add_channel("C1", name="ops-alerts")
    assert client.conversations_info(channel="C1")["channel"]["name"] == "ops-alerts"
    api.respond_with("conversations.history", {"messages": [{"ts": "1.1", "text": "x"}]})
    assert client.conversations_history(channel="C1")["messages"][0]["text"] == "x"
    assert client.api_call("reactions.add", params={"name": "eyes"})["ok"]  # generic ok

    api.reset()
    assert api.calls == [] and api.messages == {}


def test_file_download_needs_valid_bot_token(api: MockSlackAPI, client: WebClient) -> None:
    content = b"PK\x03\x04 fake xlsx"
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    api.add_file("F1", "orders 1.xlsx", content, "xlsx", mime)

    info = client.files_info(file="F1")["file"]
    assert info["size"] == len(content)
    for url in (info["url_private"], info["url_private_download"]):
        status, headers, body = _get(url, api.bot_token)
        assert (status, body, headers["Content-Type"]) == (200, content, mime)

    for bad in (None, "xoxb-wrong", api.app_token):
        status, headers, body = _get(info["url_private_download"], bad)
        assert status == 302 and "/signin" in headers["Location"] and body == b""
    # a redirect-following client ends up with HTML, exactly like real Slack
    with urllib.request.urlopen(info["url_private"], timeout=2) as resp:
        assert resp.headers.get_content_type() == "text/html"

    assert [d.status for d in api.downloads] == [200, 200, 302, 302, 302, 302]
    assert api.calls_to(DOWNLOAD) == api.downloads
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_info(file="F404")


def test_files_upload_v2_roundtrip(api: MockSlackAPI, client: WebClient) -> None:
    resp = client.files_upload_v2(channel="C1", filename="report.csv", content="a,b\n1,2\n")

    file = resp["file"]
    assert file["name"] == "report.csv" and file["channels"] == ["C1"]
    assert _get(file["url_private_download"], api.bot_token)[2] == b"a,b\n1,2\n"


def test_response_url_posts_are_recorded(api: MockSlackAPI) -> None:
    url = api.response_url("cmd-1")
    resp = WebhookClient(url).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200
    (call,) = api.calls_to(RESPONSE_URL)
    assert call.params == {"text": "done", "response_type": "ephemeral"}


# ---------------------------------------------------------------------------- Socket Mode
def test_builtin_socket_mode_client_roundtrip(
    api: MockSlackAPI, sock: MockSocketModeServer
) -> None:
    client = SocketModeClient(
        app_token=api.app_token,
        web_client=WebClient(token=api.bot_token, base_url=api.base_url),
        auto_reconnect_enabled=False,
    )
    seen: list[SocketModeRequest] = []

    def on_request(c: SocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(on_request)
    try:
        client.connect()
        sock.wait_for_connection()
        event = {"type": "app_mention", "user": "U1", "text": "<@U0BOT> hi", "channel": "C1"}
        envelope_id = sock.send_envelope("events_api", event_payload(event, "Ev1"))

        ack = sock.wait_for_ack(envelope_id, timeout=1.5)
    finally:
        close_socket_client(client)

    assert ack == {"envelope_id": envelope_id}
    assert seen[0].type == "events_api" and seen[0].payload["event"]["text"] == "<@U0BOT> hi"
    (open_call,) = api.calls_to("apps.connections.open")
    assert open_call.token == api.app_token
    assert sock.connection_paths[0].startswith("/link/?ticket=")
    assert sock.sent[0]["type"] == "hello"


def test_connections_open_rejects_bot_token(api: MockSlackAPI, sock: MockSocketModeServer) -> None:
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(base_url=api.base_url).apps_connections_open(app_token=api.bot_token)


def test_bolt_socket_mode_handler_acks_with_payload_and_posts(
    api: MockSlackAPI, sock: MockSocketModeServer
) -> None:
    app = App(client=WebClient(token=api.bot_token, base_url=api.base_url))
    posted = threading.Event()

    @app.command("/opsbot")
    def status(ack, say, command) -> None:  # type: ignore[no-untyped-def]
        ack(f"working on {command['text']}")
        say("status: all good")
        posted.set()

    handler = SocketModeHandler(app, app_token=api.app_token)
    try:
        handler.connect()
        envelope_id = sock.send_envelope("slash_commands", slash_command_payload("/opsbot", "x"))
        ack = sock.wait_for_ack(envelope_id, timeout=1.5)
        assert posted.wait(1.5)
    finally:
        close_socket_client(handler.client)

    assert ack["payload"]["text"] == "working on x"
    (post,) = api.calls_to("chat.postMessage")
    assert (post.params["channel"], post.params["text"]) == ("C1", "status: all good")


# ---------------------------------------------------------------------------- signing
def test_signed_headers_agree_with_sdk_verifier() -> None:
    body = slash_command_body("/opsbot", "report today", "C1", "U1", "T1")
    headers = signed_headers(body, SECRET)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert verifier.is_valid_request(body.encode(), signed_headers(body.encode(), SECRET))
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "&x=1", headers)
    stale = signed_headers(body, SECRET, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    ts = 1_700_000_000
    assert signature(body, SECRET, ts) == verifier.generate_signature(timestamp=str(ts), body=body)


def test_bolt_http_dispatch_accepts_signed_bodies(api: MockSlackAPI) -> None:
    app = App(signing_secret=SECRET, client=WebClient(token=api.bot_token, base_url=api.base_url))
    app.command("/opsbot")(lambda ack: ack("ok"))
    app.event("app_mention")(lambda: None)
    app.action("approve")(lambda ack: ack())

    bodies = [
        slash_command_body("/opsbot", "status", response_url=api.response_url()),
        event_body({"type": "app_mention", "text": "<@U0BOT> hi", "user": "U1"}, "Ev9"),
        block_action_body("approve", value="sku-1"),
    ]
    for body in bodies:
        resp = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SECRET)))
        assert resp.status == 200, (body, resp.body)

    forged = app.dispatch(BoltRequest(body=bodies[0], headers=signed_headers(bodies[0], "bad")))
    assert forged.status == 401


# ---------------------------------------------------------------------------- limits
def _section(text: str, **extra: object) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def test_limits_accept_a_normal_message() -> None:
    assert_within_slack_limits(
        {
            "text": "Daily report",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Daily report"}},
                _section("*Orders:* 12", block_id="orders"),
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "updated 09:00"}]},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Approve"},
                            "action_id": "approve",
                            "value": "sku-1",
                        }
                    ],
                },
            ],
        }
    )


def test_limits_reject_51_blocks() -> None:
    message = {"text": "t", "blocks": [{"type": "divider"}] * 51}
    with pytest.raises(AssertionError, match=r"blocks: 51 blocks \(limit 50\)"):
        assert_within_slack_limits(message)
    assert slack_limit_violations({**message, "blocks": json.dumps(message["blocks"][:50])}) == []


def test_limits_reject_long_section_and_name_the_block() -> None:
    message = {"text": "t", "blocks": [{"type": "divider"}, _section("x" * 3001, block_id="sku")]}
    with pytest.raises(AssertionError) as err:
        assert_within_slack_limits(message)
    assert "blocks[1] (section, block_id='sku'): section text is 3001 chars (limit 3000)" in str(
        err.value
    )


def test_limits_report_every_violation() -> None:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "b" * 76},
        "action_id": "a" * 256,
        "value": "v" * 2001,
    }
    problems = slack_limit_violations(
        {
            "text": "",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}] * 11},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
                {"type": "actions", "elements": [button]},
            ],
        }
    )
    expected = [
        "text: fallback text is missing",
        "header text is 151 chars (limit 150)",
        "11 section fields (limit 10)",
        "section field[0] is 2001 chars (limit 2000)",
        "11 context elements (limit 10)",
        "button text is 76 chars (limit 75)",
        "action_id is 256 chars (limit 255)",
        "button value is 2001 chars (limit 2000)",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert any(p.startswith("blocks[3] (actions) element[0] (button)") for p in problems)
    assert slack_limit_violations({"text": "x" * 40_001})[0].startswith("text: fallback text is")


def test_mentions_are_caught_unless_allowed() -> None:
    message = {
        "text": "Alert for <@U0OWNER>",
        "blocks": [
            _section("shop note: <!here|here> and <!channel>"),
            {"type": "context", "elements": [{"type": "plain_text", "text": "<@U9>"}]},
        ],
    }
    with pytest.raises(AssertionError) as err:
        assert_no_mentions(message, allow=("<@U0OWNER>",))
    text = str(err.value)
    assert "blocks[0].text: active mention '<!here|here>'" in text
    assert "'<!channel>'" in text and "blocks[1].elements[0]: active mention '<@U9>'" in text
    assert "U0OWNER" not in text

    assert_no_mentions({"text": "Alert for <@U0OWNER>"}, allow=("<@U0OWNER>",))
    assert_no_mentions({"text": slack_escape("buyer wrote <!channel> & <@U1>")})


def test_data_escaping_is_checked() -> None:
    product = "Cable <USB-C> & adapter"
    assert_data_escaped({"text": f"New order: {slack_escape(product)}"}, product)
    with pytest.raises(AssertionError, match="is not escaped"):
        assert_data_escaped({"text": "x", "blocks": [_section(f"New order: {product}")]}, product)
