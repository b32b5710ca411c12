"""The outbox: every message the worker sends is a row here before it is a Slack message.

Why: a message is enqueued in the same transaction as what it announces (a checklist, an
alert), so either both exist or neither; the sender (jobs/delivery.py) delivers later with
retries, and nothing is lost while Slack is down.

Exactly once, by construction:
* enqueue is idempotent: `dedupe_key` is unique (e.g. ``checklist:{id}:{channel}``); a second
  enqueue of the same key changes nothing and returns the existing row's id.
* a row is claimed with a compare-and-set UPDATE (status pending -> sending, with the claim
  time) before the API call, so two senders never both post it;
* a row whose outcome is unknown (the worker was killed while it was `sending`, or the call
  timed out, or Slack answered 5xx) has `maybe_sent`; the sender then looks for the message in
  the channel's history (every post carries metadata naming its outbox id) before posting
  again.

Statuses: pending -> sending -> delivered | pending (retry) | failed (permanent error, or
still undeliverable after GIVE_UP_AFTER). A thread reply or an edit (`thread_of` /
`update_of`) waits until the row it refers to is delivered, and fails if that one failed.

Edits: every edit carries the whole current message, so only the newest edit of a post is
ever sent (an older one still waiting is dropped), and it waits while an older edit of the
same post is being sent: a late chat.update of an older state never lands after a newer one.

Files: `enqueue_file` queues an upload into a post's thread (a reply, `thread_of`), its bytes
and the progress of Slack's upload steps in `outbox_files` (jobs/uploads.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from bot.models import outbox, outbox_files, stores

BACKOFF_START = timedelta(seconds=5)
BACKOFF_CAP = timedelta(minutes=10)
# Keep trying for two days: an outage of hours delays messages and loses none.
GIVE_UP_AFTER = timedelta(days=2)
# A row still `sending` after this long was left by a worker that died mid-send: the longest
# legitimate send is one API call (timeout 30 s) plus a history check.
STALE_SENDING = timedelta(minutes=2)
METADATA_EVENT = "opsbot_outbox"

# A thread reply or an edit refers to another row: its `parent`, whose Slack ts it needs.
_parent = outbox.alias("parent")
_refers_to = func.coalesce(outbox.c.thread_of, outbox.c.update_of)
_WITH_PARENT_TS = (select(outbox, _parent.c.ts.label("parent_ts"))
                   .outerjoin(_parent, _parent.c.id == _refers_to))
# Another edit of the same post (due(), settle()).
_other = outbox.alias("other")


def enqueue(conn: Connection, **message: Any) -> int:
    """Queue a message (the fields of `enqueue_new`; idempotent on `dedupe_key`); returns the
    row id, new or existing."""
    new_id = enqueue_new(conn, **message)
    if new_id is not None:
        return new_id
    return int(conn.scalar(select(outbox.c.id).where(
        outbox.c.dedupe_key == message["dedupe_key"])))


def enqueue_new(
    conn: Connection,
    *,
    store_id: int,
    channel: str,
    purpose: str,
    dedupe_key: str,
    payload: Mapping[str, Any],
    now: datetime,
    subject: str | None = None,
    thread_of: int | None = None,
    update_of: int | None = None,
) -> int | None:
    """As enqueue, but the id only of a row this call inserted: None when a row with
    `dedupe_key` was there already (whatever its status), so nothing was queued."""
    values = {
        "store_id": store_id, "channel": channel, "purpose": purpose, "subject": subject,
        "dedupe_key": dedupe_key, "payload": dict(payload), "thread_of": thread_of,
        "update_of": update_of, "status": "pending", "attempts": 0, "next_attempt_at": now,
        "maybe_sent": False, "created_at": now, "updated_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(outbox).values(**values)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(outbox.c.id))
    new_id = conn.execute(statement).scalar()
    return int(new_id) if new_id is not None else None


def due(conn: Connection, now: datetime, *, limit: int = 500,
        ids: list[int] | None = None) -> list[Row]:
    """Rows the sender may try now: pending and due, or left `sending` by a dead worker
    (only those of `ids` when given). Reads only: settle() first does the bookkeeping.

    Rows that refer to another row come only once that row is delivered. An edit comes only
    if it is the newest edit of its post, and not while an older edit of that post is being
    sent (by another sender, e.g. a handler's deliver_rows): it goes once that one is done.
    """
    query = (
        _WITH_PARENT_TS
        .where(
            or_(
                and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
                and_(outbox.c.status == "sending", outbox.c.claimed_at <= now - STALE_SENDING),
            ),
            or_(_refers_to.is_(None), _parent.c.status == "delivered"),
            or_(outbox.c.update_of.is_(None),
                and_(~exists().where(_other.c.update_of == outbox.c.update_of,
                                     _other.c.id > outbox.c.id),
                     ~exists().where(_other.c.update_of == outbox.c.update_of,
                                     _other.c.id < outbox.c.id, _other.c.status == "sending",
                                     _other.c.claimed_at > now - STALE_SENDING))),
        )
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if ids is not None:
        query = query.where(outbox.c.id.in_(ids))
    return list(conn.execute(query))


def unsettled(conn: Connection) -> bool:
    """Whether any row is still pending or being sent: settle() and due() have work only
    then (a read, so that an idle sender takes no write lock)."""
    return bool(conn.scalar(select(exists().where(
        outbox.c.status.in_(("pending", "sending"))))))


def settle(conn: Connection, now: datetime) -> None:
    """The sender's bookkeeping before it looks for due rows: thread replies and edits of a
    failed row fail (nothing to reply to or edit), and an edit waiting behind a newer edit
    of the same post is dropped (it would never be sent, see due())."""
    orphans = list(conn.scalars(
        select(outbox.c.id).join(_parent, _parent.c.id == _refers_to)
        .where(outbox.c.status == "pending", _parent.c.status == "failed")
    ))
    if orphans:
        conn.execute(update(outbox).where(outbox.c.id.in_(orphans)).values(
            status="failed", last_error="the message it refers to could not be delivered",
            updated_at=now))
    conn.execute(delete(outbox).where(
        outbox.c.update_of.is_not(None),
        or_(outbox.c.status == "pending",
            and_(outbox.c.status == "sending", outbox.c.claimed_at <= now - STALE_SENDING)),
        exists().where(_other.c.update_of == outbox.c.update_of, _other.c.id > outbox.c.id)))


def claim(conn: Connection, row: Row, now: datetime) -> Row | None:
    """Compare-and-set the row to `sending`; the claimed row, or None when another sender
    got there first."""
    values: dict[str, Any] = {
        "status": "sending", "claimed_at": now, "attempts": outbox.c.attempts + 1,
        "first_claimed_at": func.coalesce(outbox.c.first_claimed_at, now), "updated_at": now,
    }
    if row.status == "sending":  # recovering a dead worker's claim: its post may exist
        same_claim = outbox.c.claimed_at == row.claimed_at
        values["maybe_sent"] = True
    else:
        same_claim = outbox.c.status == "pending"
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == row.id, outbox.c.status == row.status, same_claim)
        .values(**values)
    )
    if result.rowcount != 1:
        return None
    return conn.execute(_WITH_PARENT_TS.where(outbox.c.id == row.id)).one()


def delivered(conn: Connection, outbox_id: int, ts: str | None, now: datetime) -> None:
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
        status="delivered", ts=ts, delivered_at=now, updated_at=now, last_error=None,
        maybe_sent=False))


def retry_later(
    conn: Connection, outbox_id: int, now: datetime, *, error: str, maybe_sent: bool,
    retry_after: timedelta | None = None,
) -> str:
    """Back to pending with the next attempt time; failed once it has tried long enough.

    `retry_after` is Slack's Retry-After (429); otherwise the backoff doubles from
    BACKOFF_START up to BACKOFF_CAP with the number of attempts. Returns the new status.
    """
    row = conn.execute(select(outbox.c.attempts, outbox.c.created_at)
                       .where(outbox.c.id == outbox_id)).one()
    if now - row.created_at >= GIVE_UP_AFTER:
        fail(conn, outbox_id, now,
             error=f"gave up after {row.attempts} attempts over "
                   f"{GIVE_UP_AFTER.days} days; last error: {error}")
        return "failed"
    delay = retry_after if retry_after is not None else backoff(row.attempts)
    values: dict[str, Any] = {"status": "pending", "next_attempt_at": now + delay,
                              "last_error": error, "updated_at": now}
    if maybe_sent:  # never cleared here: an earlier uncertain attempt stays uncertain
        values["maybe_sent"] = True
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(**values))
    return "pending"


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at 10 minutes (attempts counts the failed one)."""
    exponent = min(max(attempts - 1, 0), 16)
    return min(BACKOFF_START * (2 ** exponent), BACKOFF_CAP)


def fail(conn: Connection, outbox_id: int, now: datetime, *, error: str) -> None:
    conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
        status="failed", last_error=error, updated_at=now))


def counts(conn: Connection) -> dict[str, int]:
    """Rows per status (pending, sending, delivered, failed), zeros included."""
    found = dict(conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
                 .all())
    return {s: int(found.get(s, 0)) for s in ("pending", "sending", "delivered", "failed")}


def metadata_for(outbox_id: int) -> dict[str, Any]:
    """The Slack message metadata that lets a restarted sender recognise its own post."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": outbox_id}}


def is_ours(message: Mapping[str, Any], outbox_id: int) -> bool:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return meta.get("event_type") == METADATA_EVENT and payload.get("outbox_id") == outbox_id


def posts_of(conn: Connection, subject: str, purpose: str) -> list[Row]:
    """Every post (not reply, not edit) about `subject` with `purpose`, in every channel,
    oldest first: the copies an edit must reach."""
    return list(conn.execute(
        select(outbox).where(outbox.c.subject == subject, outbox.c.purpose == purpose,
                             outbox.c.update_of.is_(None), outbox.c.thread_of.is_(None),
                             outbox.c.status != "failed")
        .order_by(outbox.c.id)))


def posted_channels(conn: Connection, subject: str, purpose: str) -> set[str]:
    """The channels that have a post (not reply, not edit) about `subject` with `purpose`,
    whatever its status: a channel whose post failed (e.g. not_in_channel) has had its
    chance and is not posted to again."""
    return set(conn.scalars(
        select(outbox.c.channel).distinct()
        .where(outbox.c.subject == subject, outbox.c.purpose == purpose,
               outbox.c.update_of.is_(None), outbox.c.thread_of.is_(None))))


def enqueue_edit(conn: Connection, post: Row, *, purpose: str, dedupe_key: str,
                 payload: Mapping[str, Any], now: datetime) -> int:
    """Queue an edit of `post` (sent once the post is delivered). Every edit carries the
    whole current message, so an older edit of the same post still pending is dropped: a
    late retry of it must never overwrite a newer state."""
    conn.execute(delete(outbox).where(outbox.c.update_of == post.id,
                                      outbox.c.status == "pending",
                                      outbox.c.dedupe_key != dedupe_key))
    return enqueue(conn, store_id=post.store_id, channel=post.channel, purpose=purpose,
                   subject=post.subject, dedupe_key=dedupe_key, payload=payload, now=now,
                   update_of=post.id)


def enqueue_file(conn: Connection, parent_id: int, *, purpose: str, dedupe_key: str,
                 filename: str, title: str, content: bytes, now: datetime,
                 initial_comment: str | None = None) -> int | None:
    """Queue an upload of `content` into the thread of the outbox row `parent_id`, in its
    channel, sent once that row is delivered (it needs its ts); the new row's id, or None
    when `dedupe_key` was queued already (nothing is queued then)."""
    parent = conn.execute(select(outbox.c.store_id, outbox.c.channel, outbox.c.subject)
                          .where(outbox.c.id == parent_id)).one()
    upload: dict[str, Any] = {"filename": filename, "title": title}
    if initial_comment:
        upload["initial_comment"] = initial_comment
    new_id = enqueue_new(conn, store_id=parent.store_id, channel=parent.channel,
                         purpose=purpose, subject=parent.subject, dedupe_key=dedupe_key,
                         payload={"text": title, "upload": upload}, now=now,
                         thread_of=parent_id)
    if new_id is not None:
        conn.execute(insert(outbox_files).values(outbox_id=new_id, content=content))
    return new_id


def upload_of(conn: Connection, outbox_id: int) -> Row:
    """The file of an upload row and how far its upload got (outbox_files)."""
    return conn.execute(select(outbox_files).where(outbox_files.c.outbox_id == outbox_id)).one()


def upload_progress(conn: Connection, outbox_id: int, **step: Any) -> None:
    """Record an upload step (file_id and upload_url, uploaded_at, completing_at)."""
    conn.execute(update(outbox_files).where(outbox_files.c.outbox_id == outbox_id).values(**step))


def drop_for_workspace(conn: Connection, team_id: str, now: datetime, *, reason: str
                       ) -> list[int]:
    """Fail every queued (pending) row of the stores of workspace `team_id`, with `reason`:
    the workspace removed opsbot, so nothing more goes there and nothing is retried. The
    stores and their data stay. Returns the ids of the rows dropped."""
    ids = list(conn.scalars(
        select(outbox.c.id).join(stores, stores.c.id == outbox.c.store_id)
        .where(stores.c.team_id == team_id, outbox.c.status == "pending")
        .order_by(outbox.c.id)))
    if ids:
        conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
            status="failed", last_error=reason, updated_at=now))
    return ids
