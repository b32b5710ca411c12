"""How fresh each kind of data is, for the checklist's "no P4P report since …" notes and the
inquiry-drop alert's "does not cover … yet".

Daily reports (traffic, P4P) carry their own dates: their freshness is the newest date in
the facts. Lists (inquiries, orders, fan posts, CRM) are snapshots: a list covers the days
up to the end of its report period (`drops.period_end`, from the file's name or title), but
never the day it was ingested or later, as that day was not over yet; a list without a period
covers the days before the one it was ingested on. The newest coverage of any ingested list
of the kind counts. Either is stale when older than yesterday (the store's local
yesterday), and missing when there is none at all.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, func, select

from bot.models import drops, facts
from bot.periods import local_today
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


def list_covered_until(conn: Connection, store: Store, kind: str) -> date | None:
    """The last local day the ingested lists of `kind` cover (see the module doc), or None."""
    rows = conn.execute(
        select(drops.c.period_end, func.max(drops.c.created_at)).where(
            drops.c.store_id == store.id, drops.c.kind == kind, drops.c.status == "ingested"
        ).group_by(drops.c.period_end)
    )
    covered = [_covered(period_end, local_today(ingested, store.tz) - timedelta(days=1))
               for period_end, ingested in rows]
    return max(covered, default=None)


def _covered(period_end: date | None, before_ingest: date) -> date:
    return before_ingest if period_end is None else min(period_end, before_ingest)


def newest_day(conn: Connection, store: Store, kind: str) -> date | None:
    """The newest local day this store has data of `kind` for, or None when it has none."""
    if kind in DATED:
        table = facts[kind]
        return conn.scalar(select(func.max(table.c.date)).where(table.c.store_id == store.id))
    return list_covered_until(conn, store, kind)


def stale_note(kind: str, newest: date | None, yesterday: date) -> str | None:
    """None when the data covers yesterday, else what the operator should be told."""
    if newest is None:
        return f"no {LABELS[kind]} yet"
    if newest < yesterday:
        return f"no {LABELS[kind]} since {newest.isoformat()}"
    return None
