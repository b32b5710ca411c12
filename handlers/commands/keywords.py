"""`/keywords [period] [top|rising|falling|wasted|candidates|WORD]`: the weekly keyword review,
one of its lists, or one keyword's last weeks (bot/metrics/keywords.py)."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

from bot.metrics import keywords
from bot.periods import Period, PeriodError, local_today, parse_period
from bot.storage import read
from handlers.commands.call import Call, Command, CommandResult, UsageError, read_words, words
from templates import render
from templates.i18n import N_, Text

SHOWN = 10  # rows of a list in the message, then "…and N more"; --json holds every row
LISTS = ("top", "rising", "falling", "wasted", "candidates")

# The lists, in English and in the words Chinese operators use.
VIEWS = {
    "top": "top", "热门": "top", "热词": "top", "高流量": "top",
    "rising": "rising", "上升": "rising", "飙升": "rising", "新词": "rising",
    "falling": "falling", "下降": "falling", "下滑": "falling",
    "wasted": "wasted", "浪费": "wasted", "无效": "wasted", "无效词": "wasted",
    "candidates": "candidates", "候选": "candidates", "候选词": "candidates", "推荐": "candidates",
    # the whole review, as a Chinese operator names it
    "all": "all", "全部": "all", "关键词": "all", "关键词分析": "all",
}
# `word:TEXT` names a keyword even when it is also a list's or a period's word.
WORD_KEYS = dict.fromkeys(("word", "keyword", "词", "关键词"), "word")
WORD_EXAMPLE = {"word": 'word:"solar light"'}


def _split_period(rest: list[str], today: date) -> tuple[Period | None, list[str],
                                                           PeriodError | None]:
    """(the period the leading or trailing words name, the other words, why the words as a
    whole are no period)."""
    whole: PeriodError | None = None
    for k in range(len(rest), 0, -1):  # the longest leading period first: "last 14d"
        try:
            return parse_period(" ".join(rest[:k]), today), rest[k:], None
        except PeriodError as exc:
            whole = whole or exc
    for k in range(1, len(rest)):
        try:
            return parse_period(" ".join(rest[k:]), today), rest[:k], None
        except PeriodError:
            pass
    return None, rest, whole


def run(call: Call, text: str) -> CommandResult:
    found = read_words(words(text), modes=VIEWS, filters=WORD_KEYS, examples=WORD_EXAMPLE,
                       clash=Text("choose one list: top, rising, falling, wasted or candidates"))
    view, word, rest = found.mode, found.filters.get("word"), found.rest
    store = call.store
    if store is None:
        return call.unbound()
    today = local_today(call.now, store.tz)
    period, leftover, period_error = _split_period(rest, today) if rest else (None, [], None)
    if leftover:
        if word is not None:
            raise UsageError(Text("unknown words `%(words)s`", words=" ".join(leftover)))
        word = " ".join(leftover)
    if word is not None and view not in (None, "all"):
        raise UsageError(Text("ask for a list or for a keyword, not both"))
    with read(call.engine) as conn:
        if period is None:
            period = keywords.default_period(conn, store, today)
        if word is not None:
            data = keywords.keyword_history(conn, store, period, word, today)
            if data is None:
                if period_error is not None and leftover and leftover[0][:1].isdigit():
                    raise UsageError(str(period_error))
                typed = found.filters.get("word") is None  # not asked for as word:"…"
                near = difflib.get_close_matches(word, VIEWS, n=1, cutoff=0.75) if typed else []
                if near:  # a list's name mistyped, more likely than an unknown keyword
                    raise UsageError(Text("no keyword `%(word)s` in the keyword reports or the "
                                          "P4P reports: did you mean the list `%(suggestion)s`?",
                                          word=word, suggestion=near[0]))
                raise UsageError(Text("no keyword `%(word)s` in the keyword reports or the P4P "
                                      "reports", word=word))
            return _answer(call, data, "keyword")
        data = keywords.review(conn, store, period, today)
    return _answer(call, data, view or "all")


def _answer(call: Call, data: dict[str, Any], view: str) -> CommandResult:
    """The answer: all of `data` for --json; the message is rendered from the rows it shows
    (escaping hundreds of rows only to show ten would be most of the work)."""
    full = {name: data[name] for name in LISTS if data.get(name) is not None}
    shown = {**data, **{name: rows[:SHOWN] for name, rows in full.items()},
             "counts": {name: len(rows) for name, rows in full.items()}}
    message = render("keywords.json.j2", data=shown, view=view, limit=SHOWN, lang=call.lang)
    return CommandResult(call.command, call.text, True, data, message, ephemeral=False)


COMMAND = Command(
    name="/keywords",
    run=run,
    summary=N_("Keyword review: top, rising, falling and wasted words, P4P candidates"),
    usage=(
        ("/keywords [period]",
         N_("the keyword review: top words, rising, falling, wasted P4P spend, candidates "
            "for P4P (default: the latest week a keyword report covers)")),
        ("/keywords [period] top|rising|falling|wasted|candidates",
         N_("one of those lists")),
        ("/keywords [period] WORD",
         N_("one keyword: its last 8 report periods and its P4P spend, clicks, inquiries "
            "and position per week")),
    ),
    usage_hint="[last week|2026-11-01..2026-11-07] [top|rising|falling|wasted|candidates|WORD]",
    examples=("/keywords", "/keywords wasted", "/keywords last week rising",
              "/keywords solar street light", "/keywords 上周 浪费"),
    takes_period=True,
)
