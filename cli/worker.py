"""Worker commands: `opsbot worker` (the clock), `opsbot tick` (one run), `opsbot alerts`."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bot.alerts import incidents as alerts
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import get_engine
from bot.stores import list_stores, resolve_store
from cli.main import add_json, emit
from cli.moments import now_for, now_help
from cli.terminal import message_text
from templates import render
from templates.i18n import Text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "worker", help="run the clock: checklists, alerts, drop folder and Slack delivery")
    p.set_defaults(handler=cmd_worker)

    p = subparsers.add_parser("tick", help="run once everything due now (or at --now)")
    p.add_argument("--now", metavar="ISO_DATETIME", help=now_help("the moment to run at"))
    add_json(p)
    p.set_defaults(handler=cmd_tick)

    p = subparsers.add_parser(
        "alerts", help="evaluate and list current alerts (records nothing, posts nothing)")
    p.add_argument("--store", metavar="NAME")
    p.add_argument("--now", metavar="ISO_DATETIME",
                   help=now_help("the moment to judge at (the last complete day before it is "
                                 "judged)"))
    add_json(p)
    p.set_defaults(handler=cmd_alerts)

    p = subparsers.add_parser(
        "rules", help="list the alert rules with their switch and thresholds (a store's, or "
        "the defaults)")
    p.add_argument("--store", metavar="NAME", help="that store's values (default: the defaults)")
    add_json(p)
    p.set_defaults(handler=cmd_rules)


def _now(engine: Engine, text: str | None, store_name: str | None, choose: str = ""
         ) -> datetime:
    """--now read like everywhere else (cli/moments.py): for the named store, or the only
    one; across several stores, a moment without an offset is UTC."""
    if not text:
        return utcnow()
    known = list_stores(engine)
    named = [s for s in known if s.name == store_name] if store_name else known
    return now_for(text, named, choose=choose)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.scheduler import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_worker(settings)


def _figures(observed: int, expected: float, days: int, day: str) -> str:
    """Figures as the alert's message words them: a 3- or 7-day window is a sum."""
    where = f"in the {days} days to {day}" if days > 1 else f"on {day}"
    return f"{observed:,} {where}, usually about {expected:,.0f}"


def _alert_line(a: dict[str, Any]) -> str:
    head = f"alert {a['store']} {a['day']}: "
    if a["event"] == "woke":
        return head + f"snooze over (was until {a['until']}Z): open again"
    if a["event"] == "recovered":
        back = a["back"]  # the recovering day's figures
        line = head + "back to normal, " + _figures(back["observed"], back["expected"],
                                                    back["span"], back["day"])
    else:
        level = "watch" if a.get("tier") == "watch" else a["severity"]
        what = (_figures(a["observed"], a["expected"], a["span"], a["day"])
                if "observed" in a else a.get("subject") or a["rule"])
        event = ("down again within the cool-down: reopened" if a["event"] == "reopened"
                 else a["event"])
        line = head + f"{event} ({level}), {what}"
    if a.get("held"):
        return line + " - held: quiet hours, posted once they end"
    if a.get("post") is False:
        return line + " - a watch: in the checklist, not posted (watch_posts is off)"
    if a["event"] in ("fired", "worse") and not a.get("channels", True):
        line += (" - no bound channel to post it to: it will be posted when one is bound "
                 "(opsbot store bind)")
    return line


def _tick_text(report: dict[str, Any]) -> str:
    lines = [f"tick at {report['now']}"]
    for drop in report["drops"]:
        lines.append(f"drop {drop['file']}: " + (f"waiting: {drop['why']}" if drop["status"]
                     == "waiting" else f"{drop['status']} -> {drop['moved_to']}"))
    for c in report["checklists"]:
        late = " (catch-up)" if c.get("catch_up") else ""
        where = (f"queued for {', '.join(c['channels'])}" if c["channels"] else
                 "recorded, but no bound channel to post it to: it will be posted to a "
                 "channel bound within the catch-up window")
        lines.append(f"checklist {c['store']} {c['day']}{late}: #{c['id']} {where}")
    for a in report["alerts"]:
        lines.append(_alert_line(a))
    for p in report.get("late_posts", []):
        what = (f"alert #{p['alert_id']} ({p['day']})" if p["kind"] == "alert"
                else f"checklist #{p['checklist_id']} ({p['day']})")
        lines.append(f"{p['kind']} {p['store']}: {what} queued for newly bound "
                     + ", ".join(p["channels"]))
    if not (report["drops"] or report["checklists"] or report["alerts"]
            or report.get("late_posts")):
        lines.append("nothing was due")
    lines.append(f"slack: {report['slack']}")
    lines.append(f"outbox: {report['delivered']} delivered now, {report['retrying']} to retry, "
                 f"{report['failed']} failed now, {report['pending']} pending")
    for error in report["errors"]:
        lines.append(f"error: {error.get('store', '')} {error['step']}: {error['error']}")
    return "\n".join(lines)


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.tick import run_due

    engine = get_engine(settings.database_url)
    now = _now(engine, args.now, None)
    report = run_due(engine, now, settings=settings)
    emit(args, report, lambda: _tick_text(report))
    return 1 if report["errors"] else 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """Judge yesterday for each store in a transaction that is rolled back: the answer is
    what the worker would record, and nothing is recorded or queued here."""
    engine = get_engine(settings.database_url)
    now = _now(engine, args.now, args.store, "or pick one store with --store")
    stores = [resolve_store(engine, args.store)] if args.store else list_stores(engine)
    contexts: list[dict[str, Any]] = []  # what the alert template shows, per alert
    notes: list[dict[str, Any]] = []
    with engine.connect().execution_options(opsbot_write=True) as conn:
        transaction = conn.begin()
        try:
            for store in stores:
                for event in alerts.run(conn, store, now, force=True):
                    if event["event"] == "skipped":
                        notes.append({"store": store.name, "why": event["why"]})
                contexts += alerts.unresolved(conn, store, now)
        finally:
            transaction.rollback()
    found = [alerts.public(c) for c in contexts]
    data = {"now": now.isoformat(timespec="seconds") + "Z", "alerts": found, "notes": notes}

    def text() -> str:
        """Each alert as its Slack message reads, in its store's language."""
        parts = [message_text(render("alert.json.j2", alert=c, lang=c["language"]))
                 for c in contexts]
        lang = "zh" if stores and all(s.language == "zh" for s in stores) else "en"
        if notes:
            parts.append("\n".join(Text("%(store)s: not judged: %(why)s", store=n["store"],
                                         why=n["why"]).render(lang) for n in notes))
        return "\n\n".join(parts) or Text("no alerts").render(lang)

    emit(args, data, text)
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    """Every alert rule with its switch and thresholds: the store's values with --store,
    else the defaults; the text in the store's language (English for the defaults)."""
    from bot.alerts.rules import listing

    store = resolve_store(get_engine(settings.database_url), args.store) if args.store \
        else None
    data = listing(store)
    lang = store.language if store is not None else "en"
    emit(args, data, lambda: message_text(render("rules.json.j2", listing=data, lang=lang)))
    return 0
