"""Checklist checkboxes: a tick records who and when, and the message updates for everyone,
in every channel the checklist was posted to: the edits are queued in the outbox
(jobs/checklist_messages.redraw, in the tick's transaction) and sent at once with this
client; one that cannot go now is sent by the worker.

Each item's section carries its own `checkboxes` accessory (action_id `checklist_tick`) with
one option whose value is "{checklist_id}:{item_key}". Slack sends the element's whole
selected set, so an option offered by the element but not selected is an untick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy import Engine

from bot import audit
from bot.checklists.records import ChecklistError, store_id_of, tick
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import write
from handlers.workspace import may_act
from jobs import checklist_messages
from jobs.delivery import deliver_rows

log = logging.getLogger(__name__)

ACTION_ID = "checklist_tick"


def _parse(value: str) -> tuple[int, str] | None:
    checklist_id, sep, key = value.partition(":")
    if not sep or not checklist_id.isdigit() or not key:
        return None
    return int(checklist_id), key


def _offered(body: dict[str, Any], action: dict[str, Any]) -> set[str]:
    """The option values of the element that was clicked, from the message Slack sent."""
    for block in (body.get("message") or {}).get("blocks") or []:
        if block.get("block_id") == action.get("block_id"):
            accessory = block.get("accessory") or {}
            return {o["value"] for o in accessory.get("options") or [] if "value" in o}
    # No message in the payload: the block_id ("checklist:{id}:{key}") names the item.
    prefix, _, value = str(action.get("block_id") or "").partition(":")
    return {value} if prefix == "checklist" and value else set()


def changes(body: dict[str, Any]) -> list[tuple[int, str, bool]]:
    """(checklist_id, item_key, done) for every checkbox option in a block_actions payload."""
    out: list[tuple[int, str, bool]] = []
    for action in body.get("actions") or []:
        if action.get("action_id") != ACTION_ID:
            continue
        selected = {o.get("value") for o in action.get("selected_options") or []}
        for value in sorted(_offered(body, action) | {v for v in selected if v}):
            parsed = _parse(value)
            if parsed:
                out.append((*parsed, value in selected))
    return out


def apply_ticks(engine: Engine, body: dict[str, Any], client: Any) -> None:
    """Record the ticks of one click, then update every copy of the checklist in place."""
    user = (body.get("user") or {}).get("id") or "unknown"
    todo = changes(body)
    if not todo:
        return
    now = utcnow()
    try:
        with write(engine) as conn:
            owners = {c: store_id_of(conn, c) for c, _, _ in todo}
            if not all(may_act(conn, s, body) for s in owners.values()):
                log.warning("checklist tick by %s refused: not this workspace's store", user)
                return
            for checklist_id, key, done in todo:
                tick(conn, checklist_id, key, user, done, now)
                audit.record(conn, owners[checklist_id] or 0, user, audit.CHECKLIST_TICK,
                             {"checklist": checklist_id, "item": key, "done": done}, at=now)
            edits: list[int] = []
            for checklist_id in sorted({c for c, _, _ in todo}):  # one redraw per checklist
                edits += checklist_messages.redraw(conn, checklist_id, now,
                                                   f"{now.isoformat()}-{user}")
    except ChecklistError as exc:  # e.g. a preview message, never recorded
        log.warning("checklist tick by %s ignored: %s", user, exc)
        return
    result = deliver_rows(engine, client, edits, now)
    for error in result.errors:  # recorded anyway; the worker retries the edit
        log.warning("could not update checklist message: %s", error)


def make_listener(engine: Engine) -> Callable[..., None]:
    def on_checklist_tick(ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()  # first: Slack wants an answer within 3 s
        apply_ticks(engine, body, client)

    return on_checklist_tick


def register(app: App, engine: Engine, settings: Settings) -> None:
    app.action(ACTION_ID)(make_listener(engine))
