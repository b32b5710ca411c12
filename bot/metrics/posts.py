"""Fan posts (粉丝通) published on one local day, against the store's target.

`status` is a code the message words: "over_max" (more than posts_max_per_day),
"below_target" (fewer than posts_per_day), "on_target"; None when the count is unknown."""

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
        status = "over_max"
    elif count < target:
        status = "below_target"
    else:
        status = "on_target"
    return {"day": day.isoformat(), "count": count, "target": target, "max": most,
            "status": status}
