"""The /customers buttons: Contacted, Snooze (a menu of reasons: one click to open, one to
choose) and Not a lead.

Each acks Slack at once (3-second rule), records who and when (bot/metrics/customer_marks.py,
once per drawing of the message: a double click records one mark and redraws once), then
redraws the message:
the edit is queued in the outbox (jobs/customer_messages.redraw, in the click's transaction)
and sent at once with this client; one that cannot go now is sent by the worker. A list the
bot did not post itself (its post failed and the answer went through the response_url) is
redrawn through the click's response_url instead.

Values: a button's is "{customer key}|{drawing token}", a snooze option's
"{customer key}|{drawing token}|{reason code}".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App
from sqlalchemy import Engine

from bot.config import Settings
from bot.metrics import customer_marks
from bot.metrics.customer_marks import MarkError
from bot.metrics.customers import Query
from bot.periods import utcnow
from bot.storage import read, write
from bot.stores import get_store, store_for_channel
from handlers.workspace import team_of
from jobs import customer_messages
from jobs.delivery import deliver_rows

log = logging.getLogger(__name__)

CONTACTED = "customer_contacted"
SNOOZE = "customer_snooze"
NOT_LEAD = "customer_not_lead"
MARKS = {CONTACTED: "contacted", SNOOZE: "snooze", NOT_LEAD: "not_lead"}


def _parse(action: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(customer key, drawing token, snooze reason) from a click, or None."""
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    parts = value.split("|")
    if len(parts) not in (2, 3) or not all(parts):
        return None
    reason = parts[2] if len(parts) == 3 else None
    if reason is not None and reason not in customer_marks.REASONS:
        return None
    return parts[0], parts[1], reason


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return channel, ts


def handle(engine: Engine, action_id: str, body: dict[str, Any], action: dict[str, Any],
           client: Any, respond: Callable[..., Any] | None = None,
           now: datetime | None = None) -> dict[str, Any] | None:
    """Record the click (at `now`, default the current time) and redraw the message; the
    recorded mark, or None for a click that names no customer or store."""
    parsed = _parse(action)
    channel, ts = _where(body)
    if parsed is None or channel is None or ts is None:
        return None
    key, token, reason = parsed
    user = (body.get("user") or {}).get("id") or "unknown"
    now = now or utcnow()
    with read(engine) as conn:
        post = customer_messages.find_post(conn, channel, ts)
        store = get_store(conn, post.store_id) if post is not None else None
    store = store or store_for_channel(engine, channel, team_of(body))
    if store is None or not store.belongs_to(team_of(body)):
        log.warning("customer button by %s refused: not this workspace's store", user)
        return None
    edits: list[int] = []
    try:
        with write(engine) as conn:
            mark = customer_marks.record(conn, store, key, MARKS[action_id], user, now,
                                         origin=f"slack:{channel}:{ts}:{token}", reason=reason)
            if not mark["recorded"]:  # a double click: the first one redraws
                return mark
            if post is not None:
                edits = customer_messages.redraw(conn, store, post, now,
                                                 f"{now.isoformat()}-{user}")
            else:
                _, message = customer_messages.draw(conn, store, Query(), now, channel=channel)
    except MarkError as exc:  # e.g. a customer gone from the data since the list was drawn
        log.warning("customer button by %s ignored: %s", user, exc)
        return None
    if post is None:
        if respond is not None:
            respond(replace_original=True, **message)
        return mark
    result = deliver_rows(engine, client, edits, now)
    for error in result.errors:  # recorded anyway; the worker retries the edit
        log.warning("could not update the customers message: %s", error)
    return mark


def _listener(engine: Engine, action_id: str) -> Callable[..., None]:
    # Bolt injects arguments by parameter name, so the action is bound by closure.
    def listener(ack: Callable[[], None], body: dict[str, Any], action: dict[str, Any],
                 client: Any, respond: Callable[..., Any]) -> None:
        ack()
        handle(engine, action_id, body, action, client, respond)

    return listener


def register(app: App, engine: Engine, settings: Settings) -> None:
    for action_id in MARKS:
        app.action(action_id)(_listener(engine, action_id))
