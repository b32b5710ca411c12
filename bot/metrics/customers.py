"""Stalled customers: zombie, hesitant, lost, as docs/customers.md defines them (thresholds
per store), with the ranked short list an operator acts on.

Everything here is SQL over the customer index (bot/metrics/customer_index.py: one row per
matched customer, the team's marks applied): each class is a condition of a few column
comparisons with the thresholds as parameters, the counts one scan, the list one
ORDER BY … LIMIT per class. Only the counts and those few rows reach Python, whatever the
number of customers.

Marks count as follows: a Contacted mark is a contact (the index's `last_contact_at` is the
latest of it and the data's follow-ups); a snoozed customer stays in its class's count but is
off the list; a customer marked not a lead is off the list and out of the counts, until
restored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, case, false, func, or_, select

from bot.countries import spellings
from bot.ingest.parsing import fold
from bot.models import checklists, customer_index
from bot.periods import as_utc
from bot.stores import Store

CLASSES = ("zombie", "hesitant", "lost")
LIST_LIMIT = 10
THRESHOLDS = {"zombie": "zombie_days", "hesitant": "hesitant_days", "lost": "lost_days"}
NEW_WITHOUT_CHECKLIST = timedelta(days=1)  # "new" before the store's first checklist

ix = customer_index


@dataclass(frozen=True)
class Query:
    """`/customers [zombie|hesitant|lost] [owner:NAME] [country:XX]`."""

    cls: str | None = None
    owner: str | None = None
    country: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"class": self.cls, "owner": self.owner, "country": self.country}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Query:
        data = data or {}
        return cls(data.get("class"), data.get("owner"), data.get("country"))

    def clauses(self) -> list[Any]:
        out: list[Any] = []
        if self.owner:
            out.append(ix.c.owner_key == fold(self.owner))
        if self.country:
            out.append(func.lower(ix.c.country).in_(spellings(self.country)))
        return out


def _classes(store: Store, now: datetime, past: bool = False) -> dict[str, Any]:
    """Each class as a condition on a customer's index row (docs/customers.md), tried in this
    order: `lost` holds for some zombies too (a CASE picks the first that holds; `_only`
    adds the exclusion). Plain column comparisons with the thresholds as parameters: each row
    is judged in a few comparisons.

    `past`: judged as of an earlier moment `now` on today's index, which keeps only each
    customer's latest inquiry, contact and order: a moment later than `now` is not known
    then (NULL), and a single order later than `now` had not been placed yet. So a zombie
    answered since `now` was a zombie at `now`."""
    cut = {cls: now - timedelta(days=store.setting(THRESHOLDS[cls])) for cls in CLASSES}
    li, lc, lo = ix.c.last_inquiry_at, ix.c.last_contact_at, ix.c.last_order_at
    ordered: Any = ix.c.ordered.is_(True)
    if past:
        ordered = and_(ordered, or_(lo.is_(None), lo <= now, ix.c.orders > 1))
        li, lc, lo = (case((col <= now, col), else_=None) for col in (li, lc, lo))
    return {
        "zombie": and_(li.is_not(None), ~ordered, or_(lc.is_(None), lc <= li),
                       li < cut["zombie"]),
        "hesitant": and_(li.is_not(None), lc > li,
                         or_(lo.is_(None), and_(lo < li, lo < cut["lost"])),
                         lc < cut["hesitant"], lc >= cut["lost"]),
        "lost": and_(or_(lo.is_(None), lo < cut["lost"]), or_(lc.is_(None), lc < cut["lost"]),
                     or_(ordered, lc.is_not(None))),
    }


def _only(conditions: dict[str, Any], cls: str) -> Any:
    """The condition of being in `cls` and in no class tried before it."""
    before = CLASSES[:CLASSES.index(cls)]
    return and_(conditions[cls], *(~conditions[b] for b in before))


def _since(cls: str) -> Any:
    """The moment a class counts from (docs/customers.md)."""
    li, lc, lo = ix.c.last_inquiry_at, ix.c.last_contact_at, ix.c.last_order_at
    if cls == "zombie":
        return li
    if cls == "hesitant":
        return lc
    # the later of the last order and the last contact (SQLite's max() and PostgreSQL's
    # greatest() disagree about NULL)
    return case((lo.is_(None), lc), (lc.is_(None), lo), (lo > lc, lo), else_=lc)


def _ranked(store: Store, cls: str, condition: Any, query: Query, now: datetime,
            limit: int) -> Select:
    """The first `limit` listed customers of a class (neither snoozed nor not a lead), best
    first: zombies by the freshest inquiry, the others with past orders or several
    inquiries first, then the warmest."""
    since = _since(cls)
    order: list[Any] = []
    if cls != "zombie":
        order.append(case((or_(ix.c.ordered.is_(True), ix.c.inquiries >= 2), 0), else_=1))
    order += [since.desc().nulls_last(), ix.c.orders.desc(), ix.c.inquiries.desc(),
              ix.c.name_key, ix.c.key]
    return (select(ix.c.key, ix.c.name, ix.c.company, ix.c.country, ix.c.email, ix.c.owner,
                   ix.c.last_inquiry_at, ix.c.last_contact_at, ix.c.last_order_at,
                   ix.c.inquiries, ix.c.orders, since.label("since"))
            .where(ix.c.store_id == store.id, *query.clauses(), condition,
                   ix.c.not_lead.is_(False),
                   or_(ix.c.snoozed_until.is_(None), ix.c.snoozed_until <= now))
            .order_by(*order).limit(limit))


def last_checklist_at(conn: Connection, store: Store, now: datetime,
                      before: date | None = None) -> datetime | None:
    """When the store's latest daily checklist made by `now` (and for a day before `before`,
    when given) was made: "new" customers entered their class after it."""
    where = [checklists.c.store_id == store.id, checklists.c.kind == "daily",
             checklists.c.created_at <= as_utc(now)]
    if before is not None:
        where.append(checklists.c.day < before)
    return conn.scalar(select(func.max(checklists.c.created_at)).where(*where))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _entry(row: Any, cls: str, store: Store, now: datetime, new_since: datetime
           ) -> dict[str, Any]:
    since = row.since
    entered = since + timedelta(days=store.setting(THRESHOLDS[cls])) if since else None
    return {
        "key": row.key, "name": row.name or row.company, "company": row.company,
        "country": row.country, "owner": row.owner, "class": cls, "since": _iso(since),
        "last_inquiry_at": _iso(row.last_inquiry_at),
        "last_contact_at": _iso(row.last_contact_at),
        "last_order_at": _iso(row.last_order_at), "inquiries": row.inquiries,
        "orders": row.orders, "days": (now - since).days if since else None,
        "new": entered is not None and entered > new_since,
    }


def _take_turns(per_class: dict[str, list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` entries taken in turn from each class's ranked list (zombie, hesitant,
    lost, zombie, …); a class with fewer leaves its places to the others."""
    queues = [list(per_class.get(cls, [])) for cls in CLASSES]
    out: list[dict[str, Any]] = []
    while len(out) < limit and any(queues):
        for queue in queues:
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out


def stalled(conn: Connection, store: Store, now: datetime, query: Query = Query(), *,
            limit: int = LIST_LIMIT, new_since: datetime | None = None,
            with_email: bool = False, unreplied: Collection[str] = ()) -> dict[str, Any]:
    """The stalled customers as of `now`: counts and the ranked short list.

    {"as_of", "query", "counts": {zombie, hesitant, lost}, "snoozed", "not_leads", "listed",
     "new_since", "customers": [{key, name, company, country, owner, class, since,
     last_inquiry_at, last_contact_at, last_order_at, inquiries, orders, days, new}]}.
    Counts leave out customers marked not a lead (`not_leads` counts them) and keep snoozed
    ones (`snoozed` counts them); `listed` is how many the list could show (the query's
    classes, neither snoozed nor not a lead). "New" entered their class after `new_since`
    (default: a day before `now`). `with_email` adds each listed customer's e-mail: only
    for answers that stay in a terminal, never for a channel. `unreplied`: inquiry IDs
    listed elsewhere (the checklist's unreplied line): a zombie whose latest inquiry is one
    of them is left out, counts included, so one buyer is not two tasks the same morning.
    """
    now = as_utc(now)
    new_since = as_utc(new_since) if new_since else now - NEW_WITHOUT_CHECKLIST
    conditions = _classes(store, now)
    # tried first, in no class: a zombie on the unreplied line
    skip = (and_(conditions["zombie"], ix.c.last_inquiry_id.in_(sorted(unreplied)))
            if unreplied else false())
    # One scan judges every customer of the query's filters once: its class (1, 2, 3 in
    # CLASSES' order, 0 none) times 3 plus whether it is listed (0), snoozed (1) or not a lead
    # (2); OFFSET 0 keeps the database from copying the CASE into each count below.
    code = (case((skip, 0), *((cond, n) for n, cond in enumerate(conditions.values(), 1)),
                 else_=0) * 3
            + case((ix.c.not_lead.is_(True), 2), (ix.c.snoozed_until > now, 1), else_=0))
    judged = (select(code.label("code")).where(ix.c.store_id == store.id, *query.clauses())
              .offset(0).subquery("judged"))
    found = conn.execute(select(*(func.count().filter(judged.c.code == n)
                                  for n in range(3, 3 * len(CLASSES) + 3)))).one()
    visible = {cls: found[3 * i] for i, cls in enumerate(CLASSES)}
    snoozed_n = sum(found[3 * i + 1] for i in range(len(CLASSES)))
    not_leads = sum(found[3 * i + 2] for i in range(len(CLASSES)))
    counts = {cls: visible[cls] + found[3 * i + 1] for i, cls in enumerate(CLASSES)}
    classes = (query.cls,) if query.cls else CLASSES
    per_class: dict[str, list[dict[str, Any]]] = {}
    emails: dict[str, str | None] = {}
    for name in classes:
        if not visible[name]:
            continue
        for row in conn.execute(_ranked(store, name, and_(~skip, _only(conditions, name)),
                                        query, now, limit)):
            per_class.setdefault(name, []).append(_entry(row, name, store, now, new_since))
            emails[row.key] = row.email
    listed = _take_turns(per_class, limit)
    if with_email:
        listed = [{**e, "email": emails[e["key"]]} for e in listed]
    return {
        "as_of": now.isoformat(), "query": query.to_json(), "counts": counts,
        "snoozed": snoozed_n, "not_leads": not_leads,
        "listed": sum(visible[c] for c in classes), "new_since": new_since.isoformat(),
        "customers": listed,
    }


def members(conn: Connection, store: Store, now: datetime, past: bool = False
            ) -> dict[str, set[str]]:
    """The keys of the customers in each class as of `now`, as `stalled` counts them (the
    same conditions; snoozed ones in, those marked not a lead out), or with `past` as of an
    earlier moment (`_classes`): the weekly and monthly reviews compare two moments with it.
    One scan; only the stalled customers' keys reach Python."""
    conditions = _classes(store, as_utc(now), past)
    cls_of = case(*((cond, name) for name, cond in conditions.items()), else_=None)
    judged = (select(ix.c.key, cls_of.label("cls"))
              .where(ix.c.store_id == store.id, ix.c.not_lead.is_(False))
              .offset(0).subquery("judged"))
    out: dict[str, set[str]] = {cls: set() for cls in CLASSES}
    for key, cls in conn.execute(select(judged.c.key, judged.c.cls)
                                 .where(judged.c.cls.is_not(None))):
        out[cls].add(key)
    return out


def by_class(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A list's entries grouped by class, each in rank order."""
    return {cls: [e for e in data["customers"] if e["class"] == cls] for cls in CLASSES}

