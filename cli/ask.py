"""`opsbot ask "/inquiries yesterday"`: the CLI twin of a slash command.

It runs exactly `handlers.commands.run_command`, the function the Slack listener calls, so
the terminal shows the answer Slack would post. `--json` prints the `CommandResult` contract
(`command`, `text`, `ok`, `data`, `message`); otherwise the Block Kit message is shown as
plain text. Exit 0 when the command was answered, 1 for a usage reply, 2 for CLI misuse.
"""

from __future__ import annotations

import argparse

from bot.config import Settings
from bot.storage import get_engine
from bot.stores import (
    NoSuchStore,
    check_channel_id,
    list_stores,
    resolve_store,
    store_for_channel,
)
from cli.errors import UserError
from cli.main import add_json, emit
from cli.moments import now_for, now_help
from cli.terminal import message_text
from handlers.commands import needs_store, run_command


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
                   help=now_help("pin the moment", "2026-11-20T09:30+08:00"))
    p.add_argument("--channel", metavar="CHANNEL_ID",
                   help="answer as in this Slack channel (its binding picks the store)")
    add_json(p)
    p.set_defaults(handler=cmd_ask)


def split_command(line: str) -> tuple[str, str]:
    """"/inquiries last week" -> ("/inquiries", "last week")."""
    command, _, text = line.strip().partition(" ")
    return command, text.strip()


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    command, text = split_command(" ".join(args.words))
    if not command:
        raise UserError('name a command, e.g. opsbot ask "/inquiries yesterday"')
    channel = check_channel_id(args.channel) if args.channel else None  # as store bind does
    engine = get_engine(settings.database_url)
    store = None
    if args.store:
        store = resolve_store(engine, args.store)
    elif not channel and needs_store(command, text):
        # The only store. A question never creates one (resolve_store would make `default`).
        if not list_stores(engine):
            raise NoSuchStore("no store yet, so nothing to answer: create one with `opsbot "
                              "store add NAME` (or ingest a file with --store NAME), then ask "
                              "with --store NAME")
        store = resolve_store(engine, None)
    now = None
    if args.now:
        known = store or (store_for_channel(engine, channel) if channel else None)
        now = now_for(args.now, [known] if known else [])
    result = run_command(engine, command, text, channel_id=channel, store=store, now=now)
    emit(args, result.to_json(), lambda: message_text(result.message))
    return 0 if result.ok else 1
