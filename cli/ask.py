"""`opsbot ask "/inquiries yesterday"`: the CLI twin of a slash command.

It runs exactly `handlers.commands.run_command`, the function the Slack listener calls, so
the terminal shows the answer Slack would post. `--json` prints the `CommandResult` contract
(`command`, `text`, `ok`, `data`, `message`); otherwise the Block Kit message is shown as
plain text. Exit 0 when the command was answered, 1 for a usage reply, 2 for CLI misuse.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.periods import as_utc
from bot.storage import get_engine
from bot.stores import resolve_store, store_for_channel
from cli.main import UserError, add_json
from handlers.commands import needs_store, run_command

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ask", help='run a slash command as Slack would: opsbot ask "/inquiries yesterday"',
        description="Run a slash command exactly as Slack runs it and print the answer.",
    )
    p.add_argument("words", nargs="+", metavar="COMMAND",
                   help='the command as typed in Slack, e.g. "/inquiries week unreplied"')
    p.add_argument("--store", metavar="NAME",
                   help="the store to answer for (default: the channel's, else the only one)")
    p.add_argument("--now", metavar="ISO_DATETIME",
                   help="pin the moment: 2026-11-20 (end of that local day), "
                        "2026-11-20T09:30 (store-local) or with an offset")
    p.add_argument("--channel", metavar="CHANNEL_ID",
                   help="answer as in this Slack channel (its binding picks the store)")
    add_json(p)
    p.set_defaults(handler=cmd_ask)


def parse_now(text: str, tz: ZoneInfo) -> datetime:
    """`--now` as naive UTC: a bare date is the last second of that local day; a datetime
    without an offset is store-local; one with an offset is taken as given."""
    text = text.strip()
    try:
        if _BARE_DATE.match(text):
            return as_utc(datetime.combine(date.fromisoformat(text), time(23, 59, 59),
                                           tzinfo=tz))
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--now {text!r} is not an ISO date or datetime "
                        "(e.g. 2026-11-20 or 2026-11-20T09:30+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return as_utc(moment)


def split_command(line: str) -> tuple[str, str]:
    """"/inquiries last week" -> ("/inquiries", "last week")."""
    command, _, text = line.strip().partition(" ")
    return command, text.strip()


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    command, text = split_command(" ".join(args.words))
    if not command:
        raise UserError('name a command, e.g. opsbot ask "/inquiries yesterday"')
    engine = get_engine(settings.database_url)
    store = None
    if args.store:
        store = resolve_store(engine, args.store)
    elif not args.channel and needs_store(command, text):
        store = resolve_store(engine, None)  # the only store, else `default`
    now = None
    if args.now:
        known = store or (store_for_channel(engine, args.channel) if args.channel else None)
        now = parse_now(args.now, known.tz if known else ZoneInfo("UTC"))
    result = run_command(engine, command, text, channel_id=args.channel, store=store, now=now)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str))
    else:
        print(message_text(result.message))
    return 0 if result.ok else 1


# ---- Block Kit as terminal text ------------------------------------------------------------


def _plain(mrkdwn: str) -> str:
    """mrkdwn for a terminal: links as `label (url)`, bold markers dropped, entities undone
    (`&amp;` last, so an escaped `&lt;` typed by a buyer stays `&lt;`)."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = _BOLD.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    return _plain(obj.get("text", "")) if isinstance(obj, dict) else ""


def message_text(message: dict[str, Any]) -> str:
    """A small rendering of headers, sections, fields, context, dividers and buttons."""
    blocks = message.get("blocks") or []
    if not blocks:
        return _plain(str(message.get("text") or ""))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "=" * min(len(title), 72)]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text(block["text"]))
            for field in block.get("fields") or []:
                label, _, value = _text(field).partition("\n")
                lines.append(f"  {label}: {value}" if value else f"  {label}")
        elif kind == "context":
            lines.append("  " + " ".join(_text(e) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("")
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[{_text(e.get('text'))}]"
                                          for e in block.get("elements") or []))
    return "\n".join(lines)

