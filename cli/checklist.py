"""`opsbot checklist daily`: the morning checklist in the terminal, computed, not recorded.

`--now` takes a moment: `2026-11-13` (the store's checklist time that day, 09:00 by
default), `2026-11-13T09:30` (store-local) or `2026-11-13T01:30Z` / `…+08:00` (any zone).
"""

from __future__ import annotations

import argparse
import html
import re
from datetime import UTC, datetime, time
from typing import Any

from bot.checklist import build_daily
from bot.config import Settings
from bot.periods import as_utc
from bot.storage import get_engine, read
from bot.stores import Store, resolve_store, utcnow
from cli.main import UserError, add_json, emit
from templates import render

_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_EMOJI = {":warning:": "⚠", ":rotating_light:": "🚨"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("checklist", help="the daily checklist, computed now")
    sub = p.add_subparsers(dest="checklist_command", metavar="KIND", required=True)
    daily = sub.add_parser("daily", help="today's checklist for a store (nothing is recorded)")
    daily.add_argument("--store", metavar="NAME")
    daily.add_argument("--now", metavar="ISO",
                       help="the moment to compute for: a date (the store's checklist time "
                            "that day), a local date-time, or a date-time with an offset")
    add_json(daily)
    daily.set_defaults(handler=cmd_daily)


def parse_now(text: str | None, store: Store) -> datetime:
    """Naive UTC for --now, read in the store's timezone unless it carries an offset."""
    if not text:
        return utcnow()
    raw = text.strip()
    try:
        if len(raw) == 10:
            hours, _, minutes = str(store.setting("checklist_time")).partition(":")
            moment = datetime.combine(datetime.fromisoformat(raw).date(),
                                      time(int(hours), int(minutes or 0)))
        else:
            moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise UserError(f"--now {text!r} is not a date or date-time: use 2026-11-13, "
                        "2026-11-13T09:30 (store-local) or 2026-11-13T01:30Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=store.tz)
    return as_utc(moment.astimezone(UTC))


def _plain(text: str) -> str:
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    text = _MENTION.sub(r"@\1", text)
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    return html.unescape(text)  # Slack's &amp; &lt; &gt;


def as_text(message: dict[str, Any]) -> str:
    """A checklist message as terminal text: each item with ☐ or ☑ and its figures."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append(block["text"]["text"])
        elif kind == "context":
            lines += ["   " + _plain(e.get("text", "")) for e in block.get("elements", [])]
        elif kind == "divider":
            lines.append("")
        elif kind == "section":
            accessory = block.get("accessory") or {}
            box = "☑ " if accessory.get("initial_options") else "☐ "
            body = _plain(block.get("text", {}).get("text", "")).splitlines() or [""]
            lines.append(box + body[0])
            lines += ["   " + line for line in body[1:]]
    return "\n".join(lines)


def cmd_daily(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store)
    now = parse_now(args.now, store)
    with read(engine) as conn:
        data = build_daily(conn, store, now)
    message = render("checklist_daily.json.j2", checklist=data)
    emit(args, {"store": store.name, "day": data["day"], "data": data, "message": message},
         lambda: as_text(message))
    return 0
