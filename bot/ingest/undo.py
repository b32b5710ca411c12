"""Undoing a drop: the facts it inserted go, the facts it updated get their earlier values back
(from the before-images its writer kept, bot/models.py `undo`), in one transaction.

A drop is refused while a later drop has changed or restated any of its facts (undo that one
first: the message names it), so an undo never takes away what another drop says. The drop
record stays, with status `deleted`, and so do the later duplicates of its content, retired
with it: neither counts as coverage any more (bot/metrics/freshness.py counts ingested and
duplicate drops), and the same bytes can be ingested again. The store's alerts are evaluated
afresh on the next tick, as after new data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bot.metrics import customer_index
from bot.models import alert_checks, drops, facts, undo
from bot.periods import utcnow
from bot.stores import get_store

_NAMED_LATER = 3  # later drops named in a refusal


class Refused(Exception):
    """The drop cannot be undone; the message says why and what to do."""


class Contended(Refused):
    """Another process is undoing or re-ingesting the same drop right now."""


@dataclass
class Undone:
    drop_id: int
    kind: str | None
    file: str
    removed: int = 0  # facts the drop had inserted, deleted
    restored: int = 0  # facts it had updated, back as they were before it
    duplicates: int = 0  # later drops of the same content, retired with it

    @property
    def counts(self) -> str:
        """For messages: "2 facts removed, 1 restored"."""
        return f"{self.removed} fact{'' if self.removed == 1 else 's'} removed, " \
               f"{self.restored} restored"

    def to_json(self) -> dict[str, Any]:
        return {"drop_id": self.drop_id, "kind": self.kind, "file": self.file,
                "removed": self.removed, "restored": self.restored,
                "duplicates": self.duplicates}


def undo_drop(conn: Connection, drop_id: int, store_id: int | None = None) -> Undone:
    """Undo one drop (of `store_id`, when given) inside the caller's write transaction.
    Raises Refused when it cannot be undone: the caller rolls back (`bot.storage.write`)."""
    row = conn.execute(select(drops).where(drops.c.id == drop_id)).first()
    if row is None or (store_id is not None and row.store_id != store_id):
        raise Refused(f"no drop with id {drop_id}" + (" in this store" if row else ""))
    if row.status == "deleted":
        raise Refused(f"drop {drop_id} was already deleted")
    if row.status == "rejected":
        raise Refused(f"drop {drop_id} was rejected: it wrote nothing to undo")
    if _retire(conn, drops.c.id == drop_id, drops.c.status == row.status) != 1:
        # A concurrent undo or re-ingest got there first (PostgreSQL; SQLite writes one at a
        # time): this one changes nothing.
        raise Contended(f"drop {drop_id} is being changed by another process; try again")
    done = Undone(drop_id, row.kind, row.file_name)
    if row.status == "ingested":
        table, before = facts[row.kind], undo[row.kind]
        later = conn.execute(
            select(drops.c.id, drops.c.file_name).where(drops.c.id.in_(
                select(before.c.drop_id).where(before.c.before_drop_id == drop_id)))
            .order_by(drops.c.id.desc())
        ).all()
        if later:
            named = ", ".join(f"{d.id} ({d.file_name})" for d in later[:_NAMED_LATER])
            more = f" and {len(later) - _NAMED_LATER} more" if len(later) > _NAMED_LATER else ""
            raise Refused(
                f"later drop{'s' if len(later) > 1 else ''} {named}{more} changed or restated "
                f"facts of drop {drop_id} since: undo {'them' if len(later) > 1 else 'it'} "
                f"first (opsbot drops delete {later[0].id})")
        kept = [c.name for c in before.columns if c.name in table.c
                and c.name not in ("id", "drop_id")]
        done.restored = conn.execute(
            update(table)
            .where(table.c.id == before.c.fact_id, before.c.drop_id == drop_id)
            .values({**{c: before.c[c] for c in kept}, "drop_id": before.c.before_drop_id,
                     "updated_at": before.c.before_updated_at})
        ).rowcount
        # What the drop still holds after the restore, it inserted.
        done.removed = conn.execute(delete(table).where(
            table.c.store_id == row.store_id, table.c.drop_id == drop_id)).rowcount
        conn.execute(delete(before).where(before.c.drop_id == drop_id))
        done.duplicates = _retire(conn, drops.c.duplicate_of == drop_id,
                                  drops.c.status == "duplicate")
    # New data as far as the alerts are concerned (bot/alerts/incidents.py needs_evaluation).
    conn.execute(update(alert_checks).where(alert_checks.c.store_id == row.store_id)
                 .values(last_day=None))
    if row.kind in customer_index.KINDS:  # questions about customers read the index
        customer_index.rebuild(conn, get_store(conn, row.store_id))
    return done


def _retire(conn: Connection, *where: Any) -> int:
    return conn.execute(update(drops).where(*where)
                        .values(status="deleted", deleted_at=utcnow())).rowcount
