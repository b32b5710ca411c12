"""The daily checklist: one item per point of the operator's daily rhythm, with its figures
for yesterday. `build_daily(conn, store, now, day=None)` computes (records nothing); the
registry entry `KIND` lets bot/checklists/records.py record, load and tick it.

The data is plain JSON-able data (dates and moments as ISO strings, moments in naive UTC):
{"id", "kind", "language" (load only: the store's, the message's `lang`), "store", "timezone",
 "day" (local date), "yesterday", "generated_at",
 "items": [{"key", "title", "facts", "done", "done_by", "done_at", "done_time", "staleness"}]}.
`staleness` says what data an item lacks, for messages to word in their language: a list of
{"kind", "since"} (`since` the last day covered, None for no data yet;
bot.metrics.freshness.staleness), empty when fresh; the data item's entry has "inquiries_from":
"inquiries" when its inquiries come from a fresh inquiry list. The data item's facts hold
"alerts" (unresolved alerts and watches, bot.alerts.incidents.listed, with "tier") and
"alerts_recovered" (incidents that came and went unposted since the previous checklist:
inside quiet hours, or a watch not posted). Figures that would need the
missing data are None rather than 0. `done_time` is the tick's local "HH:MM". Codes (kinds,
statuses, sources) are data; the templates word them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from bot.alerts import incidents as alerts
from bot.alerts.rules import RULES
from bot.checklists.kind import ChecklistKind
from bot.metrics import customers
from bot.metrics.freshness import newest_days, staleness
from bot.metrics.inquiry_checks import inquiry_figures, unreplied_ids
from bot.metrics.orders import due_orders
from bot.metrics.p4p import p4p_figures
from bot.metrics.posts import posts_figures
from bot.metrics.traffic import data_figures
from bot.models import checklists
from bot.periods import as_utc, local_midnight, local_today
from bot.schedule import daily_posts_on
from bot.stores import Store
from bot.text import clip
from templates.i18n import N_

DAILY = "daily"
STALLED_SHOWN = 5  # the first of /customers' ranked ten
TITLES = {  # msgids: the template words them in the store's language
    "inquiries": N_("Inquiries"),
    "data": N_("Data monitoring"),
    "p4p": N_("P4P"),
    "posts": N_("Fan posts"),
    "transactions": N_("Transactions"),
}
ITEM_KEYS = tuple(TITLES)


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, and data strings held short: a message lists a few of each."""
    if isinstance(value, str):
        return clip(value)
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


def _stalled_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A /customers entry with the keys the checklist's entries always had (`customer`,
    `last_inquiry`, `last_contact`, `last_order`: its --json contract); no e-mail address."""
    return {**entry, "customer": entry["name"], "last_inquiry": entry["last_inquiry_at"],
            "last_contact": entry["last_contact_at"], "last_order": entry["last_order_at"]}


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
            "unreplied_max_days": store.setting("unreplied_max_days"),
            "unreplied_count": None, "unreplied": [], "unreplied_older_count": None,
            "unreplied_by_owner": [],
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
    # unresolved alerts of days up to yesterday (none after it, for a past day's checklist),
    # watches among them (tier "watch": the checklist is where a watch is seen)
    # watches among them (tier "watch": the checklist is where a watch is seen); the most
    # pressing first (alerts before watches, critical before warning; then in the registry's
    # order, the inquiry drop first), as only a few are shown
    data_facts["alerts"] = sorted(
        alerts.active(conn, store, now, until=yesterday, checklist=True),
        key=lambda a: (-alerts.LEVEL_RANK[
            "watch" if a.get("tier") == "watch" else a.get("severity") or "warning"],
            list(RULES).index(a["rule"]) if a["rule"] in RULES else len(RULES)))
    # incidents that came and went unposted (inside quiet hours, or a watch) since the
    # previous checklist: one line each, instead of two messages
    data_facts["alerts_recovered"] = alerts.recovered_unposted(conn, store, new_from,
                                                               yesterday)
    data_late = late["traffic"]
    if data_late and data_facts["inquiries_source"] == "inquiries":
        data_late = {**data_late, "inquiries_from": "inquiries"}

    no_customers = (fresh["orders"] is None and fresh["inquiries"] is None
                    and fresh["customers"] is None)
    # a buyer already on the unreplied line is not listed again as a zombie
    listed = unreplied_ids(conn, store, now) if fresh["inquiries"] is not None else set()
    # the ranked few of /customers, "new" since the previous checklist, not the population
    stalled = None if no_customers else customers.stalled(
        conn, store, now, limit=STALLED_SHOWN, unreplied=listed,
        new_since=customers.last_checklist_at(conn, store, now, before=today))
    transactions: dict[str, Any] = {
        "orders_due": due_orders(conn, store, today) if fresh["orders"] else None,
        # without any list, "0 stalled" would be a claim: the counts are unknown
        "stalled_counts": (dict.fromkeys(customers.CLASSES) if stalled is None
                           else stalled["counts"]),
        "stalled": {cls: [_stalled_entry(e) for e in found] for cls, found in
                    (customers.by_class(stalled) if stalled
                     else {cls: [] for cls in customers.CLASSES}).items()},
        "stalled_listed": stalled["listed"] if stalled else None,
        # the zombie count leaves out the buyers on the unreplied line (it says so)
        "stalled_besides_unreplied": bool(listed),
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


KIND = ChecklistKind(name=DAILY, title=N_("Daily checklist"), template="checklist_daily.json.j2",
                     items=ITEM_KEYS, build=build_daily, posts_on=daily_posts_on)
