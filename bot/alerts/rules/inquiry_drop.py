"""inquiry_drop: valid inquiries of yesterday (or of the 3 or 7 days to it) far below the
same weekdays' usual level, judged by the detector (bot/alerts/detector.py).

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
Tiers: the detector's fired verdict is an alert (severity warning or critical); a verdict
only below the watch tier's thresholds (`watch_level`, `watch_min_drop`: the rule's settings)
is a watch.
Figures recorded (alerts.figures): method, observed, expected, p_value, source (the data
kind), baseline_weeks; hints as below.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from bot.alerts.detector import METHODS, DetectorSettings, Verdict, evaluate
from bot.alerts.detector import SPANS as WINDOW_DAYS
from bot.alerts.rules import Finding, Rule, setting
from bot.metrics.freshness import LABELS, newest_days
from bot.metrics.inquiries import VALID, valid_per_day
from bot.metrics.money import convert, rounded
from bot.metrics.p4p import CURRENCY as P4P_CURRENCY
from bot.metrics.p4p import spend_amounts, spend_rows
from bot.metrics.traffic import daily_traffic, inquiries_source
from bot.metrics.usual import same_weekdays, usual_level
from bot.models import facts
from bot.periods import local_midnight, local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "inquiry_drop"
SPANS = dict(zip(METHODS, WINDOW_DAYS, strict=True))  # the detector's windows, in days
KINDS = {LABELS[k]: k for k in ("inquiries", "traffic")}  # a source's name -> its data kind
HINT_TRAFFIC_DOWN = 0.70  # visitors at or below 70 % of usual: "traffic down too"
HINT_TRAFFIC_NORMAL = 0.85
HINT_P4P_PAUSED = 0.10  # spend at or below 10 % of the usual daily spend: "paused?"
HINT_COUNTRY_SHARE = 0.15  # a top country: at least 15 % of the baseline's inquiries

inquiries = facts["inquiries"]
p4p = facts["p4p"]


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
    """The alert tier's thresholds (the store's `alert_*` settings, older than the rules) and
    the watch tier's (the rule's own: `inquiry_drop.watch_level`, `.watch_min_drop`)."""
    return DetectorSettings(level=float(store.setting("alert_level")),
                            min_drop=float(store.setting("alert_min_drop")),
                            min_expected=float(store.setting("alert_min_expected")),
                            watch_level=float(setting(store, RULE, "watch_level")),
                            watch_min_drop=float(setting(store, RULE, "watch_min_drop")))


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
    if day not in counts:
        return None
    return usual_level(counts.get(d) for d in same_weekdays(day, weeks))


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
#   p4p_paused      {"spent", "usual", "currency", "rates"} (a day; "rates": the store's rates
#                   they were converted at, bot/metrics/money.py), or, in several currencies
#                   without a rate, {"spent_by_currency", "usual_by_currency"}
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
    past = same_weekdays(day)
    by_day = daily_traffic(conn, store, [day, *past])
    today = (by_day.get(day) or {}).get("visitors")
    usual = usual_level((by_day.get(d) or {}).get("visitors") for d in past)
    if today is None or not usual:
        return None
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
    plan-, product- and keyword-level rows of one day repeat the same money. Amounts in
    several currencies are compared converted at the store's rates (named in the hint), or,
    without one, each in its own currency (bot/metrics/money.py): never added up."""
    newest = conn.scalar(select(func.max(p4p.c.date)).where(p4p.c.store_id == store.id))
    if newest is None or newest < day:
        return None  # no P4P report for that day: nothing to say
    rows = conn.execute(select(p4p).where(
        p4p.c.store_id == store.id, p4p.c.date >= day - timedelta(days=14),
        p4p.c.date <= day)).all()
    per_day: dict[date, list[Any]] = {}
    for row in spend_rows(rows):
        per_day.setdefault(row.date, []).append(row)
    usual_days = [d for d in per_day if d < day]
    if len(usual_days) < 3:
        return None
    usual = {c: v / len(usual_days) for c, v in
             spend_amounts(r for d in usual_days for r in per_day[d]).items()}
    spent = spend_amounts(per_day.get(day, []))
    currencies = {*usual, *spent}
    target = next(iter(currencies)) if len(currencies) == 1 else P4P_CURRENCY
    usual_total, usual_rates = convert(store, usual, target)
    spent_total, spent_rates = convert(store, spent, target)
    if usual_total is not None and spent_total is not None:
        if usual_total > 0 and spent_total <= HINT_P4P_PAUSED * usual_total:
            return {"kind": "p4p_paused", "spent": round(spent_total, 2),
                    "usual": round(usual_total, 2), "currency": target,
                    "rates": usual_rates + [r for r in spent_rates if r not in usual_rates]}
        return None
    # no rate between them: each currency against its own usual level
    if any(usual.values()) and all(spent.get(c, 0.0) <= HINT_P4P_PAUSED * usual.get(c, 0.0)
                                   for c in currencies):
        return {"kind": "p4p_paused", "spent": None, "usual": None,
                "spent_by_currency": rounded({c: spent.get(c, 0.0) for c in currencies}),
                "usual_by_currency": rounded({c: usual.get(c, 0.0) for c in currencies})}
    return None


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


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures as messages and `opsbot alerts` show them."""
    observed, expected = figures["observed"], figures["expected"]
    return {"method": figures["method"], "span": span(figures["method"]),
            "observed": observed, "expected": round(expected, 2),
            "p_value": figures["p_value"], "drop": (1 - observed / expected) if expected else 0.0,
            "baseline_weeks": figures["baseline_weeks"], "source": figures["source"]}


def evaluate_yesterday(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: judge yesterday's series (or say why not)."""
    settings = detector_settings(store)
    verdict, source, counts, listed_until = judge(conn, store, now, settings)
    if verdict is None:
        yesterday = local_today(now, store.tz) - timedelta(days=1)
        return [Finding(day=yesterday, state="skipped", why=source)]
    if not verdict.enough_history:
        return [Finding(day=verdict.day, state="skipped",
                        why=f"not enough history in the {source} (4 weeks of data needed)")]
    kind = KINDS.get(source)
    figures = {"method": verdict.method, "observed": verdict.observed,
               "expected": verdict.expected, "p_value": verdict.p_value, "source": kind,
               "baseline_weeks": verdict.weeks}
    finding = Finding(
        day=verdict.day, state="down" if verdict.tier else "normal",
        tier=verdict.tier or "alert", severity=verdict.severity if verdict.fired else None,
        figures=figures,
        # A 3- or 7-day window still holds the drop's days after the day itself is back to
        # normal: that is a recovery, not a continuing incident.
        tail_only=verdict.method != "daily" and day_is_normal(counts, verdict.day, settings),
        window_start=verdict.day - timedelta(days=span(verdict.method) - 1),
        back=_back(counts, verdict, settings.weeks))
    if verdict.tier:
        finding.hints = hints(conn, store, verdict, kind, listed_until=listed_until)
    return [finding]


RULE = Rule(name=NAME, title=N_("Inquiry drop"), subject="store", evaluate=evaluate_yesterday,
            describe=describe, top_level=("observed", "expected", "p_value", "method", "span"),
            # the watch tier; the alert tier's thresholds are the store's alert_level,
            # alert_min_drop and alert_min_expected
            settings={"watch_level": (DetectorSettings.watch_level, "fraction"),
                      "watch_min_drop": (DetectorSettings.watch_min_drop, "fraction")},
            store_settings=("alert_level", "alert_min_drop", "alert_min_expected"))
