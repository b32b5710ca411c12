"""`opsbot audit`: who bound, unbound, configured, changed admins, deleted a drop or clicked a
button in a store, and when (bot/audit.py)."""

from __future__ import annotations

import argparse
import json

from bot.audit import entries
from bot.config import Settings
from bot.storage import get_engine, read
from bot.stores import resolve_store
from cli.errors import UserError
from cli.main import add_json, emit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="the audit trail: who changed or clicked what in a store, and when",
        description="The audit trail, newest first. Users are Slack user IDs; `cli` is a "
                    "change made at this command line.")
    p.add_argument("--store", metavar="NAME", help="one store's trail (default: every store)")
    p.add_argument("--limit", type=int, default=100, metavar="N",
                   help="how many entries (default 100; 0 shows all)")
    add_json(p)
    p.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 0:
        raise UserError(f"--limit is a count (0 for all), not {args.limit}")
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store) if args.store else None
    with read(engine) as conn:
        found = [e.to_json() for e in entries(conn, store, args.limit)]

    def line(e: dict) -> str:
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        return f"{e['at']} [{e['store']}] {e['user']} {e['action']} {detail}"

    emit(args, {"audit": found}, lambda: "\n".join(line(e) for e in found) or "no entries yet")
    return 0
