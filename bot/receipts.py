"""Delivery receipts: the first claim of a (kind, ref) pair wins, later ones are repeats.

Chat platforms deliver at least once: an event is redelivered when its ack was late, and one
upload is announced by several events. A unique key in SQL, not a check-then-act in memory,
decides which delivery acts, so it holds across threads, workers and restarts.

An event's receipt is final when it is taken. A file's is a lease (`lease`): the upload is
`working` until `lease_until`, renewed between its steps, and ends `done` (answered) or
`released` (a new share may try again) in the transaction that queues its answer. A process
that dies mid-upload (kill -9, out of memory, a worker timeout) leaves it `working` past its
lease: a later share of the file, or the worker's sweep (jobs/upload_sweep.py), takes it over
with the next `attempt`. Only the holder of the current attempt may finish it, so a slow
process whose lease was taken over answers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from bot.models import slack_receipts as receipts_table
from bot.periods import utcnow
from bot.storage import read, write

EVENT = "event"
FILE = "file"
KEEP = timedelta(days=30)  # retries come within minutes; old receipts only cost space
# An upload's steps each take at most a minute or two (a download gives up after 60 s
# without progress, a read is capped by bot/ingest/limits.py); the lease is renewed between
# them, so only a process that stopped lets it run out.
LEASE = timedelta(minutes=10)
WORKING, DONE, RELEASED = "working", "done", "released"

_table = receipts_table


@dataclass(frozen=True)
class Lease:
    """The right to carry out one attempt at an upload."""

    kind: str
    ref: str
    attempt: int
    lapses: int  # attempts just before this one that died holding the lease
    store_id: int | None
    channel: str | None
    thread_ts: str | None


def claim(engine: Engine, kind: str, ref: str, *, now: datetime | None = None) -> bool:
    """Record `ref` as received; True for the first delivery, False for every repeat."""
    try:
        with write(engine) as conn:
            conn.execute(insert(_table).values(
                kind=kind, ref=ref, received_at=now or utcnow(), state=DONE))
    except IntegrityError:
        return False
    return True


def release(engine: Engine, kind: str, ref: str) -> None:
    """Forget a claim whose work failed before it had any effect, so a new delivery may act."""
    with write(engine) as conn:
        conn.execute(delete(_table).where(_table.c.kind == kind, _table.c.ref == ref))


def lease(engine: Engine, kind: str, ref: str, *, store_id: int | None = None,
          channel: str | None = None, thread_ts: str | None = None,
          now: datetime | None = None, length: timedelta = LEASE) -> Lease | None:
    """A lease on `ref`: new, or taken over from a released receipt or one whose lease ran
    out; None while another holds it or once it is done."""
    now = now or utcnow()
    where = {"store_id": store_id, "channel": channel, "thread_ts": thread_ts}
    try:
        with write(engine) as conn:
            conn.execute(insert(_table).values(
                kind=kind, ref=ref, received_at=now, state=WORKING, lease_until=now + length,
                attempt=1, lapses=0, **where))
        return Lease(kind, ref, 1, 0, **where)
    except IntegrityError:
        pass
    with read(engine) as conn:
        row = conn.execute(select(_table).where(_table.c.kind == kind, _table.c.ref == ref)
                           ).first()
    if row is None:
        return None  # pruned meanwhile: so old that it is not worth taking up
    return take_over(engine, row, now=now, length=length,
                     **{k: v for k, v in where.items() if v is not None})


def take_over(engine: Engine, row: Row, *, now: datetime | None = None,
              length: timedelta = LEASE, **where: object) -> Lease | None:
    """Take the lease of receipt `row` (as read) if it is released or ran out and nobody
    took it since (compare-and-set on its attempt); `where` replaces where it was shared."""
    now = now or utcnow()
    lapsed = row.state == WORKING and row.lease_until is not None and row.lease_until < now
    if not (lapsed or row.state == RELEASED):
        return None
    values = {"store_id": row.store_id, "channel": row.channel, "thread_ts": row.thread_ts,
              **where}
    if where.get("channel") not in (None, row.channel):  # shared again elsewhere
        values["thread_ts"] = where.get("thread_ts")
    lapses = row.lapses + 1 if lapsed else 0
    with write(engine) as conn:
        taken = conn.execute(update(_table).where(
            _table.c.kind == row.kind, _table.c.ref == row.ref,
            _table.c.attempt == row.attempt, _table.c.state == row.state,
        ).values(state=WORKING, attempt=row.attempt + 1, lapses=lapses,
                 lease_until=now + length, received_at=now, **values)).rowcount
    if taken != 1:
        return None
    return Lease(row.kind, row.ref, row.attempt + 1, lapses, values["store_id"],  # type: ignore[arg-type]
                 values["channel"], values["thread_ts"])  # type: ignore[arg-type]


def lapsed(engine: Engine, kind: str, *, now: datetime | None = None, limit: int = 20
           ) -> list[Row]:
    """Receipts still `working` whose lease ran out: work a dead process left, oldest first."""
    with read(engine) as conn:
        return list(conn.execute(
            select(_table).where(_table.c.kind == kind, _table.c.state == WORKING,
                                 _table.c.lease_until < (now or utcnow()))
            .order_by(_table.c.lease_until).limit(limit)))


def renew(engine: Engine, held: Lease, *, now: datetime | None = None,
          length: timedelta = LEASE) -> bool:
    """Push the lease's end back (between an upload's steps); False when it was taken over."""
    now = now or utcnow()
    with write(engine) as conn:
        return conn.execute(update(_table).where(*_current(held)).values(
            lease_until=now + length)).rowcount == 1


def finish(conn: Connection, held: Lease, *, release: bool = False) -> bool:
    """End the lease, in the caller's transaction (the one that queues the answer): `done`,
    or `released` so that a new share may try again. False when the attempt was taken over:
    the caller then answers nothing (the new holder will)."""
    return conn.execute(update(_table).where(*_current(held)).values(
        state=RELEASED if release else DONE, lease_until=None)).rowcount == 1


def _current(held: Lease) -> tuple:
    return (_table.c.kind == held.kind, _table.c.ref == held.ref,
            _table.c.attempt == held.attempt, _table.c.state == WORKING)


def prune(engine: Engine, *, now: datetime | None = None) -> int:
    """Drop receipts older than `KEEP`; returns how many went."""
    cutoff = (now or utcnow()) - KEEP
    with write(engine) as conn:
        return conn.execute(
            delete(_table).where(_table.c.received_at < cutoff)).rowcount
