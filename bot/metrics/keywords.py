"""Keyword performance for the weekly keyword review (`/keywords`): which words bring traffic,
which rise or fall, which cost P4P money and bring nothing, which belong in P4P.

Two sources:
- the Data Manager keyword reports (`keywords` kind): impressions and clicks per search term
  per report period, of which P4P impressions and clicks (organic = all minus P4P);
- the P4P reports (`p4p` kind): spend, clicks, impressions, inquiries and position per day,
  plan, keyword and product.

Keywords are one keyword whatever their case, width or spacing (`keyword_key`): the SQL
groups by the text as stored, and those few aggregates are merged in Python by key. The text
shown is the spelling with the most impressions (then clicks, spend).

**Report periods never overlap in a sum.** The same days can be in a weekly and a monthly
report, or in two weekly reports exported on different weekdays. For a period [start, end]
(`tile`): a report of exactly that period is used alone; otherwise, among the reports lying
wholly inside it, the set without overlaps covering the most days (then the fewest reports:
a monthly report rather than the weeks inside it; then the earliest). Days left uncovered
are `missing`: a report cannot be cut into days, so a period that reports do not tile has no
keyword-report figures at all, and the answer says which days to export ("no keyword report
covers 2026-11-09..15"); it never counts them as zeros. A keyword absent from a report that
does cover the period had no impressions there (0).

**Periods.** The default is the latest week a keyword report covers (the latest 7-day
report; without one, the latest report whatever its length; without any report, the 7 days
up to yesterday, which then says what is missing). `previous` is the period of the same
length right before; changes are against it, only when reports tile it too.

**Lists** (thresholds are store settings, see bot/stores.py):
- `top`: keywords by impressions in the period.
- `rising`: at least `rising_min_impressions`, and up at least `rising_min_change` on the
  previous period, or from 0, or new: absent from every keyword report ending in the 28 days
  before the period (new needs at least one such report, else it cannot be told). Largest
  gain first.
- `falling`: at least `falling_min_impressions` in the previous period and down at least
  `falling_min_drop` (a word gone from the report fell to 0). Largest loss first.
- `wasted`: P4P keywords with at least `wasted_min_clicks` clicks and spend above 0 in the
  period, no inquiry in it, and no inquiry in the store's whole P4P history. Highest spend
  first. `wasted_spend` is their total, `p4p_spend` all P4P spend of the period (one level
  per date and plan, as the checklist sums it: bot.metrics.p4p).
- `candidates`: rising or in the top 10 by organic clicks, with no P4P spend in the 30 days up
  to today (`in_p4p` false); needs a P4P report within those days, else it cannot be told.

P4P figures cover the days of the period that P4P reports cover; days without any P4P row
are named as missing (an empty ad report is missing data, not zero spend).

Only aggregates leave the database: GROUP BY in SQL, at most one row per keyword spelling
(or per day, plan and level for the P4P total); nothing scans the history in Python.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    and_,
    bindparam,
    case,
    column,
    func,
    or_,
    select,
    text,
)

from bot.ingest.kinds import currency_column
from bot.ingest.parsing import fold
from bot.metrics import money
from bot.metrics.p4p import spend_rows
from bot.models import facts
from bot.periods import Period
from bot.stores import Store

keywords = facts["keywords"]
p4p = facts["p4p"]

WEEK = 7
BASELINE_DAYS = 28  # "new": absent from every keyword report of the 4 weeks before
P4P_RECENT_DAYS = 30  # "in P4P": spend in the 30 days up to today
TOP_ORGANIC = 10  # candidates: the top 10 by organic clicks
HISTORY_PERIODS = 8  # /keywords WORD: the last 8 report periods and 8 weeks of P4P
LOOKBACK_DAYS = 62  # where the default period looks for a 7-day report
SPEND_CURRENCY = money.default_currency("p4p")  # a spend without its own currency (CNY)
# Each spend's own currency (bot/ingest/currency.py; NULL: the kind's default).
spend_currency = p4p.c[currency_column("spend")]

Span = tuple[date, date]
Amounts = money.Amounts


@lru_cache(maxsize=65536)
def keyword_key(text: str | None) -> str:
    """What makes two spellings one keyword: NFKC (full-width letters), case and runs of
    white space folded."""
    return fold(unicodedata.normalize("NFKC", text or ""))


def span_json(span: Span) -> dict[str, str]:
    return {"start": span[0].isoformat(), "end": span[1].isoformat()}


def _days(span: Span) -> int:
    return (span[1] - span[0]).days + 1


# ---- money: the one place spend is added up ------------------------------------------------


def add_spend(amounts: Amounts, currency: str | None, value: float | None) -> None:
    """Add one aggregate's spend to amounts per currency (without one: SPEND_CURRENCY)."""
    if value is not None:
        code = currency or SPEND_CURRENCY
        amounts[code] = amounts.get(code, 0.0) + float(value)


def spend_total(store: Store, amounts: Amounts
                ) -> tuple[float | None, str | None, list[dict[str, Any]]]:
    """(total, currency, rates used) of spend kept per currency: the one place spend is
    added across currencies. One currency adds up; several only at the store's rates
    (bot/metrics/money.py), else there is no total (None, None, []) and they are shown
    apart. No spend at all is 0 in SPEND_CURRENCY."""
    if not amounts:
        return 0.0, SPEND_CURRENCY, []
    total, currency, rates = money.one_currency(store, amounts, SPEND_CURRENCY)
    return (round(total, 2) if total is not None else None), currency, rates


def _spend_sort(store: Store, amounts: Amounts) -> float:
    """A spend to rank by: the total, or without a rate the plain sum of the parts."""
    total, _, _ = spend_total(store, amounts)
    return total if total is not None else sum(amounts.values())


def _rounded(amounts: Amounts) -> list[dict[str, Any]]:
    """Amounts per currency as data: a list, so that a currency code read from a file is a
    value (escaped like any text) rather than a key."""
    return [{"currency": c, "amount": round(v, 2)} for c, v in sorted(amounts.items())]


# ---- keyword report periods ----------------------------------------------------------------


def report_periods(conn: Connection, store: Store, since: date | None = None) -> list[Span]:
    """The distinct keyword-report periods of a store ending on or after `since`, from the
    (store_id, period_end, period_start) index."""
    query = (select(keywords.c.period_start, keywords.c.period_end)
             .where(keywords.c.store_id == store.id)
             .group_by(keywords.c.period_end, keywords.c.period_start))
    if since is not None:
        query = query.where(keywords.c.period_end >= since)
    return sorted((r.period_start, r.period_end) for r in conn.execute(query))


def default_period(conn: Connection, store: Store, today: date) -> Period:
    """The latest week a keyword report covers (module doc)."""
    last = conn.scalar(select(func.max(keywords.c.period_end))
                       .where(keywords.c.store_id == store.id))
    if last is None:
        end = today - timedelta(days=1)
        return Period(end - timedelta(days=WEEK - 1), end, "week_to_yesterday")
    periods = report_periods(conn, store, last - timedelta(days=LOOKBACK_DAYS))
    weekly = [p for p in periods if _days(p) == WEEK]
    chosen = (max(weekly, key=lambda p: p[1]) if weekly
              else max(periods, key=lambda p: (p[1], -_days(p))))
    return Period(chosen[0], chosen[1], "report")


def tile(periods: Iterable[Span], span: Span) -> tuple[list[Span], list[Span]]:
    """(reports to add up, days left uncovered as ranges) for `span`: the rule of the module
    doc, by weighted interval scheduling over the reports inside `span`."""
    inside = sorted({p for p in periods if span[0] <= p[0] and p[1] <= span[1]},
                    key=lambda p: (p[1], p[0]))
    if span in inside:
        return [span], []
    # best[i]: the best choice among the first i reports, scored (days, -reports).
    best: list[tuple[tuple[int, int], list[Span]]] = [((0, 0), [])]
    for i, p in enumerate(inside):
        j = i  # the reports ending before p starts are a prefix (sorted by end)
        while j > 0 and inside[j - 1][1] >= p[0]:
            j -= 1
        (days, negative), chosen = best[j]
        take = ((days + _days(p), negative - 1), [*chosen, p])
        best.append(take if take[0] > best[i][0] else best[i])
    chosen = best[-1][1]
    return chosen, _gaps(span, chosen)


def _gaps(span: Span, chosen: list[Span]) -> list[Span]:
    gaps, day = [], span[0]
    for start, end in sorted(chosen):
        if start > day:
            gaps.append((day, start - timedelta(days=1)))
        day = max(day, end + timedelta(days=1))
    if day <= span[1]:
        gaps.append((day, span[1]))
    return gaps


def _in_periods(periods: list[Span]) -> Any:
    """Rows of exactly these report periods. The IN lists let the (store_id, period_end,
    period_start) index find them; the pairs then drop a report whose start and end only
    match across two periods."""
    return and_(keywords.c.period_end.in_(sorted({b for _, b in periods})),
                keywords.c.period_start.in_(sorted({a for a, _ in periods})),
                or_(*(and_(keywords.c.period_start == a, keywords.c.period_end == b)
                      for a, b in periods)))


@dataclass
class Figures:
    """One keyword's sums over the reports chosen for a period."""

    keyword: str  # the spelling shown
    impressions: int = 0
    clicks: int = 0
    p4p_impressions: int | None = None
    p4p_clicks: int | None = None
    spellings: dict[str, int] = field(default_factory=dict)  # text -> impressions

    @property
    def organic_clicks(self) -> int:
        return max(0, self.clicks - (self.p4p_clicks or 0))

    @property
    def organic_impressions(self) -> int:
        return max(0, self.impressions - (self.p4p_impressions or 0))


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return (total or 0) + int(value)


def keyword_sums(conn: Connection, store: Store, periods: list[Span]) -> dict[str, Figures]:
    """Per keyword key, its figures summed over `periods` (which must not overlap)."""
    if not periods:
        return {}
    rows = conn.execute(
        select(keywords.c.keyword, func.sum(keywords.c.impressions).label("impressions"),
               func.sum(keywords.c.clicks).label("clicks"),
               func.sum(keywords.c.p4p_impressions).label("p4p_impressions"),
               func.sum(keywords.c.p4p_clicks).label("p4p_clicks"))
        .where(keywords.c.store_id == store.id, _in_periods(periods))
        .group_by(keywords.c.keyword))
    out: dict[str, Figures] = {}
    for r in rows:
        key = keyword_key(r.keyword)
        f = out.setdefault(key, Figures(r.keyword))
        f.impressions += int(r.impressions or 0)
        f.clicks += int(r.clicks or 0)
        f.p4p_impressions = _add(f.p4p_impressions, r.p4p_impressions)
        f.p4p_clicks = _add(f.p4p_clicks, r.p4p_clicks)
        f.spellings[r.keyword] = f.spellings.get(r.keyword, 0) + int(r.impressions or 0)
    for f in out.values():
        f.keyword = min(f.spellings, key=lambda s: (-f.spellings[s], s))
    return out


def _nearest(conn: Connection, store: Store, end: date) -> Span | None:
    """The latest keyword report ending on or before `end` (the shortest, of several)."""
    row = conn.execute(
        select(keywords.c.period_start, keywords.c.period_end)
        .where(keywords.c.store_id == store.id, keywords.c.period_end <= end)
        .order_by(keywords.c.period_end.desc(), keywords.c.period_start.desc()).limit(1)).first()
    return (row.period_start, row.period_end) if row else None


def _listed(conn: Connection, store: Store, periods: list[Span]) -> set[str]:
    """The keys of every keyword any of `periods`' reports lists."""
    if not periods:
        return set()
    return {keyword_key(k) for k in conn.scalars(
        select(keywords.c.keyword).where(keywords.c.store_id == store.id, _in_periods(periods))
        .group_by(keywords.c.keyword))}


# ---- P4P aggregates -------------------------------------------------------------------------


@dataclass
class Ads:
    """One keyword's P4P figures over some days."""

    keyword: str
    plans: set[str] = field(default_factory=set)
    spend: Amounts = field(default_factory=dict)
    clicks: int = 0
    impressions: int = 0
    inquiries: int = 0
    spellings: dict[str, float] = field(default_factory=dict)


def p4p_by_keyword(conn: Connection, store: Store, span: Span) -> dict[str, Ads]:
    """Per keyword key, its P4P figures over `span` (keyword-level rows)."""
    rows = conn.execute(
        select(p4p.c.keyword, p4p.c.plan, spend_currency.label("currency"),
               func.sum(p4p.c.spend).label("spend"), func.sum(p4p.c.clicks).label("clicks"),
               func.sum(p4p.c.impressions).label("impressions"),
               func.sum(p4p.c.inquiries).label("inquiries"))
        .where(p4p.c.store_id == store.id, p4p.c.date >= span[0], p4p.c.date <= span[1],
               p4p.c.keyword.is_not(None))
        .group_by(p4p.c.keyword, p4p.c.plan, spend_currency))
    out: dict[str, Ads] = {}
    for r in rows:
        ads = out.setdefault(keyword_key(r.keyword), Ads(r.keyword))
        if r.plan:
            ads.plans.add(r.plan)
        add_spend(ads.spend, r.currency, r.spend)
        ads.clicks += int(r.clicks or 0)
        ads.impressions += int(r.impressions or 0)
        ads.inquiries += int(r.inquiries or 0)
        ads.spellings[r.keyword] = ads.spellings.get(r.keyword, 0.0) + int(r.clicks or 0)
    for ads in out.values():
        ads.keyword = min(ads.spellings, key=lambda s: (-ads.spellings[s], s))
    return out


def p4p_total(conn: Connection, store: Store, span: Span) -> tuple[Amounts, set[date]]:
    """All P4P spend of `span` per currency, one level per (date, plan) as the checklist sums
    it (bot.metrics.p4p.spend_rows), and the days any P4P report covers."""
    has_keyword = p4p.c.keyword.is_not(None)
    has_product = p4p.c.product_id.is_not(None)
    # Each aggregate says its level as spend_rows reads a row's: by whether it has a keyword,
    # else a product.
    rows = conn.execute(
        select(p4p.c.date, p4p.c.plan, has_keyword.label("keyword"),
               has_product.label("product_id"), spend_currency.label("currency"),
               func.sum(p4p.c.spend).label("spend"))
        .where(p4p.c.store_id == store.id, p4p.c.date >= span[0], p4p.c.date <= span[1])
        .group_by(p4p.c.date, p4p.c.plan, has_keyword, has_product, spend_currency)).all()
    amounts: Amounts = {}
    for r in spend_rows(rows):
        add_spend(amounts, r.currency, r.spend)
    return amounts, {r.date for r in rows}


# Distinct days by a loose index scan: one probe of the (store_id, date) index per day, where a
# GROUP BY would read every row of those days in the index.
_DAYS = text(
    "WITH RECURSIVE days(day) AS ("
    " SELECT (SELECT min(date) FROM p4p WHERE store_id = :store AND date >= :first"
    "         AND date <= :last)"
    " UNION ALL"
    " SELECT (SELECT min(date) FROM p4p WHERE store_id = :store AND date > days.day"
    "         AND date <= :last)"
    " FROM days WHERE days.day IS NOT NULL)"
    " SELECT day FROM days WHERE day IS NOT NULL"
).bindparams(bindparam("first", type_=Date), bindparam("last", type_=Date)).columns(
    column("day", Date))


def p4p_days(conn: Connection, store: Store, span: Span) -> set[date]:
    """The days of `span` some P4P report covers (any row of the store)."""
    return set(conn.scalars(_DAYS, {"store": store.id, "first": span[0], "last": span[1]}))


def ever_inquired(conn: Connection, store: Store) -> set[str]:
    """The keys of the keywords that ever brought a P4P inquiry."""
    inquired = p4p.c.inquiries > 0
    return {keyword_key(k) for k in conn.scalars(
        select(p4p.c.keyword).where(p4p.c.store_id == store.id, inquired,
                                    p4p.c.keyword.is_not(None))
        .group_by(p4p.c.keyword))}


def p4p_spellings(conn: Connection, store: Store, span: Span) -> dict[str, list[str]]:
    """Every keyword text of the store's P4P rows in `span`, by key."""
    out: dict[str, list[str]] = defaultdict(list)
    for word in conn.scalars(
            select(p4p.c.keyword).where(p4p.c.store_id == store.id, p4p.c.date >= span[0],
                                        p4p.c.date <= span[1], p4p.c.keyword.is_not(None))
            .group_by(p4p.c.keyword)):
        out[keyword_key(word)].append(word)
    return out


def spent_recently(conn: Connection, store: Store, span: Span) -> set[str]:
    """The keys of the keywords with P4P spend above 0 in `span`."""
    return {keyword_key(k) for k in conn.scalars(
        select(p4p.c.keyword).where(p4p.c.store_id == store.id, p4p.c.date >= span[0],
                                    p4p.c.date <= span[1], p4p.c.keyword.is_not(None),
                                    p4p.c.spend > 0)
        .group_by(p4p.c.keyword))}


def _ranges(days: Iterable[date]) -> list[Span]:
    out: list[Span] = []
    for day in sorted(days):
        if out and out[-1][1] + timedelta(days=1) == day:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _p4p_gaps(span: Span, covered: set[date], today: date) -> list[Span]:
    """The days of `span` no P4P report covers: all of them without any report, else those
    before today (today is not over, so no report can cover it yet)."""
    if not covered:
        return [span]
    return _missing_days((span[0], min(span[1], today - timedelta(days=1))), covered)


def _missing_days(span: Span, covered: set[date]) -> list[Span]:
    return _ranges(span[0] + timedelta(days=i) for i in range(_days(span))
                   if span[0] + timedelta(days=i) not in covered)


def _missing(report: str, gaps: list[Span], role: str) -> list[dict[str, Any]]:
    return [{"report": report, "role": role, **span_json(g)} for g in gaps]


# ---- the review ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    rising_min_impressions: int
    rising_min_change: float
    falling_min_impressions: int
    falling_min_drop: float
    wasted_min_clicks: int

    @classmethod
    def of(cls, store: Store) -> Thresholds:
        return cls(**{name: store.setting(name) for name in cls.__dataclass_fields__})


def _change(now: int, before: int | None) -> float | None:
    return (now - before) / before if before else None


def review(conn: Connection, store: Store, period: Period, today: date) -> dict[str, Any]:
    """The keyword review of `period` (module doc): every list, complete."""
    limits = Thresholds.of(store)
    span: Span = (period.start, period.end)
    before = period.previous
    previous: Span = (before.start, before.end)
    periods = report_periods(conn, store, previous[0] - timedelta(days=BASELINE_DAYS))
    chosen, gaps = tile(periods, span)
    chosen_before, gaps_before = tile(periods, previous)
    missing = _missing("keywords", gaps, "period")
    covered = not gaps
    nearest = None if covered else _nearest(conn, store, period.end)
    current = keyword_sums(conn, store, chosen) if covered else {}
    earlier = keyword_sums(conn, store, chosen_before) if covered and not gaps_before else None
    if covered and gaps_before:
        missing += _missing("keywords", gaps_before, "previous")
    # "new": not listed by any report ending in the 28 days before the period.
    baseline = [p for p in periods
                if span[0] - timedelta(days=BASELINE_DAYS) <= p[1] < span[0]]
    listed_before = _listed(conn, store, baseline) if covered and baseline else set()

    ads = p4p_by_keyword(conn, store, span)
    spent, ad_days = p4p_total(conn, store, span)
    missing += _missing("p4p", _p4p_gaps(span, ad_days, today), "period")
    inquired = ever_inquired(conn, store) if ads else set()

    top = rising = falling = candidates = None
    if covered:
        top, rising, falling = _traffic(current, earlier, listed_before, bool(baseline), limits)
        organic = sorted((f for f in current.values() if f.organic_clicks > 0),
                         key=lambda f: (-f.organic_clicks, -f.impressions, f.keyword))
        wanted = {keyword_key(r["keyword"]) for r in rising}
        wanted |= {keyword_key(f.keyword) for f in organic[:TOP_ORGANIC]}
        recent: Span = (today - timedelta(days=P4P_RECENT_DAYS - 1), today)
        recent_days = p4p_days(conn, store, recent) if wanted else set()
        if wanted and not recent_days:
            missing += _missing("p4p", [recent], "recent")
        in_p4p = spent_recently(conn, store, recent) if recent_days else set()
        for r in rising:
            r["in_p4p"] = keyword_key(r["keyword"]) in in_p4p if recent_days else None
        if recent_days or not wanted:
            candidates = _candidates(rising, organic[:TOP_ORGANIC], in_p4p)

    wasted, wasted_amounts = _wasted(store, ads, inquired, limits) if ad_days else (None, {})
    wasted_total, _, wasted_rates = spend_total(store, wasted_amounts)
    p4p_spend, currency, rates = spend_total(store, spent)
    return {
        "store": store.name,
        "timezone": store.timezone,
        "period_name": period.name,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "previous": before.to_json(),
        "reports": [span_json(p) for p in chosen] if covered else [],
        "previous_reports": [span_json(p) for p in chosen_before] if earlier is not None else [],
        "missing": missing,
        # when reports do not tile the period: the latest report before its end, to ask for
        "nearest_report": span_json(nearest) if nearest else None,
        "thresholds": asdict(limits),
        "currency": currency,
        # the store's rates money in other currencies was converted at (money.rate)
        "rates": _union(rates, wasted_rates, *(r.pop("rates") for r in wasted or [])),
        "top": top,
        "rising": rising,
        "falling": falling,
        "wasted": wasted,
        "wasted_spend": wasted_total if ad_days else None,
        "p4p_spend": p4p_spend if ad_days else None,
        "wasted_spend_by_currency": _rounded(wasted_amounts) if ad_days else None,
        "p4p_spend_by_currency": _rounded(spent) if ad_days else None,
        "candidates": candidates,
    }


def _union(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rates in lists:
        out += [r for r in rates if r not in out]
    return out


def _previous(earlier: dict[str, Figures] | None, key: str) -> int | None:
    """A keyword's impressions in the previous period: 0 when the reports covering it do not
    list the keyword, None when no reports cover it."""
    if earlier is None:
        return None
    return earlier[key].impressions if key in earlier else 0


def _traffic(current: dict[str, Figures], earlier: dict[str, Figures] | None,
             listed_before: set[str], has_baseline: bool, limits: Thresholds
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    top, rising, falling = [], [], []
    for key, f in sorted(current.items(), key=lambda kv: (-kv[1].impressions, -kv[1].clicks,
                                                           kv[1].keyword)):
        if f.impressions <= 0:
            continue
        before = _previous(earlier, key)
        change = _change(f.impressions, before)
        top.append({
            "keyword": f.keyword, "impressions": f.impressions, "clicks": f.clicks,
            "ctr": f.clicks / f.impressions, "p4p_impressions": f.p4p_impressions,
            "p4p_clicks": f.p4p_clicks, "previous_impressions": before, "change": change,
        })
        new = has_baseline and key not in listed_before
        up = before is not None and (before == 0 or (change is not None
                                                     and change >= limits.rising_min_change))
        if f.impressions >= limits.rising_min_impressions and (new or up):
            rising.append({"keyword": f.keyword, "impressions": f.impressions,
                           "previous_impressions": before, "change": change, "new": new,
                           "in_p4p": None, "gain": f.impressions - (before or 0)})
    rising.sort(key=lambda r: (-r["gain"], r["keyword"]))
    for r in rising:
        del r["gain"]
    for key, f in (earlier or {}).items():
        before = f.impressions
        now = current[key].impressions if key in current else 0
        change = _change(now, before)
        if (before >= limits.falling_min_impressions and change is not None
                and change <= -limits.falling_min_drop):
            falling.append({"keyword": current[key].keyword if key in current else f.keyword,
                            "impressions": now, "previous_impressions": before,
                            "change": change, "gone": key not in current})
    falling.sort(key=lambda r: (r["impressions"] - r["previous_impressions"], r["keyword"]))
    return top, rising, falling


def _candidates(rising: list[dict[str, Any]], organic: list[Figures], in_p4p: set[str]
                ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rising:
        key = keyword_key(r["keyword"])
        if key not in in_p4p:
            seen.add(key)
            out.append({"keyword": r["keyword"], "impressions": r["impressions"],
                        "clicks": None, "organic_clicks": None,
                        "reason": "new" if r["new"] else "rising"})
    by_key = {keyword_key(f.keyword): f for f in organic}
    for row in out:
        f = by_key.get(keyword_key(row["keyword"]))
        if f is not None:
            row["clicks"], row["organic_clicks"] = f.clicks, f.organic_clicks
    for key, f in by_key.items():
        if key not in in_p4p and key not in seen:
            out.append({"keyword": f.keyword, "impressions": f.impressions, "clicks": f.clicks,
                        "organic_clicks": f.organic_clicks, "reason": "top_organic_clicks"})
    return out


def _wasted(store: Store, ads: dict[str, Ads], inquired: set[str], limits: Thresholds
            ) -> tuple[list[dict[str, Any]], Amounts]:
    chosen = [a for key, a in ads.items()
              if a.clicks >= limits.wasted_min_clicks and _spend_sort(store, a.spend) > 0
              and a.inquiries == 0 and key not in inquired]
    chosen.sort(key=lambda a: (-_spend_sort(store, a.spend), -a.clicks, a.keyword))
    total: Amounts = {}
    out = []
    for a in chosen:
        for currency, value in a.spend.items():
            add_spend(total, currency, value)
        spend, currency, rates = spend_total(store, a.spend)
        out.append({"keyword": a.keyword, "plans": sorted(a.plans), "spend": spend,
                    "currency": currency, "spend_by_currency": _rounded(a.spend),
                    "rates": rates,
                    "clicks": a.clicks, "impressions": a.impressions})
    return out, total


# ---- one keyword ---------------------------------------------------------------------------


def last_periods(periods: list[Span], end: date, count: int) -> list[Span]:
    """Up to `count` reports ending on or before `end`, newest first, none overlapping an
    earlier pick: at each step the latest end, the shortest report (weeks before months)."""
    out: list[Span] = []
    for p in sorted(periods, key=lambda p: (-p[1].toordinal(), _days(p))):
        if p[1] > end or any(p[0] <= q[1] and q[0] <= p[1] for q in out):
            continue
        out.append(p)
        if len(out) == count:
            break
    return out


def keyword_history(conn: Connection, store: Store, period: Period, word: str, today: date
                    ) -> dict[str, Any] | None:
    """One keyword's last 8 report periods up to the period's end and its P4P figures per
    week over the 8 weeks ending then; None when neither lists it."""
    key = keyword_key(word)
    end = period.end
    periods = last_periods(
        report_periods(conn, store, end - timedelta(days=HISTORY_PERIODS * 31)), end,
        HISTORY_PERIODS)
    texts = [t for t in conn.scalars(
        select(keywords.c.keyword).where(keywords.c.store_id == store.id,
                                         _in_periods(periods))
        .group_by(keywords.c.keyword)) if keyword_key(t) == key] if periods else []
    weeks = [(end - timedelta(days=WEEK * (i + 1) - 1), end - timedelta(days=WEEK * i))
             for i in range(HISTORY_PERIODS)]
    window: Span = (weeks[-1][0], end)
    ad_texts = p4p_spellings(conn, store, window).get(key, [])
    if not texts and not ad_texts:
        return None
    found: dict[Span, Any] = {}
    if texts:
        for r in conn.execute(
                select(keywords.c.period_start, keywords.c.period_end,
                       func.sum(keywords.c.impressions).label("impressions"),
                       func.sum(keywords.c.clicks).label("clicks"),
                       func.sum(keywords.c.p4p_impressions).label("p4p_impressions"),
                       func.sum(keywords.c.p4p_clicks).label("p4p_clicks"))
                .where(keywords.c.store_id == store.id, keywords.c.keyword.in_(texts),
                       _in_periods(periods))
                .group_by(keywords.c.period_start, keywords.c.period_end)):
            found[(r.period_start, r.period_end)] = r
    rows = []
    for p in periods:
        r = found.get(p)
        impressions, clicks = int(r.impressions or 0) if r else 0, int(r.clicks or 0) if r else 0
        p4p_imp = int(r.p4p_impressions or 0) if r else 0
        p4p_clk = int(r.p4p_clicks or 0) if r else 0
        rows.append({**span_json(p), "listed": r is not None, "impressions": impressions,
                     "clicks": clicks, "organic_impressions": max(0, impressions - p4p_imp),
                     "organic_clicks": max(0, clicks - p4p_clk), "p4p_impressions": p4p_imp,
                     "p4p_clicks": p4p_clk})
    ad_weeks = _weekly_ads(conn, store, store_texts=ad_texts, window=window, weeks=weeks)
    covered = p4p_days(conn, store, window)
    missing = _missing("p4p", _p4p_gaps(window, covered, today), "weeks")
    if not periods:
        missing += _missing("keywords", [(window[0], end)], "history")
    shown = (max(texts, key=lambda t: (t == word, t)) if texts
             else max(ad_texts, key=lambda t: (t == word, t)))
    return {
        "store": store.name,
        "timezone": store.timezone,
        "keyword": shown,
        "period_name": period.name,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "previous": period.previous.to_json(),
        "periods": rows,
        "weeks": [_week_row(store, w, ad_weeks.get(w), covered) for w in weeks],
        "missing": missing,
    }


def _weekly_ads(conn: Connection, store: Store, *, store_texts: list[str], window: Span,
                weeks: list[Span]) -> dict[Span, dict[str, Any]]:
    if not store_texts:
        return {}
    ranked = case((p4p.c.position >= 1, p4p.c.position), else_=None)
    rows = conn.execute(
        select(p4p.c.date, spend_currency.label("currency"), func.sum(p4p.c.spend).label("spend"),
               func.sum(p4p.c.clicks).label("clicks"),
               func.sum(p4p.c.impressions).label("impressions"),
               func.sum(p4p.c.inquiries).label("inquiries"),
               func.sum(ranked).label("positions"), func.count(ranked).label("ranked"))
        .where(p4p.c.store_id == store.id, p4p.c.keyword.in_(store_texts),
               p4p.c.date >= window[0], p4p.c.date <= window[1])
        .group_by(p4p.c.date, spend_currency))
    out: dict[Span, dict[str, Any]] = {}
    for r in rows:
        week = next(w for w in weeks if w[0] <= r.date <= w[1])
        w = out.setdefault(week, {"spend": {}, "clicks": 0, "impressions": 0, "inquiries": 0,
                                  "positions": 0, "ranked": 0})
        add_spend(w["spend"], r.currency, r.spend)
        for name in ("clicks", "impressions", "inquiries", "positions", "ranked"):
            w[name] += int(getattr(r, name) or 0)
    return out


def _week_row(store: Store, week: Span, ads: dict[str, Any] | None, covered: set[date]
              ) -> dict[str, Any]:
    days = {week[0] + timedelta(days=i) for i in range(WEEK)}
    if not days & covered:  # no P4P report for the week: unknown, not zero
        return {**span_json(week), "covered": False, "spend": None, "currency": None,
                "rates": [],
                "spend_by_currency": None, "clicks": None, "impressions": None,
                "inquiries": None, "position": None}
    ads = ads or {"spend": {}, "clicks": 0, "impressions": 0, "inquiries": 0, "positions": 0,
                  "ranked": 0}
    spend, currency, rates = spend_total(store, ads["spend"])
    return {**span_json(week), "covered": True, "spend": spend, "currency": currency,
            "rates": rates,
            "spend_by_currency": _rounded(ads["spend"]), "clicks": ads["clicks"],
            "impressions": ads["impressions"], "inquiries": ads["inquiries"],
            "position": round(ads["positions"] / ads["ranked"], 1) if ads["ranked"] else None}
