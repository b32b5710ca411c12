"""The checklist's P4P item: yesterday's spend against the daily budget, clicks, CPC, CTR and
the key keywords that fell out of positions 1-5.

Double counting: one day's spend can appear in plan-level rows (no keyword, no product),
product-level rows (a product, no keyword) and keyword-level rows (a keyword) of the same
plan, from different exports. Per (date, plan) one level is summed: plan-level rows if
there are any, else product-level, else keyword-level. Plans are then added up.

Money keeps its currency (each value's, bot/ingest/currency.py; CNY by default): spend,
CPC and budget are added up within one currency, and across currencies only at a rate the
store sets (bot/metrics/money.py), which the figures carry (`rates`) for the message to name;
without one the amounts per currency are shown apart and the totals are None.

The daily budget is the store setting `p4p_daily_budget` (CNY), else the sum over yesterday's plans
of the largest `daily_budget` each plan's rows carry. Key keywords are the store setting
`key_keywords`, else the 5 keywords with the most P4P clicks in the 7 days up to yesterday.
A key keyword is out of positions 1-5 when its best position yesterday is missing, -1
("others") or above 5 while it was within 1-5 on some day of the last 30: listed with that
last good position and the day it dropped out, so a keyword that has been out for three days
is still on the morning list, not only on the day it fell. A report without positions (no
position column, or no keyword rows) says nothing about them: `positions_in_report` is False
and no keyword is called out of 1-5.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select

from bot.metrics.money import (
    Amounts,
    add_up,
    convert,
    currency_of,
    default_currency,
    one_currency,
    rounded,
)
from bot.models import facts
from bot.stores import Store

TOP_POSITION = 5
KEY_KEYWORDS = 5
KEY_DAYS = 7
HISTORY_DAYS = 30  # how far back "before" looks for a keyword's earlier position
CURRENCY = default_currency("p4p")  # ad spend is CNY unless the file says otherwise
BUDGET_SETTING_CURRENCY = "CNY"  # p4p_daily_budget (bot/stores.py)

p4p = facts["p4p"]


def _level(row: Any) -> int:
    summed = getattr(row, "level", None)  # rows summed per level in SQL carry it
    if summed is not None:
        return summed
    if row.keyword:
        return 2
    return 1 if row.product_id else 0


def spend_rows(rows: list[Any]) -> list[Any]:
    """The rows to sum: one level per (date, plan), as the module doc explains."""
    groups: dict[tuple[date, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.date, (row.plan or "").casefold())].append(row)
    chosen: list[Any] = []
    for group in groups.values():
        level = min(_level(r) for r in group)
        chosen += [r for r in group if _level(r) == level]
    return chosen


def _in_top(position: int | None) -> bool:
    return position is not None and 1 <= position <= TOP_POSITION


def _best(positions: list[int | None]) -> int | None:
    """The best position of a keyword on one day (several plans may bid on it)."""
    real = [p for p in positions if p is not None and p >= 1]
    if real:
        return min(real)
    return -1 if any(p == -1 for p in positions) else None


def _history(conn: Connection, store: Store, yesterday: date) -> list[Any]:
    """The store's P4P rows of the HISTORY_DAYS up to yesterday: yesterday's spend, the
    7-day click ranking and the keywords' earlier positions all come from this one query."""
    return conn.execute(select(p4p).where(
        p4p.c.store_id == store.id,
        p4p.c.date > yesterday - timedelta(days=HISTORY_DAYS), p4p.c.date <= yesterday)).all()


def key_keywords(store: Store, history: list[Any], yesterday: date) -> tuple[list[str], str]:
    configured = [k for k in store.setting("key_keywords") or [] if k]
    if configured:
        return configured, "setting"
    clicks: Counter[str] = Counter()
    for row in history:
        if row.keyword and row.date > yesterday - timedelta(days=KEY_DAYS):
            clicks[row.keyword] += row.clicks or 0
    ranked = sorted(clicks.items(), key=lambda pair: (-pair[1], pair[0]))
    return [word for word, _ in ranked[:KEY_KEYWORDS]], "most clicks in 7 days"


def spend_amounts(rows: Iterable[Any]) -> Amounts:
    """The spend of `rows` per currency (bot/metrics/money.py): never added across them."""
    return add_up(((currency_of(r, "spend", "p4p"), r.spend) for r in rows), CURRENCY)


def _bid(rows: list[Any]) -> dict[str, Any]:
    """A keyword's highest bid of the day and its currency; None over several currencies."""
    bids: dict[str, float] = {}
    for r in rows:
        if r.bid is not None:
            currency = currency_of(r, "bid", "p4p")
            bids[currency] = max(bids.get(currency, float(r.bid)), float(r.bid))
    if len(bids) != 1:
        return {"bid": None, "bid_currency": None}
    (currency, bid), = bids.items()
    return {"bid": bid, "bid_currency": currency}


def _keyword_positions(history: list[Any], yesterday: date, words: list[str]
                       ) -> list[dict[str, Any]]:
    folded = {w.casefold(): w for w in words}
    seen: dict[str, dict[date, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in history:
        word = folded.get(row.keyword.casefold()) if row.keyword else None
        if word is not None:
            seen[word][row.date].append(row)
    out = []
    for word in words:
        days = seen.get(word, {})
        today_rows = days.get(yesterday, [])
        position = _best([r.position for r in today_rows])
        in_top = sorted(d for d in days if d < yesterday
                        and _in_top(_best([r.position for r in days[d]])))
        previous_day = in_top[-1] if in_top else None
        previous = _best([r.position for r in days[previous_day]]) if previous_day else None
        out.append({
            "keyword": word,
            "position": position,
            "previous": previous,  # the last position within 1-5
            "previous_day": previous_day.isoformat() if previous_day else None,
            "out_since": ((previous_day + timedelta(days=1)).isoformat()
                          if previous_day and not _in_top(position) else None),
            "clicks": sum(r.clicks or 0 for r in today_rows) if today_rows else None,
            **_bid(today_rows),
            "fell_out": previous_day is not None and not _in_top(position),
        })
    return out


def _budgets(store: Store, rows: list[Any]) -> tuple[Amounts, str | None]:
    """The daily budget per currency and where it comes from (see the module doc)."""
    configured = store.setting("p4p_daily_budget")
    if configured:
        return {BUDGET_SETTING_CURRENCY: float(configured)}, "setting"
    per_plan: dict[tuple[str, str], float] = {}
    for r in rows:
        if r.daily_budget:
            plan = ((r.plan or "").casefold(), currency_of(r, "daily_budget", "p4p"))
            per_plan[plan] = max(per_plan.get(plan, 0.0), float(r.daily_budget))
    budgets = add_up(((currency, value) for (_, currency), value in per_plan.items()), CURRENCY)
    return budgets, "report" if budgets else None


def _cpc_by_currency(rows: list[Any], spent: Amounts) -> Amounts:
    """Spend per click within each currency, from the rows in that currency."""
    clicks = add_up(((currency_of(r, "spend", "p4p"), r.clicks) for r in rows), CURRENCY)
    return {c: round(v / clicks[c], 4) for c, v in sorted(spent.items()) if clicks.get(c)}


def p4p_figures(conn: Connection, store: Store, yesterday: date, *, fresh: bool
                ) -> dict[str, Any]:
    """Money figures are in `currency`; over several currencies they are converted at the
    store's rates (`rates`, named in the message) or, without one, `spend` and `budget` are
    None and the amounts per currency (`spend_by_currency`, …) are shown apart."""
    # Without yesterday's report there is nothing to load: no figure, no keyword "fell out".
    history = _history(conn, store, yesterday) if fresh else []
    rows = [r for r in history if r.date == yesterday]
    chosen = spend_rows(rows)
    impressions = sum(r.impressions or 0 for r in chosen)
    clicks = sum(r.clicks or 0 for r in chosen)
    spent = spend_amounts(chosen) or {CURRENCY: 0.0}
    budgets, budget_source = _budgets(store, rows)
    spend, currency, rates = one_currency(store, spent, CURRENCY)
    budget = None
    if currency is not None and budgets:
        budget, budget_rates = convert(store, budgets, currency)
        rates += [r for r in budget_rates if r not in rates]
    words, words_source = key_keywords(store, history, yesterday)
    if not fresh:
        budget = one_currency(store, budgets, CURRENCY)[0]
        return {"day": yesterday.isoformat(), "spend": None, "spend_by_currency": None,
                "budget_by_currency": rounded(budgets), "cpc_by_currency": None, "rates": [],
                "budget": round(budget, 2) if budget else None, "budget_source": budget_source,
                "budget_share": None, "impressions": None, "clicks": None, "cpc": None,
                "ctr": None, "currency": None, "key_keywords_source": words_source,
                "key_keywords": [], "positions_in_report": None, "fell_out": []}
    keywords = _keyword_positions(history, yesterday, words)
    positions_in_report = any(r.position is not None for r in rows if r.keyword)
    if not positions_in_report:  # a missing position is unknown, not "fell out"
        for k in keywords:
            k.update(fell_out=False, out_since=None)
    return {
        "day": yesterday.isoformat(),
        "spend": round(spend, 2) if spend is not None else None,
        "budget": round(budget, 2) if budget else None,
        "budget_source": budget_source,
        "budget_share": spend / budget if spend is not None and budget else None,
        "impressions": impressions,
        "clicks": clicks,
        "cpc": round(spend / clicks, 4) if spend is not None and clicks else None,
        "ctr": clicks / impressions if impressions else None,
        "currency": currency,
        # never added up across currencies without a rate: the parts, shown apart
        "spend_by_currency": rounded(spent),
        "budget_by_currency": rounded(budgets),
        "cpc_by_currency": _cpc_by_currency(chosen, spent),
        "rates": rates,  # the store's rates the figures were converted at (money.rate)
        "key_keywords_source": words_source,
        "key_keywords": keywords,
        "positions_in_report": positions_in_report,
        "fell_out": [k for k in keywords if k["fell_out"]],
    }


@dataclass
class PlanDay:
    """One plan's figures on one day, from one report level (spend_rows)."""

    plan: str  # the plan's name as the report writes it
    spend: Amounts  # per currency
    clicks: int
    inquiries: int | None  # None: no row of that level carries the inquiries column
    budget: Amounts  # the plan's daily budget column (its largest, per currency); {} if none


def plan_days(rows: list[Any]) -> dict[str, dict[date, PlanDay]]:
    """Per plan (its name casefolded) and date: its spend, clicks and inquiries summed over one
    report level (spend_rows, as the checklist sums spend), and its daily budget from any of its
    rows that day."""
    out: dict[str, dict[date, PlanDay]] = defaultdict(dict)
    budgets: dict[tuple[str, date], Amounts] = defaultdict(dict)
    for r in rows:
        if r.daily_budget:
            found = budgets[((r.plan or "").casefold(), r.date)]
            currency = currency_of(r, "daily_budget", "p4p")
            found[currency] = max(found.get(currency, 0.0), float(r.daily_budget))
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for r in spend_rows(rows):
        groups[((r.plan or "").casefold(), r.date)].append(r)
    for (key, day), found in groups.items():
        known = [r.inquiries for r in found if r.inquiries is not None]
        out[key][day] = PlanDay(
            plan=min(r.plan or "" for r in found), spend=spend_amounts(found),
            clicks=sum(r.clicks or 0 for r in found),
            inquiries=sum(known) if known else None, budget=budgets.get((key, day), {}))
    return dict(out)
