"""The audit trail: who bound, unbound or configured a store, changed its admins, deleted a
drop or clicked a button in it, and when (`opsbot audit`).

`record` takes the caller's connection, so the row is written in the transaction of the change
it records: a change that rolls back leaves no row, and no change goes unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from bot.models import audit, stores
from bot.periods import as_utc, utcnow

if TYPE_CHECKING:
    from bot.stores import Store

OPERATOR = "cli"  # the user of a change made at the command line (the server's operator)

# The actions recorded, by the code that records them.
CREATE = "create"  # a store created (detail: how)
BIND = "bind"  # a channel or DM bound to the store (channel, moved_from)
UNBIND = "unbind"  # a channel unbound from the store (channel, moved_to when moved)
CONFIGURE = "configure"  # settings changed ({key: {"from", "to"}})
ADMIN_ADD = "admin_add"  # (admin)
ADMIN_REMOVE = "admin_remove"  # (admin)
DROP_DELETE = "drop_delete"  # (drop, file)
CHECKLIST_TICK = "checklist_tick"  # (checklist, item, done)
ALERT_ACK = "alert_ack"  # (alert)
ALERT_SNOOZE = "alert_snooze"  # (alert, until)


@dataclass(frozen=True)
class Entry:
    at: datetime  # naive UTC
    store: str
    user: str
    action: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(timespec="seconds") + "Z", "store": self.store,
                "user": self.user, "action": self.action, "detail": self.detail}


def record(conn: Connection, store: Store | int, user: str | None, action: str,
           detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> None:
    """Record that `user` (a Slack user ID; None: the CLI operator) did `action` in `store`
    (a Store or its id), inside the caller's transaction. `detail` must be JSON data."""
    conn.execute(insert(audit).values(
        at=as_utc(at) if at is not None else utcnow(),
        store_id=store if isinstance(store, int) else store.id,
        user_id=user or OPERATOR, action=action, detail=detail or {}))


def entries(conn: Connection, store: Store | None = None, limit: int | None = None
            ) -> list[Entry]:
    """The trail, newest first: of one store, or of every store; at most `limit` rows."""
    query = (select(audit, stores.c.name.label("store"))
             .join(stores, stores.c.id == audit.c.store_id)
             .order_by(audit.c.id.desc()))
    if store is not None:
        query = query.where(audit.c.store_id == store.id)
    if limit:
        query = query.limit(limit)
    return [Entry(r.at, r.store, r.user_id, r.action, dict(r.detail or {}))
            for r in conn.execute(query)]
