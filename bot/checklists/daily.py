"""The daily checklist: one item per point of the operator's daily rhythm, with its figures.

    build_daily(conn, store, now, day=None) -> dict      # computes; records nothing (preview)
    create_daily(conn, store, now, day=None) -> id|None  # builds and records a day's checklist
                                                         # once
    load(conn, checklist_id) -> dict          # the recorded checklist with its current ticks
    tick(conn, checklist_id, item_key, user_id, done, now) -> dict
    public(checklist) -> dict                 # with each item's English `stale` note, for --json

The data is plain JSON-able data (dates and moments as ISO strings, moments in naive UTC):
{"id", "kind", "language" (load only: the store's, the message's `lang`), "store", "timezone",
 "day" (local date), "yesterday", "generated_at",
 "items": [{"key", "title", "facts", "done", "done_by", "done_at", "done_time", "staleness"}]}.
`staleness` says what data an item lacks, for messages to word in their language: a list of
{"kind", "since"} (`since` the last day covered, None for no data yet;
bot.metrics.freshness.staleness), empty when fresh; the data item's entry has "inquiries_from":
"inquiries" when its inquiries come from a fresh inquiry list. Figures that would need the
missing data are None rather than 0. `done_time` is the tick's local "HH:MM". Codes (kinds,
statuses, sources) are data; the templates word them.

Exactly once: the (store_id, kind, day) unique key decides which of two racing workers
records the day's checklist; the loser's insert fails inside a savepoint, so the caller's
transaction goes on, and it gets None.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.alerts import incidents as alerts
from bot.metrics.customers import CLASSES, classify
from bot.metrics.freshness import LABELS, newest_days, staleness
from bot.metrics.inquiry_checks import inquiry_figures
from bot.metrics.orders import due_orders
from bot.metrics.p4p import p4p_figures
from bot.metrics.posts import posts_figures
from bot.metrics.traffic import data_figures
from bot.models import checklist_ticks, checklists, stores
from bot.periods import as_utc, local_midnight, local_time, local_today
from bot.stores import Store

DAILY = "daily"
STALLED_SHOWN = 3
MAX_TEXT = 60  # characters of a name or title kept in the data
TITLES = {
    "inquiries": "Inquiries",
    "data": "Data monitoring",
    "p4p": "P4P",
    "posts": "Fan posts",
    "transactions": "Transactions",
}
ITEM_KEYS = tuple(TITLES)


class ChecklistError(LookupError):
    """No such checklist or item."""


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, and data strings held short: a message lists a few of each."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _item(key: str, facts: dict[str, Any], staleness: list[dict[str, Any] | None]
          ) -> dict[str, Any]:
    return {"key": key, "title": TITLES[key], "facts": _jsonable(facts), "done": False,
            "done_by": None, "done_at": None, "done_time": None,
            "staleness": [entry for entry in staleness if entry]}


def _new_from(conn: Connection, store: Store, today: date) -> date | None:
    """The first local day whose inquiries are new to the checklist of `today`: the day after
    the last data day the previous checklist counted (its `new_to`), or its own `new_from` when
    it could not count them (no fresh inquiry list); None without a previous checklist."""
    row = conn.execute(
        select(checklists.c.day, checklists.c.data).where(
            checklists.c.store_id == store.id, checklists.c.kind == DAILY,
            checklists.c.day < today,
        ).order_by(checklists.c.day.desc()).limit(1)
    ).first()
    if row is None:
        return None
    found = next(i["facts"] for i in row.data["items"] if i["key"] == "inquiries")
    if found["new"] is None:
        return date.fromisoformat(found["new_from"])
    return date.fromisoformat(found["new_to"]) + timedelta(days=1)


def build_daily(conn: Connection, store: Store, now: datetime, day: date | None = None
                ) -> dict[str, Any]:
    """The checklist of local `day` (default: the store's today) as plain data, computed from
    SQL as of `now` (aware or naive UTC); its figures are for the day before `day`."""
    now = as_utc(now)
    today = day or local_today(now, store.tz)
    yesterday = today - timedelta(days=1)
    fresh = newest_days(conn, store,
                        ("inquiries", "traffic", "p4p", "posts", "orders", "customers"))
    late = {kind: staleness(kind, day, yesterday) for kind, day in fresh.items()}  # None: fresh

    # Inquiries: "new" needs a fresh list; the unreplied backlog is shown from the last one.
    # New ones are counted by local creation day, the days after those the previous checklist
    # counted up to yesterday (yesterday alone without one): lists are exported in the
    # morning, so each inquiry is new in exactly one checklist, whenever it was created.
    new_from = _new_from(conn, store, today)
    previous = new_from is not None
    new_from = min(new_from or yesterday, yesterday)
    since = local_midnight(new_from, store.tz)
    if fresh["inquiries"] is None:
        inquiry_facts: dict[str, Any] = {
            "since": since, "new": None, "unreplied_hours": store.setting("unreplied_hours"),
            "unreplied_count": None, "unreplied": [], "unreplied_by_owner": [],
            "spam_count": None, "spam": [], "duplicate_count": None, "duplicates": []}
    else:
        inquiry_facts = inquiry_figures(conn, store, now, since,
                                        local_midnight(today, store.tz))
        if late["inquiries"]:
            inquiry_facts.update(new=None, spam_count=None, spam=[], duplicate_count=None,
                                 duplicates=[])
    inquiry_facts.update(since_checklist=previous, new_from=new_from, new_to=yesterday)

    data_facts = data_figures(conn, store, yesterday, traffic_fresh=not late["traffic"],
                              inquiries_fresh=not late["inquiries"])
    # unresolved alerts of days up to yesterday (none after it, for a past day's checklist)
    data_facts["alerts"] = alerts.active(conn, store, now, until=yesterday)
    data_late = late["traffic"]
    if data_late and data_facts["inquiries_source"] == "inquiries":
        data_late = {**data_late, "inquiries_from": "inquiries"}

    no_customers = (fresh["orders"] is None and fresh["inquiries"] is None
                    and fresh["customers"] is None)
    stalled = {cls: [] for cls in CLASSES} if no_customers else classify(conn, store, now)
    transactions: dict[str, Any] = {
        "orders_due": due_orders(conn, store, today) if fresh["orders"] else None,
        # without any list, "0 stalled" would be a claim: the counts are unknown
        "stalled_counts": {cls: None if no_customers else len(stalled[cls]) for cls in CLASSES},
        "stalled": {cls: stalled[cls][:STALLED_SHOWN] for cls in CLASSES},
    }
    transactions_late = ([late["orders"], late["inquiries"], late["customers"]]
                         if no_customers else [late["orders"]])

    return {
        "store": store.name,
        "timezone": store.timezone,
        "day": today.isoformat(),
        "yesterday": yesterday.isoformat(),
        "generated_at": now.isoformat(),
        "items": [
            _item("inquiries", inquiry_facts, [late["inquiries"]]),
            _item("data", data_facts, [data_late]),
            _item("p4p", p4p_figures(conn, store, yesterday, fresh=not late["p4p"]),
                  [late["p4p"]]),
            _item("posts", posts_figures(conn, store, yesterday, fresh=not late["posts"]),
                  [late["posts"]]),
            _item("transactions", transactions, transactions_late),
        ],
    }


def create_daily(conn: Connection, store: Store, now: datetime, day: date | None = None
                 ) -> int | None:
    """Record the checklist of local `day` (default: the store's today; a checklist caught
    up after midnight is the day before's) and return its id; None when the store already
    has one for that day (also when another worker records it at the same moment)."""
    today = day or local_today(now, store.tz)
    exists = conn.scalar(select(checklists.c.id).where(
        checklists.c.store_id == store.id, checklists.c.kind == DAILY, checklists.c.day == today))
    if exists is not None:
        return None
    data = build_daily(conn, store, now, today)
    try:
        with conn.begin_nested():
            return conn.execute(
                insert(checklists).values(store_id=store.id, kind=DAILY, day=today, data=data,
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
    """The checklist as `--json` shows it: each item with its `stale` note (stale_note)."""
    return {**checklist, "items": [{**item, "stale": stale_note(item["staleness"])}
                                   for item in checklist["items"]]}


def tick(conn: Connection, checklist_id: int, item_key: str, user_id: str, done: bool,
         now: datetime) -> dict[str, Any]:
    """Record that `user_id` ticked (or unticked) an item at `now`; returns load()."""
    if item_key not in ITEM_KEYS:
        raise ChecklistError(f"no checklist item {item_key!r}: one of {', '.join(ITEM_KEYS)}")
    if conn.scalar(select(checklists.c.id).where(checklists.c.id == checklist_id)) is None:
        raise ChecklistError(f"no checklist with id {checklist_id}")
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
