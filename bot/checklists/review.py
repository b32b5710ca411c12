"""The weekly and monthly reviews: one builder for both kinds (bot/checklists/weekly.py and
monthly.py declare them), computing, for the period under review (bot/checklists/periods.py)
against the period before it, the items of the operator's weekly and monthly work list.

The data is plain JSON-able data, as the daily checklist's:
{"store", "timezone", "kind", "day" (local posting day), "period": {"start", "end"},
 "previous": {"start", "end"}, "generated_at", "headline": {"metric", "change", "value",
 "previous"} | None, "items": [{"key", "title", "facts", "staleness", "done", ...}]}.
Item keys: overview, p4p, products, keywords, transactions, and (monthly) review. A figure
that needs data the store lacks is None, and the item's `staleness` names the export
({"kind", "since"}, bot.metrics.freshness); never a zero. Lists are cut to ROWS with their
full count beside them (`*_count`), so that a message can say "…and N more".

Period sums are pandas' (per_period over one row per local day that SQL selected); money is
kept per currency (bot.metrics.money) and only converted with the store's rate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    and_,
    case,
    cast,
    func,
    select,
    type_coerce,
)

from bot.checklists.periods import FREQ, bounds, first_day, last_day, per_period, under_review
from bot.metrics import keywords
from bot.metrics.customers import CLASSES, members
from bot.metrics.freshness import newest_days, staleness
from bot.metrics.inquiries import VALID
from bot.metrics.money import add_up, default_currency, one_currency, rounded
from bot.metrics.p4p import spend_rows
from bot.metrics.traffic import daily_traffic
from bot.metrics.trend import trend
from bot.models import facts
from bot.periods import Period, as_utc, local_midnight, local_today
from bot.stores import Store

ROWS = 10  # at most ten rows per list: a digest people keep reading
SHARES = 5  # traffic sources and countries whose share moved most
NEAR_TARGET = 5  # products scoring within this many points below product_score_target
NO_EFFECT_DAYS = 90
RISING_PERIODS = 3
WAITS = 5
TITLES = {
    "overview": "Overview",
    "p4p": "P4P strategy",
    "products": "Product strength",
    "keywords": "Keyword review",
    "transactions": "Transactions",
    "review": "Review meeting",
}
OVERVIEW = ("impressions", "visitors", "clicks", "inquiries", "p4p_ctr", "p4p_cpc",
            "orders", "order_amount")
PREFERRED = {"p4p": default_currency("p4p"), "orders": default_currency("orders")}


def item_keys(kind: str) -> tuple[str, ...]:
    keys = ("overview", "p4p", "products", "keywords", "transactions")
    return (*keys, "review") if kind == "monthly" else keys


# ---- small helpers -------------------------------------------------------------------------

def _change(value: float | None, previous: float | None) -> float | None:
    if value is None or previous is None or previous == 0:
        return None
    return round((value - previous) / previous, 4)


def _num(value: Any, digits: int | None = None) -> float | int | None:
    if value is None or pd.isna(value):
        return None
    if digits is None:
        return int(value)
    return round(float(value), digits)


def _cut(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows[:ROWS]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _local_day(moment: datetime, store: Store) -> date:
    return local_today(moment, store.tz)


# ---- overview ------------------------------------------------------------------------------

def _traffic_frame(conn: Connection, store: Store, first: date, last: date) -> pd.DataFrame:
    """One row per local day with traffic data (shop figures, bot.metrics.traffic)."""
    found = daily_traffic(conn, store, _days(first, last))
    frame = pd.DataFrame.from_dict(found, orient="index", dtype="float64")
    frame = frame.reindex(columns=["impressions", "visitors", "clicks"])
    frame.index = pd.to_datetime(frame.index)
    return frame.sort_index()


def _p4p_sums(conn: Connection, store: Store, first: date, last: date,
              by_product: bool = False) -> list[Any]:
    """P4P sums from SQL per (date, plan, level, currencies[, product]): the level
    (bot.metrics.p4p.spend_rows: 0 plan, 1 product, 2 keyword rows) is a column, so that
    spend_rows picks one level per (date, plan) from a few rows per day rather than from
    every keyword row of the period (a monthly review spans 13 months)."""
    p4p = facts["p4p"]
    has = {name: and_(p4p.c[name].is_not(None), p4p.c[name] != "")
           for name in ("keyword", "product_id")}
    level = case((has["keyword"], 2), (has["product_id"], 1), else_=0).label("level")
    keys = [p4p.c.date, p4p.c.plan, level, p4p.c.spend_currency, p4p.c.daily_budget_currency]
    if by_product:
        keys.append(p4p.c.product_id)
    # ints and floats, as the columns read (PostgreSQL sums a bigint or a numeric into a
    # Decimal)
    def count(col: Any) -> Any:
        return cast(func.sum(col), BigInteger)

    query = (select(*keys, count(p4p.c.impressions).label("impressions"),
                    count(p4p.c.clicks).label("clicks"),
                    type_coerce(func.sum(p4p.c.spend), Float()).label("spend"),
                    count(p4p.c.inquiries).label("inquiries"),
                    type_coerce(func.max(p4p.c.daily_budget), Float()).label("daily_budget"))
             .where(p4p.c.store_id == store.id, p4p.c.date >= first, p4p.c.date <= last,
                    *([has["product_id"]] if by_product else []))
             .group_by(*keys))
    return spend_rows(conn.execute(query).all())


def _p4p_frame(store: Store, rows: list[Any]) -> pd.DataFrame:
    """Per local day: P4P impressions, clicks and spend (in one currency, else NaN)."""
    if not rows:
        return pd.DataFrame(columns=["p4p_impressions", "p4p_clicks", "spend"], dtype="float64")
    by_day: dict[date, list[Any]] = defaultdict(list)
    for r in rows:
        by_day[r.date].append(r)
    table = {}
    for day, found in by_day.items():
        spent = add_up(((r.spend_currency, r.spend) for r in found), PREFERRED["p4p"])
        total, _, _ = one_currency(store, spent, PREFERRED["p4p"])
        table[day] = {"p4p_impressions": sum(r.impressions or 0 for r in found),
                      "p4p_clicks": sum(r.clicks or 0 for r in found),
                      "spend": total}
    frame = pd.DataFrame.from_dict(table, orient="index", dtype="float64")
    frame.index = pd.to_datetime(frame.index)
    return frame.sort_index()


def _orders(conn: Connection, store: Store, first: date, last: date) -> list[Any]:
    orders = facts["orders"]
    return conn.execute(select(orders).where(
        orders.c.store_id == store.id,
        orders.c.ordered_at >= local_midnight(first, store.tz),
        orders.c.ordered_at < local_midnight(last + timedelta(days=1), store.tz))).all()


def _order_frame(store: Store, rows: list[Any]) -> pd.DataFrame:
    """Per local order day: the count and the amount (in one currency, else NaN)."""
    if not rows:
        return pd.DataFrame(columns=["orders", "order_amount"], dtype="float64")
    by_day: dict[date, list[Any]] = defaultdict(list)
    for r in rows:
        by_day[_local_day(r.ordered_at, store)].append(r)
    table = {}
    for day, found in by_day.items():
        amounts = add_up(((r.amount_currency, r.amount) for r in found), PREFERRED["orders"])
        total, _, _ = one_currency(store, amounts, PREFERRED["orders"])
        table[day] = {"orders": len(found), "order_amount": total if amounts else 0.0}
    frame = pd.DataFrame.from_dict(table, orient="index", dtype="float64")
    frame.index = pd.to_datetime(frame.index)
    return frame.sort_index()


def _metric(name: str, series: pd.Series, current: pd.Period, before: list[pd.Period],
            digits: int | None) -> dict[str, Any]:
    value = series.get(current)
    previous = series.get(current - 1)
    known = [series.get(p) for p in before]
    known = [v for v in known if v is not None and not pd.isna(v)]
    usual = sum(known) / len(known) if known else None
    value, previous = _num(value, digits), _num(previous, digits)
    return {"metric": name, "value": value, "previous": previous,
            "change": _change(value, previous),
            "usual": None if usual is None else round(float(usual), digits or 1)}


def _shares(conn: Connection, store: Store, by: str, current: pd.Period, kind: str
            ) -> list[dict[str, Any]]:
    """Visitors' share per traffic source (`by` "source") or country, this period and the
    one before, from the report's rows broken down by that alone, or on a day without such
    rows, from its source-by-country rows added up over the other breakdown (a cross table
    is the only breakdown some exports have); those that moved most."""
    traffic = facts["traffic"]
    other = "country" if by == "source" else "source"
    first, last = first_day(current - 1), last_day(current)
    rows = conn.execute(select(traffic.c.date, traffic.c[by], traffic.c.visitors,
                               traffic.c[other].is_(None)).where(
        traffic.c.store_id == store.id, traffic.c.date >= first, traffic.c.date <= last,
        traffic.c[by].is_not(None), traffic.c.visitors.is_not(None))).all()
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["date", "name", "visitors", "alone"])
    frame["alone"] = frame["alone"].astype(bool)
    has_alone = frame.groupby("date")["alone"].transform("any")
    frame = frame[frame["alone"] | ~has_alone]
    frame["period"] = pd.to_datetime(frame["date"]).dt.to_period(FREQ[kind])
    table = frame.pivot_table(index="name", columns="period", values="visitors",
                              aggfunc="sum", fill_value=0)
    table = table.reindex(columns=[current - 1, current], fill_value=0)
    totals = table.sum()
    if totals[current] == 0 or totals[current - 1] == 0:
        return []  # a share of nothing (no breakdown in one of the periods) is no move
    share = table / totals
    moved = (share[current] - share[current - 1]).sort_values(key=abs, ascending=False)
    return [{"name": str(name), "share": round(float(share.at[name, current]), 4),
             "previous": round(float(share.at[name, current - 1]), 4),
             "change": round(float(delta), 4)}
            for name, delta in moved.head(SHARES).items() if delta != 0]


def _overview(conn: Connection, store: Store, kind: str, current: pd.Period,
              p4p_rows: list[Any], order_rows: list[Any]) -> dict[str, Any]:
    before = ([current - i for i in range(1, 5)] if kind == "weekly" else [current - 12])
    first = first_day(min(before))
    last = last_day(current)
    traffic = per_period(_traffic_frame(conn, store, first, last), kind)
    p4p = per_period(_p4p_frame(store, p4p_rows), kind)
    orders = per_period(_order_frame(store, order_rows), kind)

    # inquiries: bot.metrics.trend's rule (the inquiry list's valid ones where it covers the
    # period, else the traffic report's count), the same as the chart's
    series = trend(conn, store, kind, last)["periods"]
    if kind == "monthly":
        series = [*trend(conn, store, kind, last_day(current - 12))["periods"][-1:], *series]
    inquiries = pd.Series({pd.Period(p["start"], FREQ[kind]): p["inquiries"]
                           for p in series}, dtype="float64")
    source = series[-1]["inquiries_source"]

    def col(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(dtype="float64")

    ctr = col(p4p, "p4p_clicks") / col(p4p, "p4p_impressions").replace(0, float("nan"))
    cpc = col(p4p, "spend") / col(p4p, "p4p_clicks").replace(0, float("nan"))
    figures = [
        _metric("impressions", col(traffic, "impressions"), current, before, None),
        _metric("visitors", col(traffic, "visitors"), current, before, None),
        _metric("clicks", col(traffic, "clicks"), current, before, None),
        _metric("inquiries", inquiries, current, before, None),
        _metric("p4p_ctr", ctr, current, before, 4),
        _metric("p4p_cpc", cpc, current, before, 2),
        _metric("orders", col(orders, "orders"), current, before, None),
        _metric("order_amount", col(orders, "order_amount"), current, before, 2),
    ]
    return {"metrics": figures, "inquiries_source": source,
            "p4p_currency": PREFERRED["p4p"], "order_currency": PREFERRED["orders"],
            "sources": _shares(conn, store, "source", current, kind),
            "countries": _shares(conn, store, "country", current, kind)}


def headline(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The largest move of the period: the metric whose change is largest either way."""
    moved = [m for m in metrics if m["change"] is not None]
    if not moved:
        return None
    top = max(moved, key=lambda m: abs(m["change"]))
    return {k: top[k] for k in ("metric", "change", "value", "previous")}


# ---- P4P -----------------------------------------------------------------------------------

def _money(store: Store, amounts: dict[str, float], currency: str) -> dict[str, Any]:
    total, unit, _ = one_currency(store, amounts, currency)
    return {"amount": None if total is None else round(total, 2), "currency": unit,
            "by_currency": rounded(amounts)}


def _p4p_group(store: Store, rows: list[Any], key: str) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        name = getattr(r, key)
        if name:
            groups[name].append(r)
    out = []
    for name, found in groups.items():
        spend = _money(store, add_up(((r.spend_currency, r.spend) for r in found),
                                     PREFERRED["p4p"]), PREFERRED["p4p"])
        inquiries = sum(r.inquiries or 0 for r in found)
        out.append({key: name, "spend": spend["amount"], "currency": spend["currency"],
                    "spend_by_currency": spend["by_currency"],
                    "clicks": sum(r.clicks or 0 for r in found), "inquiries": inquiries,
                    "cost_per_inquiry": (round(spend["amount"] / inquiries, 2)
                                         if inquiries and spend["amount"] is not None else None)})
    return sorted(out, key=lambda g: (-(g["spend"] or 0), g[key]))


def _product_names(conn: Connection, store: Store, ids: set[str]) -> dict[str, str]:
    """The product reports' latest name of each product ID (P4P reports name only the ID)."""
    if not ids:
        return {}
    products = facts["products"]
    found = conn.execute(select(products.c.product_id, products.c.product_name).where(
        products.c.store_id == store.id, products.c.product_id.in_(sorted(ids)),
        products.c.product_name.is_not(None)).order_by(products.c.period_end)).all()
    return {pid: name for pid, name in found}


def _p4p(conn: Connection, store: Store, current: pd.Period, rows: list[Any]
         ) -> dict[str, Any] | None:
    first, last = first_day(current), last_day(current)
    rows = [r for r in rows if first <= r.date <= last]
    if not rows:
        return None
    plans = _p4p_group(store, rows, "plan")
    products = _p4p_group(store, _p4p_sums(conn, store, first, last, by_product=True),
                           "product_id")
    names = _product_names(conn, store, {p["product_id"] for p in products})
    for p in products:
        p["product"] = names.get(p["product_id"])
    idle = [p for p in products if (p["spend"] or sum(p["spend_by_currency"].values()))
            and not p["inquiries"]]
    spent = _money(store, add_up(((r.spend_currency, r.spend) for r in rows),
                                 PREFERRED["p4p"]), PREFERRED["p4p"])
    days = len({r.date for r in rows})
    budget = store.setting("p4p_daily_budget")
    if budget:
        budget_total: float | None = float(budget) * days
    else:  # the report's daily budget per plan, on the days it ran
        per_plan_day: dict[tuple[date, str], float] = {}
        for r in rows:
            currency = r.daily_budget_currency or PREFERRED["p4p"]
            if r.daily_budget and currency == spent["currency"]:
                k = (r.date, (r.plan or "").casefold())
                per_plan_day[k] = max(per_plan_day.get(k, 0.0), float(r.daily_budget))
        budget_total = sum(per_plan_day.values()) or None
    inquiries = sum(r.inquiries or 0 for r in rows)
    return {
        "spend": spent["amount"], "currency": spent["currency"],
        "spend_by_currency": spent["by_currency"],
        "clicks": sum(r.clicks or 0 for r in rows), "inquiries": inquiries,
        "cost_per_inquiry": (round(spent["amount"] / inquiries, 2)
                             if inquiries and spent["amount"] is not None else None),
        "budget": None if budget_total is None else round(budget_total, 2),
        "budget_used": (round(spent["amount"] / budget_total, 4)
                        if budget_total and spent["amount"] is not None else None),
        "days": days,
        "plans": _cut(plans), "plans_count": len(plans),
        "products": _cut(products), "products_count": len(products),
        "no_inquiries": _cut(idle), "no_inquiries_count": len(idle),
    }


# ---- products ------------------------------------------------------------------------------

def _snapshot(rows: list[Any], period: pd.Period) -> dict[str, Any]:
    """Per product, the row of the latest report ending within `period` and no longer than it
    (the longest one on a tie: a monthly report over a weekly one of the same end). A weekly
    report the back office cut Saturday to Friday stands for the ISO week it ends in."""
    first, last = first_day(period), last_day(period)
    days = (last - first).days
    best: dict[str, Any] = {}
    for r in rows:
        if first <= r.period_end <= last and (r.period_end - r.period_start).days <= days:
            held = best.get(r.product_id)
            if held is None or (r.period_end, -(r.period_start.toordinal())) > (
                    held.period_end, -(held.period_start.toordinal())):
                best[r.product_id] = r
    return best


def _brief_product(r: Any, **more: Any) -> dict[str, Any]:
    return {"product_id": r.product_id, "product": r.product_name, **more}


def _products(conn: Connection, store: Store, kind: str, current: pd.Period, now: datetime
              ) -> dict[str, Any] | None:
    products = facts["products"]
    span = current - (RISING_PERIODS if kind == "monthly" else 1)
    oldest = min(first_day(span), last_day(current) - timedelta(days=NO_EFFECT_DAYS - 1))
    rows = conn.execute(select(products).where(
        products.c.store_id == store.id, products.c.period_end >= oldest,
        products.c.period_end <= last_day(current))).all()
    now_rows, before_rows = _snapshot(rows, current), _snapshot(rows, current - 1)
    if not now_rows:
        return None
    # the report the figures are from, named when it is not the period itself
    report = max({(r.period_start, r.period_end) for r in now_rows.values()},
                 key=lambda p: (p[1], p[1] - p[0]))
    target = float(store.setting("product_score_target"))
    fell, near, showcase = [], [], []
    for pid, r in sorted(now_rows.items()):
        was = before_rows.get(pid)
        if r.score is not None and was is not None and was.score is not None \
                and r.score < was.score:
            fell.append(_brief_product(r, score=r.score, previous=was.score))
        if r.score is not None and target - NEAR_TARGET <= r.score < target:
            near.append(_brief_product(r, score=r.score, gap=round(target - r.score, 1)))
        if r.is_showcase and was is not None and r.impressions is not None \
                and was.impressions is not None and r.impressions < was.impressions:
            showcase.append(_brief_product(r, impressions=r.impressions,
                                           previous=was.impressions))
    fell.sort(key=lambda p: p["score"] - p["previous"])
    near.sort(key=lambda p: p["gap"])
    showcase.sort(key=lambda p: p["impressions"] - p["previous"])
    out: dict[str, Any] = {
        "report": {"start": report[0].isoformat(), "end": report[1].isoformat()},
        "target": target,
        "score_fell": _cut(fell), "score_fell_count": len(fell),
        "near_target": _cut(near), "near_target_count": len(near),
        "showcase_falling": _cut(showcase), "showcase_falling_count": len(showcase),
    }
    if kind == "monthly":
        out.update(_monthly_products(conn, store, rows, current))
    return out


def _monthly_products(conn: Connection, store: Store, rows: list[Any], current: pd.Period
                      ) -> dict[str, Any]:
    last = last_day(current)
    since = last - timedelta(days=NO_EFFECT_DAYS - 1)
    effect: dict[str, int] = defaultdict(int)
    names: dict[str, Any] = {}
    for r in rows:
        if r.period_end >= since and r.period_start >= since - timedelta(days=31):
            effect[r.product_id] += (r.impressions or 0) + (r.clicks or 0) + (r.inquiries or 0)
            names[r.product_id] = r
    idle_ids = sorted(pid for pid, n in effect.items() if n == 0)
    # keywords: the P4P product-keyword pairs of the 90 days
    p4p = facts["p4p"]
    pairs = conn.execute(select(p4p.c.product_id, p4p.c.keyword).where(
        p4p.c.store_id == store.id, p4p.c.date >= since, p4p.c.date <= last,
        p4p.c.product_id.is_not(None), p4p.c.keyword.is_not(None)).distinct()).all()
    # keywords matched as /keywords matches them (case, width and spaces folded)
    by_product: dict[str, dict[str, str]] = defaultdict(dict)
    for pid, word in pairs:
        by_product[pid].setdefault(keywords.keyword_key(word), word)
    live = set().union(*(ws for other, ws in by_product.items() if other not in idle_ids))
    idle = []
    for pid in idle_ids:
        words = sorted(by_product.get(pid, {}).items(), key=lambda kv: kv[1])
        uncovered = [word for key, word in words if key not in live]
        idle.append(_brief_product(names[pid], keywords=len(words),
                                   uncovered=uncovered[:ROWS],
                                   covered=None if not words else not uncovered))
    # traffic rising three periods in a row: impressions of four monthly snapshots
    series = [_snapshot(rows, current - i) for i in range(RISING_PERIODS, -1, -1)]
    rising = []
    for pid, r in sorted(series[-1].items()):
        values = [s[pid].impressions if pid in s else None for s in series]
        if all(v is not None for v in values) and all(
                a < b for a, b in pairwise(values)):
            rising.append(_brief_product(r, impressions=values))
    return {"no_effect_days": NO_EFFECT_DAYS,
            "no_effect": _cut(idle), "no_effect_count": len(idle),
            "rising": _cut(rising), "rising_count": len(rising)}


# ---- keywords ------------------------------------------------------------------------------

KEYWORD_LISTS = ("top", "rising", "falling", "wasted", "candidates")


def _report_span(conn: Connection, store: Store, first: date, last: date) -> Period | None:
    """When no keyword report tiles the period (the back office's weeks may run Saturday to
    Friday): the span of the reports that end within it and are no longer than it, so the
    review still lists the words of the nearest whole reports, and says which."""
    days = (last - first).days + 1
    found = [p for p in keywords.report_periods(conn, store, first)
             if p[1] <= last and (p[1] - p[0]).days + 1 <= days]
    if not found:
        return None
    return Period(min(p[0] for p in found), max(p[1] for p in found), "range")


def keyword_lists(conn: Connection, store: Store, first: date, last: date, today: date
                  ) -> dict[str, Any]:
    """The period's /keywords lists in short (top, rising, falling, wasted spend, candidates;
    bot.metrics.keywords.review), cut to ROWS with their full counts. Wasted spend is the
    period's own (P4P reports are daily); the traffic lists come from the keyword reports
    that tile the period, else from those of `_report_span`, named in `lists_from`."""
    found = keywords.review(conn, store, Period(first, last, "range"), today)
    lists, lists_from = found, None
    if found.get("top") is None:
        span = _report_span(conn, store, first, last)
        if span is not None:
            lists = keywords.review(conn, store, span, today)
            if lists.get("top") is not None:
                lists_from = {"start": span.start.isoformat(), "end": span.end.isoformat()}
            else:
                lists = found
    out: dict[str, Any] = {"missing": found.get("missing") or [], "lists_from": lists_from,
                           "wasted_spend": found.get("wasted_spend"),
                           "currency": found.get("currency")}
    for name in KEYWORD_LISTS:
        listed = (found if name == "wasted" else lists).get(name)
        out[name] = None if listed is None else _cut(list(listed))
        out[f"{name}_count"] = None if listed is None else len(listed)
    return out


# ---- transactions --------------------------------------------------------------------------

def _stalled_moves(conn: Connection, store: Store, start: datetime, end: datetime
                   ) -> dict[str, dict[str, int]]:
    """How many customers entered and left each stalled class between two moments, each
    judged by /customers' classifier as of that moment (bot.metrics.customers.members with
    `past`: what happened after it is left out). The customer index keeps each buyer's
    latest inquiry, contact and order only, so a buyer with a later one is judged on what is
    known: a zombie answered in the period was a zombie at its start and left; a buyer who
    was already followed up and is followed up again in the period counts as a zombie that
    left rather than as a hesitant one."""
    before = members(conn, store, start, past=True)
    after = members(conn, store, end, past=True)
    return {cls: {"now": len(after[cls]), "entered": len(after[cls] - before[cls]),
                  "left": len(before[cls] - after[cls])} for cls in CLASSES}


def _transactions(conn: Connection, store: Store, current: pd.Period, order_rows: list[Any],
                  fresh: dict[str, date | None]) -> dict[str, Any]:
    first, last = first_day(current), last_day(current)
    rows = [r for r in order_rows if first <= _local_day(r.ordered_at, store) <= last]
    amounts = add_up(((r.amount_currency, r.amount) for r in rows), PREFERRED["orders"])
    money = _money(store, amounts, PREFERRED["orders"])
    no_customers = all(fresh[k] is None for k in ("orders", "inquiries", "customers"))
    return {
        "orders": None if fresh["orders"] is None else len(rows),
        "amount": money["amount"] if rows else (None if fresh["orders"] is None else 0),
        "currency": money["currency"] or PREFERRED["orders"],
        "amount_by_currency": money["by_currency"],
        "stalled": None if no_customers else _stalled_moves(
            conn, store, local_midnight(first, store.tz),
            local_midnight(last + timedelta(days=1), store.tz)),
    }


# ---- the monthly review meeting ------------------------------------------------------------

def _meeting(conn: Connection, store: Store, current: pd.Period, orders: int | None,
             now: datetime) -> dict[str, Any] | None:
    inquiries = facts["inquiries"]
    first, last = first_day(current), last_day(current)
    lo, hi = local_midnight(first, store.tz), local_midnight(last + timedelta(days=1), store.tz)
    rows = conn.execute(select(inquiries).where(
        inquiries.c.store_id == store.id, VALID,
        inquiries.c.created_at >= lo, inquiries.c.created_at < hi)).all()
    if not rows:
        return None
    cutoff = min(as_utc(now), hi)
    waits = []
    for r in rows:
        replied = r.replied_at is not None and r.replied_at >= r.created_at
        end = r.replied_at if replied else cutoff
        waits.append({"inquiry_id": r.inquiry_id, "buyer": r.buyer or r.company,
                      "owner": r.owner, "product": r.product_title,
                      "hours": round((end - r.created_at).total_seconds() / 3600, 1),
                      "replied": replied})
    waits.sort(key=lambda w: (-w["hours"], w["inquiry_id"]))
    carried: dict[str, int] = defaultdict(int)
    for r in rows:
        name = r.product_title or r.product_id
        if name:
            carried[name] += 1
    top = sorted(carried.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "inquiries": len(rows),
        "longest_waits": waits[:WAITS],
        "orders": orders,
        "conversion": round(orders / len(rows), 4) if orders is not None else None,
        "products": [{"product": name, "inquiries": n} for name, n in top[:WAITS]],
        "products_count": len(top),
    }


# ---- the review ----------------------------------------------------------------------------

def _item(key: str, facts_: dict[str, Any] | None, late: list[dict[str, Any] | None]
          ) -> dict[str, Any]:
    return {"key": key, "title": TITLES[key], "facts": facts_, "done": False,
            "done_by": None, "done_at": None, "done_time": None,
            "staleness": [e for e in late if e]}


def build_review(conn: Connection, store: Store, now: datetime, day: date | None,
                 kind: str) -> dict[str, Any]:
    """The `kind` review posted on local `day` (default: the store's today), computed from
    SQL as of `now`: figures for the period before the one holding `day`."""
    now = as_utc(now)
    today = day or local_today(now, store.tz)
    current = under_review(kind, today)
    first, last = first_day(current), last_day(current)
    fresh = newest_days(conn, store, ("inquiries", "traffic", "p4p", "orders", "customers",
                                      "products"))
    late = {k: staleness(k, d, last) for k, d in fresh.items()}
    oldest = first_day(current - (4 if kind == "weekly" else 12))
    p4p_rows = _p4p_sums(conn, store, oldest, last)
    order_rows = _orders(conn, store, oldest, last) if fresh["orders"] else []

    overview = _overview(conn, store, kind, current, p4p_rows, order_rows)
    if fresh["p4p"] is None:
        for m in overview["metrics"]:
            if m["metric"].startswith("p4p_"):
                m.update(value=None, previous=None, change=None, usual=None)
    if fresh["orders"] is None:
        for m in overview["metrics"]:
            if m["metric"].startswith("order"):
                m.update(value=None, previous=None, change=None, usual=None)
    else:  # an order list that covers the period: a period without orders had none
        for m in overview["metrics"]:
            if m["metric"] in ("orders", "order_amount") and m["value"] is None:
                m.update(value=0, change=_change(0, m["previous"]))
    transactions = _transactions(conn, store, current, order_rows, fresh)
    items = [
        _item("overview", overview, [late["traffic"], late["p4p"], late["orders"]]),
        _item("p4p", _p4p(conn, store, current, p4p_rows), [late["p4p"]]),
        _item("products", _products(conn, store, kind, current, now), [late["products"]]),
        _item("keywords", keyword_lists(conn, store, first, last, today), [late["p4p"]]),
        _item("transactions", transactions, [late["orders"]]),
    ]
    if kind == "monthly":
        items.append(_item("review", _meeting(conn, store, current, transactions["orders"], now),
                           [late["inquiries"]]))
    return {
        "store": store.name,
        "timezone": store.timezone,
        "kind": kind,
        "day": today.isoformat(),
        "period": bounds(current),
        "previous": bounds(current - 1),
        "generated_at": now.isoformat(),
        "headline": headline(overview["metrics"]),
        "items": items,
    }
