"""The inquiry-drop alert: detection on yesterday's count, and the incident's lifecycle in SQL.

Series: the one the checklist's data item shows (bot.metrics.traffic.inquiries_source, the same
rule for both): valid inquiries per local day from the inquiry list (each inquiry on its local
creation day; those the platform flagged as spam are left out, so a spam wave neither hides a
drop nor fakes a rise) when it covers yesterday, unless it is too young for a usual level
while the traffic report has one; else the daily shop overview's inquiries column, the
platform's count, in which spam cannot be told apart. The alert records which (`source`,
shown by `opsbot alerts --json`, and a "counted from the traffic report" hint).
Only complete days are judged: "yesterday" in the store's zone, and only if the data
covers it - an inquiry list whose period runs to yesterday and that was ingested after
yesterday ended (bot/metrics/freshness.py), or a traffic report dated yesterday. Today is never
judged: a morning's count against whole days would always look like a drop. A day the data
does not cover yet gives no verdict, so late data never fires a false alarm; the evaluation
after the next drop will judge it.

Lifecycle (one row per incident in `alerts`):
* fires, no open incident -> a new alert, one message per bound channel (pinging the store's
  `alert_mention`);
* still down -> the incident is updated (last day, figures), no message, unless it got worse
  (severity warning -> critical): then one new message ("dropped further"), unless snoozed,
  and the older messages are redrawn as superseded;
* recovered (yesterday not firing) -> resolved, a "back to normal" reply in the thread of each
  channel's latest alert message, and every message of the alert edited to show it resolved;
* acknowledge: recorded, the buttons stay for snoozing; snooze (1 day by default): no
  escalation messages until it expires, then the alert is open again. Either redraws every
  message of the alert;
* a channel bound while the alert is not resolved gets it posted once.
The hints are stored as JSON in `alerts.hint`, the baseline's weeks in `alerts.baseline_weeks`.
This module decides; the worker (jobs/alert_messages.py) renders the messages and queues them
in the outbox, in the same transaction as the lifecycle change.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from bot.alerts.detector import METHODS, MIN_WEEKS, DetectorSettings, Verdict, evaluate
from bot.alerts.detector import SPANS as WINDOW_DAYS
from bot.metrics.freshness import ARRIVED, LABELS, newest_days
from bot.metrics.inquiries import VALID, valid_per_day
from bot.metrics.p4p import spend_rows
from bot.metrics.traffic import daily_traffic, inquiries_source
from bot.models import alert_checks, alerts, drops, facts, stores
from bot.periods import as_utc, local_midnight, local_today
from bot.stores import Store

RULE = "inquiry_drop"
TITLES = {RULE: "Inquiry drop"}  # what an operator reads instead of the rule id
SPANS = dict(zip(METHODS, WINDOW_DAYS, strict=True))  # the detector's windows, in days
SEVERITY_RANK = {"none": 0, "warning": 1, "critical": 2}
SNOOZE = timedelta(days=1)
KINDS = {LABELS[k]: k for k in ("inquiries", "traffic")}  # a source's name -> its data kind
HINT_TRAFFIC_DOWN = 0.70  # visitors at or below 70 % of usual: "traffic down too"
HINT_TRAFFIC_NORMAL = 0.85
HINT_P4P_PAUSED = 0.10  # spend at or below 10 % of the usual daily spend: "paused?"
HINT_COUNTRY_SHARE = 0.15  # a top country: at least 15 % of the baseline's inquiries

inquiries = facts["inquiries"]
p4p = facts["p4p"]


# ---- the series -----------------------------------------------------------------------------


def inquiry_source(conn: Connection, store: Store, day: date, weeks: int = DetectorSettings.weeks
                   ) -> tuple[str, dict[str, date | None], dict[date, int] | None]:
    """(the data kind the series of `day` comes from, "inquiries" or "traffic"; the newest
    day each covers; the inquiry list's valid counts per day from _first_day(day, weeks) to
    `day` when the list covers `day`, else None): the checklist's data item's rule
    (bot.metrics.traffic.inquiries_source), on the same freshness
    (bot.metrics.freshness.newest_days), so the alert judges the count the checklist shows.
    The list's counts are read once, for the rule and the series (daily_inquiries)."""
    newest = newest_days(conn, store, ("inquiries", "traffic"))
    fresh = _covers(newest["inquiries"], day)
    listed = (valid_per_day(conn, store, _first_day(day, weeks), day) or {}) if fresh else None
    kind, _ = inquiries_source(
        conn, store, day, inquiries_fresh=fresh,
        traffic_fresh=_covers(newest["traffic"], day), counts=listed)
    return kind, newest, listed


def _covers(newest: date | None, day: date) -> bool:
    return newest is not None and newest >= day


def _first_day(day: date, weeks: int) -> date:
    """The series' first day: `weeks` weeks and two more before `day` (the detector's
    longest window, `weeks` weeks back)."""
    return day - timedelta(days=7 * (weeks + 2))


def daily_inquiries(conn: Connection, store: Store, day: date, kind: str | None = None, *,
                    weeks: int = DetectorSettings.weeks,
                    newest: dict[str, date | None] | None = None,
                    listed: dict[date, int] | None = None
                    ) -> tuple[dict[date, int], date | None, str]:
    """(counts per local day up to `day`, the last day the data covers, the source's name)
    from `kind` ("inquiries": the inquiry list, "traffic": the traffic report), by default
    the source inquiry_source picks for `day`; `weeks`: the detector's (settings.weeks).
    `newest` and `listed`: inquiry_source's, when the caller has them already.

    Days before the first inquiry (spam or not) are left out (no data, not zeros); days inside
    count the valid inquiries, 0 when none was created.
    """
    if kind is None:
        kind, newest, listed = inquiry_source(conn, store, day, weeks)
    lo = _first_day(day, weeks)
    if kind == "inquiries":
        if listed is None:
            listed = valid_per_day(conn, store, lo, day) or {}
        if newest is None:
            newest = newest_days(conn, store, ("inquiries",))
        return listed, newest["inquiries"], LABELS["inquiries"]
    days = [lo + timedelta(days=i) for i in range((day - lo).days + 1)]
    by_day = daily_traffic(conn, store, days)
    counts = {d: v["inquiries"] for d, v in by_day.items() if v.get("inquiries") is not None}
    return counts, (max(counts) if counts else None), LABELS["traffic"]


def detector_settings(store: Store) -> DetectorSettings:
    return DetectorSettings(level=float(store.setting("alert_level")),
                            min_drop=float(store.setting("alert_min_drop")),
                            min_expected=float(store.setting("alert_min_expected")))


def judge(conn: Connection, store: Store, now: datetime, settings: DetectorSettings
          ) -> tuple[Verdict | None, str, dict[date, int], date | None]:
    """The detector's verdict on yesterday (or None), the source's name or why not, the
    series, the last day the inquiry list covers (None without one). The source is the
    checklist's data item's (inquiry_source)."""
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    kind, newest, listed = inquiry_source(conn, store, yesterday, settings.weeks)
    listed_until = newest["inquiries"]
    if kind == "traffic" and not _covers(newest["traffic"], yesterday) \
            and listed_until is not None:
        # neither covers yesterday: say which data is late
        late = ("neither the inquiry list nor the traffic report covers"
                if newest["traffic"] is not None else "the inquiry list does not cover")
        return None, f"{late} {yesterday.isoformat()} yet", {}, listed_until
    counts, covered, source = daily_inquiries(conn, store, yesterday, kind, weeks=settings.weeks,
                                              newest=newest, listed=listed)
    if not counts:
        return None, "no inquiry data", counts, listed_until
    if covered is None or covered < yesterday:
        return (None, f"the {source} does not cover {yesterday.isoformat()} yet", counts,
                listed_until)
    return evaluate(counts, yesterday, settings), source, counts, listed_until


def span(method: str) -> int:
    """Days in the detector's window: daily 1, 3day_sum 3, weekly_sum 7."""
    return SPANS.get(method, 1)


def _usual_count(counts: dict[date, int], day: date, weeks: int) -> float | None:
    """The median count of the same weekday in the past `weeks` weeks, or None when the day
    itself or MIN_WEEKS of that history is missing."""
    past = [counts[d] for k in range(1, weeks + 1) if (d := day - timedelta(days=7 * k)) in counts]
    if len(past) < MIN_WEEKS or day not in counts:
        return None
    return float(median(past))


def day_is_normal(counts: dict[date, int], day: date, settings: DetectorSettings) -> bool:
    """Is the day's own count back at its usual level (no more than min_drop below
    its _usual_count)? False when a day says too little (usual count under min_expected, or
    too little history)."""
    usual = _usual_count(counts, day, settings.weeks)
    return usual is not None and usual >= settings.min_expected and \
        counts[day] >= (1 - settings.min_drop) * usual


# ---- hints ------------------------------------------------------------------------------------
#
# A hint is plain data, {"kind": …, figures…}; the alert template words each kind in the
# store's language. Kinds:
#   traffic_down    {"visitors", "usual"}: visitors at or below 70 % of usual
#   traffic_normal  {"visitors", "usual"}: visitors came but did not inquire
#   country_gone    {"countries": [one], "share": percent of the last 4 weeks' inquiries}
#   countries_gone  {"countries": [several], "share": their percent together}
#                   (neither when nothing came at all, or the inquiry list does not cover
#                   the window: "none from US" would say nothing, or be wrong)
#   p4p_paused      {"spent", "usual"} (CNY a day)
#   from_traffic_report  {}: the series judged is the traffic report's (inquiry_source), the
#                   platform's count with spam in it; last, as it says where the count came
#                   from rather than where to look


def hints(conn: Connection, store: Store, verdict: Verdict, source: str | None = None, *,
          listed_until: date | None) -> list[dict[str, Any]]:
    """Short pointers of where to look, each from another kind of data; `source` the
    series' data kind, `listed_until` the last day the inquiry list covers (judge's)."""
    found = [_traffic_hint(conn, store, verdict.day),
             _country_hint(conn, store, verdict, listed_until),
             _p4p_hint(conn, store, verdict.day),
             {"kind": "from_traffic_report"} if source == "traffic" else None]
    return [h for h in found if h]


def _traffic_hint(conn: Connection, store: Store, day: date) -> dict[str, Any] | None:
    past = [day - timedelta(days=7 * k) for k in range(1, 9)]
    by_day = daily_traffic(conn, store, [day, *past])
    today = (by_day.get(day) or {}).get("visitors")
    usual_values = [v["visitors"] for d in past if (v := by_day.get(d)) and v["visitors"]]
    if today is None or len(usual_values) < 3:
        return None
    usual = median(usual_values)
    if today <= HINT_TRAFFIC_DOWN * usual:
        return {"kind": "traffic_down", "visitors": int(today), "usual": round(float(usual), 2)}
    if today >= HINT_TRAFFIC_NORMAL * usual:
        return {"kind": "traffic_normal", "visitors": int(today), "usual": round(float(usual), 2)}
    return None


def _country_counts(conn: Connection, store: Store, lo: date, hi: date) -> Counter[str]:
    rows = conn.execute(
        select(inquiries.c.country, func.count()).where(
            inquiries.c.store_id == store.id,
            inquiries.c.created_at >= local_midnight(lo, store.tz),
            inquiries.c.created_at < local_midnight(hi + timedelta(days=1), store.tz),
            inquiries.c.country.is_not(None), inquiries.c.country.not_in(["", "-1", "-"]),
            VALID)  # as the series judged: valid inquiries only
        .group_by(inquiries.c.country))
    return Counter({country: int(n) for country, n in rows})


def _country_hint(conn: Connection, store: Store, verdict: Verdict, covered: date | None
                  ) -> dict[str, Any] | None:
    """`covered`: the last day the inquiry list covers (None without one)."""
    days = span(verdict.method)
    first = verdict.day - timedelta(days=days - 1)
    if verdict.observed == 0:
        return None  # no inquiries at all: none from any country either, nothing to add
    if covered is None or covered < verdict.day:
        return None  # the list (the countries' source) does not cover the window
    baseline = _country_counts(conn, store, first - timedelta(days=28), first - timedelta(days=1))
    total = sum(baseline.values())
    if not total:
        return None
    now = _country_counts(conn, store, first, verdict.day)
    # A top country brings several inquiries per window; none now means it went missing.
    gone = [c for c, n in baseline.most_common(5)
            if n / total >= HINT_COUNTRY_SHARE and n * days / 28 >= 1 and not now.get(c)]
    if not gone:
        return None
    gone = gone[:3]
    return {"kind": "country_gone" if len(gone) == 1 else "countries_gone", "countries": gone,
            "share": sum(baseline[c] for c in gone) * 100 // total}


def _p4p_hint(conn: Connection, store: Store, day: date) -> dict[str, Any] | None:
    """P4P spend of `day` against the usual daily spend of the 14 days before, each day's
    spend summed over one report level per plan (bot/p4p.spend_rows), as the checklist does:
    plan-, product- and keyword-level rows of one day repeat the same money."""
    newest = conn.scalar(select(func.max(p4p.c.date)).where(p4p.c.store_id == store.id))
    if newest is None or newest < day:
        return None  # no P4P report for that day: nothing to say
    rows = conn.execute(select(p4p).where(
        p4p.c.store_id == store.id, p4p.c.date >= day - timedelta(days=14),
        p4p.c.date <= day)).all()
    per_day: dict[date, float] = {}
    for row in spend_rows(rows):
        per_day[row.date] = per_day.get(row.date, 0.0) + float(row.spend or 0)
    usual_days = [v for d, v in per_day.items() if d < day]
    if len(usual_days) < 3:
        return None
    usual = sum(usual_days) / len(usual_days)
    spent = per_day.get(day, 0.0)
    if usual > 0 and spent <= HINT_P4P_PAUSED * usual:
        return {"kind": "p4p_paused", "spent": round(spent, 2), "usual": round(usual, 2)}
    return None


# ---- lifecycle --------------------------------------------------------------------------------


def _status(row: Any, now: datetime) -> str:
    """A snooze that has run out reads as open."""
    if row.status == "snoozed" and row.snoozed_until and row.snoozed_until <= now:
        return "open"
    return row.status


def _context(row: Any, store_name: str, language: str, timezone: str, now: datetime
             ) -> dict[str, Any]:
    """What the alert templates and the CLI show; `language` is the store's (the `lang` the
    templates are rendered in), left out of public(), as are the local snooze time and the
    baseline's weeks."""
    local_until = None
    if row.snoozed_until:
        local_until = (row.snoozed_until.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
                       .strftime("%Y-%m-%d %H:%M"))
    return {
        "id": row.id, "rule": row.rule, "title": TITLES[row.rule],
        "store": store_name, "language": language, "day": row.last_day.isoformat(),
        "day_label": row.last_day.strftime("%a %d %b %Y"),
        "since": row.started_day.isoformat(), "method": row.method, "span": span(row.method),
        "observed": row.observed, "expected": round(row.expected, 2),
        "p_value": row.p_value, "drop": (1 - row.observed / row.expected) if row.expected else 0.0,
        "severity": row.severity, "status": _status(row, now),
        "hints": list(row.hint or []), "baseline_weeks": row.baseline_weeks,
        "source": row.source,
        "acknowledged_by": row.acknowledged_by,
        "snoozed_until": (row.snoozed_until.isoformat(timespec="minutes") + "Z"
                          if row.snoozed_until else None),
        "snoozed_until_local": local_until, "timezone": timezone,
        "resolved_day": row.resolved_day.isoformat() if row.resolved_day else None,
    }


def public(context: dict[str, Any]) -> dict[str, Any]:
    """The CLI's and the checklist's view of an alert."""
    keys = ("rule", "title", "store", "day", "observed", "expected", "p_value", "severity",
            "status", "since", "method", "span", "hints", "id")
    return {**{k: context[k] for k in keys}, "source": LABELS.get(context["source"] or "")}


def _open(conn: Connection, store: Store) -> Any:
    return conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.rule == RULE, alerts.c.status != "resolved")
        .order_by(alerts.c.started_day.desc()).limit(1)).first()


def _get(conn: Connection, alert_id: int) -> Any:
    return conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()


def unresolved(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Alerts not yet resolved (open, acknowledged or snoozed), newest first, with everything
    the alert template shows."""
    rows = conn.execute(select(alerts).where(
        alerts.c.store_id == store.id, alerts.c.status != "resolved")
        .order_by(alerts.c.last_day.desc(), alerts.c.id.desc())).all()
    return [_context(r, store.name, store.language, store.timezone, now) for r in rows]


def unresolved_ids(conn: Connection, store: Store) -> list[int]:
    """The ids of the store's alerts not yet resolved, oldest first (a cheap check)."""
    return list(conn.scalars(select(alerts.c.id).where(
        alerts.c.store_id == store.id, alerts.c.status != "resolved").order_by(alerts.c.id)))


def active(conn: Connection, store: Store, now: datetime, until: date | None = None
           ) -> list[dict[str, Any]]:
    """Alerts not yet resolved, newest first, as the CLI and the checklist show them; with
    `until`, only those whose day is no later (a checklist built for a past day shows no
    alert of the days after its own yesterday)."""
    found = unresolved(conn, store, now)
    if until is not None:
        found = [c for c in found if c["day"] <= until.isoformat()]
    return [public(c) for c in found]


def _back(counts: dict[date, int], verdict: Verdict, weeks: int) -> dict[str, Any]:
    """The recovering day for the "back to normal" reply: the day's own count against its
    usual same-weekday level when known, else the detector's window."""
    day = verdict.day
    usual = _usual_count(counts, day, weeks)
    label = {"day": day.isoformat(), "day_label": day.strftime("%a %d %b %Y")}
    if usual is not None:
        return {**label, "observed": counts[day], "expected": usual, "span": 1}
    return {**label, "observed": verdict.observed, "expected": round(verdict.expected, 2),
            "span": span(verdict.method)}


def evaluate_store(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Judge yesterday and move the incident along its lifecycle.

    Returns events: {"rule", "store", "day", "event", "severity", "observed", "expected",
    "p_value", "messages"} with event fired | worse | continues | recovered | normal, or
    {"event": "skipped", "why"} when there is no verdict; a recovered event carries `back`,
    the recovering figures. The worker turns fired, worse and recovered events into messages
    (jobs/alert_messages.py) in the same transaction. Idempotent: the same data and day give
    no second event that needs a message. Waking snoozes that ran out is the caller's
    (jobs.tick.evaluate_alerts calls wake first); _fire reads one not yet woken as open.
    """
    settings = detector_settings(store)
    verdict, source, counts, listed_until = judge(conn, store, now, settings)
    base = {"rule": RULE, "store": store.name}
    if verdict is None:
        return [{**base, "event": "skipped", "why": source}]
    if not verdict.enough_history:
        return [{**base, "day": verdict.day.isoformat(), "event": "skipped",
                 "why": f"not enough history in the {source} (4 weeks of data needed)"}]
    event = {**base, "day": verdict.day.isoformat(), "severity": verdict.severity,
             "observed": verdict.observed, "expected": round(verdict.expected, 2),
             "p_value": verdict.p_value, "method": verdict.method, "source": source,
             "messages": 0}
    current = _open(conn, store)
    # A 3- or 7-day window still holds the drop's days after the day itself is back to
    # normal: that is a recovery, not a continuing incident.
    tail_only = verdict.method != "daily" and day_is_normal(counts, verdict.day, settings)
    if verdict.fired and not (current is not None and tail_only):
        return [_fire(conn, store, now, verdict, current, event, listed_until)]
    if current is not None and verdict.day >= current.started_day:
        conn.execute(update(alerts).where(alerts.c.id == current.id).values(
            status="resolved", resolved_day=verdict.day, updated_at=now))
        event.update(event="recovered", alert_id=current.id,
                     back=_back(counts, verdict, settings.weeks))
        return [event]
    return [{**event, "event": "normal"}]


def _notified(conn: Connection, alert_id: int, severity: str, now: datetime) -> None:
    """The highest severity announced so far: only a worse one is announced again."""
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
        notified_severity=severity, updated_at=now))


def _fire(conn: Connection, store: Store, now: datetime, verdict: Verdict, current: Any,
          event: dict[str, Any], listed_until: date | None) -> dict[str, Any]:
    figures = {"last_day": verdict.day, "method": verdict.method, "observed": verdict.observed,
               "source": KINDS.get(event["source"]),
               "expected": verdict.expected, "p_value": verdict.p_value,
               "severity": verdict.severity,
               "hint": hints(conn, store, verdict, KINDS.get(event["source"]),
                             listed_until=listed_until),
               "baseline_weeks": verdict.weeks,
               "updated_at": now}
    if current is None:
        window_start = verdict.day - timedelta(days=span(verdict.method) - 1)
        earlier = conn.execute(select(alerts.c.id, alerts.c.last_day).where(
            alerts.c.store_id == store.id, alerts.c.rule == RULE,
            alerts.c.last_day >= window_start).order_by(alerts.c.id.desc())).first()
        if earlier is not None:
            # The window still holds days of an incident already reported and resolved:
            # its aftermath, not a new incident.
            return {**event, "event": "aftermath", "alert_id": earlier.id}
        alert_id = conn.execute(insert(alerts).values(
            store_id=store.id, rule=RULE, started_day=verdict.day, status="open",
            created_at=now, **figures).returning(alerts.c.id)).scalar_one()
        _notified(conn, alert_id, verdict.severity, now)
        return {**event, "event": "fired", "alert_id": alert_id}
    if verdict.day < current.last_day:
        return {**event, "event": "continues", "alert_id": current.id}
    conn.execute(update(alerts).where(alerts.c.id == current.id).values(**figures))
    worse = SEVERITY_RANK[verdict.severity] > SEVERITY_RANK.get(current.notified_severity or
                                                                "none", 0)
    snoozed = _status(current, now) == "snoozed"
    if worse and not snoozed:
        _notified(conn, current.id, verdict.severity, now)
        return {**event, "event": "worse", "alert_id": current.id}
    return {**event, "event": "continues", "alert_id": current.id}


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
    return list(conn.execute(select(alerts.c.id, alerts.c.last_day, alerts.c.snoozed_until)
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
    return [{"rule": RULE, "store": store.name, "event": "woke", "alert_id": row.id,
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
