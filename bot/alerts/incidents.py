"""The incident lifecycle, once for every alert rule (bot/alerts/rules/), in SQL.

A rule judges and returns findings; this module moves each (rule, subject) incident along:
* down, no open incident -> a new alert, one message per bound channel (pinging the store's
  `alert_mention`), unless the finding's window still holds the days of an incident already
  resolved (its aftermath);
* still down -> the incident is updated (last day, figures), no message, unless it got worse
  (severity warning -> critical): then one new message ("dropped further"), unless snoozed,
  and the older messages are redrawn as superseded;
* recovered (normal, or down only in a window's tail) -> resolved, a "back to normal" reply
  in the thread of each channel's latest alert message, and every message of the alert
  edited to show it resolved;
* acknowledge: recorded, the buttons stay for snoozing; snooze (1 day by default): no
  escalation messages until it expires, then the alert is open again. Either redraws every
  message of the alert;
* a channel bound while the alert is not resolved gets it posted once.

Tiers (bot.alerts.rules.TIERS): a finding's level is "watch" for the watch tier, else its
severity; LEVEL_RANK orders them, and `notified_severity` holds the highest level announced.
A watch never pings: it is shown in the checklist's data item and `opsbot alerts`, and posted
(quietly, no mention) only with the store's `watch_posts` on. A watch that becomes an alert is
worse: posted and pinged then (its first post when the watch was never posted).

Cool-down: a subject down again within `cooldown_hours` of its incident's recovery reopens
that incident (status open again, its messages redrawn open, one "down again" reply in their
thread, no ping) rather than a new one: a flapping subject must not ping every time it
crosses the line. Reopened at a higher level than ever announced, it is worse, as above.

Quiet hours (`quiet_hours`, the store's wall clock): the lifecycle moves on as always (the
checklist and `opsbot alerts` show the truth), but an event that calls for a message is held
(`held` records it) and not delivered; once they end, `flush` delivers each held incident's
state once: a first post or an escalation at its current level, a reopening, or the recovery
reply of one posted before. An incident that fired and recovered inside them is never posted:
the next checklist names it in one line (`recovered_unposted`).
This module decides; the worker (jobs/alert_messages.py) renders the messages and queues them
in the outbox, in the same transaction as the lifecycle change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from bot import outbox
from bot.alerts.rules import RULES, Finding, Rule, enabled
from bot.metrics.freshness import ARRIVED, LABELS
from bot.models import alert_checks, alerts, drops, stores
from bot.periods import as_utc, local_today
from bot.schedule import quiet_until
from bot.stores import Store
from templates.i18n import gettext

LEVEL_RANK = {"none": 0, "watch": 1, "warning": 2, "critical": 3}
SNOOZE = timedelta(days=1)
POST = "alert"  # the outbox purpose of an alert's post (jobs/alert_messages.py)


def level(tier: str | None, severity: str | None) -> str:
    """A finding's or an incident's level: "watch" for the watch tier, else its severity."""
    return "watch" if tier == "watch" else (severity or "warning")


def posts(store: Store, tier: str | None) -> bool:
    """Is an incident of `tier` posted to Slack? An alert always; a watch only with the
    store's `watch_posts` on (else the checklist and `opsbot alerts` show it)."""
    return tier != "watch" or bool(store.setting("watch_posts"))


def quiet(store: Store, now: datetime) -> bool:
    """Inside the store's quiet hours at `now` (alert messages are held)."""
    return quiet_until(store.tz, store.setting("quiet_hours"), now) is not None


def _posted(conn: Connection, alert_id: int) -> bool:
    """Was the incident ever posted (a post that failed counts: it was tried)?"""
    return bool(outbox.posted_channels(conn, f"alert:{alert_id}", POST))


def _status(row: Any, now: datetime) -> str:
    """A snooze that has run out reads as open."""
    if row.status == "snoozed" and row.snoozed_until and row.snoozed_until <= now:
        return "open"
    return row.status


def _context(row: Any, store_name: str, language: str, timezone: str, now: datetime
             ) -> dict[str, Any]:
    """What the alert templates and the CLI show: the rule's figures (described) and the
    incident's state; `language` is the store's (the `lang` the templates are rendered in),
    left out of public(), as are the local snooze time and the baseline's weeks."""
    local_until = None
    if row.snoozed_until:
        local_until = (row.snoozed_until.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
                       .strftime("%Y-%m-%d %H:%M"))
    rule = RULES[row.rule]
    return {
        **rule.describe(dict(row.figures or {})),
        "id": row.id, "rule": row.rule, "title": gettext("en", rule.title),
        "subject": row.subject, "figures": dict(row.figures or {}),
        "store": store_name, "language": language, "day": row.last_day.isoformat(),
        "day_label": row.last_day.strftime("%a %d %b %Y"),
        "since": row.started_day.isoformat(),
        "severity": row.severity if row.tier != "watch" else None, "tier": row.tier,
        "level": level(row.tier, row.severity), "status": _status(row, now),
        "hints": list(row.hint or []),
        "acknowledged_by": row.acknowledged_by,
        "snoozed_until": (row.snoozed_until.isoformat(timespec="minutes") + "Z"
                          if row.snoozed_until else None),
        "snoozed_until_local": local_until, "timezone": timezone,
        "resolved_day": row.resolved_day.isoformat() if row.resolved_day else None,
        "back": dict(row.back) if row.back else None,
    }


def public(context: dict[str, Any]) -> dict[str, Any]:
    """The CLI's and the checklist's view of an alert: the rule, its subject and figures, the
    incident's state; a rule's `top_level` figures also at the top level (older contract)."""
    keys = ("rule", "title", "subject", "store", "day", "tier", "severity", "status", "since",
            "hints", "figures", "id")
    rule = RULES[context["rule"]]
    shown = {**{k: context[k] for k in keys}, **{k: context[k] for k in rule.top_level}}
    if "source" in context:
        shown["source"] = LABELS.get(context["source"] or "")
    return shown


def listed(context: dict[str, Any]) -> dict[str, Any]:
    """An alert as the checklist lists it: public() with the rule's described figures at the
    top level too, so the rule's own words (templates/alert_rules/<rule>.j2 `what`) read
    them as the alert message does."""
    return {**RULES[context["rule"]].describe(dict(context["figures"] or {})),
            **public(context)}


def _open(conn: Connection, store: Store, rule: str, subject: str) -> Any:
    return conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.rule == rule, alerts.c.subject == subject,
        alerts.c.status != "resolved")
        .order_by(alerts.c.started_day.desc()).limit(1)).first()


def store_id_of(conn: Connection, alert_id: int) -> int | None:
    """The store an alert belongs to (None: no such alert)."""
    return conn.scalar(select(alerts.c.store_id).where(alerts.c.id == alert_id))


def _get(conn: Connection, alert_id: int) -> Any:
    return conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()


def unresolved(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Alerts not yet resolved (open, acknowledged or snoozed), newest first, with everything
    the alert template shows."""
    rows = conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.status != "resolved")
        .order_by(alerts.c.last_day.desc(), alerts.c.id.desc())).all()
    return [_context(r, store.name, store.language, store.timezone, now) for r in rows]


def postable_ids(conn: Connection, store: Store) -> list[int]:
    """The ids of the store's alerts that are not resolved, not held by quiet hours and
    posted at all (posts: a watch only with `watch_posts`), oldest first."""
    query = select(alerts.c.id).where(
        alerts.c.store_id == store.id, alerts.c.status != "resolved", alerts.c.held.is_(None))
    if not store.setting("watch_posts"):
        query = query.where(alerts.c.tier != "watch")
    return list(conn.scalars(query.order_by(alerts.c.id)))


def active(conn: Connection, store: Store, now: datetime, until: date | None = None, *,
           checklist: bool = False) -> list[dict[str, Any]]:
    """Alerts not yet resolved (watches among them), newest first, as the CLI shows them
    (public) or, with `checklist`, the checklist (listed); with `until`, only those whose
    day is no later (a checklist built for a past day shows no alert of the days after its
    own yesterday)."""
    found = unresolved(conn, store, now)
    if until is not None:
        found = [c for c in found if c["day"] <= until.isoformat()]
    return [listed(c) if checklist else public(c) for c in found]


def evaluate_store(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Run every rule and move each subject's incident along its lifecycle.

    Returns events: {"rule", "subject", "store", "day", "event", "severity", the rule's
    described figures, "messages"} with event fired | worse | continues | recovered | normal |
    aftermath, or {"event": "skipped", "why"} when a rule has no verdict; a recovered event
    carries `back`, the recovering figures. The worker turns fired, worse and recovered
    events into messages (jobs/alert_messages.py) in the same transaction. Idempotent: the
    same data and day give no second event that needs a message. Waking snoozes that ran out
    is the caller's (jobs.tick.evaluate_alerts calls wake first); _fire reads one not yet
    woken as open.
    """
    events = []
    held = quiet(store, now)
    for rule in RULES.values():
        if not enabled(store, rule):
            continue
        for finding in rule.evaluate(conn, store, now):
            event = _advance(conn, store, now, rule, finding)
            before = event.pop("_notified_before", _UNCHANGED)
            if event["event"] in ANNOUNCED:
                event["post"] = event["event"] == "recovered" or posts(store, event["tier"])
                if held:
                    _hold(conn, event, before, now)
            events.append(event)
    return events


# Events that call for a message (when posted at all: `post`); held in quiet hours.
ANNOUNCED = ("fired", "worse", "reopened", "recovered")


_UNCHANGED = object()


def _hold(conn: Connection, event: dict[str, Any], notified_before: Any, now: datetime
          ) -> None:
    """Quiet hours: record the change for flush and deliver nothing now (`held` in the
    event); a level _fire marked announced is put back, so flush still sees it owed."""
    row = _get(conn, event["alert_id"])
    if notified_before is not _UNCHANGED:
        conn.execute(update(alerts).where(alerts.c.id == row.id).values(
            notified_severity=notified_before))
    # a reopening stays one until flush, unless it got worse meanwhile (or recovered
    # again: then flush has nothing to say, its posts still show it resolved)
    kind = "reopened" if row.held == "reopened" and event["event"] != "worse" \
        else event["event"]
    conn.execute(update(alerts).where(alerts.c.id == row.id).values(held=kind, updated_at=now))
    event["held"] = True


def needs_flush(conn: Connection, store: Store, now: datetime) -> bool:
    """Held messages are owed and the quiet hours are over (a read: the cheap check)."""
    if quiet(store, now):
        return False
    return conn.scalar(select(func.count()).select_from(alerts).where(
        alerts.c.store_id == store.id, alerts.c.held.is_not(None))) > 0


def flush(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Once the quiet hours are over: one event per incident they held, for its state now
    (jobs/alert_messages.py queues the messages): "fired"/"worse" (its level above what was
    announced; worse when it had posts), "reopened", "recovered" (posted before: its reply),
    or nothing (fired and recovered inside them: the checklist's line). Clears `held`."""
    if quiet(store, now):
        return []
    rows = conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.held.is_not(None))
        .order_by(alerts.c.id)).all()
    events = []
    for row in rows:
        conn.execute(update(alerts).where(alerts.c.id == row.id).values(held=None))
        base = {"rule": row.rule, "subject": row.subject, "store": store.name,
                "day": row.last_day.isoformat(), "severity": row.severity, "tier": row.tier,
                **RULES[row.rule].describe(dict(row.figures or {})), "alert_id": row.id,
                "messages": 0, "flushed": True}
        if "source" in base:
            base["source"] = LABELS.get(base["source"] or "")
        posted = _posted(conn, row.id)
        if row.status == "resolved":
            # reopened and recovered again inside them: its posts still show it resolved
            if posted and row.held != "reopened":
                events.append({**base, "event": "recovered", "post": True,
                               "back": dict(row.back or {})})
            continue
        now_level = level(row.tier, row.severity)
        if LEVEL_RANK[now_level] > LEVEL_RANK.get(row.notified_severity or "none", 0):
            _notified(conn, row.id, now_level, now)
            events.append({**base, "event": "worse" if posted else "fired",
                           "post": posts(store, row.tier)})
        elif row.held == "reopened" and posted:
            events.append({**base, "event": "reopened", "post": True,
                           "resolved_before": None})
    return events


def run(conn: Connection, store: Store, now: datetime, *, force: bool = False
        ) -> list[dict[str, Any]]:
    """The one alert step the worker, `opsbot alerts` and the demo all take: wake snoozes that
    ran out, then, after new data or on a new local day (or `force`), judge every rule and
    mark the store evaluated. Returns wake's and evaluate_store's events."""
    events = wake(conn, store, now)
    if force or needs_evaluation(conn, store, now):
        events += evaluate_store(conn, store, now)
        mark_evaluated(conn, store, now)
    return events + flush(conn, store, now)


def _advance(conn: Connection, store: Store, now: datetime, rule: Rule, finding: Finding
             ) -> dict[str, Any]:
    base = {"rule": rule.name, "subject": finding.subject, "store": store.name}
    if finding.state == "skipped":
        return {**base, "day": finding.day.isoformat(), "event": "skipped", "why": finding.why}
    described = rule.describe(finding.figures)
    if "source" in described:
        described["source"] = LABELS.get(described["source"] or "")
    event = {**base, "day": finding.day.isoformat(), "severity": finding.severity,
             "tier": finding.tier, **described, "messages": 0}
    current = _open(conn, store, rule.name, finding.subject)
    if finding.state == "down" and not (current is not None and finding.tail_only):
        return _fire(conn, store, now, rule, finding, current, event)
    if current is not None and finding.day >= current.started_day:
        conn.execute(update(alerts).where(alerts.c.id == current.id).values(
            status="resolved", resolved_day=finding.day, resolved_at=now, back=finding.back,
            updated_at=now))
        return {**event, "event": "recovered", "alert_id": current.id, "back": finding.back,
                "tier": current.tier}
    return {**event, "event": "normal"}


def _notified(conn: Connection, alert_id: int, severity: str, now: datetime) -> None:
    """The highest level announced so far (LEVEL_RANK): only a worse one is announced
    again. A watch not posted counts as announced: the checklist shows it."""
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
        notified_severity=severity, updated_at=now))


def _fire(conn: Connection, store: Store, now: datetime, rule: Rule, finding: Finding,
          current: Any, event: dict[str, Any]) -> dict[str, Any]:
    tier = finding.tier if finding.tier in ("watch", "alert") else "alert"
    severity = None if tier == "watch" else (finding.severity or "warning")
    now_level = level(tier, severity)
    values = {"last_day": finding.day, "figures": finding.figures, "severity": severity,
              "tier": tier, "hint": finding.hints, "updated_at": now}
    event = {**event, "severity": severity, "tier": tier}
    if current is None:
        window_start = finding.window_start or finding.day
        earlier = conn.execute(select(alerts).where(
            alerts.c.store_id == store.id, alerts.c.rule == rule.name,
            alerts.c.subject == finding.subject).order_by(alerts.c.id.desc())).first()
        if earlier is not None and earlier.last_day >= window_start:
            # The window still holds days of an incident already reported and resolved:
            # its aftermath, not a new incident.
            return {**event, "event": "aftermath", "alert_id": earlier.id}
        if earlier is not None and _cooling(store, earlier, finding.day, now):
            return _reopen(conn, now, earlier, values, now_level, event)
        alert_id = conn.execute(insert(alerts).values(
            store_id=store.id, rule=rule.name, subject=finding.subject,
            started_day=finding.day, status="open", created_at=now, **values)
            .returning(alerts.c.id)).scalar_one()
        _notified(conn, alert_id, now_level, now)
        return {**event, "event": "fired", "alert_id": alert_id, "_notified_before": None}
    if finding.day < current.last_day:
        return {**event, "event": "continues", "alert_id": current.id}
    conn.execute(update(alerts).where(alerts.c.id == current.id).values(**values))
    worse = LEVEL_RANK[now_level] > LEVEL_RANK.get(current.notified_severity or "none", 0)
    snoozed = _status(current, now) == "snoozed"
    if worse and not snoozed:
        _notified(conn, current.id, now_level, now)
        return {**event, "event": "worse", "alert_id": current.id,
                "_notified_before": current.notified_severity}
    return {**event, "event": "continues", "alert_id": current.id}


def _cooling(store: Store, row: Any, day: date, now: datetime) -> bool:
    """Did `row` (the subject's latest incident, resolved) recover within the store's
    `cooldown_hours` of the subject's being down again on `day`, judged at `now`? Measured
    between the moments they were judged, or between the days judged, whichever is shorter:
    the rules judge whole days, so a recovery on Monday and a drop on Tuesday are 24 hours
    apart, however late the worker got to judge Tuesday."""
    hours = float(store.setting("cooldown_hours") or 0)
    if row.status != "resolved" or row.resolved_day is None or hours <= 0:
        return False
    by_day = timedelta(days=(day - row.resolved_day).days)
    by_moment = as_utc(now) - row.resolved_at if row.resolved_at is not None else by_day
    return min(by_day, by_moment) <= timedelta(hours=hours)


def _reopen(conn: Connection, now: datetime, row: Any, values: dict[str, Any],
            now_level: str, event: dict[str, Any]) -> dict[str, Any]:
    """The subject is down again within the cool-down: its incident open again (who
    acknowledged it and any snooze belong to the episode that ended). Worse when the level
    is above any announced: then posted and pinged like any escalation."""
    conn.execute(update(alerts).where(alerts.c.id == row.id).values(
        status="open", resolved_day=None, resolved_at=None, back=None, snoozed_until=None,
        acknowledged_by=None, acknowledged_at=None, **values))
    reopened = {**event, "alert_id": row.id, "resolved_before": row.resolved_day.isoformat()}
    if LEVEL_RANK[now_level] > LEVEL_RANK.get(row.notified_severity or "none", 0):
        _notified(conn, row.id, now_level, now)
        return {**reopened, "event": "worse", "_notified_before": row.notified_severity}
    return {**reopened, "event": "reopened"}


def recovered_unposted(conn: Connection, store: Store, since: date, until: date
                       ) -> list[dict[str, Any]]:
    """Incidents that recovered on a day from `since` to `until` and were never posted
    (inside quiet hours, or a watch not posted): the checklist names each in one line."""
    rows = conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.status == "resolved",
        alerts.c.resolved_day >= since, alerts.c.resolved_day <= until)
        .order_by(alerts.c.resolved_day, alerts.c.id)).all()
    return [listed(_context(r, store.name, store.language, store.timezone, r.updated_at))
            | {"resolved_day": r.resolved_day.isoformat()}
            for r in rows if not _posted(conn, r.id)]


# ---- buttons ----------------------------------------------------------------------------------


def acknowledge(conn: Connection, alert_id: int, user_id: str, now: datetime
                ) -> dict[str, Any] | None:
    """Record who acknowledged; the alert's message context, or None if there is no such
    alert. A resolved alert stays resolved."""
    row = _get(conn, alert_id)
    if row is None:
        return None
    values: dict[str, Any] = {"acknowledged_by": user_id, "acknowledged_at": now,
                              "updated_at": now}
    if row.status != "resolved":
        values.update(status="acknowledged", snoozed_until=None)
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
    return message_context(conn, alert_id, now)


def snooze(conn: Connection, alert_id: int, user_id: str, now: datetime,
           length: timedelta = SNOOZE) -> dict[str, Any] | None:
    """Quiet the alert until now + length (no escalation messages meanwhile)."""
    row = _get(conn, alert_id)
    if row is None:
        return None
    if row.status != "resolved":
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            status="snoozed", snoozed_until=now + length, acknowledged_by=user_id,
            acknowledged_at=now, updated_at=now))
    return message_context(conn, alert_id, now)


def _snoozes_run_out(conn: Connection, store: Store, now: datetime) -> list[Any]:
    return list(conn.execute(select(alerts.c.id, alerts.c.rule, alerts.c.last_day,
                                    alerts.c.snoozed_until)
                             .where(alerts.c.store_id == store.id, alerts.c.status == "snoozed",
                                    alerts.c.snoozed_until <= as_utc(now))))


def needs_waking(conn: Connection, store: Store, now: datetime) -> bool:
    """True when a snooze of the store's alerts has run out (a read: the cheap check)."""
    return bool(_snoozes_run_out(conn, store, now))


def wake(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Reopen the store's alerts whose snooze has run out: {"event": "woke", "alert_id",
    "day", "until"} each, so that their messages show them open again (with buttons)."""
    rows = _snoozes_run_out(conn, store, now)
    for row in rows:
        conn.execute(update(alerts).where(alerts.c.id == row.id).values(
            status="open", snoozed_until=None, updated_at=now))
    return [{"rule": row.rule, "store": store.name, "event": "woke", "alert_id": row.id,
             "day": row.last_day.isoformat(), "until": row.snoozed_until.isoformat()}
            for row in rows]


def message_context(conn: Connection, alert_id: int, now: datetime) -> dict[str, Any]:
    """Everything the alert templates show about one alert."""
    row = _get(conn, alert_id)
    name, language, timezone = conn.execute(
        select(stores.c.name, stores.c.language, stores.c.timezone)
        .where(stores.c.id == row.store_id)).one()
    return _context(row, str(name), str(language), str(timezone), now)


# ---- when to evaluate -------------------------------------------------------------------------


def _checkpoint(conn: Connection, store: Store, now: datetime) -> tuple[int, date]:
    """(the newest ingested or duplicate drop's id or 0, yesterday): what an evaluation has
    seen. A duplicate counts: re-dropped under a later period's name, a list covers more
    days (bot/metrics/freshness.py)."""
    newest = conn.scalar(select(func.max(drops.c.id)).where(
        drops.c.store_id == store.id, drops.c.status.in_(ARRIVED))) or 0
    return newest, local_today(now, store.tz) - timedelta(days=1)


def needs_evaluation(conn: Connection, store: Store, now: datetime) -> bool:
    """True after new data (a newer drop) or on a new local day since the last evaluation."""
    newest, yesterday = _checkpoint(conn, store, now)
    last = conn.execute(select(alert_checks).where(alert_checks.c.store_id == store.id)).first()
    if last is None:
        return newest > 0
    return newest > last.last_drop_id or last.last_day is None or yesterday > last.last_day


def mark_evaluated(conn: Connection, store: Store, now: datetime) -> None:
    newest, yesterday = _checkpoint(conn, store, now)
    values = {"last_drop_id": newest, "last_day": yesterday, "evaluated_at": now}
    done = conn.execute(update(alert_checks).where(alert_checks.c.store_id == store.id)
                        .values(**values))
    if done.rowcount == 0:
        conn.execute(insert(alert_checks).values(store_id=store.id, **values))
