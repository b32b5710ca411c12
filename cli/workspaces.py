"""`opsbot workspaces`: the workspaces opsbot is installed in (OAuth mode) and the workspaces
that own stores, with their stores' queued and failed messages (bot/workspaces.py)."""

from __future__ import annotations

import argparse

from bot.config import Settings
from bot.storage import get_engine, read
from bot.workspaces import overview
from cli.main import add_json, emit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "workspaces", help="the Slack workspaces opsbot is installed in, with their stores",
        description="Every workspace that installed opsbot (OAuth mode: SLACK_CLIENT_ID and "
                    "SLACK_CLIENT_SECRET) or owns a store, by workspace ID, with its "
                    "stores and their queued and failed messages. Tokens are never shown.")
    add_json(p)
    p.set_defaults(handler=cmd_workspaces)


def cmd_workspaces(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    mode = "oauth" if settings.oauth else "single"
    with read(engine) as conn:
        found = overview(conn, settings.slack_client_id)

    def line(w: dict) -> str:
        state = (f"installed {w['installed_at']}" if w["installed"] else
                 "not installed" if mode == "oauth" else "served by SLACK_BOT_TOKEN")
        name = f" ({w['team_name']})" if w["team_name"] else ""
        stores = ", ".join(w["stores"]) or "no store"
        return (f"{w['team_id']}{name}: {state}; stores: {stores}; "
                f"{w['queued']} queued, {w['failed']} failed")

    head = ("OAuth mode: each workspace installs opsbot at /slack/install" if mode == "oauth"
            else "one workspace (SLACK_BOT_TOKEN)")
    emit(args, {"mode": mode, "workspaces": found},
         lambda: "\n".join([head, *(line(w) for w in found)]))
    return 0
