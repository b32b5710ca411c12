"""p4p_spend: a P4P plan whose spend yesterday ran far past its daily budget, or that spends
past its budget while its clicks have brought no inquiry for days. One incident per plan
(subject: the plan's name as the report writes it).

Spend per plan and day is summed over one report level (bot.metrics.p4p.plan_days /
spend_rows: plan-, product- and keyword-level rows of a day repeat the same money). The
plan's daily budget is the report's budget column for that plan (its largest that day);
without one, the store's `p4p_daily_budget` (CNY), which is the budget of the whole store:
a plan spending twice that is a runaway however the budget is split. Money keeps its
currency (bot/metrics/money.py): spend is compared with the budget in the budget's currency,
converted only at a rate the store sets (named in the message); without one, no verdict.

* alert (warning): spend at least `p4p_spend.runaway_ratio` (2) x the daily budget - the
  platform stops a plan near its budget, so twice the budget means the budget was changed
  (raised for a day, or lowered after the money went) or the plan ran away;
* watch: spend above the daily budget while the plan's clicks brought no inquiry in the
  `p4p_spend.idle_days` (7) days to yesterday (the report's inquiries column, its empty
  cells - `-` - read as none, as `/keywords wasted` reads them; judged only when some row of
  the store's P4P data of those days carries a count - else the export has no such column -
  and the store's data of the plan reaches back over the whole stretch). A watch, not a
  warning: the money is spent as budgeted, nothing runs away today, and B2B inquiries are
  few and reach the report late;
  whether the budget sits on the right words is the weekly P4P review's question, so it is
  shown there and in the checklist, without a ping;
* normal otherwise (a recovered plan: spend back under the limits).
No verdict ("skipped") when the P4P report does not cover yesterday, for a plan the report
has no row of yesterday (an empty ad report is missing data, not zero spend), for a plan
without a known budget, or without a rate between its spend's and its budget's currencies;
no finding at all for a store that never dropped a P4P report.
Figures recorded: spend, budget, currency, rates, budget_source, reason (runaway | idle),
ratio_limit, idle_days, inquiries and clicks over the idle days (None when unknown).
Hints (where to look; worded by templates/alert_rules/p4p_spend.j2):
  budget_changed  {"before", "after", "currency"}: the report's budget of the plan changed
                  within the idle days (a budget change, not a runaway plan)
  runaway         {}: the report's budget did not change: the plan itself ran past it
  budget_setting  {}: judged against the store's p4p_daily_budget: is it still right?
  idle_keywords   {}: which words take the clicks (`/keywords wasted`)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from bot.alerts.rules import Finding, Rule, setting
from bot.metrics.freshness import newest_days
from bot.metrics.money import convert, one_currency
from bot.metrics.p4p import BUDGET_SETTING_CURRENCY, CURRENCY, PlanDay, plan_days
from bot.models import facts
from bot.periods import local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "p4p_spend"
EPSILON = 1e-9  # a ratio computed from floats exactly at its threshold counts as reaching it

p4p = facts["p4p"]


def p4p_rows(conn: Connection, store: Store, lo: date, hi: date) -> list[Any]:
    """The store's P4P rows dated `lo` to `hi`."""
    return conn.execute(select(p4p).where(
        p4p.c.store_id == store.id, p4p.c.date >= lo, p4p.c.date <= hi)).all()


def covered(conn: Connection, store: Store, yesterday: date) -> str | None:
    """Why not, when the P4P report does not cover `yesterday`, else None; "" for a store that
    never dropped a P4P report (no finding at all: the rule does not apply)."""
    newest = newest_days(conn, store, ("p4p",))["p4p"]
    if newest is None:
        return ""
    if newest < yesterday:
        return f"the P4P report does not cover {yesterday.isoformat()} yet"
    return None


def first_days(conn: Connection, store: Store) -> dict[str, date]:
    """Per plan (casefolded, as plan_days keys them), the first day the store has data of it."""
    found: dict[str, date] = {}
    for plan, first in conn.execute(select(p4p.c.plan, func.min(p4p.c.date)).where(
            p4p.c.store_id == store.id).group_by(p4p.c.plan)):
        key = (plan or "").casefold()
        found[key] = min(first, found.get(key, first))
    return found


def missing_plans(plans: dict[str, dict[date, PlanDay]], yesterday: date) -> list[Finding]:
    """A skipped finding for each plan with data of earlier days but no row of yesterday."""
    return [Finding(day=yesterday, state="skipped", subject=max(days.items())[1].plan,
                    why=f"no row of this plan for {yesterday.isoformat()} in the P4P report")
            for days in plans.values() if yesterday not in days]


def _budget(store: Store, day: PlanDay) -> tuple[dict[str, float], str | None]:
    if day.budget:
        return day.budget, "report"
    configured = store.setting("p4p_daily_budget")
    if configured:
        return {BUDGET_SETTING_CURRENCY: float(configured)}, "setting"
    return {}, None


def judge(store: Store, days: dict[date, PlanDay], yesterday: date, first_day: date,
          counted: bool) -> Finding:
    """One plan's finding on `yesterday` (a day it has a row of); `first_day`: the first day
    the store has data of the plan; `counted`: the P4P rows of the idle days carry an
    inquiries column."""
    day = days[yesterday]
    budgets, source = _budget(store, day)
    if not budgets:
        return Finding(day=yesterday, state="skipped", subject=day.plan,
                       why="no daily budget: none in the P4P report, no p4p_daily_budget set")
    budget, currency, rates = one_currency(store, budgets, CURRENCY)
    spend, spend_rates = (convert(store, day.spend, currency) if currency and day.spend
                          else (0.0, []))
    if budget is None or spend is None:
        return Finding(day=yesterday, state="skipped", subject=day.plan,
                       why="spend and budget in different currencies and no rate set "
                           "(usd_cny_rate)")
    idle_days = int(setting(store, RULE, "idle_days"))
    start = yesterday - timedelta(days=idle_days - 1)
    stretch = [d for when, d in days.items() if when >= start]
    known = counted and first_day <= start
    inquiries = sum(d.inquiries or 0 for d in stretch) if known else None
    ratio_limit = float(setting(store, RULE, "runaway_ratio"))
    if spend >= ratio_limit * budget - EPSILON:
        state, tier, reason = "down", "alert", "runaway"
    elif spend > budget + EPSILON and inquiries == 0:
        state, tier, reason = "down", "watch", "idle"
    else:
        state, tier, reason = "normal", "alert", None
    figures = {"spend": round(spend, 2), "budget": round(budget, 2), "currency": currency,
               "rates": rates + [r for r in spend_rates if r not in rates],
               "budget_source": source, "reason": reason, "ratio_limit": ratio_limit,
               "idle_days": idle_days, "inquiries": inquiries,
               "clicks": sum(d.clicks for d in stretch) if known else None}
    return Finding(day=yesterday, subject=day.plan, state=state, tier=tier,
                   severity="warning" if tier == "alert" and state == "down" else None,
                   figures=figures, hints=_hints(days, yesterday, reason, source),
                   back={"day": yesterday.isoformat(),
                         "day_label": yesterday.strftime("%a %d %b %Y"),
                         "spend": figures["spend"], "budget": figures["budget"],
                         "currency": currency})


def _hints(days: dict[date, PlanDay], yesterday: date, reason: str | None,
           source: str | None) -> list[dict[str, Any]]:
    if reason == "idle":
        return [{"kind": "idle_keywords"}]
    if reason != "runaway":
        return []
    if source == "setting":
        return [{"kind": "budget_setting"}]
    now = days[yesterday].budget
    before = next((d.budget for when, d in sorted(days.items(), reverse=True)
                   if when < yesterday and d.budget), None)
    if before is not None and before != now and len(before) == len(now) == 1:
        (currency, was), = before.items()
        (_, is_now), = now.items()
        return [{"kind": "budget_changed", "before": round(was, 2), "after": round(is_now, 2),
                 "currency": currency}]
    return [{"kind": "runaway"}]


def evaluate_yesterday(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: every plan of yesterday judged, or why not."""
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    why = covered(conn, store, yesterday)
    if why is not None:
        return [Finding(day=yesterday, state="skipped", why=why)] if why else []
    lo = yesterday - timedelta(days=int(setting(store, RULE, "idle_days")) - 1)
    plans = plan_days(p4p_rows(conn, store, lo, yesterday))
    first = first_days(conn, store)
    counted = any(d.inquiries is not None for days in plans.values() for d in days.values())
    return [judge(store, days, yesterday, first[key], counted) for key, days in plans.items()
            if yesterday in days] + missing_plans(plans, yesterday)


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures, with the spend's share of the budget (`ratio`)."""
    budget = figures["budget"]
    return {**figures, "ratio": figures["spend"] / budget if budget else None}


RULE = Rule(name=NAME, title=N_("P4P spend"), subject="plan", evaluate=evaluate_yesterday,
            describe=describe,
            settings={"runaway_ratio": (2.0, "positive"), "idle_days": (7, "count")})
