"""The inquiry questions operators ask many times a day, answered in SQL (no Slack here).

- `summarize`: how many inquiries came in over a period, how many are spam, valid, replied,
  unreplied, from which countries and for which products, and the change against the
  previous period of the same length.
- `unreplied`: the unanswered non-spam inquiries, oldest first (a slow reply costs ranking).
- `spam`: the spam suspects of a period, to verify by hand.
- `valid_per_day`: the valid inquiries of each local day, the series the checklist's data
  item and the inquiry-drop alert compare against the usual level.
- `resolve_filters`: `owner:lily` as the owner it means (`Lily Chen`), and a country, owner
  or product no inquiry of the store has reported as such rather than answered with 0.

Every answer carries the `coverage` of its period by the inquiry lists, read as the checklist
reads it (bot/metrics/freshness.py): days no export covers are unknown, not zero, so a period
nothing covers has no figures (None) and one covered in part says which part.

A valid inquiry is one the platform did not flag as spam (`VALID`, the one spelling of it).

Every function aggregates in SQL over `facts["inquiries"]` on the (store_id, created_at) index.
Periods are the store's local days; stored moments are naive UTC. `now` makes answers
reproducible: nothing created after it counts, and a reply sent after it does not count yet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from bot.countries import code_of, spellings
from bot.metrics.freshness import Coverage, list_coverage, staleness
from bot.models import facts
from bot.periods import (
    Period,
    age_parts,
    as_utc,
    format_age,
    local_midnight,
    local_time,
    local_today,
    utc_stamp,
    utcnow,
)
from bot.stores import Store
from bot.text import clip
from templates.i18n import Text

TOP_PRODUCTS = 10
LIST_LIMIT = 20
NAMES_SHOWN = 8  # candidates an error names (owners, countries), most frequent first

inquiries = facts["inquiries"]

@dataclass(frozen=True)
class Filters:
    """`country:US owner:NAME product:ID`, all case-insensitive and combinable."""

    country: str | None = None
    owner: str | None = None
    product: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"country": self.country, "owner": self.owner, "product": self.product}

    def __bool__(self) -> bool:
        return any((self.country, self.owner, self.product))

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.country:
            out.append(func.lower(inquiries.c.country).in_(spellings(self.country)))
        if self.owner:
            out.append(func.lower(inquiries.c.owner) == self.owner.strip().lower())
        if self.product:
            out.append(func.lower(inquiries.c.product_id) == self.product.strip().lower())
        return out


class FilterError(ValueError):
    """A filter no inquiry of the store matches, or an owner that could be several people;
    `text` says which, naming the candidates."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


def resolve_filters(conn: Connection, store: Store, asked: Filters) -> Filters:
    """`asked` as the store's inquiries spell it: an owner by their name, a unique prefix of
    it or of one of its words, case-insensitive (`owner:lily` and `owner:chen` mean `Lily
    Chen`); a country and a product as some inquiry has them. FilterError when one matches no
    inquiry of the store, which is an unknown name rather than a count of 0, or when an owner
    could be several. A store without any inquiry is left to its coverage to explain."""
    if not asked or conn.scalar(select(inquiries.c.id).where(
            inquiries.c.store_id == store.id).limit(1)) is None:
        return asked
    owner = _owner(conn, store, asked.owner) if asked.owner else None
    if asked.country and not _matches(conn, store, Filters(country=asked.country)):
        raise FilterError(Text(
            "no inquiry from `%(country)s` in this store: its countries are %(known)s",
            country=asked.country, known=_most_frequent(conn, store, inquiries.c.country)))
    if asked.product and not _matches(conn, store, Filters(product=asked.product)):
        raise FilterError(Text("no inquiry for product `%(product)s` in this store",
                               product=asked.product))
    return Filters(country=asked.country, owner=owner, product=asked.product)


def _matches(conn: Connection, store: Store, filters: Filters) -> bool:
    return conn.scalar(select(inquiries.c.id).where(
        inquiries.c.store_id == store.id, *filters.clauses()).limit(1)) is not None


def _most_frequent(conn: Connection, store: Store, column: Any) -> str:
    names = conn.scalars(
        select(column).where(inquiries.c.store_id == store.id, column.is_not(None))
        .group_by(column).order_by(func.count().desc(), column).limit(NAMES_SHOWN + 1)).all()
    shown = ", ".join(clip(n) or "" for n in names[:NAMES_SHOWN])
    return shown + (", …" if len(names) > NAMES_SHOWN else "") if names else "–"


def _owner(conn: Connection, store: Store, typed: str) -> str:
    wanted = typed.strip().casefold()
    names = sorted(set(conn.scalars(select(inquiries.c.owner).distinct().where(
        inquiries.c.store_id == store.id, inquiries.c.owner.is_not(None)))))
    exact = [n for n in names if n.casefold() == wanted]
    if exact:  # `tom` is Tom, even when a Tommy exists
        return exact[0]
    hits: dict[str, str] = {}  # one spelling per person
    for name in names:
        folded = name.casefold()
        if folded.startswith(wanted) or any(w.startswith(wanted) for w in folded.split()):
            hits.setdefault(folded, name)
    if len(hits) == 1:
        return next(iter(hits.values()))
    if hits:
        found = sorted(hits.values())
        raise FilterError(Text(
            "owner `%(owner)s` could be %(candidates)s: write more of the name",
            owner=typed, candidates=", ".join(found[:NAMES_SHOWN])
            + (", …" if len(found) > NAMES_SHOWN else "")))
    raise FilterError(Text("no owner `%(owner)s` in this store's inquiries: owners are "
                           "%(known)s", owner=typed,
                           known=_most_frequent(conn, store, inquiries.c.owner)))


def coverage(store: Store, found: Coverage | None, period: Period, now: datetime | None
             ) -> dict[str, Any]:
    """How far the inquiry lists cover `period` up to `now` (`found`: what they cover at all,
    bot.metrics.freshness.list_coverage, which reads coverage as the checklist does, plus the
    newest list's own arrival day up to its arrival). `covered`: any part; `complete`: all of
    it; `start`..`end` the covered local days (the last one only `until` a local time when
    the newest list stops mid-day); `first`/`last`/`through` what the lists cover at all;
    `staleness` as the checklist words a late list ({"kind", "since"}, None when fresh)."""
    tz = store.tz
    lo, hi = period.utc_bounds(tz)
    now = as_utc(now) if now is not None else utcnow()
    wanted = min(hi, now + timedelta(microseconds=1))
    out: dict[str, Any] = {
        "first": None, "last": None, "through": None, "covered": False, "complete": False,
        "start": None, "end": None, "until": None,
        "staleness": staleness("inquiries", found.last if found else None,
                               local_today(now, tz) - timedelta(days=1)),
    }
    if found is None:
        return out
    ends = found.until(tz)
    c_lo, c_hi = max(lo, local_midnight(found.first, tz)), min(wanted, ends)
    out.update(first=found.first.isoformat(), last=found.last.isoformat(),
               through=utc_stamp(found.through) if found.through else None,
               covered=c_lo < c_hi, complete=c_lo == lo and c_hi == wanted)
    if c_lo < c_hi:
        out.update(start=local_today(c_lo, tz).isoformat(),
                   end=local_today(c_hi - timedelta(microseconds=1), tz).isoformat())
        if c_hi < wanted and found.through is not None and c_hi == found.through:
            out["until"] = local_time(c_hi, tz).strftime("%H:%M")
    return out


_SPAM = inquiries.c.is_spam.is_(True)
VALID = inquiries.c.is_spam.is_not(True)  # NULL (not flagged) counts as valid


def _replied(now: datetime | None) -> ColumnElement[bool]:
    if now is None:
        return inquiries.c.replied_at.is_not(None)
    return and_(inquiries.c.replied_at.is_not(None), inquiries.c.replied_at <= now)


def not_replied(now: datetime) -> ColumnElement[bool]:
    """Unreplied as of `now`: no reply yet, or one after `now` (a past day seen again). The
    one definition, for /inquiries, the checklist and the alerts."""
    return or_(inquiries.c.replied_at.is_(None), inquiries.c.replied_at > now)


def _window(store: Store, lo: datetime, hi: datetime, filters: Filters) -> list[Any]:
    return [inquiries.c.store_id == store.id, inquiries.c.created_at >= lo,
            inquiries.c.created_at < hi, *filters.clauses()]


def _count(conn: Connection, where: list[Any]) -> int:
    return conn.scalar(select(func.count()).select_from(inquiries).where(*where)) or 0


def _change(current: int, before: int) -> float | None:
    return None if before == 0 else (current - before) / before


def valid_per_day(conn: Connection, store: Store, first: date, last: date
                  ) -> dict[date, int] | None:
    """Valid inquiries created on each local day from `first` to `last` (inclusive), 0 on a
    day without any. Days before the store's first inquiry (spam or not) are left out: the
    list did not cover them (no data, not zeros). None when the store has no inquiry at all."""
    earliest = conn.scalar(select(func.min(inquiries.c.created_at))
                           .where(inquiries.c.store_id == store.id))
    if earliest is None:
        return None
    tz = store.tz
    start = max(first, local_today(earliest, tz))
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    # Each local day's UTC midnight once, then a bisect per row: converting every row's
    # time zone cost most of the morning run's alert time.
    midnights = [local_midnight(d, tz) for d in days]
    counts = dict.fromkeys(days, 0)
    for (created,) in conn.execute(select(inquiries.c.created_at).where(
            inquiries.c.store_id == store.id, VALID,
            inquiries.c.created_at >= local_midnight(start, tz),
            inquiries.c.created_at < local_midnight(last + timedelta(days=1), tz))):
        counts[days[bisect_right(midnights, as_utc(created)) - 1]] += 1
    return counts


def summarize(
    conn: Connection, store: Store, start: date, end: date, filters: Filters | None = None,
    *, now: datetime | None = None, name: str = "range",
) -> dict[str, Any]:
    """Counts for the local days `start`..`end` (inclusive); `name` is the period's word
    (see `bot.periods.Period.name`), kept for the message. When the period is still
    running at `now`, both it and the previous period are cut at the same elapsed time, so
    "today so far" is compared with "yesterday by this time", not with a whole day."""
    filters = filters or Filters()
    period = Period(start, end, name)
    tz = store.tz
    now = as_utc(now) if now is not None else None
    lo, hi = period.utc_bounds(tz)
    partial = now is not None and now < hi
    if partial:
        assert now is not None
        hi = now + timedelta(microseconds=1)  # created at `now` counts
    where = _window(store, lo, hi, filters)
    valid_sum = func.coalesce(func.sum(case((VALID, 1), else_=0)), 0)
    replied_sum = func.coalesce(func.sum(case((and_(VALID, _replied(now)), 1), else_=0)), 0)
    # Two grouped queries answered from the covering index: per country (whose groups add
    # up to the totals) and per product; then a title for each of the top products only.
    countries = conn.execute(
        select(inquiries.c.country, func.count(), valid_sum, replied_sum)
        .where(*where).group_by(inquiries.c.country)
    ).all()
    total = sum(int(r[1]) for r in countries)
    valid_total = sum(int(r[2]) for r in countries)
    replied_count = sum(int(r[3]) for r in countries)
    spam = total - valid_total
    # One country however exports spell it (US, United States, 美国): its groups add up,
    # under the spelling most of its inquiries have. Sorting the groups (not rows) here keeps
    # ties identical on every backend.
    def most_first(row: Sequence[Any]) -> tuple[int, bool, str]:
        return -row[1], row[0] is None, row[0] or ""

    merged: dict[object, list[Any]] = {}
    for c, n, v, _ in sorted(countries, key=most_first):
        same = merged.setdefault(code_of(c) or c, [c, 0, 0])
        same[1] += int(n)
        same[2] += int(v)
    by_country = [{"country": clip(c), "count": n, "valid": v, "spam": n - v}
                  for c, n, v in sorted(merged.values(), key=most_first)]
    products = conn.execute(
        select(inquiries.c.product_id, func.count(), valid_sum)
        .where(*where).group_by(inquiries.c.product_id)
    ).all()
    top = sorted(products, key=lambda r: (-r[1], r[0] is None, r[0] or ""))[:TOP_PRODUCTS]
    titles = {pid: _title(conn, where, pid) for pid, _, _ in top if pid is not None}
    by_product = [
        {"product_id": clip(pid), "product": clip(titles.get(pid)), "count": int(n),
         "valid": int(v)}
        for pid, n, v in top
    ]

    before = period.previous
    prev_lo, prev_hi = before.utc_bounds(tz)
    if partial:
        prev_hi = prev_lo + (hi - lo)
    prev_where = _window(store, prev_lo, prev_hi, filters)
    prev_total, prev_spam = (int(v or 0) for v in conn.execute(
        select(func.count(), func.coalesce(func.sum(case((_SPAM, 1), else_=0)), 0))
        .select_from(inquiries).where(*prev_where)
    ).one())
    lists = list_coverage(conn, store, "inquiries")
    covered = coverage(store, lists, period, now)
    # The previous period as far as it is compared: cut like this one when it is running.
    prev_covered = coverage(store, lists, before,
                            prev_hi - timedelta(microseconds=1) if partial else now)
    known = covered["covered"] or total > 0  # else nothing says how many: no figures
    prev_known = prev_covered["covered"] or prev_total > 0
    comparable = known and prev_covered["complete"]
    return {
        "store": store.name,
        "timezone": store.timezone,
        "period": period.label,
        "period_name": period.name,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "days": period.days,
        "partial": partial,
        "as_of": utc_stamp(now) if now is not None else None,
        "filters": filters.to_json(),
        "coverage": covered,
        "total": total if known else None,
        "spam": spam if known else None,
        "valid": valid_total if known else None,
        "replied": replied_count if known else None,
        "unreplied": valid_total - replied_count if known else None,
        "reply_rate": replied_count / valid_total if valid_total else None,
        "by_country": by_country,
        "by_product": by_product,
        "products": len(products),
        "change": _change(total, prev_total) if comparable else None,
        "previous": {
            **before.to_json(),
            "total": prev_total if prev_known else None,
            "valid": prev_total - prev_spam if prev_known else None,
            "valid_change": (_change(valid_total, prev_total - prev_spam) if comparable
                             else None),
            "until": utc_stamp(prev_hi) if partial else None,
            "complete": prev_covered["complete"],
        },
    }


def _title(conn: Connection, where: list[Any], product_id: str) -> str | None:
    """The latest title of a product in the window: a short backward index walk, where
    max(title) over the whole window would visit every row."""
    return conn.scalar(
        select(inquiries.c.product_title)
        .where(*where, inquiries.c.product_id == product_id,
               inquiries.c.product_title.is_not(None))
        .order_by(inquiries.c.created_at.desc()).limit(1)
    )


def _list(
    conn: Connection, store: Store, kind: str, where: list[Any], now: datetime,
    limit: int, period: Period | None, filters: Filters,
) -> dict[str, Any]:
    hours = float(store.setting("unreplied_hours"))
    overdue_before = now - timedelta(hours=hours)
    count, overdue = (int(v or 0) for v in conn.execute(
        select(func.count(), func.coalesce(func.sum(
            case((inquiries.c.created_at < overdue_before, 1), else_=0)), 0))
        .select_from(inquiries).where(*where)
    ).one())
    rows = conn.execute(
        select(inquiries.c.inquiry_id, inquiries.c.created_at, inquiries.c.replied_at,
               inquiries.c.buyer, inquiries.c.company, inquiries.c.country,
               inquiries.c.product_id, inquiries.c.product_title, inquiries.c.owner,
               inquiries.c.subject)
        .where(*where).order_by(inquiries.c.created_at, inquiries.c.id).limit(max(0, limit))
    ).all()
    items = []
    for r in rows:
        age = now - r.created_at
        items.append({
            "inquiry_id": r.inquiry_id,
            "created_at": utc_stamp(r.created_at),
            "age": format_age(age),
            "age_parts": age_parts(age),  # the message words it in the store's language
            "age_hours": round(age.total_seconds() / 3600, 1),
            "overdue": kind == "unreplied" and r.created_at < overdue_before,
            "replied": r.replied_at is not None and r.replied_at <= now,
            "buyer": clip(r.buyer),
            "company": clip(r.company),
            "country": clip(r.country),
            "product_id": clip(r.product_id),
            "product": clip(r.product_title),
            "owner": clip(r.owner),
            "subject": clip(r.subject),
        })
    covered = (coverage(store, list_coverage(conn, store, "inquiries"), period, now)
               if period is not None else None)
    known = count > 0 or covered is None or covered["covered"]
    return {
        "list": kind,
        "store": store.name,
        "timezone": store.timezone,
        "period": period.label if period else None,
        "start": period.start.isoformat() if period else None,
        "end": period.end.isoformat() if period else None,
        "as_of": utc_stamp(now),
        "filters": filters.to_json(),
        "coverage": covered,
        "count": count if known else None,
        "overdue": overdue if kind == "unreplied" and known else None,
        "overdue_hours": hours,
        "shown": len(items),
        "items": items,
    }


def unreplied(
    conn: Connection, store: Store, now: datetime, filters: Filters | None = None,
    limit: int = LIST_LIMIT, *, start: date | None = None, end: date | None = None,
    name: str = "range",
) -> dict[str, Any]:
    """Unanswered non-spam inquiries at `now`, oldest first; `count` is all of them.
    Without a period (`start`/`end`) every open inquiry counts; with one, `older` counts the
    open ones created before it (`older_since`: the local day of the oldest), as an old
    unanswered inquiry is the most urgent."""
    filters = filters or Filters()
    now = as_utc(now)
    period = Period(start, end or start, name) if start is not None else None
    where = [inquiries.c.store_id == store.id, inquiries.c.created_at <= now,
             VALID, not_replied(now), *filters.clauses()]
    older: dict[str, Any] = {}
    if period is not None:
        lo, hi = period.utc_bounds(store.tz)
        count, oldest = conn.execute(
            select(func.count(), func.min(inquiries.c.created_at))
            .select_from(inquiries).where(*where, inquiries.c.created_at < lo)).one()
        older = {"older": int(count or 0),
                 "older_since": local_today(oldest, store.tz).isoformat() if oldest else None}
        where += [inquiries.c.created_at >= lo, inquiries.c.created_at < hi]
    return {**_list(conn, store, "unreplied", where, now, limit, period, filters), **older}


def spam(
    conn: Connection, store: Store, start: date, end: date, now: datetime,
    filters: Filters | None = None, limit: int = LIST_LIMIT, *, name: str = "range",
) -> dict[str, Any]:
    """The spam suspects created in the local days `start`..`end` (up to `now`), oldest
    first."""
    filters = filters or Filters()
    period = Period(start, end, name)
    now = as_utc(now)
    lo, hi = period.utc_bounds(store.tz)
    where = [*_window(store, lo, min(hi, now + timedelta(microseconds=1)), filters), _SPAM]
    return _list(conn, store, "spam", where, now, limit, period, filters)
