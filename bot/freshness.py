"""How fresh each kind of data is, for the checklist's "no P4P report since …" notes.

Daily reports (traffic, P4P) carry their own dates: their freshness is the newest date in
the facts. Lists (inquiries, orders, fan posts, CRM) are snapshots: their freshness is the
local day of the newest ingested drop of that kind. Either is stale when older than
yesterday (the store's local yesterday), and missing when there is none at all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from bot.models import drops, facts
from bot.stores import Store

# What an operator calls each kind in a note.
LABELS = {
    "traffic": "traffic report",
    "p4p": "P4P report",
    "inquiries": "inquiry list",
    "orders": "order list",
    "posts": "fan-post list",
    "customers": "CRM list",
}
DATED = ("traffic", "p4p")  # kinds whose rows are per local date


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The local date of a naive-UTC moment."""
    return moment.replace(tzinfo=UTC).astimezone(tz).date()


def newest_day(conn: Connection, store: Store, kind: str) -> date | None:
    """The newest local day this store has data of `kind` for, or None when it has none."""
    if kind in DATED:
        table = facts[kind]
        return conn.scalar(select(func.max(table.c.date)).where(table.c.store_id == store.id))
    newest = conn.scalar(
        select(func.max(drops.c.created_at)).where(
            drops.c.store_id == store.id, drops.c.kind == kind, drops.c.status == "ingested"
        )
    )
    return local_day(newest, store.tz) if newest else None


def stale_note(kind: str, newest: date | None, yesterday: date) -> str | None:
    """None when the data covers yesterday, else what the operator should be told."""
    if newest is None:
        return f"no {LABELS[kind]} yet"
    if newest < yesterday:
        return f"no {LABELS[kind]} since {newest.isoformat()}"
    return None
