"""Facts in the database as an ingested drop leaves them, without going through a file."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert

from bot.metrics import customer_index
from bot.models import drops, facts
from bot.stores import Store


def put(conn: Connection, store: Store, kind: str, rows: list[dict[str, Any]],
        ingested_at: datetime, period: tuple[date, date] | None = None) -> None:
    """Facts as an ingested drop of `kind` would leave them (drop ingested at `ingested_at`,
    `period` the report period its file names); columns a row leaves out are None."""
    drop_id = conn.execute(insert(drops).values(
        store_id=store.id, file_name=f"{kind}.csv", sha256=uuid.uuid4().hex, kind=kind,
        status="ingested", source="cli", rows=len(rows), errors=[], created_at=ingested_at,
        period_start=period[0] if period else None, period_end=period[1] if period else None,
        period_source="name" if period else None,
    ).returning(drops.c.id)).scalar_one()
    blank = {c.name: None for c in facts[kind].columns if c.name != "id"}
    if rows:
        conn.execute(insert(facts[kind]), [
            {**blank, "store_id": store.id, "drop_id": drop_id, "key": uuid.uuid4().hex,
             "updated_at": ingested_at, **row} for row in rows])
    if kind in customer_index.KINDS:  # as the ingest writer does
        customer_index.rebuild(conn, store)
