"""`opsbot checklist daily`: the morning checklist in the terminal, computed, not recorded.

`--now` takes a moment: `2026-11-13` (the store's checklist time that day, 09:00 by
default), `2026-11-13T09:30` (store-local) or `2026-11-13T01:30Z` / `…+08:00` (any zone): the
rules of every command, cli/moments.py.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from bot.checklists.daily import build_daily, public
from bot.config import Settings
from bot.storage import get_engine, read
from bot.stores import Store, resolve_store, utcnow
from cli.main import add_json, emit
from cli.moments import now_for, now_help
from cli.terminal import message_text
from templates import render


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("checklist", help="the daily checklist, computed now")
    sub = p.add_subparsers(dest="checklist_command", metavar="KIND", required=True)
    daily = sub.add_parser("daily", help="today's checklist for a store (nothing is recorded)")
    daily.add_argument("--store", metavar="NAME")
    daily.add_argument("--now", metavar="ISO", help=now_help("the moment to compute for"))
    add_json(daily)
    daily.set_defaults(handler=cmd_daily)


def _now(text: str | None, store: Store) -> datetime:
    """A bare date means the store's checklist time that day (09:00 by default)."""
    if not text:
        return utcnow()
    return now_for(text, [store])


def cmd_daily(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store)
    now = _now(args.now, store)
    with read(engine) as conn:
        data = build_daily(conn, store, now)
    message = render("checklist_daily.json.j2", checklist=data, lang=store.language)
    emit(args, {"store": store.name, "day": data["day"], "data": public(data), "message": message},
         lambda: message_text(message))
    return 0
