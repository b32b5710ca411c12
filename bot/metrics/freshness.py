"""How fresh each kind of data is, for the checklist's "no P4P report since …" notes and the
inquiry-drop alert's "does not cover … yet".

Daily reports (traffic, P4P) carry their own dates: their freshness is the newest date in
the facts. Lists (inquiries, orders, fan posts, CRM) are snapshots: a day with no rows in a
list is a day with nothing in it, not a day the list does not cover. So what a list covers
decides where zeros begin, and is read as follows (`_covered`):

* A period in its title (`drops.period_source` "title"), or a range A-B in its file name
  ("name"), covers up to the period's end.
* ONE date D in its file name (询盘列表_20261110.csv, 信保订单_20261122.csv: the demo and
  the back office name exports so) is the day it was exported, not a complete day: D's rows
  stop at the export time, so it covers up to D-1.
* A list without either covers up to the day before the one it arrived on (in the store's
  timezone: an export made today covers yesterday completely). Its rows' days do not extend
  that (a mistyped year or a fan post scheduled ahead dates a row after the export), but for
  the lists counted per day (inquiries, fan posts: DAY_COUNTED) they can shorten it: when
  its newest row is more than LIST_GAP_DAYS before that day, it is an old export dropped
  late (an old 4-row export whose newest row is 10-21 dropped on 11-22 must not make
  10-22..11-21 a month of days without inquiries, faking zeros in the checklist, the usual
  level and the alert's detector), and it covers only up to its newest row's day. A real
  stretch without inquiries is still judged: the alert's 3- and 7-day windows fire within
  that gap, on the lists exported meanwhile, and a named list is never cut this way. Order
  and CRM lists are snapshots of current orders and customers, whose rows can rightly all be
  weeks old: not cut.

Neither covers the arrival day or later, as that day was not over yet. A duplicate drop (the
same content dropped again later) covers only when its own file name names a period ending
later than the first drop's (an empty list re-exported under a newer period's name is the
same bytes), the same way from its own arrival; a plain re-upload of an old export (by hand,
or a sync tool copying files again) covers nothing new. The newest coverage of any ingested
list or such duplicate of the kind counts. Either is stale when older than yesterday (the
store's local yesterday), and missing when there is none at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select

from bot.models import drops, facts
from bot.periods import local_midnight, local_today
from bot.stores import Store

# What an operator calls each kind in a note.
LABELS = {
    "traffic": "traffic report",
    "p4p": "P4P report",
    "inquiries": "inquiry list",
    "orders": "order list",
    "posts": "fan-post list",
    "customers": "CRM list",
    "products": "product report",
}
DATED = ("traffic", "p4p")  # kinds whose rows are per local date
ARRIVED = ("ingested", "duplicate")  # drops that say when a list's content arrived
FROM_FILE = ("title", "name")  # period sources that say what a list covers
DAY_COUNTED = ("inquiries", "posts")  # lists counted per day, whose old exports are cut
LIST_GAP_DAYS = 7  # an unnamed list's newest row further back: an old export (module doc)
_NAME_DATE = re.compile(r"(?<!\d)\d{4}-?\d{2}-?\d{2}(?!\d)")  # as bot.ingest.readers reads names


def _lists_covered_until(conn: Connection, store: Store, kinds: tuple[str, ...]
                         ) -> dict[str, date]:
    """Per list kind, the last local day its ingested lists cover (see the module doc), in one
    query on drops; a kind without any is left out."""
    return {kind: covered for kind, (covered, _) in _newest_lists(conn, store, kinds).items()}


def _newest_lists(conn: Connection, store: Store, kinds: tuple[str, ...]
                  ) -> dict[str, tuple[date, datetime | None]]:
    """Per list kind, (the last local day its lists cover, the arrival of the newest list
    covering it when that list also holds the rows of its arrival day up to its arrival:
    see `Coverage.through`)."""
    first = drops.alias("first")
    rows = conn.execute(
        select(drops.c.kind, drops.c.period_start, drops.c.period_end, drops.c.period_source,
               drops.c.file_name, func.max(drops.c.created_at))
        .select_from(drops.outerjoin(first, first.c.id == drops.c.duplicate_of))
        .where(
            drops.c.store_id == store.id, drops.c.kind.in_(kinds),
            or_(drops.c.status == "ingested", and_(
                drops.c.status == "duplicate", drops.c.period_source.in_(FROM_FILE),
                or_(first.c.period_end.is_(None), drops.c.period_end > first.c.period_end))),
        ).group_by(drops.c.kind, drops.c.period_start, drops.c.period_end,
                   drops.c.period_source, drops.c.file_name)
    )
    out: dict[str, tuple[date, datetime | None]] = {}
    for kind, period_start, period_end, source, file_name, arrived in rows:
        arrival = local_today(arrived, store.tz)
        one_date = (source == "name" and period_start == period_end
                    and _one_date_named(file_name))
        covered = _covered(period_end, source, arrival,
                           one_date=one_date, day_counted=kind in DAY_COUNTED)
        # Its rows run into its arrival day unless its title or name ends the period before.
        into_arrival = covered == arrival - timedelta(days=1) and (
            source not in FROM_FILE or (period_end is not None and period_end >= arrival))
        newest = (covered, arrived if into_arrival else None)
        known = out.get(kind)
        if known is None or (newest[0], newest[1] or datetime.min) \
                > (known[0], known[1] or datetime.min):
            out[kind] = newest
    return out


@dataclass(frozen=True)
class Coverage:
    """The days a list kind's exports cover, as the checklist reads them: from `first` (the
    earliest day any list of the kind covers) to `last` (the newest covered day, as
    `newest_days` gives it), and on the day after `last`, up to `through` (naive UTC) when
    the newest list arrived that day holding its rows until then (an export made at 09:30
    holds that morning's inquiries; the checklist, which judges whole days, ignores it)."""

    first: date
    last: date
    through: datetime | None

    def until(self, tz: ZoneInfo) -> datetime:
        """The naive-UTC moment the coverage ends."""
        return self.through or local_midnight(self.last + timedelta(days=1), tz)


def list_coverage(conn: Connection, store: Store, kind: str) -> Coverage | None:
    """What the store's lists of `kind` cover (None when it has none at all)."""
    newest = _newest_lists(conn, store, (kind,)).get(kind)
    if newest is None:
        return None
    table = facts[kind]
    starts = [conn.scalar(select(func.min(drops.c.period_start)).where(
        drops.c.store_id == store.id, drops.c.kind == kind, drops.c.status == "ingested"))]
    if kind == "inquiries":  # the (store_id, created_at) index answers this at once
        earliest = conn.scalar(select(func.min(table.c.created_at))
                               .where(table.c.store_id == store.id))
        starts.append(local_today(earliest, store.tz) if earliest is not None else None)
    first = min((d for d in starts if d is not None), default=newest[0])
    return Coverage(min(first, newest[0]), newest[0], newest[1])


def _one_date_named(file_name: str) -> bool:
    """Does the file name give one date (an export date), not a range A-B?"""
    return len(_NAME_DATE.findall(PurePath(file_name).name)) == 1


def _covered(period_end: date | None, source: str | None, arrival: date, *,
             one_date: bool = False, day_counted: bool = True) -> date:
    """The last day a list that arrived on local day `arrival` covers (see the module doc):
    the day before, or its title's or name's period end if earlier (`source` "title" or
    "name"), the day before that end when the name gives that one date only (`one_date`: the
    export's day); without a title or name, its newest row's day (`source` "rows") when that
    is more than LIST_GAP_DAYS before the day before arrival and the kind is `day_counted`,
    else the day before arrival (rows dated after it do not count)."""
    before = arrival - timedelta(days=1)
    if source in FROM_FILE and period_end is not None:
        end = period_end - timedelta(days=1) if one_date and source == "name" else period_end
        return min(end, before)
    if day_counted and source == "rows" and period_end is not None \
            and (before - period_end).days > LIST_GAP_DAYS:
        return period_end  # an old export dropped late
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
