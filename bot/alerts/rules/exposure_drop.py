"""exposure_drop: yesterday's impressions or visitors (the traffic report) far below the same
weekdays' usual level, judged as inquiries are: the same detector (bot/alerts/detector.py:
the day, the 3- and 7-day sums, each against the same weekdays of the previous weeks) and the
same two tiers. One incident per metric: subject "impressions" or "visitors".

Series: the shop's figure per local day (bot.metrics.traffic.daily_traffic: the total rows'
figure, else one breakdown's sum), from the first day the report carries the metric. A day
the report skipped inside that range is unknown, not zero (the detector would read it as 0
and fake a drop): it stands at its own weekday's usual level, so it neither fakes nor hides
one. Only yesterday is judged, and only when the report has yesterday's figure of the metric
("skipped" otherwise, saying which: no report of yesterday yet, or no such column); a store
that never dropped a traffic report gets no finding at all.

Tiers: `alert` when the detector fires with the rule's settings (`exposure_drop.level`,
`.min_drop`, `.min_expected`); otherwise `watch` when a window shows a drop of at least
`exposure_drop.watch_min_drop` (50 %) whose own lower-tail probability is below
`exposure_drop.watch_level` (0.05): inquiry_drop's watch tier and defaults; otherwise normal.
Impressions are large counts with a lot of day-to-day spread; the detector's negative
binomial fit takes that spread from the store's own weeks.
Figures recorded: metric, method, observed, expected, p_value, baseline_weeks, source (the
data kind, "traffic", as inquiry_drop records its series'). Hint: inquiry_drop's p4p_paused
(the day's P4P spend at most a tenth of its usual level), worded by inquiry_drop's partial.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from bot.alerts.detector import DetectorSettings, Verdict, evaluate
from bot.alerts.rules import Finding, Rule, setting
from bot.alerts.rules.inquiry_drop import _p4p_hint, day_is_normal, span
from bot.metrics.freshness import newest_days
from bot.metrics.traffic import daily_traffic
from bot.metrics.usual import same_weekdays, usual_level
from bot.periods import local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "exposure_drop"
SUBJECTS = ("impressions", "visitors")  # the traffic report's metrics judged, one incident each


def detector_settings(store: Store) -> DetectorSettings:
    """The alert tier's detector settings: the rule's own thresholds."""
    return DetectorSettings(level=float(setting(store, RULE, "level")),
                            min_drop=float(setting(store, RULE, "min_drop")),
                            min_expected=float(setting(store, RULE, "min_expected")))


def watch_settings(store: Store, alert: DetectorSettings) -> DetectorSettings:
    """The watch tier's: `exposure_drop.watch_level` and `.watch_min_drop` on the same series
    (inquiry_drop's defaults)."""
    return replace(alert, level=float(setting(store, RULE, "watch_level")),
                   min_drop=float(setting(store, RULE, "watch_min_drop")))


def _first_day(day: date, weeks: int) -> date:
    """`weeks` weeks and two more before `day`: the detector's longest window, `weeks` back."""
    return day - timedelta(days=7 * (weeks + 2))


def series(conn: Connection, store: Store, day: date, weeks: int = DetectorSettings.weeks
           ) -> dict[str, dict[date, int]]:
    """Per metric of SUBJECTS, its count per local day up to `day`, gaps filled (module doc)."""
    lo = _first_day(day, weeks)
    days = [lo + timedelta(days=i) for i in range((day - lo).days + 1)]
    by_day = daily_traffic(conn, store, days)
    out = {}
    for metric in SUBJECTS:
        known = {d: int(v[metric]) for d, v in by_day.items() if v.get(metric) is not None}
        out[metric] = _fill_gaps(known, day)
    return out


def _fill_gaps(known: dict[date, int], day: date) -> dict[date, int]:
    """Days missing between the first known day and `day` (not `day` itself: the day judged
    must be reported): their weekday's usual level (bot.metrics.usual), or left out (read as
    0 by the detector) when there is none yet."""
    if not known:
        return {}
    filled = dict(known)
    first = min(known)
    for i in range((day - first).days):
        d = first + timedelta(days=i)
        if d not in filled:
            usual = usual_level(known.get(w) for w in same_weekdays(d))
            if usual is not None:
                filled[d] = round(usual)
    return filled


def _back(counts: dict[date, int], verdict: Verdict, weeks: int) -> dict[str, Any]:
    """The recovering day for "back to normal": its own count against its weekday's usual."""
    day = verdict.day
    label = {"day": day.isoformat(), "day_label": day.strftime("%a %d %b %Y")}
    usual = usual_level(counts.get(d) for d in same_weekdays(day, weeks))
    if usual is not None and day in counts:
        return {**label, "observed": counts[day], "expected": usual, "span": 1}
    return {**label, "observed": verdict.observed, "expected": round(verdict.expected, 2),
            "span": span(verdict.method)}


def judge(counts: dict[date, int], day: date, alert: DetectorSettings,
          watch: DetectorSettings, metric: str) -> Finding:
    """One metric's finding on `day` (which its series covers)."""
    verdict = evaluate(counts, day, alert)
    if not verdict.enough_history:
        return Finding(day=day, state="skipped", subject=metric,
                       why=f"not enough history of {metric} in the traffic report "
                           "(4 weeks of data needed)")
    tier = "alert"
    if not verdict.fired:
        # The watch tier tests each window at watch_level itself, not divided among the
        # windows (a false watch costs a glance, not a ping): the detector divides its level
        # by the windows tested, the same ones on the same series, so multiply it back.
        per_window = replace(watch, level=min(watch.level * max(verdict.windows, 1), 0.999))
        watched = evaluate(counts, day, per_window)
        if watched.fired:
            verdict, tier = watched, "watch"
    figures = {"metric": metric, "method": verdict.method, "observed": verdict.observed,
               "expected": verdict.expected, "p_value": verdict.p_value,
               "baseline_weeks": verdict.weeks, "source": "traffic"}
    return Finding(
        day=day, subject=metric, state="down" if verdict.fired else "normal", tier=tier,
        severity=verdict.severity if verdict.fired and tier == "alert" else None,
        figures=figures,
        # a 3- or 7-day window still holding the drop's days after the day itself is back:
        # a recovery, not a continuing incident (as for inquiries)
        tail_only=verdict.method != "daily" and day_is_normal(counts, day, alert),
        window_start=day - timedelta(days=span(verdict.method) - 1),
        back=_back(counts, verdict, alert.weeks))


def evaluate_yesterday(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: each metric's yesterday judged, or why not."""
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    alert = detector_settings(store)
    watch = watch_settings(store, alert)
    newest = newest_days(conn, store, ("traffic",))["traffic"]
    if newest is None:
        return []  # a store that never dropped a traffic report: nothing to judge
    if newest < yesterday:
        why = f"the traffic report does not cover {yesterday.isoformat()} yet"
        return [Finding(day=yesterday, state="skipped", subject=m, why=why) for m in SUBJECTS]
    found = []
    for metric, counts in series(conn, store, yesterday, alert.weeks).items():
        if yesterday not in counts:
            found.append(Finding(day=yesterday, state="skipped", subject=metric, why=(
                f"the traffic report of {yesterday.isoformat()} has no {metric} column")))
            continue
        finding = judge(counts, yesterday, alert, watch, metric)
        if finding.state == "down":
            # P4P paused, out of budget or off its schedule takes its impressions with it: the
            # inquiry drop's hint, on the same figures (the P4P report of the day)
            finding.hints = [h for h in (_p4p_hint(conn, store, yesterday),) if h]
        found.append(finding)
    return found


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures as messages and `opsbot alerts` show them."""
    observed, expected = figures["observed"], figures["expected"]
    return {"metric": figures["metric"], "method": figures["method"],
            "span": span(figures["method"]), "observed": observed,
            "expected": round(expected, 2), "p_value": figures["p_value"],
            "drop": (1 - observed / expected) if expected else 0.0,
            "baseline_weeks": figures["baseline_weeks"], "source": figures.get("source")}


RULE = Rule(name=NAME, title=N_("Exposure drop"), subject="metric",
            evaluate=evaluate_yesterday, describe=describe,
            settings={"level": (0.01, "fraction"), "min_drop": (0.30, "fraction"),
                      "min_expected": (20.0, "positive"), "watch_level": (0.05, "fraction"),
                      "watch_min_drop": (0.50, "fraction")})
