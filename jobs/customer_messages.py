"""The /customers message: drawn from bot/metrics/customers.py, posted and redrawn through the
outbox like every message the bot edits later.

* draw: the data and the Block Kit message for a query, as of a moment;
* post: `/customers` in a channel is posted by the bot (an outbox row, delivered at once by
  the slash listener) rather than carried by the command's response: Slack refuses
  chat.update on a slash command's response, and the buttons must redraw the message. The
  post records its query (`"query"` in its payload, which the sender does not pass to
  Slack), so a redraw lists the same class, owner and country;
* redraw: a click (handlers/customer_actions.py) queues an edit of the post, with the list
  as it now stands and the marks made on it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from bot import outbox
from bot.metrics import customer_index, customer_marks, customers
from bot.models import outbox as outbox_table
from bot.periods import as_utc, local_time
from bot.stores import Store
from templates import render

POST = "customers"
EDIT = "customers_update"
QUERY = "query"  # the payload key holding a post's query
SHOWN_TEXT = 80  # characters of a name or company in the message
MARKS_SHOWN = 5


def _clip(text: str | None) -> str | None:
    return text if text is None or len(text) <= SHOWN_TEXT else text[: SHOWN_TEXT - 1] + "…"


def _groups(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed customers grouped by owner, owners in the order of their best-ranked
    customer, names held short."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for entry in listed:
        shown = {**entry, "name": _clip(entry["name"]), "company": _clip(entry["company"])}
        groups.setdefault(entry["owner"], []).append(shown)
    return [{"owner": _clip(owner), "customers": found} for owner, found in groups.items()]


def _marks(conn: Connection, store: Store, since: datetime) -> list[dict[str, Any]]:
    out = []
    for m in customer_marks.recent(conn, store, since, MARKS_SHOWN):
        marked = local_time(datetime.fromisoformat(m["marked_at"]), store.tz)
        until = (local_time(datetime.fromisoformat(m["until"]), store.tz).date().isoformat()
                 if m["until"] else None)
        out.append({"name": _clip(m["name"]), "mark": m["mark"], "who": m["user_id"],
                    "time": marked.strftime("%H:%M"), "until": until, "reason": m["reason"]})
    return out


def _token(now: datetime) -> str:
    """This drawing's id: a click's mark is recorded once per drawing and customer."""
    return format(int(as_utc(now).replace(tzinfo=UTC).timestamp() * 1000), "x")


def draw(conn: Connection, store: Store, query: customers.Query, now: datetime, *,
         channel: str | None, marks_since: datetime | None = None
         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data, message) for `query` as of `now`. An answer for a channel never carries an
    e-mail address; a terminal answer (`channel` None) has them in its data, and each
    customer's key in the message. `marks_since`: show the marks made since then (a redraw:
    since the post)."""
    if customer_index.has_data(conn, store):
        data = customers.stalled(conn, store, now, query,
                                 new_since=customers.last_checklist_at(conn, store, now),
                                 with_email=channel is None)
    else:  # no list at all: the counts are unknown, not zero
        data = {"as_of": as_utc(now).isoformat(), "query": query.to_json(),
                "counts": dict.fromkeys(customers.CLASSES), "snoozed": 0, "not_leads": 0,
                "listed": 0, "new_since": None, "customers": []}
    data = {"store": store.name, **data}
    message = render("customers.json.j2", data=data, groups=_groups(data["customers"]),
                     marks=_marks(conn, store, marks_since) if marks_since else [],
                     token=_token(now), snooze_days=customer_marks.SNOOZE_DAYS,
                     reasons=list(customer_marks.REASONS), in_channel=channel is not None,
                     lang=store.language)
    return data, message


def post(conn: Connection, store: Store, channel: str, query: customers.Query,
         message: dict[str, Any], now: datetime) -> int:
    """Queue the message as a post in `channel`; its outbox id."""
    return outbox.enqueue(conn, store_id=store.id, channel=channel, purpose=POST,
                          subject=f"customers:{store.id}",
                          dedupe_key=f"customers:{store.id}:{channel}:{uuid.uuid4().hex}",
                          payload={**message, QUERY: query.to_json()}, now=as_utc(now))


def find_post(conn: Connection, channel: str, ts: str) -> Row | None:
    """The /customers post at `ts` in `channel`, if the bot posted it."""
    return conn.execute(select(outbox_table).where(
        outbox_table.c.channel == channel, outbox_table.c.ts == ts,
        outbox_table.c.purpose == POST, outbox_table.c.update_of.is_(None))).first()


def redraw(conn: Connection, store: Store, post_row: Row, now: datetime, version: str
           ) -> list[int]:
    """Queue an edit of the post showing the list as it now stands; the edit's id."""
    query = customers.Query.from_json((post_row.payload or {}).get(QUERY))
    _, message = draw(conn, store, query, now, channel=post_row.channel,
                      marks_since=post_row.created_at)
    return [outbox.enqueue_edit(conn, post_row, purpose=EDIT, payload=message, now=as_utc(now),
                                dedupe_key=f"customers:{post_row.id}:edit:{version}")]
