"""The checklist's inquiry figures: new, unreplied, spam suspects and duplicates.

All moments are naive UTC. Rules, as the item reports them:
- new: valid (not flagged as spam) inquiries created from `since` to before `until`, the
  local days the checklist counts (bot/checklist.build_daily), up to `now`;
- unreplied: no reply yet, older than the store's `unreplied_hours` and younger than its
  `unreplied_max_days` (still worth a reply), spam suspects left out (the operator deletes
  those rather than answering); newest first, so the list starts with the buyers most likely
  to still be waiting. Older unreplied inquiries are only counted (`unreplied_older_count`);
- spam suspects: inquiries of those days the platform flagged as spam, to be verified by
  hand (not in "new");
- duplicates: a new inquiry from the same buyer about the same product as an earlier one
  within `duplicate_days`. The buyer is the e-mail when there is one, else buyer name plus
  company; the product is its ID, else its title. An inquiry without either is never called
  a duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

from bot.ingest.parsing import fold
from bot.metrics.inquiries import VALID, not_replied
from bot.models import facts
from bot.periods import age_parts
from bot.stores import Store

SHOWN = 5  # the newest few listed in a message; counts cover them all

inquiries = facts["inquiries"]


def buyer_key(row: Any) -> str | None:
    if row.email:
        return "email:" + fold(row.email)
    if row.buyer:
        return "name:" + fold(row.buyer) + "\x1f" + fold(row.company)
    return None


def product_key(row: Any) -> str | None:
    if row.product_id:
        return "id:" + fold(row.product_id)
    if row.product_title:
        return "title:" + fold(row.product_title)
    return None


def _brief(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "inquiry_id": row.inquiry_id,
        "buyer": row.buyer,
        "company": row.company,
        "country": row.country,
        "owner": row.owner,
        "product": row.product_title or row.product_id,
        "subject": row.subject,
        "created_at": row.created_at.isoformat(),
        "age": age_parts(now - row.created_at),  # worded by the message
    }


def _by_owner(groups: Any) -> list[dict[str, Any]]:
    """Unreplied counts per owner: most first, then named owners by name (case aside), no
    owner (NULL or blank) last. Sorted here, not in SQL: SQLite and PostgreSQL order NULLs
    and text apart."""
    counts: dict[str | None, int] = {}
    for owner, n in groups:
        counts[owner or None] = counts.get(owner or None, 0) + n
    ranked = sorted(counts.items(), key=lambda c: (-c[1], c[0] is None,
                                                   (c[0] or "").casefold(), c[0] or ""))
    return [{"owner": owner, "count": n} for owner, n in ranked]


def _unreplied(store: Store, now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The unreplied inquiries still worth a reply, and those too old to list."""
    open_valid = and_(inquiries.c.store_id == store.id, not_replied(now), VALID)
    too_old = now - timedelta(days=store.setting("unreplied_max_days"))
    worth = and_(open_valid,
                 inquiries.c.created_at <= now - timedelta(hours=store.setting("unreplied_hours")),
                 inquiries.c.created_at > too_old)
    return worth, and_(open_valid, inquiries.c.created_at <= too_old)


def unreplied_ids(conn: Connection, store: Store, now: datetime) -> set[str]:
    """The inquiry IDs the checklist's unreplied line counts as of `now` (naive UTC)."""
    worth, _ = _unreplied(store, now)
    return set(conn.scalars(select(inquiries.c.inquiry_id).where(worth)))


def inquiry_figures(conn: Connection, store: Store, now: datetime, since: datetime,
                    until: datetime) -> dict[str, Any]:
    """Plain figures of the inquiries item as of `now` (naive UTC); new ones are created in
    [since, until)."""
    worth, older = _unreplied(store, now)
    newest = conn.execute(
        select(inquiries).where(worth)
        .order_by(inquiries.c.created_at.desc(), inquiries.c.inquiry_id.desc()).limit(SHOWN)
    ).all()
    by_owner = conn.execute(
        select(inquiries.c.owner, func.count().label("n")).where(worth)
        .group_by(inquiries.c.owner)
    ).all()
    unreplied_count = sum(n for _, n in by_owner)
    older_count = conn.scalar(select(func.count()).select_from(inquiries).where(older)) or 0

    limit = timedelta(days=store.setting("duplicate_days"))
    window = since - limit
    recent = conn.execute(
        select(inquiries).where(
            inquiries.c.store_id == store.id,
            inquiries.c.created_at > window,
            inquiries.c.created_at < until, inquiries.c.created_at <= now,
        ).order_by(inquiries.c.created_at, inquiries.c.inquiry_id)
    ).all()
    spam = [r for r in recent if r.created_at >= since and r.is_spam]
    new = [r for r in recent if r.created_at >= since and not r.is_spam]

    duplicates: list[dict[str, Any]] = []
    first_seen: dict[tuple[str, str], list[Any]] = {}
    for row in recent:
        buyer, product = buyer_key(row), product_key(row)
        # spam is listed apart, never as a duplicate nor as what a valid one duplicates
        if row.is_spam or buyer is None or product is None:
            continue
        earlier = [e for e in first_seen.get((buyer, product), [])
                   if row.created_at - e.created_at <= limit]
        if row.created_at >= since and earlier:
            duplicates.append({**_brief(row, now), "duplicate_of": earlier[0].inquiry_id,
                               "first_at": earlier[0].created_at.isoformat()})
        first_seen.setdefault((buyer, product), []).append(row)

    return {
        "since": since.isoformat(),
        "new": len(new),
        "unreplied_hours": store.setting("unreplied_hours"),
        "unreplied_max_days": store.setting("unreplied_max_days"),
        "unreplied_count": unreplied_count,
        "unreplied": [_brief(r, now) for r in newest],
        "unreplied_older_count": older_count,
        "unreplied_by_owner": _by_owner(by_owner),
        "spam_count": len(spam),
        "spam": [_brief(r, now) for r in spam[:SHOWN]],
        "duplicate_count": len(duplicates),
        "duplicates": duplicates[:SHOWN],
    }
