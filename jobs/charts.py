"""A review's trend chart: drawn from the store's data, and uploaded into the review's threads
through the outbox.

* `chart(conn, store, kind, period_end, lang)`: the chart (bot.metrics.trend ->
  templates/chart.py) as a PNG with its title and file name; `chart_png` the bytes alone
  (`opsbot checklist weekly --chart PATH` writes them);
* `queue_chart(conn, parent_id, picture, now)`: the upload into the thread of one outbox post
  (a review's message in one channel), queued in the caller's transaction, so that the review
  and its chart exist together or not at all; sent once that post is delivered, exactly once
  (jobs/uploads.py);
* `queue_charts(conn, subject, purpose, picture, now)`: the same into the thread of every post
  of a subject, in every channel; a channel that gets the review late gets its chart by the
  same call, as the dedupe key is per post.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from bot import outbox
from bot.metrics.trend import trend
from bot.stores import Store

if TYPE_CHECKING:
    from templates.chart import Chart

PURPOSE = "chart"


def chart(conn: Connection, store: Store, kind: str, period_end: date,
          lang: str | None = None) -> Chart:
    """The `kind` ("weekly" | "monthly") trend chart ending with the period that holds
    `period_end`, in `lang` (the store's language by default). TrendError for another kind."""
    from templates.chart import draw  # matplotlib: loaded when a chart is drawn, not before

    return draw(trend(conn, store, kind, period_end), lang or store.language)


def chart_png(conn: Connection, store: Store, kind: str, period_end: date,
              lang: str | None = None) -> bytes:
    """The PNG bytes of `chart` (a review passes its period's last day)."""
    return chart(conn, store, kind, period_end, lang).png


def queue_chart(conn: Connection, parent_id: int, picture: Chart, now: datetime, *,
                comment: str | None = None) -> int | None:
    """Queue `picture` into the thread of the outbox post `parent_id` (`comment`: the text of
    the file's message, mrkdwn the caller has escaped); the upload's outbox id, or None when
    this post has had this chart queued already."""
    return outbox.enqueue_file(conn, parent_id, purpose=PURPOSE,
                               dedupe_key=f"{PURPOSE}:{parent_id}:{picture.filename}",
                               filename=picture.filename, title=picture.title,
                               content=picture.png, now=now, initial_comment=comment)


def queue_charts(conn: Connection, subject: str, purpose: str, picture: Chart,
                 now: datetime, *, comment: str | None = None) -> list[int]:
    """Queue `picture` into the thread of every post of `subject` with `purpose` (e.g. a
    review in each bound channel); the ids of the uploads this call queued."""
    queued = (queue_chart(conn, post.id, picture, now, comment=comment)
              for post in outbox.posts_of(conn, subject, purpose))
    return [i for i in queued if i is not None]
