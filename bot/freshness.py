"""How fresh each kind of data is, for the checklist's "no P4P report since …" notes and the
inquiry-drop alert's "does not cover … yet".

Daily reports (traffic, P4P) carry their own dates: their freshness is the newest date in
the facts. Lists (inquiries, orders, fan posts, CRM) are snapshots: a day with no rows in a
list is a day with nothing in it, not a day the list does not cover. A list covers the days
up to the end of the period in its title or file name (`drops.period_end` when
`drops.period_source` is "title" or "name"); a list without one covers up to the day before
the one it arrived on (in the store's timezone: an export made today covers yesterday
completely), full stop: its rows' days say nothing (a mistyped year or a fan post scheduled
ahead dates a row after the export). Neither covers the arrival day or later, as that day was
not over yet. A duplicate drop (the same content dropped again later) covers only when its
own file name names a period ending later than the first drop's (an empty list re-exported
under a newer period's name is the same bytes), the same way from its own arrival; a plain
re-upload of an old export (by hand, or a sync tool copying files again) covers nothing new.
The newest coverage of any ingested list or such duplicate of the kind counts. Either is
stale when older than yesterday (the store's local yesterday), and missing when there is
none at all.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, and_, func, or_, select

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
ARRIVED = ("ingested", "duplicate")  # drops that say when a list's content arrived
FROM_FILE = ("title", "name")  # period sources that say what a list covers


def list_covered_until(conn: Connection, store: Store, kind: str) -> date | None:
    """The last local day the ingested lists of `kind` cover (see the module doc), or None."""
    return _lists_covered_until(conn, store, (kind,)).get(kind)


def _lists_covered_until(conn: Connection, store: Store, kinds: tuple[str, ...]
                         ) -> dict[str, date]:
    """list_covered_until of several list kinds, in one query on drops."""
    first = drops.alias("first")
    rows = conn.execute(
        select(drops.c.kind, drops.c.period_end, drops.c.period_source,
               func.max(drops.c.created_at))
        .select_from(drops.outerjoin(first, first.c.id == drops.c.duplicate_of))
        .where(
            drops.c.store_id == store.id, drops.c.kind.in_(kinds),
            or_(drops.c.status == "ingested", and_(
                drops.c.status == "duplicate", drops.c.period_source.in_(FROM_FILE),
                or_(first.c.period_end.is_(None), drops.c.period_end > first.c.period_end))),
        ).group_by(drops.c.kind, drops.c.period_end, drops.c.period_source)
    )
    out: dict[str, date] = {}
    for kind, period_end, source, arrived in rows:
        covered = _covered(period_end, source, local_today(arrived, store.tz))
        out[kind] = max(out.get(kind, covered), covered)
    return out


def _covered(period_end: date | None, source: str | None, arrival: date) -> date:
    """The last day a list that arrived on local day `arrival` covers (see the module doc):
    the day before, or its title's or name's period end if earlier (`source` "title" or
    "name"); its rows' days (`source` "rows") do not count."""
    before = arrival - timedelta(days=1)
    if source in FROM_FILE and period_end is not None:
        return min(period_end, before)
    return before


def newest_days(conn: Connection, store: Store, kinds: tuple[str, ...]
                ) -> dict[str, date | None]:
    """Per kind, the newest local day this store has data of it for (None when it has none):
    one query per dated kind, one for all the lists."""
    lists = _lists_covered_until(conn, store, tuple(k for k in kinds if k not in DATED))
    return {kind: (conn.scalar(select(func.max(facts[kind].c.date))
                               .where(facts[kind].c.store_id == store.id))
                   if kind in DATED else lists.get(kind))
            for kind in kinds}


def staleness(kind: str, newest: date | None, yesterday: date) -> dict[str, str | None] | None:
    """None when the data covers yesterday, else {"kind", "since"}: the newest day covered
    (ISO), or None when there is no data of the kind at all. Messages word it per language."""
    if newest is None:
        return {"kind": kind, "since": None}
    if newest < yesterday:
        return {"kind": kind, "since": newest.isoformat()}
    return None
