"""`opsbot checklist KIND`: a checklist (every kind of bot/checklists/registry.py) in the
terminal, computed, not recorded.

`--now` takes a moment: `2026-11-13` (the store's checklist time that day, 09:00 by
default), `2026-11-13T09:30` (store-local) or `2026-11-13T01:30Z` / `…+08:00` (any zone): the
rules of every command, cli/moments.py.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

from bot.checklists.kind import ChecklistKind
from bot.checklists.records import public
from bot.checklists.registry import CHECKLISTS
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import get_engine, read
from bot.stores import Store, resolve_store
from cli.errors import UserError
from cli.main import add_json, emit
from cli.moments import now_for, now_help
from cli.terminal import message_text
from jobs.charts import chart_png
from templates import render


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("checklist", help="a checklist, computed now: "
                              + " | ".join(CHECKLISTS))
    sub = p.add_subparsers(dest="checklist_command", metavar="KIND", required=True)
    for kind in CHECKLISTS.values():
        one = sub.add_parser(kind.name, help=f"the {kind.name} checklist for a store, as it "
                             "would be posted at that moment (nothing is recorded)")
        one.add_argument("--store", metavar="NAME")
        one.add_argument("--now", metavar="ISO", help=now_help("the moment to compute for"))
        if kind.chart:
            one.add_argument("--chart", metavar="PATH",
                             help="also write the review's trend chart (PNG) to PATH")
        add_json(one)
        one.set_defaults(handler=cmd_checklist, kind=kind)


def _now(text: str | None, store: Store) -> datetime:
    """A bare date means the store's checklist time that day (09:00 by default)."""
    if not text:
        return utcnow()
    return now_for(text, [store])


def cmd_checklist(args: argparse.Namespace, settings: Settings) -> int:
    kind: ChecklistKind = args.kind
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store)
    now = _now(args.now, store)
    chart_path = getattr(args, "chart", None)
    with read(engine) as conn:
        data = kind.build(conn, store, now, None)
        png = (chart_png(conn, store, kind.chart, date.fromisoformat(data["period"]["end"]))
               if chart_path and kind.chart else None)
    message = render(kind.template, checklist=data, lang=store.language)
    out = {"store": store.name, "day": data["day"], "data": public(data), "message": message}
    if png is not None:
        try:
            Path(chart_path).write_bytes(png)
        except OSError as exc:
            raise UserError(f"cannot write the chart to {chart_path}: {exc.strerror or exc}"
                           ) from None
        out["chart"] = str(chart_path)
    emit(args, out, lambda: message_text(message)
         + (f"\nChart written to {chart_path}" if png is not None else ""))
    return 0
