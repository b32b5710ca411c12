"""`/inquiries [period] [unreplied|spam] [country:XX] [owner:NAME] [product:ID]`: inquiry figures
of a period, or the lists behind them."""

from __future__ import annotations

from typing import Any

from bot.metrics import inquiries
from bot.periods import PeriodError, local_today, parse_period
from bot.storage import read
from handlers.commands.call import Call, Command, CommandResult, UsageError, words
from templates.i18n import N_

LIST_MODES = {"unreplied": "unreplied", "未回复": "unreplied", "spam": "spam", "垃圾": "spam"}
FILTER_KEYS = ("country", "owner", "product")


def run(call: Call, text: str) -> CommandResult:
    period_words: list[str] = []
    mode: str | None = None
    found: dict[str, str] = {}
    for word in words(text):
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



COMMAND = Command(
    name="/inquiries",
    run=run,
    summary=N_("Inquiries of this channel's store: totals, replies, countries, products"),
    usage=(
        ("/inquiries [period] [country:XX] [owner:NAME] [product:ID]",
         N_("inquiries over a period: total, spam, valid, replied, unreplied, countries, "
            "products")),
        ("/inquiries [period] unreplied|spam",
         N_("the unanswered inquiries, oldest first, or the spam suspects")),
    ),
    usage_hint="[today|yesterday|week|last week|month|last 14d|2026-11-03|2026-11-01..2026-11-07]"
               " [unreplied|spam] [country:US] [owner:NAME] [product:ID]",
    examples=("/inquiries yesterday", "/inquiries week country:US",
              "/inquiries unreplied owner:Tom"),
    takes_period=True,
)
