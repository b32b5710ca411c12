"""What the team did about a customer (docs/customers.md, "What the team records"): Contacted,
Snooze (with a reason), Not a lead, and Restore, each recorded with who and when in
`customer_marks`, and applied to the customer's row of the index (`customer_index`: its
last contact, `not_lead`, `snoozed_until`) in the same transaction, where
bot/metrics/customers.py reads them; a rebuild of the index applies them again (`states`).

Exactly once: a mark's unique `dedupe_key` names the store, the customer, the mark and where
it came from (`origin`: the drawn Slack message its button was on, or the CLI call's moment),
so a double click, or Slack delivering a click twice, records one mark.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.ingest.parsing import fold
from bot.models import customer_index, customer_marks
from bot.periods import as_utc
from bot.stores import Store

MARKS = ("contacted", "snooze", "not_lead", "restore")
SNOOZE_DAYS = 7
MAX_SNOOZE_DAYS = 365
REASONS = ("later", "holiday", "samples", "other")  # the snooze reasons the buttons offer
MAX_REASON = 200
MAX_MATCHES = 5  # candidates named when a name fits several customers

ix = customer_index


class MarkError(ValueError):
    """The customer or the mark cannot be recorded as asked; the message says why."""


def _customer(row: Any) -> dict[str, Any]:
    return {"key": row.key, "name": row.name or row.company, "company": row.company,
            "country": row.country, "owner": row.owner}


def find(conn: Connection, store: Store, text: str) -> list[dict[str, Any]]:
    """The customers `text` names: its key, else its name or company (case- and
    space-insensitive); several when the name is not unique."""
    text = text.strip()
    if not text:
        return []
    folded = fold(text)
    columns = (ix.c.key, ix.c.name, ix.c.company, ix.c.country, ix.c.owner)
    rows = conn.execute(select(*columns).where(ix.c.store_id == store.id,
                                               ix.c.key == text.lower())).all()
    if not rows:
        rows = conn.execute(
            select(*columns).where(ix.c.store_id == store.id,
                                   or_(ix.c.name_key == folded,
                                       func.lower(ix.c.company) == folded))
            .order_by(ix.c.key).limit(MAX_MATCHES + 1)).all()
    return [_customer(r) for r in rows]


def record(conn: Connection, store: Store, key: str, mark: str, user_id: str, now: datetime,
           *, origin: str, days: int | None = None, reason: str | None = None
           ) -> dict[str, Any]:
    """Record `mark` on customer `key` by `user_id` at `now`, once per `origin`; returns
    {"mark", "key", "user_id", "marked_at", "until", "reason", "recorded"} (`recorded`
    False: the same mark from the same origin was there already, nothing changed)."""
    if mark not in MARKS:
        raise MarkError(f"no mark {mark!r}: one of {', '.join(MARKS)}")
    if conn.scalar(select(ix.c.key).where(ix.c.store_id == store.id, ix.c.key == key)) is None:
        raise MarkError(f"no customer with key {key}")
    now = as_utc(now)
    until = None
    if mark == "snooze":
        days = SNOOZE_DAYS if days is None else days
        if not 1 <= days <= MAX_SNOOZE_DAYS:
            raise MarkError(f"a snooze lasts 1 to {MAX_SNOOZE_DAYS} days")
        until = now + timedelta(days=days)
        reason = (reason or "").strip()[:MAX_REASON] or None
    else:
        reason = None
    values = {"store_id": store.id, "customer_key": key, "mark": mark, "user_id": user_id,
              "marked_at": now, "until": until, "reason": reason,
              "dedupe_key": f"{store.id}:{key}:{mark}:{origin}"[:200]}
    recorded = _insert_once(conn, values)
    if recorded:
        _apply(conn, store, key, mark, now, until)
    else:
        values = dict(conn.execute(select(customer_marks).where(
            customer_marks.c.dedupe_key == values["dedupe_key"])).one()._mapping)
    return {"mark": mark, "key": key, "user_id": values["user_id"],
            "marked_at": values["marked_at"].isoformat(),
            "until": values["until"].isoformat() if values["until"] else None,
            "reason": values["reason"], "recorded": recorded}


def _apply(conn: Connection, store: Store, key: str, mark: str, at: datetime,
           until: datetime | None) -> None:
    """The mark's effect on the customer's index row (the rules `states` rebuilds it by)."""
    row = (ix.c.store_id == store.id) & (ix.c.key == key)
    if mark == "contacted":
        later = case((or_(ix.c.last_contact_at.is_(None), ix.c.last_contact_at < at), at),
                     else_=ix.c.last_contact_at)
        conn.execute(update(ix).where(row).values(last_contact_at=later))
    elif mark == "not_lead":
        conn.execute(update(ix).where(row).values(not_lead=True))
    elif mark == "snooze":  # a snooze lasts until the latest end any snooze set
        longer = case((or_(ix.c.snoozed_until.is_(None), ix.c.snoozed_until < until), until),
                      else_=ix.c.snoozed_until)
        conn.execute(update(ix).where(row).values(snoozed_until=longer))
    else:  # restore: back on every list
        conn.execute(update(ix).where(row).values(not_lead=False, snoozed_until=None))


def states(conn: Connection, store: Store) -> dict[str, dict[str, Any]]:
    """Every marked customer's state as its marks leave it, by key: {"contacted_at",
    "not_lead", "snoozed_until"} (for a rebuild of the index)."""
    m = customer_marks.c
    found: dict[str, dict[str, Any]] = {}
    rows = conn.execute(select(m.customer_key, m.mark, m.marked_at, m.until)
                        .where(m.store_id == store.id).order_by(m.marked_at, m.id)).all()
    for key, mark, at, until in rows:
        state = found.setdefault(key, {"contacted_at": None, "not_lead": False,
                                       "snoozed_until": None})
        if mark == "contacted":
            state["contacted_at"] = at
        elif mark == "not_lead":
            state["not_lead"] = True
        elif mark == "snooze" and (state["snoozed_until"] is None
                                   or until > state["snoozed_until"]):
            state["snoozed_until"] = until
        elif mark == "restore":
            state.update(not_lead=False, snoozed_until=None)
    return found


def _insert_once(conn: Connection, values: dict[str, Any]) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(dialect.insert(customer_marks).values(**values)
                            .on_conflict_do_nothing(index_elements=["dedupe_key"])
                            .returning(customer_marks.c.id)).scalar()
    return inserted is not None


def recent(conn: Connection, store: Store, since: datetime, limit: int = 5
           ) -> list[dict[str, Any]]:
    """The store's latest marks made after `since`, newest first, with the customer's name:
    [{"key", "name", "mark", "user_id", "marked_at", "until", "reason"}]."""
    m = customer_marks.c
    rows = conn.execute(
        select(m.customer_key, ix.c.name, ix.c.company, m.mark, m.user_id, m.marked_at, m.until,
               m.reason)
        .select_from(customer_marks.outerjoin(ix, (ix.c.store_id == m.store_id)
                                              & (ix.c.key == m.customer_key)))
        .where(m.store_id == store.id, m.marked_at > as_utc(since))
        .order_by(m.marked_at.desc(), m.id.desc()).limit(limit))
    return [{"key": r.customer_key, "name": r.name or r.company, "mark": r.mark,
             "user_id": r.user_id, "marked_at": r.marked_at.isoformat(),
             "until": r.until.isoformat() if r.until else None, "reason": r.reason}
            for r in rows]


def hidden(conn: Connection, store: Store, key: str, now: datetime) -> dict[str, Any]:
    """Whether the customer is off the lists as of `now`: {"not_lead": bool, "snoozed_until":
    ISO moment or None}."""
    row = conn.execute(select(ix.c.not_lead, ix.c.snoozed_until).where(
        ix.c.store_id == store.id, ix.c.key == key)).one()
    until = row.snoozed_until
    return {"not_lead": bool(row.not_lead),
            "snoozed_until": until.isoformat() if until and until > as_utc(now) else None}
