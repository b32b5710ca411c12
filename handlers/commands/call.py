"""What every command handler gets and gives: the call (who asks, where, for which store, when),
the result (data for --json, a Block Kit message), and `UsageError` for words that cannot be
answered. Pure Python: no slack_* import."""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine

from bot.roles import Asker, admins_of, may_administer
from bot.storage import read
from bot.stores import Store
from templates import render, worded
from templates.i18n import LANGUAGES, Text, gettext

# Slack clients turn quotes into typographic ones; shlex only knows the plain kind.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


@dataclass
class CommandResult:
    command: str  # "/inquiries", "/opsbot", ...
    text: str  # the text after the command, as typed
    ok: bool  # False for usage errors, an unbound channel, failures
    data: dict[str, Any] | None  # plain data; {"error": ...} when not ok
    message: dict[str, Any]  # Slack payload {"text": fallback, "blocks": [...]}
    ephemeral: bool  # True: visible only to the asker
    # Outbox rows the command queued: its answer is a post by the bot (one that buttons can
    # redraw), delivered by the Slack listener right after the ack instead of in it.
    posts: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "text": self.text, "ok": self.ok, "data": self.data,
                "message": self.message}


class UsageError(ValueError):
    """What the user typed cannot be answered; the message says why, in one short line."""

    def __init__(self, message: Text | str) -> None:
        super().__init__(str(message))
        self.text = message


@dataclass(frozen=True)
class Command:
    """One slash command: the registry entry that the dispatcher, `/opsbot help`, the usage
    replies and the app manifest all read (handlers/commands/registry.py)."""

    name: str  # "/inquiries"
    run: Callable[[Call, str], CommandResult]
    summary: str  # N_() msgid: the manifest's description and the help's heading
    usage: tuple[tuple[str, str], ...]  # (syntax, N_() msgid of what it does)
    usage_hint: str  # the manifest's usage_hint: syntax only, no words to translate
    examples: tuple[str, ...] = ()
    takes_period: bool = False  # usage replies then list the period words
    needs_store: Callable[[list[str]], bool] = field(default=lambda words: True)
    # The manifest's should_escape: Slack then sends a mention as an ID (`<@U123|anna>`),
    # not as the name typed (`@anna`).
    escapes: bool = False


@dataclass
class Call:
    engine: Engine
    command: str
    text: str
    channel_id: str | None
    user_id: str | None
    team_id: str | None
    store: Store | None  # the store the command answers for, if any is known
    now: datetime  # naive UTC
    # Whether a Slack user is an admin or owner of the request's workspace (the transport
    # asks Slack: users.info, cached); None: nobody is (the CLI needs no answer).
    workspace_admin: Callable[[str], bool] | None = None

    @property
    def lang(self) -> str:
        return self.store.language if self.store else "en"

    @property
    def asker(self) -> Asker:
        """Who asks: a Slack user, or the CLI operator (no user)."""
        return Asker(self.user_id, self.workspace_admin)

    def may_administer(self, store: Store) -> bool:
        return may_administer(self.engine, store, self.asker)

    def forbidden(self, store: Store, action: str) -> CommandResult:
        """The refusal of a change only the store's admins may make (`action`: a key of
        templates/opsbot_forbidden.json.j2), naming who may."""
        with read(self.engine) as conn:
            admins = admins_of(conn, store)
        data = {"error": "forbidden", "store": store.name, "action": action, "admins": admins}
        # The reader is in this channel: its store's language, else the target's.
        return self.result("opsbot_forbidden.json.j2", data, ephemeral=True, ok=False,
                           lang=self.store.language if self.store else store.language)

    def result(self, template: str, data: dict[str, Any] | None, *, ephemeral: bool,
               ok: bool = True, **context: Any) -> CommandResult:
        context.setdefault("lang", self.lang)
        message = render(template, data=data, **context)
        return CommandResult(self.command, self.text, ok, data, message, ephemeral)

    def usage(self, error: Text | str) -> CommandResult:
        return self._usage({"error": str(error)}, ok=False, error=worded(error, self.lang))

    def help(self) -> CommandResult:
        """This command's usage, asked for (`/inquiries help`): an answer, not an error."""
        return self._usage({"help": self.command}, ok=True, error=None)

    def _usage(self, data: dict[str, Any], *, ok: bool, error: Markup | None
               ) -> CommandResult:
        from handlers.commands.registry import COMMANDS  # the registry imports the handlers

        chosen = ([COMMANDS[self.command]] if self.command in COMMANDS
                  else list(COMMANDS.values()))
        return self.result("usage.json.j2", data, ephemeral=True, ok=ok, error=error,
                           commands=[usage_entry(c, self.lang) for c in chosen])

    def unbound(self) -> CommandResult:
        # No store, so no language: both, as the English data error says.
        if self.channel_id:
            error = "this channel is not bound to a store: /opsbot setup STORE"
            line = Text("This channel is not bound to a store yet: `/opsbot setup STORE` "
                        "binds it (and creates the store).")
        else:
            error = "no store: name one with --store"
            line = Text("Which store? Name one (`opsbot ask --store NAME`) or ask in a bound "
                        "channel.")
        return self.result("opsbot_unbound.json.j2", {"error": error}, ephemeral=True,
                           ok=False, lines=in_every_language(line))


def usage_entry(command: Command, lang: str) -> dict[str, Any]:
    """A command's usage as the help and the usage replies show it, in `lang`."""
    # The registry's words are opsbot's own (worded: their `code` stays code), not data.
    return {"name": command.name, "summary": gettext(lang, command.summary),
            "usage": [{"syntax": s, "what": worded(Text(w), lang)} for s, w in command.usage],
            "examples": [worded(Text(e), lang) for e in command.examples],
            "takes_period": command.takes_period}


def in_every_language(text: Text) -> list[Markup]:
    """`text` worded in each language, for a message whose reader's language is unknown."""
    return [worded(text, lang) for lang in LANGUAGES]


def normalize_text(text: str) -> str:
    """Full-width spaces, colons and letters (an IME's `昨天　未回复`, `country：US`) read
    as their ASCII forms; Slack's `&`, `<`, `>` escapes undone (filters compare raw values)."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return unicodedata.normalize("NFKC", text)


def words(text: str) -> list[str]:
    text = text.translate(_QUOTES)
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        return text.split()


@dataclass(frozen=True)
class Said:
    """What a command's words say: the one mode asked for (a list, a view, a class), the
    `key:value` filters by their canonical key, and the other words, in order."""

    mode: str | None
    filters: dict[str, str]
    rest: list[str]


def read_words(said: list[str], *, modes: Mapping[str, str], clash: Text,
               filters: Mapping[str, str], examples: Mapping[str, str],
               unknown_filter: Callable[[str], Text] | None = None) -> Said:
    """The one parser of the commands' words. A word of `modes` (any case) picks the mode
    (two different ones: UsageError `clash`); `key:value` with a key of `filters` is a filter,
    given once and with a value (`examples`: a filter's example, for the error). Another
    `key:value` is an error worded by `unknown_filter`, or, without it, one of the other
    words (a keyword may hold a colon)."""
    mode: str | None = None
    found: dict[str, str] = {}
    rest: list[str] = []
    for word in said:
        low = word.lower()
        typed, colon, value = word.partition(":")
        key = filters.get(typed.strip().lower()) if colon else None
        if low in modes:
            if mode and mode != modes[low]:
                raise UsageError(clash)
            mode = modes[low]
        elif key is not None:
            if not value.strip():
                raise UsageError(Text("`%(key)s:` needs a value, e.g. `%(example)s`",
                                      key=typed.strip(), example=examples[key]))
            if key in found:
                raise UsageError(Text("`%(key)s:` is given twice: give each filter once",
                                      key=key))
            found[key] = value.strip()
        elif colon and unknown_filter is not None:
            raise UsageError(unknown_filter(typed.strip()))
        else:
            rest.append(word)
    return Said(mode, found, rest)
