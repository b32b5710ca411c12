"""`opsbot` entry point: global options, the subcommand modules, errors as one clear line."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import SettingError, Settings
from bot.storage import DatabaseError, problem, shown_url
from cli.errors import UserError

__all__ = ["UserError", "add_json", "build_parser", "emit", "main", "settings_for"]

# Each module adds its subcommands with `register(subparsers)`.
COMMAND_MODULES = ("cli.data", "cli.ask", "cli.serve", "cli.worker", "cli.checklist",
                   "cli.customers", "cli.demo", "cli.audit", "cli.workspaces")
# The module of each command: a run imports only the module its command needs (the Slack,
# template and chart libraries the others import cost a short run like `opsbot ingest` a
# good part of its time). tests/test_cli_errors.py holds it equal to what the modules register.
COMMANDS = {"ingest": "cli.data", "store": "cli.data", "drops": "cli.data", "kinds": "cli.data",
            "ask": "cli.ask", "serve": "cli.serve", "worker": "cli.worker",
            "tick": "cli.worker", "alerts": "cli.worker", "rules": "cli.worker",
            "checklist": "cli.checklist", "customers": "cli.customers", "demo": "cli.demo",
            "audit": "cli.audit", "workspaces": "cli.workspaces"}


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print `data` as JSON with --json, else the human text."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text() if callable(text) else text)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or, given the arguments of a run of a known command,
    of that command only."""
    parser = argparse.ArgumentParser(
        prog="opsbot",
        description="opsbot runs the daily rhythm of an Alibaba.com storefront from Slack "
        "and from this command line.",
    )
    _add_database(parser, None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = _command_word(sys.argv[1:] if argv is None else argv)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(subparsers)
    _database_anywhere(parser)
    return parser


def _add_database(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--database", metavar="URL", default=default,
                        help="database URL (default: $OPSBOT_DATABASE_URL or sqlite:///opsbot.db)")


def _database_anywhere(parser: argparse.ArgumentParser) -> None:
    """`--database` after the command too (`opsbot ask "/inquiries" --database URL`), as
    well as before it. Unset there, it leaves the global one alone."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if "--database" not in command._option_string_actions:
                    _add_database(command, argparse.SUPPRESS)
                _database_anywhere(command)


def _command_word(argv: Sequence[str]) -> str | None:
    """The command a run names: its first word that is no global option or its value."""
    words = iter(argv)
    for word in words:
        if word == "--database":
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif word in ("-h", "--help"):
            return None  # the help lists every command
    return None


def settings_for(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "database", None):
        settings = dataclasses.replace(settings, database_url=args.database)
    return settings


def database_line(args: argparse.Namespace, exc: DatabaseError) -> str:
    """A database problem in one line naming where the URL came from: `--database`,
    OPSBOT_DATABASE_URL, or the default when that is not set."""
    if getattr(args, "database", None):
        where = "--database " if exc.url else "--database"
    elif os.environ.get("OPSBOT_DATABASE_URL"):
        where = "OPSBOT_DATABASE_URL=" if exc.url else "OPSBOT_DATABASE_URL"
    else:
        where = "OPSBOT_DATABASE_URL is not set, and the default "
    return f"{where}{exc.url or ''}: {exc.cause}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.stores import NoSuchStore, StoreError

    def fail(message: str) -> int:
        if getattr(args, "json", False):
            print(json.dumps({"error": message}, ensure_ascii=False))
        print(f"opsbot: {message}", file=sys.stderr)
        return 2

    settings: Settings | None = None
    try:
        settings = settings_for(args)
        return int(args.handler(args, settings) or 0)
    except NoSuchStore as exc:  # perhaps the store is in another database
        url = shown_url(settings.database_url) if settings else None
        return fail(f"{exc} (this is the database {url}; another one is named with "
                    "--database URL or OPSBOT_DATABASE_URL)")
    except (UserError, StoreError, SettingError) as exc:
        return fail(str(exc))
    except DatabaseError as exc:
        return fail(database_line(args, exc))
    except (OperationalError, InterfaceError) as exc:  # the database went away mid-command
        url = shown_url(settings.database_url) if settings else None
        return fail(database_line(args, DatabaseError(url, problem(exc))))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `opsbot kinds | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
