"""Recorded checklists, for every kind: created once per store, kind and local day, loaded
with their ticks, ticked.

    create(conn, store, kind, now, day=None) -> id|None  # builds and records it once
    load(conn, checklist_id) -> dict          # the recorded checklist with its current ticks
    tick(conn, checklist_id, item_key, user_id, done, now) -> dict
    public(checklist) -> dict                 # with each item's English `stale` note, for --json

Exactly once: the (store_id, kind, day) unique key decides which of two racing workers
records a checklist; the loser's insert fails inside a savepoint, so the caller's transaction
goes on, and it gets None.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.checklists.registry import CHECKLISTS
from bot.metrics.freshness import LABELS
from bot.models import checklist_ticks, checklists, stores
from bot.periods import as_utc, local_time, local_today
from bot.stores import Store


class ChecklistError(LookupError):
    """No such checklist or item."""


def create(conn: Connection, store: Store, kind: str, now: datetime, day: date | None = None
           ) -> int | None:
    """Record the `kind` checklist of local `day` (default: the store's today; a checklist
    caught up after midnight is the day before's) and return its id; None when the store
    already has one for that day (also when another worker records it at the same moment)."""
    today = day or local_today(now, store.tz)
    exists = find(conn, store, kind, today)
    if exists is not None:
        return None
    data = CHECKLISTS[kind].build(conn, store, now, today)
    try:
        with conn.begin_nested():
            return conn.execute(
                insert(checklists).values(store_id=store.id, kind=kind, day=today, data=data,
                                          created_at=as_utc(now))
                .returning(checklists.c.id)
            ).scalar_one()
    except IntegrityError:
        return None


def load(conn: Connection, checklist_id: int) -> dict[str, Any]:
    """The recorded checklist with its current ticks merged in, and its store's language;
    ChecklistError if none."""
    row = conn.execute(
        select(checklists, stores.c.timezone, stores.c.language)
        .join(stores, stores.c.id == checklists.c.store_id)
        .where(checklists.c.id == checklist_id)
    ).first()
    if row is None:
        raise ChecklistError(f"no checklist with id {checklist_id}")
    data = dict(row.data)
    ticks = {t.item_key: t for t in conn.execute(
        select(checklist_ticks).where(checklist_ticks.c.checklist_id == checklist_id))}
    items = []
    for item in data["items"]:
        item = dict(item)
        t = ticks.get(item["key"])
        done = bool(t and t.done)
        item.update(done=done, done_by=t.user_id if done else None,
                    done_at=t.ticked_at.isoformat() if done else None,
                    done_time=(local_time(t.ticked_at, ZoneInfo(row.timezone)).strftime("%H:%M")
                               if done else None))
        items.append(item)
    return {**data, "id": row.id, "kind": row.kind, "language": row.language, "items": items}


def stale_note(staleness: list[dict[str, Any]]) -> str | None:
    """An item's `staleness` as an English note for JSON readers: "no P4P report since
    2026-11-12", "no order, inquiry or CRM list yet" (several lists without any data);
    messages word `staleness` in the store's language instead."""
    if len(staleness) > 1 and all(e["since"] is None for e in staleness):
        names = [LABELS[e["kind"]].removesuffix(" list") for e in staleness]
        return f"no {', '.join(names[:-1])} or {names[-1]} list yet"
    notes = [f"no {LABELS[e['kind']]} " + (f"since {e['since']}" if e["since"] else "yet")
             + (f" (inquiries from the {LABELS[e['inquiries_from']]})"
                if e.get("inquiries_from") else "")
             for e in staleness]
    return ", ".join(notes) or None


def public(checklist: dict[str, Any]) -> dict[str, Any]:
    """The checklist as `--json` shows it: each item with its `stale` note (stale_note); the
    items a list (the daily checklist) or, for a kind with `keyed_items` (the reviews), an
    object keyed by item key in the message's order."""
    items = [{**item, "stale": stale_note(item["staleness"])} for item in checklist["items"]]
    kind = CHECKLISTS.get(checklist.get("kind", "daily"))
    if kind is not None and kind.keyed_items:
        return {**checklist, "items": {item.pop("key"): item for item in items}}
    return {**checklist, "items": items}


def tick(conn: Connection, checklist_id: int, item_key: str, user_id: str, done: bool,
         now: datetime) -> dict[str, Any]:
    """Record that `user_id` ticked (or unticked) an item at `now`; returns load()."""
    kind = conn.scalar(select(checklists.c.kind).where(checklists.c.id == checklist_id))
    if kind is None:
        raise ChecklistError(f"no checklist with id {checklist_id}")
    items = CHECKLISTS[kind].items
    if item_key not in items:
        raise ChecklistError(f"no checklist item {item_key!r}: one of {', '.join(items)}")
    values = {"done": done, "user_id": user_id, "ticked_at": as_utc(now)}
    where = (checklist_ticks.c.checklist_id == checklist_id,
             checklist_ticks.c.item_key == item_key)
    if conn.execute(update(checklist_ticks).where(*where).values(**values)).rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(checklist_ticks).values(
                    checklist_id=checklist_id, item_key=item_key, **values))
        except IntegrityError:  # a concurrent first tick of the same item: last one wins
            conn.execute(update(checklist_ticks).where(*where).values(**values))
    return load(conn, checklist_id)


def find(conn: Connection, store: Store, kind: str, day: date) -> int | None:
    """The id of the store's `kind` checklist of local `day`, if recorded."""
    return conn.scalar(select(checklists.c.id).where(
        checklists.c.store_id == store.id, checklists.c.kind == kind, checklists.c.day == day))


def store_id_of(conn: Connection, checklist_id: int) -> int | None:
    """The store a checklist belongs to (None: no such checklist)."""
    return conn.scalar(select(checklists.c.store_id).where(checklists.c.id == checklist_id))
