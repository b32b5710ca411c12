"""The alert message's buttons: acknowledge and snooze (1 day).

Both ack Slack at once (3-second rule), record who and when (bot/alerts/incidents.py), then redraw
every copy of the alert - each channel's post, and the older posts an escalation superseded -
so everyone everywhere sees the state: the edits are queued in the outbox
(jobs/alert_messages.redraw, in the click's transaction) and sent at once with this client;
an edit that cannot go now (Slack down, a post not delivered yet) is sent by the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot import audit
from bot.alerts import incidents as alerts
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import write
from handlers.workspace import may_act
from jobs import alert_messages
from jobs.delivery import deliver_rows

log = logging.getLogger(__name__)

ACK = "alert_ack"
SNOOZE = "alert_snooze"
AUDITED = {ACK: audit.ALERT_ACK, SNOOZE: audit.ALERT_SNOOZE}


def handle(engine: Engine, verb: str, body: dict[str, Any], action: dict[str, Any],
           client: WebClient, now: datetime | None = None) -> dict[str, Any] | None:
    """Record the click (at `now`, default the current time) and redraw every copy of the
    alert; returns the alert's new context, or None for an unknown alert."""
    try:
        alert_id = int(action.get("value") or "")
    except ValueError:
        return None
    user = (body.get("user") or {}).get("id") or "unknown"
    record: Callable[..., dict[str, Any] | None] = (
        alerts.acknowledge if verb == ACK else alerts.snooze)
    now = now or utcnow()
    with write(engine) as conn:
        store_id = alerts.store_id_of(conn, alert_id)
        if store_id is None or not may_act(conn, store_id, body):
            log.warning("alert click by %s refused: not this workspace's store", user)
            return None
        context = record(conn, alert_id, user, now)
        if context is None:
            return None
        detail: dict[str, Any] = {"alert": alert_id}
        if verb == SNOOZE and context.get("snoozed_until"):
            detail["until"] = str(context["snoozed_until"])
        audit.record(conn, store_id, user, AUDITED[verb], detail, at=now)
        edits = alert_messages.redraw(conn, alert_id, now, f"{verb}-{now.isoformat()}-{user}")
    result = deliver_rows(engine, client, edits, now)
    for error in result.errors:  # recorded anyway; the worker retries the edit
        log.warning("could not update alert message: %s", error)
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
