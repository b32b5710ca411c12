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
    return _lists_covered_until(conn, store, (kind,)).get(kind)


def _lists_covered_until(conn: Connection, store: Store, kinds: tuple[str, ...]
                         ) -> dict[str, date]:
    """list_covered_until of several list kinds, in one query on drops."""
    rows = conn.execute(
        select(drops.c.kind, drops.c.period_end, func.max(drops.c.created_at)).where(
            drops.c.store_id == store.id, drops.c.kind.in_(kinds), drops.c.status == "ingested"
        ).group_by(drops.c.kind, drops.c.period_end)
    )
    out: dict[str, date] = {}
    for kind, period_end, ingested in rows:
        covered = _covered(period_end, local_today(ingested, store.tz) - timedelta(days=1))
        out[kind] = max(out.get(kind, covered), covered)
    return out


def _covered(period_end: date | None, before_ingest: date) -> date:
    return before_ingest if period_end is None else min(period_end, before_ingest)


def newest_days(conn: Connection, store: Store, kinds: tuple[str, ...]
                ) -> dict[str, date | None]:
    """Per kind, the newest local day this store has data of it for (None when it has none):
    one query per dated kind, one for all the lists."""
    lists = _lists_covered_until(conn, store, tuple(k for k in kinds if k not in DATED))
    return {kind: (conn.scalar(select(func.max(facts[kind].c.date))
                               .where(facts[kind].c.store_id == store.id))
                   if kind in DATED else lists.get(kind))
            for kind in kinds}


def stale_note(kind: str, newest: date | None, yesterday: date) -> str | None:
    """None when the data covers yesterday, else what the operator should be told."""
    if newest is None:
        return f"no {LABELS[kind]} yet"
    if newest < yesterday:
        return f"no {LABELS[kind]} since {newest.isoformat()}"
    return None
