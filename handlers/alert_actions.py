"""The alert message's buttons: acknowledge and snooze (1 day).

Both ack Slack at once (3-second rule), record who and when (bot/alerts.py), then redraw the
message they were clicked on with chat.update, so everyone in the channel sees the state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot import alerts
from bot.config import Settings
from bot.storage import write
from bot.stores import utcnow
from templates import render

log = logging.getLogger(__name__)

ACK = "alert_ack"
SNOOZE = "alert_snooze"


def handle(engine: Engine, verb: str, body: dict[str, Any], action: dict[str, Any],
           client: WebClient, now: datetime | None = None) -> dict[str, Any] | None:
    """Record the click (at `now`, default the current time) and redraw the message;
    returns the alert's new context, or None for an unknown alert."""
    try:
        alert_id = int(action.get("value") or "")
    except ValueError:
        return None
    user = (body.get("user") or {}).get("id") or "unknown"
    record: Callable[..., dict[str, Any] | None] = (
        alerts.acknowledge if verb == ACK else alerts.snooze)
    with write(engine) as conn:
        context = record(conn, alert_id, user, now or utcnow())
    if context is None:
        return None
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get(
        "message_ts")
    if channel and ts:
        message = render("alert.json.j2", alert=context)
        try:
            client.chat_update(channel=channel, ts=ts, text=message["text"],
                               blocks=message["blocks"])
        except SlackApiError as exc:  # recorded anyway; the message redraws at the next edit
            log.warning("could not update alert message %s/%s: %s", channel, ts, exc)
    return context


def _listener(engine: Engine, verb: str) -> Callable[..., None]:
    # Bolt injects arguments by parameter name, so the verb is bound by closure, not default.
    def listener(ack: Callable[[], None], body: dict[str, Any], action: dict[str, Any],
                 client: WebClient) -> None:
        ack()
        handle(engine, verb, body, action, client)

    return listener


def register(app: App, engine: Engine, settings: Settings) -> None:
    for verb in (ACK, SNOOZE):
        app.action(verb)(_listener(engine, verb))
