"""Fan posts (粉丝通) published on one local day, against the store's target."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from bot.models import facts
from bot.periods import local_midnight
from bot.stores import Store

posts = facts["posts"]


def posts_figures(conn: Connection, store: Store, day: date, *, fresh: bool) -> dict[str, Any]:
    target, most = store.setting("posts_per_day"), store.setting("posts_max_per_day")
    count = None
    if fresh:
        start = local_midnight(day, store.tz)
        end = local_midnight(day + timedelta(days=1), store.tz)
        count = conn.scalar(select(func.count()).where(
            posts.c.store_id == store.id, posts.c.published_at >= start,
            posts.c.published_at < end)) or 0
    if count is None:
        status = None
    elif count > most:
        status = "over the maximum"
    elif count < target:
        status = "below target"
    else:
        status = "on target"
    return {"day": day.isoformat(), "count": count, "target": target, "max": most,
            "status": status}
