"""The slash commands: one table. The dispatcher (`run_command`), `/opsbot help`, the usage
replies and the app manifest's `slash_commands` all read it (tests/test_command_registry.py
fails when the manifest disagrees). Adding a command is a module declaring `COMMAND` plus
one entry below.

User input never raises: a mistake gets `ok=False` and a short ephemeral usage reply; an
unexpected failure is logged and answered with an ephemeral apology carrying a reference.
"""

from __future__ import annotations

import difflib
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from bot.periods import as_utc, utcnow
from bot.stores import Store, store_for_channel
from handlers.commands import customers, inquiries, keywords, opsbot
from handlers.commands.call import (
    Call,
    Command,
    CommandResult,
    UsageError,
    in_every_language,
    normalize_text,
)
from templates import render, worded
from templates.i18n import Text

log = logging.getLogger("opsbot.commands")

COMMANDS: dict[str, Command] = {c.name: c for c in (
    inquiries.COMMAND,
    keywords.COMMAND,
    customers.COMMAND,
    opsbot.COMMAND,
)}


_committed = threading.local()  # write transactions this thread committed (bot.storage.write)


@event.listens_for(Engine, "commit")
def _count_write(conn: Connection) -> None:
    if conn.get_execution_options().get("opsbot_write"):
        _committed.writes = _writes() + 1


def _writes() -> int:
    return getattr(_committed, "writes", 0)


def normalize_command(command: str) -> str:
    name = (command or "").strip().lower()
    return name if name.startswith("/") else "/" + name


def needs_store(command: str, text: str) -> bool:
    """Whether a command answers for a store (`/opsbot help` and `setup` do not)."""
    entry = COMMANDS.get(normalize_command(command))
    return entry is None or entry.needs_store(normalize_text(text).split())


def run_command(
    engine: Engine, command: str, text: str, *, channel_id: str | None = None,
    user_id: str | None = None, team_id: str | None = None, store: Store | None = None,
    now: datetime | None = None, workspace_admin: Callable[[str], bool] | None = None,
) -> CommandResult:
    """Answer one slash command. `store` (the CLI's --store) wins over the channel binding;
    `now` (aware, or naive UTC) pins the moment for reproducible answers.

    `user_id` None is the CLI operator, who may change anything; a Slack user may change a
    store when they are one of its admins or `workspace_admin(user_id)` says they are an
    admin or owner of the workspace (bot/roles.py)."""
    name = normalize_command(command)
    text = text or ""

    def attempt() -> CommandResult:
        nonlocal store  # kept for the apology's language
        if store is None and channel_id:
            store = store_for_channel(engine, channel_id, team_id)
        return _answer(engine, name, command, text, channel_id, user_id, team_id, store, now,
                       workspace_admin)

    try:
        writes = _writes()
        try:
            return attempt()
        except DBAPIError as exc:
            # The database dropped the connection (a restart, a failover, an operator's
            # pg_terminate_backend) and rolled its transaction back: a command that had
            # committed nothing is asked again once, on a fresh connection.
            if not exc.connection_invalidated or _writes() != writes:
                raise
            log.warning("%s: the database connection was lost; asking again", name)
        return attempt()
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("command failed (ref %s): %s %r channel=%s user=%s", ref, name, text,
                      channel_id, user_id)
        asked = (name + " " + text).strip()
        apology = Text("Sorry, something went wrong answering `%(command)s`. It has been "
                       "logged (ref `%(ref)s`); please try again in a moment.",
                       command=asked, ref=ref)
        lines = [worded(apology, store.language)] if store else in_every_language(apology)
        message = render("opsbot_error.json.j2", lines=lines)
        return CommandResult(name, text, False, {"error": "internal error", "ref": ref},
                             message, True)


def _answer(
    engine: Engine, name: str, command: str, text: str, channel_id: str | None,
    user_id: str | None, team_id: str | None, store: Store | None, now: datetime | None,
    workspace_admin: Callable[[str], bool] | None,
) -> CommandResult:
    call = Call(engine, name, text, channel_id, user_id, team_id, store,
                as_utc(now) if now is not None else utcnow(), workspace_admin)
    entry = COMMANDS.get(name)
    if entry is None:
        near = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.7)
        if near:
            return call.usage(Text("unknown command `%(command)s`: did you mean `%(suggestion)s`?",
                                   command=command.strip(), suggestion=near[0]))
        return call.usage(Text("unknown command `%(command)s`: use %(known)s",
                               command=command.strip() or "(none)",
                               known=", ".join(COMMANDS)))
    try:
        return entry.run(call, normalize_text(text))
    except UsageError as exc:
        return call.usage(exc.text)
