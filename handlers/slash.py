"""Slash commands: hand the words to `handlers.commands.run_command` and give Slack its answer.

Slack wants an ack within 3 s. The answer usually takes milliseconds (one SQL aggregate), so
the ack itself carries it: one round trip, no response_url call. If the answer is not ready
after `ACK_DEADLINE` seconds, the ack says "working on it" (visible only to the asker) and the
answer follows through the command's response_url.

An answer the command queued as a post of the bot's (`CommandResult.posts`: `/customers`,
whose buttons redraw it, which Slack allows only on the bot's own posts) is sent right after
an empty ack; if Slack refuses the post (e.g. the bot is not in the channel), the answer goes
through the response_url instead.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import Settings
from handlers.commands import COMMANDS, CommandResult, run_command
from handlers.members import Directory
from jobs.delivery import deliver_rows
from templates import render

log = logging.getLogger(__name__)

ACK_DEADLINE = 2.0  # seconds; leaves a second of Slack's 3 s for the network


def reply_payload(message: dict[str, Any], *, ephemeral: bool) -> dict[str, Any]:
    """A command answer as a slash-command response body (ack or response_url)."""
    payload: dict[str, Any] = {"text": message.get("text") or "opsbot",
                               "response_type": "ephemeral" if ephemeral else "in_channel"}
    if message.get("blocks"):
        payload["blocks"] = message["blocks"]
    return payload


def _notice(kind: str, command: str, detail: str | None = None) -> dict[str, Any]:
    return reply_payload(render("notice.json.j2", kind=kind, command=command, detail=detail),
                         ephemeral=True)


def register(app: App, engine: Engine, settings: Settings,
             directory: Directory | None = None) -> None:
    # Our own pool, so a slow answer never holds one of bolt's listener threads past the ack.
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="opsbot-command")
    directory = directory or Directory()

    def answer(command: dict[str, Any], ack: Ack, respond: Respond, client: WebClient) -> None:
        name = command.get("command", "")
        team_id = command.get("team_id")
        future: Future = pool.submit(
            run_command, engine, name, command.get("text") or "",
            channel_id=command.get("channel_id"),
            # A Slack request always names its user; none would be the CLI operator.
            user_id=command.get("user_id") or "unknown", team_id=team_id,
            workspace_admin=partial(directory.is_workspace_admin, client, team_id),
        )
        try:
            result = future.result(timeout=ACK_DEADLINE)
        except FutureTimeout:
            ack(**_notice("working", name))
            future.add_done_callback(
                lambda done: _respond_later(done, respond, name, engine, client))
            return
        except Exception as exc:
            log.exception("%s %r failed", name, command.get("text"))
            ack(**_notice("failed", name, type(exc).__name__))
            return
        if result.posts:
            ack()
            _send_posts(engine, client, result, respond)
            return
        ack(**reply_payload(result.message, ephemeral=result.ephemeral))

    for name in COMMANDS:
        app.command(name)(answer)


def _send_posts(engine: Engine, client: Any, result: CommandResult, respond: Respond) -> None:
    """Deliver the posts a command queued; one Slack refused for good is answered through
    the response_url instead (one that failed for now stays with the worker's sender)."""
    delivery = deliver_rows(engine, client, result.posts)
    if delivery.failed:
        log.warning("%s posted through the response_url: %s", result.command, delivery.errors)
        respond(**reply_payload(result.message, ephemeral=result.ephemeral))


def _respond_later(done: Future, respond: Respond, name: str, engine: Engine,
                   client: Any) -> None:
    try:
        result = done.result()
        if result.posts:
            _send_posts(engine, client, result, respond)
            return
        payload = reply_payload(result.message, ephemeral=result.ephemeral)
    except Exception as exc:
        log.exception("%s failed after the ack", name)
        payload = _notice("failed", name, type(exc).__name__)
    try:
        respond(**payload)
    except Exception:  # the response_url expired (30 min) or Slack is down: nothing to tell
        log.exception("could not deliver the answer to %s", name)
