"""Every slash command, without any transport: text in, `CommandResult` out.

The Bolt listeners (`handlers/app.py`) and the CLI (`opsbot ask`) both call `run_command`, so
the terminal gives exactly the answer Slack gives. Pure Python: no slack_* import here.

- `/inquiries [period] [unreplied|spam] [country:XX] [owner:NAME] [product:ID]`
- `/opsbot setup STORE | status | config [KEY VALUE] | help`

User input never raises: a mistake gets `ok=False` and a short ephemeral usage reply; an
unexpected failure is logged and answered with an ephemeral apology carrying a reference.
"""

from __future__ import annotations

import logging
import shlex
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bot.metrics import inquiries
from bot.periods import PeriodError, as_utc, local_today, parse_period
from bot.status import store_status
from bot.storage import read
from bot.stores import (
    DEFAULT_SETTINGS,
    Store,
    StoreError,
    bind_channel,
    configure_store,
    ensure_store,
    find_store,
    store_for_channel,
    utcnow,
)
from templates import render

log = logging.getLogger("opsbot.commands")

COMMANDS = ("/inquiries", "/opsbot")
LIST_MODES = {"unreplied": "unreplied", "未回复": "unreplied", "spam": "spam", "垃圾": "spam"}
FILTER_KEYS = ("country", "owner", "product")
# Slack clients turn quotes into typographic ones; shlex only knows the plain kind.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


@dataclass
class CommandResult:
    command: str  # "/inquiries" or "/opsbot"
    text: str  # the text after the command, as typed
    ok: bool  # False for usage errors, an unbound channel, failures
    data: dict[str, Any] | None  # plain data; {"error": ...} when not ok
    message: dict[str, Any]  # Slack payload {"text": fallback, "blocks": [...]}
    ephemeral: bool  # True: visible only to the asker

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "text": self.text, "ok": self.ok, "data": self.data,
                "message": self.message}


class UsageError(ValueError):
    """What the user typed cannot be answered; the message says why, in one short line."""


@dataclass
class _Call:
    engine: Engine
    command: str
    text: str
    channel_id: str | None
    user_id: str | None
    team_id: str | None
    store: Store | None  # the store the command answers for, if any is known
    now: datetime  # naive UTC

    def result(self, template: str, data: dict[str, Any] | None, *, ephemeral: bool,
               ok: bool = True, **context: Any) -> CommandResult:
        lang = self.store.language if self.store else "en"
        context.setdefault("lang", lang)
        message = render(template, data=data, **context)
        return CommandResult(self.command, self.text, ok, data, message, ephemeral)

    def usage(self, error: str) -> CommandResult:
        return self.result("usage.json.j2", {"error": error}, ephemeral=True, ok=False,
                           error=error, command=self.command)

    def unbound(self) -> CommandResult:
        error = ("this channel is not bound to a store: /opsbot setup STORE"
                 if self.channel_id else "no store: name one with --store")
        return self.result("opsbot_unbound.json.j2", {"error": error}, ephemeral=True,
                           ok=False, command=self.command, in_channel=bool(self.channel_id))


def run_command(
    engine: Engine, command: str, text: str, *, channel_id: str | None = None,
    user_id: str | None = None, team_id: str | None = None, store: Store | None = None,
    now: datetime | None = None,
) -> CommandResult:
    """Answer one slash command. `store` (the CLI's --store) wins over the channel binding;
    `now` (aware, or naive UTC) pins the moment for reproducible answers."""
    name = normalize_command(command)
    text = text or ""
    try:
        if store is None and channel_id:
            store = store_for_channel(engine, channel_id)
        call = _Call(engine, name, text, channel_id, user_id, team_id, store,
                     as_utc(now) if now is not None else utcnow())
        handler = _HANDLERS.get(name)
        if handler is None:
            return call.usage(f"unknown command `{command.strip() or '(none)'}`: "
                              f"use {' or '.join(COMMANDS)}")
        try:
            return handler(call, _slack_unescape(text))
        except UsageError as exc:
            return call.usage(str(exc))
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("command failed (ref %s): %s %r channel=%s user=%s", ref, name, text,
                      channel_id, user_id)
        message = render("opsbot_error.json.j2", command=f"{name} {text}".strip(), ref=ref)
        return CommandResult(name, text, False, {"error": "internal error", "ref": ref},
                             message, True)


def normalize_command(command: str) -> str:
    name = (command or "").strip().lower()
    return name if name.startswith("/") else "/" + name


def needs_store(command: str, text: str) -> bool:
    """Whether a command answers for a store (`/opsbot help` and `setup` do not)."""
    if normalize_command(command) != "/opsbot":
        return True
    words = text.split()
    return bool(words) and words[0].lower() not in ("help", "setup")


def _slack_unescape(text: str) -> str:
    """Slack sends `&`, `<`, `>` in command text escaped; filters compare raw values."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _words(text: str) -> list[str]:
    text = text.translate(_QUOTES)
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        return text.split()


# ---- /inquiries ---------------------------------------------------------------------------


def _inquiries(call: _Call, text: str) -> CommandResult:
    period_words: list[str] = []
    mode: str | None = None
    found: dict[str, str] = {}
    for word in _words(text):
        low = word.lower()
        if low in LIST_MODES:
            if mode and mode != LIST_MODES[low]:
                raise UsageError("choose one of `unreplied` or `spam`")
            mode = LIST_MODES[low]
        elif ":" in word:
            key, _, value = word.partition(":")
            key = key.strip().lower()
            if key not in FILTER_KEYS:
                raise UsageError(f"unknown filter `{key}:`: use country:XX, owner:NAME, "
                                 "product:ID")
            if not value.strip():
                raise UsageError(f"`{key}:` needs a value, e.g. {key}:"
                                 + {"country": "US", "owner": "Tom", "product": "1600123"}[key])
            found[key] = value.strip()
        else:
            period_words.append(word)
    filters = inquiries.Filters(**found)
    store = call.store
    if store is None:
        return call.unbound()
    today = local_today(call.now, store.tz)
    try:
        period = parse_period(" ".join(period_words), today)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    with read(call.engine) as conn:
        if mode == "unreplied":
            bounds: dict[str, Any] = {}
            if period_words:  # no period: every open inquiry, however old
                bounds = {"start": period.start, "end": period.end, "name": period.name}
            data = inquiries.unreplied(conn, store, call.now, filters, **bounds)
        elif mode == "spam":
            data = inquiries.spam(conn, store, period.start, period.end, call.now, filters,
                                  name=period.name)
        else:
            data = inquiries.summarize(conn, store, period.start, period.end, filters,
                                       now=call.now, name=period.name)
    template = "inquiries_list.json.j2" if mode else "inquiries.json.j2"
    return call.result(template, data, ephemeral=False)


# ---- /opsbot ------------------------------------------------------------------------------


def _opsbot(call: _Call, text: str) -> CommandResult:
    words = _words(text)
    sub = words[0].lower() if words else "help"
    rest = words[1:]
    if sub == "help":
        return call.result("opsbot_help.json.j2", {"store": call.store.name if call.store
                                                   else None}, ephemeral=True,
                           store=call.store.name if call.store else None,
                           settings=sorted(DEFAULT_SETTINGS))
    if sub == "setup":
        return _setup(call, " ".join(rest).strip())
    if sub not in ("status", "config"):
        raise UsageError(f"unknown /opsbot command `{sub}`")
    if call.store is None:
        return call.unbound()
    if sub == "status":
        if rest:
            raise UsageError("`/opsbot status` takes no words")
        with read(call.engine) as conn:
            data = store_status(conn, call.store, call.now)
        return call.result("opsbot_status.json.j2", data, ephemeral=True)
    return _config(call, rest)


def _setup(call: _Call, name: str) -> CommandResult:
    if not name:
        raise UsageError("name the store: `/opsbot setup STORE`")
    if not call.channel_id:
        raise UsageError("setup binds a Slack channel: run it in that channel "
                         "(from the CLI: --channel ID)")
    if len(name) > 200:
        raise UsageError("a store name is at most 200 characters")
    before = store_for_channel(call.engine, call.channel_id)
    created = find_store(call.engine, name) is None
    try:
        store = ensure_store(call.engine, name)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    bind_channel(call.engine, store, call.channel_id, team_id=call.team_id,
                 user_id=call.user_id)
    call.store = store
    data = {"store": store.name, "timezone": store.timezone, "language": store.language,
            "channel": call.channel_id, "created": created,
            "previous_store": before.name if before else None}
    return call.result("opsbot_setup.json.j2", data, ephemeral=False)


_CONFIG_ALIASES = {"tz": "timezone", "lang": "language", "时区": "timezone", "语言": "language"}


def _config(call: _Call, words: list[str]) -> CommandResult:
    store = call.store
    assert store is not None
    changed: dict[str, Any] = {}
    if words:
        key = _CONFIG_ALIASES.get(words[0].lower(), words[0].lower())
        value = " ".join(words[1:]).strip()
        if not value:
            raise UsageError(f"`/opsbot config {key} VALUE` needs a value")
        try:
            if key == "timezone":
                store = configure_store(call.engine, store, timezone=value)
            elif key == "language":
                store = configure_store(call.engine, store, language=value.lower())
            elif key in DEFAULT_SETTINGS:
                store = configure_store(call.engine, store, settings={key: value})
            else:
                raise UsageError(f"unknown setting `{key}`: use timezone, language or one of "
                                 + ", ".join(sorted(DEFAULT_SETTINGS)))
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        changed = {key: getattr(store, key) if key in ("timezone", "language")
                   else store.setting(key)}
        call.store = store
    data = {"store": store.name, "timezone": store.timezone, "language": store.language,
            "settings": store.all_settings, "changed": changed}
    # A change is news for the whole channel; reading the settings is not.
    return call.result("opsbot_config.json.j2", data, ephemeral=not changed)


_HANDLERS = {"/inquiries": _inquiries, "/opsbot": _opsbot}
