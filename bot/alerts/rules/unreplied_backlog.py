"""unreplied_backlog: valid inquiries left unreplied too long (a slow reply lowers the
timely-reply rate the platform ranks by).

Judged on "now" as the inquiry list knows it, not on yesterday: as of the moment its newest
export covers (bot.metrics.freshness.list_coverage: the export's time when its rows run into
its arrival day, else the end of the last day it covers), never later than `now`, since a
reply sent after the export is not in it. Only a fresh list is judged (it covers yesterday,
as the checklist reads freshness); an older one gives no verdict ("skipped"), as ages on it
would be stale, and every new export is judged again (the worker evaluates after each drop).
A store without an inquiry list, or whose lists never carried a reply time (exports without
the 最新回复时间 / Last Reply Time column: every inquiry would look unreplied, for good), is
not judged at all (no finding): the rule does not apply to it.

Unreplied is bot.metrics.inquiries.not_replied (the one definition) of a valid inquiry
(VALID); ages are counted at that moment. Inquiries older than the store's
`unreplied_max_days` (30) are left out, as the checklist counts but no longer lists them: a
forgotten export row from months ago would otherwise keep the alert open for good; they are
counted in `older`.

With `waiting` the inquiries unreplied for more than `unreplied_backlog.hours` (24) hours:
* critical: `waiting` at least twice `unreplied_backlog.min`, or any unreplied for more than
  `unreplied_backlog.critical_hours` (72);
* warning: `waiting` at least `unreplied_backlog.min` (5), or any unreplied for more than
  `unreplied_backlog.overdue_hours` (48): one buyer left two days is already a lost reply;
* watch: some waiting, fewer than the minimum and none overdue (worth a look, no ping);
* normal when none waits: cleared, the incident recovers.
The incident's subject is "" (store-wide).

Figures: waiting, overdue, critical_count (over critical_hours), oldest_hours (the oldest's
age in whole hours), older (left out as too old), as_of (local "YYYY-MM-DD HH:MM") and the
thresholds min, critical_min, hours, overdue_hours, critical_hours. Hint: `owners`
{"owners": [{"owner", "count"}]}, the owners with the most waiting (up to 3), when the list
names owners.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from bot.alerts.rules import Finding, Rule, setting
from bot.metrics.freshness import list_coverage
from bot.metrics.inquiries import VALID, not_replied
from bot.models import facts
from bot.periods import as_utc, local_time, local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "unreplied_backlog"
CRITICAL_FACTOR = 2  # critical at this many times the minimum
OWNERS_SHOWN = 3

inquiries = facts["inquiries"]


def _as_of(conn: Connection, store: Store, now: datetime
           ) -> tuple[datetime | None, date | None, str]:
    """(the moment the newest inquiry export covers (naive UTC), the last whole day it
    covers), or None, None and why not."""
    now = as_utc(now)
    coverage = list_coverage(conn, store, "inquiries")
    if coverage is None:  # rows but no list drop: facts written some other way
        return None, None, "no inquiry list yet"
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    if coverage.last < yesterday:
        return None, None, f"the inquiry list covers only up to {coverage.last.isoformat()}"
    return min(now, coverage.until(store.tz)), coverage.last, ""


def _ages(conn: Connection, store: Store, as_of: datetime, hours: int, max_days: int
          ) -> list[Any]:
    """(created_at, owner) of the valid inquiries unreplied at `as_of` for more than `hours`
    and at most `max_days` days."""
    return conn.execute(select(inquiries.c.created_at, inquiries.c.owner).where(
        inquiries.c.store_id == store.id, VALID, not_replied(as_of),
        inquiries.c.created_at < as_of - timedelta(hours=hours),
        inquiries.c.created_at > as_of - timedelta(days=max_days))
        .order_by(inquiries.c.created_at)).all()


def _owners(rows: list[Any]) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for row in rows:
        if row.owner and row.owner.strip():
            counts[row.owner] = counts.get(row.owner, 0) + 1
    ranked = sorted(counts.items(), key=lambda c: (-c[1], c[0].casefold(), c[0]))
    return [{"owner": owner, "count": n} for owner, n in ranked[:OWNERS_SHOWN]]


def evaluate_backlog(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: the backlog of unreplied valid inquiries as of the newest export."""
    if not conn.scalar(select(func.count()).select_from(inquiries).where(
            inquiries.c.store_id == store.id, inquiries.c.replied_at.is_not(None))):
        # No inquiry list yet, or exports without a reply-time column (every inquiry would
        # look unreplied for good): the rule does not apply.
        return []
    as_of, day, why = _as_of(conn, store, now)
    if as_of is None or day is None:
        yesterday = local_today(now, store.tz) - timedelta(days=1)
        return [Finding(day=yesterday, state="skipped", why=why)]
    # The day: the last whole day the export covers (yesterday for a fresh list), so that
    # the checklist built today shows it with the other incidents of yesterday.
    minimum = int(setting(store, RULE, "min"))
    hours = int(setting(store, RULE, "hours"))
    overdue_hours = int(setting(store, RULE, "overdue_hours"))
    critical_hours = int(setting(store, RULE, "critical_hours"))
    max_days = int(store.setting("unreplied_max_days"))
    rows = _ages(conn, store, as_of, hours, max_days)
    older = conn.scalar(select(func.count()).select_from(inquiries).where(
        inquiries.c.store_id == store.id, VALID, not_replied(as_of),
        inquiries.c.created_at <= as_of - timedelta(days=max_days))) or 0
    local_as_of = local_time(as_of, store.tz).strftime("%Y-%m-%d %H:%M")
    if not rows:
        return [Finding(day=day, state="normal", figures={"waiting": 0, "as_of": local_as_of},
                        back={"day": day.isoformat(), "as_of": local_as_of, "hours": hours})]
    waiting = len(rows)
    overdue = sum(1 for r in rows if r.created_at < as_of - timedelta(hours=overdue_hours))
    critical_count = sum(1 for r in rows
                         if r.created_at < as_of - timedelta(hours=critical_hours))
    if waiting >= CRITICAL_FACTOR * minimum or critical_count:
        tier, severity = "alert", "critical"
    elif waiting >= minimum or overdue:
        tier, severity = "alert", "warning"
    else:
        tier, severity = "watch", None
    figures = {"waiting": waiting, "overdue": overdue, "critical_count": critical_count,
               "oldest_hours": int((as_of - rows[0].created_at).total_seconds() // 3600),
               "older": int(older), "as_of": local_as_of, "min": minimum,
               "critical_min": CRITICAL_FACTOR * minimum, "hours": hours,
               "overdue_hours": overdue_hours, "critical_hours": critical_hours}
    owners = _owners(rows)
    return [Finding(day=day, state="down", tier=tier, severity=severity, figures=figures,
                    hints=[{"kind": "owners", "owners": owners}] if owners else [])]


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures as messages and `opsbot alerts` show them."""
    keys = ("waiting", "overdue", "critical_count", "oldest_hours", "older", "as_of", "min",
            "critical_min", "hours", "overdue_hours", "critical_hours")
    return {k: figures.get(k) for k in keys}


RULE = Rule(name=NAME, title=N_("Unreplied inquiries piling up"), subject="store",
            evaluate=evaluate_backlog, describe=describe,
            settings={"min": (5, "count"), "hours": (24, "count"),
                      "overdue_hours": (48, "count"), "critical_hours": (72, "count")})
