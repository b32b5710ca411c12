"""position_lost: a key keyword out of P4P positions 1-5 on consecutive report days.

Key keywords: the store's `key_keywords` setting, else the `position_lost.keywords` (10)
keywords with the most P4P spend in the 7 days up to yesterday (the checklist's P4P item lists
positions of its own five by clicks; money is what a lost position wastes), plus every keyword
that still has an incident open, so that one which left the list can recover.

Judged on yesterday (the store's zone), from the P4P report's position column
(bot.metrics.p4p: a keyword's best position of a day over its plans; -1 is "others"). Only a
day the report covers with positions is judged: no report for yesterday, or one without a
position column, gives no verdict ("skipped"), as the checklist says nothing about positions
then. A store without any keyword report in the 30 days is not judged at all (no finding):
the rule does not apply to it, and a note on every evaluation would be noise. A key keyword
with no position in yesterday's report (not bid on, paused, no rows) is "skipped" too:
absent is unknown, never "lost".

A keyword's run: its report days with a position, newest first, until one within 1-5 (within
the 30 days the report is read for); days it is absent from are neither in nor out. Out on
yesterday is a `watch` (one day can be a bidding war or a quality-score refresh: worth a look,
not a ping); out for `position_lost.days` (2) report days running is an `alert` (warning:
a lost top-5 position costs clicks, but it is a bid or listing decision, not an emergency, and
it never escalates). Back in 1-5 is "normal": the incident recovers.

Figures: keyword, position (yesterday's best), out_days, out_since, previous (the last
position within 1-5, None when none in the window) and previous_day, clicks (yesterday),
stars (the best quality stars yesterday, None when the report has none), days (the threshold),
key_source ("setting" or "spend"). Hint: `low_stars` {"stars"} when yesterday's quality stars
are all below 3: only 3-5 star keyword-product pairs can reach positions 1-5, so a higher bid
will not help (docs/alerts.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from bot.alerts.rules import Finding, Rule, open_subjects, setting
from bot.metrics.money import convert
from bot.metrics.p4p import CURRENCY, HISTORY_DAYS, KEY_DAYS, TOP_POSITION, spend_amounts
from bot.models import alerts, facts
from bot.periods import local_today
from bot.stores import Store
from templates.i18n import N_

NAME = "position_lost"
MIN_STARS = 3  # below: the pair cannot reach positions 1-5 whatever the bid (docs/alerts.md)
SUBJECT_LENGTH = int(alerts.c.subject.type.length or 200)

p4p = facts["p4p"]


def _in_top(position: int | None) -> bool:
    return position is not None and 1 <= position <= TOP_POSITION


def _best(positions: list[int | None]) -> int | None:
    """A keyword's best position of one day over its rows (several plans may bid on it):
    the best rank, else -1 ("others"), else None (no position)."""
    real = [p for p in positions if p is not None and p >= 1]
    if real:
        return min(real)
    return -1 if any(p == -1 for p in positions) else None


def _spend_ranked(store: Store, rows: list[Any], yesterday: date, count: int) -> list[str]:
    """The `count` keywords with the most spend in the KEY_DAYS up to yesterday, each in its
    most frequent spelling; spend in several currencies is converted at the store's rates
    for the ranking, or added as numbers when it has none (a ranking, never a figure shown)."""
    spend: dict[str, list[Any]] = defaultdict(list)
    spelling: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.date > yesterday - timedelta(days=KEY_DAYS):
            spend[row.keyword.casefold()].append(row)
            spelling[row.keyword.casefold()][row.keyword] += 1

    def total(key: str) -> float:
        amounts = spend_amounts(spend[key])
        converted, _ = convert(store, amounts, CURRENCY)
        return converted if converted is not None else sum(amounts.values())

    ranked = sorted(((total(k), sum(r.clicks or 0 for r in spend[k]), k) for k in spend),
                    key=lambda t: (-t[0], -t[1], t[2]))
    return [max(spelling[k].items(), key=lambda s: (s[1], s[0]))[0]
            for money, _, k in ranked[:count] if money > 0]


def key_keywords(conn: Connection, store: Store, rows: list[Any], yesterday: date
                 ) -> tuple[list[str], str]:
    """(the keywords judged, where the list comes from: "setting" or "spend"), with the
    subjects of open incidents added in their incident's spelling."""
    configured = [k for k in store.setting("key_keywords") or [] if k]
    words = configured or _spend_ranked(store, rows, yesterday, setting(store, RULE, "keywords"))
    source = "setting" if configured else "spend"
    chosen = {w.casefold(): w[:SUBJECT_LENGTH] for w in words}
    for subject in open_subjects(conn, store, RULE):
        chosen[subject.casefold()] = subject  # the incident's own subject, to recover it
    return list(chosen.values()), source


def _judge(word: str, days: dict[date, list[Any]], yesterday: date, threshold: int,
           source: str) -> Finding:
    if yesterday not in days:
        return Finding(day=yesterday, state="skipped", subject=word,
                       why=f"not in the P4P report of {yesterday.isoformat()}")
    position = _best([r.position for r in days[yesterday]])
    if position is None:
        return Finding(day=yesterday, state="skipped", subject=word,
                       why=f"no position in the P4P report of {yesterday.isoformat()}")
    back = {"day": yesterday.isoformat(), "day_label": yesterday.strftime("%a %d %b %Y"),
            "keyword": word, "position": position}
    if _in_top(position):
        return Finding(day=yesterday, state="normal", subject=word, back=back,
                       figures={"keyword": word, "position": position})
    out_days, out_since, previous, previous_day = 0, yesterday, None, None
    for day in sorted(days, reverse=True):
        best = _best([r.position for r in days[day]])
        if best is None:
            continue  # no position that day: neither in nor out
        if _in_top(best):
            previous, previous_day = best, day
            break
        out_days, out_since = out_days + 1, day
    today_rows = days[yesterday]
    stars = [r.quality_stars for r in today_rows if r.quality_stars is not None]
    figures = {"keyword": word, "position": position, "out_days": out_days,
               "out_since": out_since.isoformat(), "previous": previous,
               "previous_day": previous_day.isoformat() if previous_day else None,
               "clicks": sum(r.clicks or 0 for r in today_rows),
               "stars": max(stars) if stars else None, "days": threshold,
               "key_source": source}
    alert = out_days >= threshold
    return Finding(day=yesterday, state="down", subject=word,
                   tier="alert" if alert else "watch", severity="warning" if alert else None,
                   figures=figures, window_start=out_since,
                   hints=[{"kind": "low_stars", "stars": max(stars)}]
                   if stars and max(stars) < MIN_STARS else [])


def evaluate_positions(conn: Connection, store: Store, now: datetime) -> list[Finding]:
    """The rule: each key keyword's position yesterday and its run out of 1-5."""
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    rows = conn.execute(select(p4p).where(
        p4p.c.store_id == store.id, p4p.c.keyword.is_not(None), p4p.c.keyword != "",
        p4p.c.date > yesterday - timedelta(days=HISTORY_DAYS),
        p4p.c.date <= yesterday)).all()
    if not rows:
        return []  # no keyword report in the 30 days: the store has nothing for this rule
    reported = [r for r in rows if r.date == yesterday]
    if not reported:
        return [Finding(day=yesterday, state="skipped",
                        why=f"no P4P keyword report for {yesterday.isoformat()} yet")]
    if all(r.position is None for r in reported):
        return [Finding(day=yesterday, state="skipped",
                        why=f"the P4P report of {yesterday.isoformat()} has no positions")]
    words, source = key_keywords(conn, store, rows, yesterday)
    by_word: dict[str, dict[date, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_word[row.keyword.casefold()][row.date].append(row)
    threshold = max(1, int(setting(store, RULE, "days")))
    return [_judge(w, by_word.get(w.casefold(), {}), yesterday, threshold, source)
            for w in words]


def describe(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored figures as messages and `opsbot alerts` show them."""
    return {"keyword": figures.get("keyword"), "position": figures.get("position"),
            "out_days": figures.get("out_days"), "out_since": figures.get("out_since"),
            "previous": figures.get("previous"), "previous_day": figures.get("previous_day"),
            "clicks": figures.get("clicks"), "stars": figures.get("stars"),
            "days": figures.get("days"), "key_source": figures.get("key_source")}


RULE = Rule(name=NAME, title=N_("Key keyword out of positions 1-5"), subject="keyword",
            evaluate=evaluate_positions, describe=describe,
            settings={"days": (2, "count"), "keywords": (10, "count")})
