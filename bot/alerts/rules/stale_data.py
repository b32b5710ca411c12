"""stale_data: a report kind the store drops regularly has stopped arriving.

A kind (bot/ingest/kinds.py) is regular when drops of it arrived in at least
`stale_data.min_weeks` (4) of the last `stale_data.weeks` (8) weeks (7-day stretches counted
back from today, in the store's zone): a monthly product report or a one-off CRM export is
not expected every week and is never judged. A drop arrived when it was ingested, or is a
duplicate under another file name than the first (an export made again whose content had
not changed); a re-upload of the same file, a rejected or a deleted drop is no arrival.

Judged on "now" (whole local days since the newest arrival: dropped yesterday is 1 day):
* alert (warning) from `stale_data.days` (8) days: a weekly export one day late. It does not
  escalate: a report missing for a month is no more urgent than at 8 days, and one ping per
  kind is enough;
* watch from `days` - 2 (6) days when the kind usually arrives more often than that (its
  longest gap between arrivals in the weeks looked at is shorter): a daily export missing
  for 6 days is worth a look, while a weekly one is not late yet on day 6 and would show as
  a watch every week;
* normal otherwise (a new drop arrived): the incident recovers.
Kinds with an incident open are judged even once no longer regular (their weeks with drops
run out of the window while nothing arrives), so the incident can recover.

Subject: the kind's name ("p4p"); the message names the export and where the back office
has it (templates/alert_rules/stale_data.j2). Figures: kind, last (local date of the newest
arrival), days_since, weeks_seen, weeks, min_weeks, usual_gap (the longest gap in days),
days (the threshold). Hint: `export` {"report": kind}, worded as the export to make, where in
the back office, and where to drop it. The day judged is yesterday (the last whole day
without a drop).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from bot.alerts.rules import Finding, Rule, open_subjects, setting
from bot.ingest.kinds import KINDS
from bot.models import drops
from bot.periods import as_utc, local_midnight, local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "stale_data"
LOOKBACK_DAYS = 366
WATCH_BEFORE = 2  # days before the alert a kind that usually comes more often is watched


def arrivals(conn: Connection, store: Store, since: date, today: date) -> dict[str, list[date]]:
    """Per kind, the local days from `since` to `today` a drop of it arrived on (sorted,
    distinct): ingested drops, and duplicates under a new file name (the module doc)."""
    first = drops.alias("first")
    rows = conn.execute(
        select(drops.c.kind, drops.c.created_at)
        .select_from(drops.outerjoin(first, first.c.id == drops.c.duplicate_of))
        .where(drops.c.store_id == store.id, drops.c.kind.is_not(None),
               drops.c.created_at >= local_midnight(since, store.tz),
               drops.c.created_at < local_midnight(today + timedelta(days=1), store.tz),
               or_(drops.c.status == "ingested",
                   and_(drops.c.status == "duplicate", first.c.file_name.is_not(None),
                        drops.c.file_name != first.c.file_name)))).all()
    days: dict[str, set[date]] = {}
    for kind, created_at in rows:
        days.setdefault(kind, set()).add(local_today(created_at, store.tz))
    return {kind: sorted(found) for kind, found in days.items()}


def _longest_gap(days: list[date]) -> int:
    """The longest stretch in days between consecutive arrivals (0 for one arrival); the
    current stretch (to today) is what is judged, not part of the usual."""
    return max(((b - a).days for a, b in pairwise(days)), default=0)


def evaluate_kinds(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: each regular kind's days since its newest arrival."""
    today = local_today(as_utc(now), store.tz)
    yesterday = today - timedelta(days=1)
    weeks = int(setting(store, RULE, "weeks"))
    min_weeks = int(setting(store, RULE, "min_weeks"))
    threshold = int(setting(store, RULE, "days"))
    since = today - timedelta(days=7 * weeks)
    # Arrivals before the weeks looked at still tell when a kind with an incident last came.
    found = arrivals(conn, store, since - timedelta(days=LOOKBACK_DAYS), today)
    known = {k.name for k in KINDS}
    watched = set(open_subjects(conn, store, RULE)) & known
    findings = []
    for kind in (k.name for k in KINDS):
        days = found.get(kind, [])
        recent = [d for d in days if d > since]  # the `weeks` weeks up to today
        weeks_seen = len({(today - d).days // 7 for d in recent})
        if weeks_seen < min_weeks and kind not in watched:
            continue  # not a kind this store drops regularly
        if not days:
            continue  # an open incident whose drops were all deleted: left as it is
        last = days[-1]
        days_since = (today - last).days
        usual_gap = _longest_gap(recent)
        back = {"day": yesterday.isoformat(), "kind": kind, "last": last.isoformat()}
        figures = {"kind": kind, "last": last.isoformat(), "days_since": days_since,
                   "weeks_seen": weeks_seen, "weeks": weeks, "min_weeks": min_weeks,
                   "usual_gap": usual_gap,
                   "days": threshold}
        export = [{"kind": "export", "report": kind}]  # which export, where (the wording's)
        if days_since >= threshold:
            findings.append(Finding(day=yesterday, state="down", subject=kind, tier="alert",
                                    severity="warning", figures=figures, hints=export,
                                    window_start=last + timedelta(days=1)))
        elif days_since >= threshold - WATCH_BEFORE and usual_gap < threshold - WATCH_BEFORE:
            findings.append(Finding(day=yesterday, state="down", subject=kind, tier="watch",
                                    figures=figures, hints=export,
                                    window_start=last + timedelta(days=1)))
        else:
            findings.append(Finding(day=yesterday, state="normal", subject=kind,
                                    figures=figures, back=back))
    return findings


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures as messages and `opsbot alerts` show them."""
    keys = ("kind", "last", "days_since", "weeks_seen", "weeks", "min_weeks", "usual_gap",
            "days")
    return {k: figures.get(k) for k in keys}


RULE = Rule(name=NAME, title=N_("Report not dropped"), subject="kind",
            evaluate=evaluate_kinds, describe=describe,
            settings={"days": (8, "count"), "weeks": (8, "count"),
                      "min_weeks": (4, "count")})
