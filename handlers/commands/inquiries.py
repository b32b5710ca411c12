"""`/inquiries [period] [unreplied|spam] [country:XX] [owner:NAME] [product:ID]`: inquiry figures
of a period, or the lists behind them; `/inquiries help` shows how.

Without a period the figures are today's, and both lists (`unreplied`, `spam`) cover
yesterday and today: one default for the two, said in the help. Each filter is given once
(a second `country:` is an error, not a silent replacement); an owner is matched by a unique
prefix of the name or of one of its words (bot.metrics.inquiries.resolve_filters)."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

from bot.metrics import inquiries
from bot.periods import PeriodError, local_today, parse_period
from bot.storage import read
from handlers.commands.call import Call, Command, CommandResult, UsageError, read_words, words
from templates.i18n import N_, Text

LIST_MODES = {"unreplied": "unreplied", "未回复": "unreplied", "spam": "spam", "垃圾": "spam",
              "垃圾询盘": "spam"}
FILTER_KEYS = {"country": "country", "owner": "owner", "product": "product",
               "国家": "country", "国家/地区": "country", "业务员": "owner", "产品": "product",
               "产品id": "product"}
FILTER_EXAMPLES = {"country": "country:US", "owner": "owner:Lily", "product": "product:1600123"}
HELP_WORDS = ("help", "帮助", "?")
LISTS_DEFAULT = "2d"  # yesterday and today, for `unreplied` and `spam` alike


def run(call: Call, text: str) -> CommandResult:
    said = words(text)
    if _asks_help(said):
        return call.help()
    mode, asked, period_words = _read(said)
    store = call.store
    if store is None:
        return call.unbound()
    today = local_today(call.now, store.tz)
    try:
        period = parse_period(" ".join(period_words), today,
                              default=LISTS_DEFAULT if mode else "today")
    except PeriodError as exc:
        raise UsageError(_near_mode(period_words) or exc.text) from None
    with read(call.engine) as conn:
        try:
            filters = inquiries.resolve_filters(conn, store, asked)
        except inquiries.FilterError as exc:
            raise UsageError(exc.text) from None
        data: dict[str, Any]
        if mode == "unreplied":
            data = inquiries.unreplied(conn, store, call.now, filters, start=period.start,
                                       end=period.end, name=period.name)
        elif mode == "spam":
            data = inquiries.spam(conn, store, period.start, period.end, call.now, filters,
                                  name=period.name)
        else:
            data = inquiries.summarize(conn, store, period.start, period.end, filters,
                                       now=call.now, name=period.name)
    data["asked"] = asked.to_json()  # the filters as typed; `filters` as matched
    if mode is None:
        data["list_command"] = command_line(period.label, "unreplied", filters)
    elif mode == "unreplied" and data.get("older"):
        since = date.fromisoformat(data["older_since"])
        data["older_command"] = command_line(f"{(today - since).days + 1}d", "unreplied",
                                             filters)
    template = "inquiries_list.json.j2" if mode else "inquiries.json.j2"
    return call.result(template, data, ephemeral=False)


def _asks_help(said: list[str]) -> bool:
    return any(w.lower() in HELP_WORDS for w in said)


def _read(said: list[str]) -> tuple[str | None, inquiries.Filters, list[str]]:
    """The list asked for (or None), the filters as typed and the words left for a period."""
    found = read_words(said, modes=LIST_MODES, clash=Text("choose one of `unreplied` or `spam`"),
                       filters=FILTER_KEYS, examples=FILTER_EXAMPLES,
                       unknown_filter=_unknown_filter)
    return found.mode, inquiries.Filters(**found.filters), found.rest


def _unknown_filter(typed: str) -> Text:
    close = difflib.get_close_matches(typed.lower(), FILTER_KEYS, n=1, cutoff=0.6)
    if close:
        return Text("unknown filter `%(key)s:`: did you mean `%(suggestion)s:`?", key=typed,
                    suggestion=FILTER_KEYS[close[0]])
    return Text("unknown filter `%(key)s:`: use country:XX, owner:NAME, product:ID", key=typed)


def _near_mode(period_words: list[str]) -> Text | None:
    """A word that is no period but nearly `unreplied` or `spam` (`unreplid`): say so."""
    for word in period_words:
        close = difflib.get_close_matches(word.lower(), LIST_MODES, n=1, cutoff=0.75)
        if close:
            return Text("unknown word `%(word)s`: did you mean `%(suggestion)s`?", word=word,
                        suggestion=close[0])
    return None


def command_line(period: str, mode: str, filters: inquiries.Filters) -> str:
    """The `/inquiries` line that lists what a figure counted: its period and all its
    filters (a value with a space quoted, as `words` reads it back)."""
    parts = ["/inquiries", period, mode]
    for key, value in filters.to_json().items():
        if value:
            if any(c.isspace() or c in "\"'" for c in value):
                value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(f"{key}:{value}")
    return " ".join(parts)


COMMAND = Command(
    name="/inquiries",
    run=run,
    summary=N_("Inquiries of this channel's store: totals, replies, countries, products"),
    usage=(
        ("/inquiries [period] [country:XX] [owner:NAME] [product:ID]",
         N_("inquiries over a period (today if none is given): total, spam, valid, replied, "
            "unreplied, countries, products. Each filter once; an owner by a unique part of "
            "the name (owner:lily finds Lily Chen)")),
        ("/inquiries [period] unreplied|spam",
         N_("the unanswered inquiries, oldest first, or the spam suspects; without a period "
            "both cover yesterday and today")),
        ("/inquiries help", N_("this help")),
    ),
    usage_hint="[today|yesterday|this week|last week|month|last month|7d|30d|2026-11-03"
               "|2026-11-01~2026-11-07] [unreplied|spam] [country:US] [owner:NAME]"
               " [product:ID] | help",
    examples=("/inquiries yesterday", "/inquiries this week country:US",
              "/inquiries unreplied owner:Lily", "/inquiries 2026-11-01~2026-11-07"),
    takes_period=True,
    needs_store=lambda said: not _asks_help(said),
)
