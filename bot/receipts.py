"""Delivery receipts: the first claim of a (kind, ref) pair wins, later ones are repeats.

Chat platforms deliver at least once: an event is redelivered when its ack was late, and one
upload is announced by several events. A unique key in SQL, not a check-then-act in memory,
decides which delivery acts, so it holds across threads, workers and restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from bot.models import slack_receipts
from bot.periods import utcnow
from bot.storage import write

EVENT = "event"
FILE = "file"
KEEP = timedelta(days=30)  # retries come within minutes; old receipts only cost space


def claim(engine: Engine, kind: str, ref: str, *, now: datetime | None = None) -> bool:
    """Record `ref` as received; True for the first delivery, False for every repeat."""
    try:
        with write(engine) as conn:
            conn.execute(insert(slack_receipts).values(
                kind=kind, ref=ref, received_at=now or utcnow()))
    except IntegrityError:
        return False
    return True


def release(engine: Engine, kind: str, ref: str) -> None:
    """Forget a claim whose work failed before it had any effect, so a new delivery may act."""
    with write(engine) as conn:
        conn.execute(delete(slack_receipts).where(
            slack_receipts.c.kind == kind, slack_receipts.c.ref == ref))


def prune(engine: Engine, *, now: datetime | None = None) -> int:
    """Drop receipts older than `KEEP`; returns how many went."""
    cutoff = (now or utcnow()) - KEEP
    with write(engine) as conn:
        return conn.execute(
            delete(slack_receipts).where(slack_receipts.c.received_at < cutoff)).rowcount
