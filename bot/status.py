"""A store's status: where it lives (timezone, language, channels) and how fresh its data is,
i.e. the last ingested drop of each report kind and how old it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from bot.ingest.kinds import KINDS
from bot.models import drops
from bot.periods import age_parts, as_utc, format_age, local_time, utc_stamp
from bot.stores import Store, channels_of
from bot.text import clip


def store_status(conn: Connection, store: Store, now: datetime) -> dict[str, Any]:
    """Plain data for `/opsbot status`: every kind is listed, `last_drop` None when the store
    never received one (so an operator sees what is missing, not only what is there)."""
    now = as_utc(now)
    latest = (
        select(func.max(drops.c.id))
        .where(drops.c.store_id == store.id, drops.c.status == "ingested")
        .group_by(drops.c.kind)
    )
    rows = {r.kind: r for r in conn.execute(select(drops).where(drops.c.id.in_(latest)))}
    kinds = []
    for kind in KINDS:
        row = rows.get(kind.name)
        last = None
        if row is not None:
            last = {
                "drop_id": row.id,
                "file": clip(row.file_name),
                "source": row.source,
                "at": utc_stamp(row.created_at),
                "age": format_age(now - row.created_at),
                "age_parts": age_parts(now - row.created_at),  # worded by the message
                "age_hours": round((now - row.created_at).total_seconds() / 3600, 1),
                "period_start": row.period_start.isoformat() if row.period_start else None,
                "period_end": row.period_end.isoformat() if row.period_end else None,
                "rows": row.rows,
            }
        kinds.append({"kind": kind.name, "title": kind.title, "last_drop": last})
    return {
        "store": store.name,
        "timezone": store.timezone,
        "language": store.language,
        "local_time": local_time(now, store.tz).strftime("%Y-%m-%d %H:%M"),
        "channels": channels_of(conn, store),
        "drops": kinds,
        "kinds_with_data": sum(1 for k in kinds if k["last_drop"]),
    }
