"""Build Slack HTTP request bodies and sign them like Slack does, for HTTP-mode tests.

Why: bolt rejects unsigned or stale requests, so tests that drive ``App.dispatch`` /
``SlackRequestHandler`` need real v0 signatures. The scheme is implemented here on purpose
(not via slack_sdk) so that the harness test can check it against ``SignatureVerifier``.

    body = slash_command_body("/opsbot", "status", response_url=api.response_url())
    resp = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, secret)))

The ``*_payload`` functions return the inner dicts, which are also what Socket Mode envelopes
carry: ``sock.send_envelope("slash_commands", slash_command_payload("/opsbot", "status"))``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

JsonDict = dict[str, Any]

DEFAULT_TRIGGER_ID = "13345224609.738474920.8088930838d88f008e0"
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated field Slack still sends


def signature(body: bytes | str, secret: str, timestamp: int) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed by the signing secret."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with a request: timestamp, signature and content type.

    ``timestamp`` defaults to now; pass an old one (> 5 minutes) to test replay rejection.
    Content type is JSON for bodies starting with ``{`` (Events API), form-encoded otherwise.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    is_json = text.lstrip().startswith("{")
    return {
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }


def slash_command_payload(
    command: str,
    text: str = "",
    channel_id: str = "C1",
    user_id: str = "U1",
    team_id: str = "T1",
    response_url: str | None = None,
    trigger_id: str = DEFAULT_TRIGGER_ID,
    **extra: str,
) -> dict[str, str]:
    """The fields of a slash command request (all strings, as Slack sends them)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "opsbot-test",
        "channel_id": channel_id,
        "channel_name": "ops",
        "user_id": user_id,
        "user_name": f"user-{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url or f"https://hooks.slack.com/commands/{team_id}/1/x",
        "trigger_id": trigger_id,
        **extra,
    }


def slash_command_body(*args: Any, **kwargs: Any) -> str:
    """Form-encoded slash command body, as POSTed by Slack (arguments as for the payload)."""
    return urlencode(slash_command_payload(*args, **kwargs))


def event_payload(
    event: JsonDict,
    event_id: str = "Ev0TEST",
    team_id: str = "T1",
    api_app_id: str = "A1",
    event_time: int = 1700000000,
    bot_user_id: str = "U0BOT",
) -> JsonDict:
    """An ``event_callback`` wrapper around ``event`` (a ``message``, ``app_mention``, ...)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event_id}",
    }


def event_body(*args: Any, **kwargs: Any) -> str:
    """Events API JSON body (``event_callback``; arguments as for :func:`event_payload`)."""
    return json.dumps(event_payload(*args, **kwargs))


def url_verification_body(challenge: str = "challenge-token") -> str:
    """The one-off ``url_verification`` request Slack sends when the Request URL is set."""
    return json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def block_action_payload(
    action_id: str,
    value: str | None = None,
    block_id: str = "b1",
    user_id: str = "U1",
    channel_id: str = "C1",
    team_id: str = "T1",
    message: JsonDict | None = None,
    response_url: str | None = None,
    trigger_id: str = DEFAULT_TRIGGER_ID,
    action_type: str = "button",
    text: str = "Click",
) -> JsonDict:
    """A ``block_actions`` payload for one button click (or other ``action_type``)."""
    message = message or {"type": "message", "ts": "1700000000.000100", "text": "fallback"}
    action: JsonDict = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": "1700000001.000200",
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": text, "emoji": True}
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": f"user-{user_id.lower()}", "team_id": team_id},
        "api_app_id": "A1",
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "opsbot-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "ops"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url or f"https://hooks.slack.com/actions/{team_id}/1/x",
        "actions": [action],
    }


def block_action_body(*args: Any, **kwargs: Any) -> str:
    """Form-encoded ``payload=<json>`` body, as Slack POSTs interactivity requests
    (arguments as for :func:`block_action_payload`)."""
    return urlencode({"payload": json.dumps(block_action_payload(*args, **kwargs))})
