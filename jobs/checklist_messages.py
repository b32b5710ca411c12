"""The checklists' Slack messages (every kind), queued in the outbox like every message.

* post: one per bound channel when the checklist is created (jobs/tick.post_checklist);
* late post: a channel bound after the day's checklist was created gets it too, with the
  ticks so far, while the checklist is still within its catch-up window (bot/schedule.py),
  exactly once (the same dedupe key as a first post);
* a review (a kind with a `chart`) gets its trend chart in the thread of each post, queued
  with the post, through the outbox (jobs/charts.py): once per post, a late one included;
* a tick redraws every copy, in every channel (handlers/checklist_actions.py): edits are
  outbox rows (`update_of`) carrying the whole current message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from bot import outbox
from bot.checklists import records
from bot.checklists.registry import CHECKLISTS
from bot.stores import Store
from jobs.charts import chart, queue_charts
from templates import render

POST = "checklist"
EDIT = "checklist_update"


def message(conn: Connection, checklist_id: int) -> dict[str, Any]:
    """The checklist's message as it stands (figures as built, ticks so far), in its
    store's language."""
    data = records.load(conn, checklist_id)
    return render(CHECKLISTS[data["kind"]].template, checklist=data, lang=data["language"])


def unposted(conn: Connection, checklist_id: int, channels: list[str]) -> list[str]:
    """The channels of `channels` without a post of the checklist (one that failed counts
    as posted: it is not posted there again)."""
    posted = outbox.posted_channels(conn, f"checklist:{checklist_id}", POST)
    return [c for c in channels if c not in posted]


def post(conn: Connection, store: Store, checklist_id: int, now: datetime,
         channels: list[str]) -> list[str]:
    """Queue the checklist in each of `channels` that has no post of it yet; the channels
    it was queued for (only those this call queued)."""
    missing = unposted(conn, checklist_id, channels)
    queued = []
    if missing:
        payload = message(conn, checklist_id)
        for channel in missing:
            if outbox.enqueue_new(conn, store_id=store.id, channel=channel, purpose=POST,
                                  subject=f"checklist:{checklist_id}",
                                  dedupe_key=f"checklist:{checklist_id}:{channel}",
                                  payload=payload, now=now) is not None:
                queued.append(channel)
        if queued:
            queue_chart(conn, store, checklist_id, now)
    return queued


def queue_chart(conn: Connection, store: Store, checklist_id: int, now: datetime) -> list[int]:
    """Queue the checklist's chart (its kind's, if any) into the thread of each of its posts
    that has none yet; the uploads' outbox ids."""
    data = records.load(conn, checklist_id)
    kind = CHECKLISTS[data["kind"]]
    if kind.chart is None or not outbox.posts_of(conn, f"checklist:{checklist_id}", POST):
        return []
    picture = chart(conn, store, kind.chart, date.fromisoformat(data["period"]["end"]),
                    data["language"])
    return queue_charts(conn, f"checklist:{checklist_id}", POST, picture, now)


def redraw(conn: Connection, checklist_id: int, now: datetime, version: str) -> list[int]:
    """Queue an edit of every post of the checklist, in every channel; the edits' ids."""
    posts = outbox.posts_of(conn, f"checklist:{checklist_id}", POST)
    if not posts:
        return []
    payload = message(conn, checklist_id)
    return [outbox.enqueue_edit(conn, p, purpose=EDIT, payload=payload, now=now,
                                dedupe_key=f"checklist:{checklist_id}:edit:{p.id}:{version}")
            for p in posts]
