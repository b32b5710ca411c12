"""Worker commands: `opsbot worker` (the clock), `opsbot tick` (one run), `opsbot alerts`."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import alerts
from bot.config import Settings
from bot.storage import get_engine
from bot.stores import list_stores, resolve_store, utcnow
from cli.main import add_json, emit
from cli.moments import parse_now


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "worker", help="run the clock: checklists, alerts, drop folder and Slack delivery")
    p.set_defaults(handler=cmd_worker)

    p = subparsers.add_parser("tick", help="run once everything due now (or at --now)")
    p.add_argument("--now", metavar="ISO_DATETIME",
                   help="the moment to run at, e.g. 2026-11-17T09:00+08:00 (no offset: UTC)")
    add_json(p)
    p.set_defaults(handler=cmd_tick)

    p = subparsers.add_parser(
        "alerts", help="evaluate and list current alerts (records nothing, posts nothing)")
    p.add_argument("--store", metavar="NAME")
    p.add_argument("--now", metavar="ISO_DATETIME",
                   help="the moment to judge at (no offset: UTC); yesterday is judged")
    add_json(p)
    p.set_defaults(handler=cmd_alerts)


def _now(text: str | None) -> datetime:
    """Many stores, many timezones: a moment without an offset is UTC here."""
    return parse_now(text, ZoneInfo("UTC")) if text else utcnow()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.scheduler import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_worker(settings)


def _tick_text(report: dict[str, Any]) -> str:
    lines = [f"tick at {report['now']}"]
    for drop in report["drops"]:
        lines.append(f"drop {drop['file']}: {drop['status']} -> {drop['moved_to']}")
    for c in report["checklists"]:
        where = ", ".join(c["channels"]) or "no bound channel"
        late = " (catch-up)" if c.get("catch_up") else ""
        lines.append(f"checklist {c['store']} {c['day']}{late}: #{c['id']} queued for {where}")
    for a in report["alerts"]:
        lines.append(f"alert {a['store']} {a['day']}: {a['event']} ({a['severity']}), "
                     f"{a['observed']} inquiries vs usually {a['expected']:.1f}")
    if not (report["drops"] or report["checklists"] or report["alerts"]):
        lines.append("nothing was due")
    lines.append(f"slack: {report['slack']}")
    lines.append(f"outbox: {report['delivered']} delivered now, {report['retrying']} to retry, "
                 f"{report['failed']} failed now, {report['pending']} pending")
    for error in report["errors"]:
        lines.append(f"error: {error.get('store', '')} {error['step']}: {error['error']}")
    return "\n".join(lines)


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.tick import run_due

    now = _now(args.now)
    engine = get_engine(settings.database_url)
    report = run_due(engine, now, settings=settings)
    emit(args, report, lambda: _tick_text(report))
    return 1 if report["errors"] else 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """Judge yesterday for each store in a transaction that is rolled back: the answer is
    what the worker would record, and nothing is recorded or queued here."""
    now = _now(args.now)
    engine = get_engine(settings.database_url)
    stores = [resolve_store(engine, args.store)] if args.store else list_stores(engine)
    found: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    with engine.connect().execution_options(opsbot_write=True) as conn:
        transaction = conn.begin()
        try:
            for store in stores:
                for event in alerts.evaluate_store(conn, store, now):
                    if event["event"] == "skipped":
                        notes.append({"store": store.name, "why": event["why"]})
                found += alerts.active(conn, store, now)
        finally:
            transaction.rollback()
    data = {"now": now.isoformat(timespec="seconds") + "Z", "alerts": found, "notes": notes}

    def text() -> str:
        lines = [f"{a['store']}: inquiries {a['severity']} on {a['day']} - {a['observed']} vs "
                 f"usually {a['expected']:.1f} (p={a['p_value']:.2g}), {a['status']}"
                 + (f", since {a['since']}" if a["since"] != a["day"] else "")
                 for a in found]
        lines += [f"{n['store']}: not judged: {n['why']}" for n in notes]
        return "\n".join(lines) or "no alerts"

    emit(args, data, text)
    return 0
