"""The alert's Slack messages: rendered from templates and queued in the outbox, in the same
transaction as the lifecycle change that called for them (bot/alerts.py decides, this
module only connects it to Slack).

* fired / worse -> one message per bound channel (dedupe key per alert, severity, channel);
* recovered -> a "back to normal" reply in the thread of each channel's latest alert message,
  and that message edited to show the alert resolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot import alerts, outbox
from bot.stores import Store
from templates import render


def queue(conn: Connection, store: Store, events: list[dict[str, Any]], now: datetime,
          channels: list[str]) -> None:
    """Queue the messages the events call for in the store's bound `channels`; each event's
    `messages` counts the posts queued (edits are not counted)."""
    for event in events:
        if event["event"] in ("fired", "worse"):
            event["messages"] = _announce(conn, store, event["alert_id"], now, channels)
        elif event["event"] == "recovered":
            event["messages"] = _recovered(conn, store, event["alert_id"], now, channels,
                                           event.pop("back"))


def _announce(conn: Connection, store: Store, alert_id: int, now: datetime,
              channels: list[str]) -> int:
    context = alerts.message_context(conn, alert_id, now)
    message = render("alert.json.j2", alert=context)
    for channel in channels:
        outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="alert",
                       subject=f"alert:{alert_id}",
                       dedupe_key=f"alert:{alert_id}:{context['severity']}:{channel}",
                       payload=message, now=now)
    return len(channels)


def _recovered(conn: Connection, store: Store, alert_id: int, now: datetime,
               channels: list[str], back: dict[str, Any]) -> int:
    context = alerts.message_context(conn, alert_id, now)
    reply = render("alert_recovered.json.j2", alert=context, back=back)
    edited = render("alert.json.j2", alert=context)
    sent = 0
    for channel in channels:
        parent = outbox.latest_for(conn, f"alert:{alert_id}", channel, "alert")
        if parent is None:
            continue  # the channel was bound after the alert: no thread to reply in
        outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="alert_recovered",
                       subject=f"alert:{alert_id}",
                       dedupe_key=f"alert:{alert_id}:recovered:{channel}", payload=reply,
                       now=now, thread_of=parent)
        outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="alert_update",
                       subject=f"alert:{alert_id}",
                       dedupe_key=f"alert:{alert_id}:resolved:{parent}", payload=edited,
                       now=now, update_of=parent)
        sent += 1
    return sent
