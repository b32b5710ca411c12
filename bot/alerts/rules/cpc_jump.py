"""cpc_jump: a P4P plan's cost per click yesterday far above its average of the 7 days before.
One incident per plan (subject: the plan's name as the report writes it).

CPC is spend / clicks, each summed over one report level per plan and day (bot.metrics.p4p
.plan_days), and the 7-day average is the 7 days' spend over their clicks (weighted by
clicks: a quiet day's odd CPC does not pull it). A rate needs volume: yesterday needs at least
`cpc_jump.min_clicks` (20) clicks and so do the 7 days together, with data on at least
MIN_BASELINE_DAYS of them; otherwise no verdict ("skipped"), as for a plan without a row of
yesterday or a report that does not cover yesterday. Money keeps its currency: the two
CPCs are compared in yesterday's spend's currency, converted only at a rate the store sets.

* watch: CPC at least `cpc_jump.min_rise` (30 %) above the average: worth a look (bids,
  competitors, a keyword's quality stars), no ping;
* alert (warning): at least `cpc_jump.alert_rise` (60 %) above: the same budget now buys
  little more than half the clicks;
* normal otherwise.
Figures recorded: cpc, usual_cpc, clicks, spend, currency, rates, baseline_clicks,
baseline_days. Hint: cpc_bids {} (bids and quality stars of the plan's keywords).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from bot.alerts.rules import Finding, Rule, setting
from bot.alerts.rules.p4p_spend import covered, missing_plans, p4p_rows
from bot.metrics.money import Amounts, add_up, convert
from bot.metrics.p4p import CURRENCY, PlanDay, plan_days
from bot.periods import local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "cpc_jump"
BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3  # days with data among the 7: fewer make no usual level
EPSILON = 1e-9  # a rise computed from floats exactly at its threshold counts as reaching it


def _spent(days: list[PlanDay]) -> Amounts:
    return add_up(((c, v) for d in days for c, v in d.spend.items()), CURRENCY)


def judge(store: Store, days: dict[date, PlanDay], yesterday: date) -> Finding:
    """One plan's finding on `yesterday` (a day it has a row of)."""
    day = days[yesterday]
    min_clicks = int(setting(store, RULE, "min_clicks"))

    def skipped(why: str) -> Finding:
        return Finding(day=yesterday, state="skipped", subject=day.plan, why=why)

    if day.clicks < min_clicks:
        return skipped(f"{day.clicks} clicks yesterday, fewer than {min_clicks}")
    before = [d for when, d in days.items()
              if yesterday - timedelta(days=BASELINE_DAYS) <= when < yesterday]
    baseline_clicks = sum(d.clicks for d in before)
    if len(before) < MIN_BASELINE_DAYS or baseline_clicks < min_clicks:
        return skipped(f"too little history: {len(before)} days and {baseline_clicks} clicks "
                       f"in the {BASELINE_DAYS} days before")
    if not day.spend:
        return skipped("no spend in the P4P report")
    currency = next(iter(day.spend)) if len(day.spend) == 1 else CURRENCY
    spend, rates = convert(store, day.spend, currency)
    usual_spend, usual_rates = convert(store, _spent(before), currency)
    if spend is None or usual_spend is None or not usual_spend:
        return skipped("no spend to compare in one currency (set usd_cny_rate)")
    cpc, usual_cpc = spend / day.clicks, usual_spend / baseline_clicks
    rise = cpc / usual_cpc - 1
    if rise >= float(setting(store, RULE, "alert_rise")) - EPSILON:
        state, tier = "down", "alert"
    elif rise >= float(setting(store, RULE, "min_rise")) - EPSILON:
        state, tier = "down", "watch"
    else:
        state, tier = "normal", "alert"
    figures = {"cpc": round(cpc, 4), "usual_cpc": round(usual_cpc, 4), "clicks": day.clicks,
               "spend": round(spend, 2), "currency": currency,
               "rates": rates + [r for r in usual_rates if r not in rates],
               "baseline_clicks": baseline_clicks, "baseline_days": len(before)}
    return Finding(day=yesterday, subject=day.plan, state=state, tier=tier,
                   severity="warning" if state == "down" and tier == "alert" else None,
                   figures=figures, hints=[{"kind": "cpc_bids"}] if state == "down" else [],
                   back={"day": yesterday.isoformat(),
                         "day_label": yesterday.strftime("%a %d %b %Y"),
                         "cpc": figures["cpc"], "usual_cpc": figures["usual_cpc"],
                         "currency": currency})


def evaluate_yesterday(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: every plan of yesterday judged, or why not."""
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    why = covered(conn, store, yesterday)
    if why is not None:
        return [Finding(day=yesterday, state="skipped", why=why)] if why else []
    plans = plan_days(p4p_rows(conn, store, yesterday - timedelta(days=BASELINE_DAYS),
                               yesterday))
    return [judge(store, days, yesterday) for days in plans.values()
            if yesterday in days] + missing_plans(plans, yesterday)


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures, with the rise of the CPC over its average (`rise`)."""
    usual = figures["usual_cpc"]
    return {**figures, "rise": figures["cpc"] / usual - 1 if usual else None}


RULE = Rule(name=NAME, title=N_("CPC jump"), subject="plan", evaluate=evaluate_yesterday,
            describe=describe,
            settings={"min_rise": (0.30, "positive"), "alert_rise": (0.60, "positive"),
                      "min_clicks": (20, "count")})
