"""Slack messages from jinja2 templates: `render("inquiries.json.j2", **data) -> message`.

A template writes a Block Kit message as JSON. Data is escaped once, on the way in: every
string in the context becomes mrkdwn-safe (`&`, `<`, `>` escaped, so a buyer named
`<!channel>` pings nobody) and JSON-safe, wrapped as Markup so autoescaping leaves it alone.
Text written in the template itself is trusted. `fit()` then holds the message to Slack's
limits, whatever the data's size.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from bot.countries import country_name, is_other
from bot.text import CLIP, clip
from templates.i18n import LANGUAGES, N_, SOURCE, Text, translations

if TYPE_CHECKING:
    from jinja2 import Environment

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_TEXT = 3000  # the fallback `text`; Slack truncates at 40,000 but notifications far sooner
MAX_CONTEXT_ELEMENTS = 10


def mrkdwn_escape(text: str) -> str:
    """Slack's own escaping: exactly these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Characters a data string may not carry into a message: bidirectional overrides and
# isolates (they reorder what a reader sees), zero-width characters (they hide text), and
# control characters other than tab and newline.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
                        "\x00-\x08\x0b-\x1f\x7f-\x9f]")
# mrkdwn markers in data become look-alikes, so a buyer named `*URGENT*` is not bold and a
# keyword with backticks does not open a code span. `_` only where it could start or end
# italics (at a word's edge): `from_traffic_report` and `SKU_12` stay as they are.
_MARKERS = str.maketrans({"*": "∗", "~": "∼", "`": "ˋ"})
_EDGE_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")
# Bare links Slack would turn clickable: a scheme, `www.`, or a name under a common TLD.
_LINK = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*"
                   r"\.(?:com|net|org|io|cn|co|info|biz|xyz|top|ru|me|app|link|ly)\b")


def _unlink(match: re.Match[str]) -> str:
    return match.group(0).replace("://", ":∕∕").replace(".", "․")


def neutralize(text: str) -> str:
    """A data string as plain words: no hidden characters, no formatting, no links, no
    mentions (mrkdwn_escape)."""
    text = _INVISIBLE.sub("", text)
    text = _EDGE_UNDERSCORE.sub("＿", text.translate(_MARKERS))
    return mrkdwn_escape(_LINK.sub(_unlink, text))


def _json_safe(text: str) -> Markup:
    return Markup(json.dumps(text, ensure_ascii=False)[1:-1])


def _safe(value: Any) -> Any:
    """Deep-copy the context with every string neutralized for mrkdwn and escaped for a JSON
    string."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return _json_safe(neutralize(value))
    if isinstance(value, Mapping):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return Markup(value.isoformat())
    return value


def worded(text: Text | str, lang: str) -> Markup:
    """A sentence written by opsbot (a Text: trusted words, data parameters) for a template:
    its parameters are neutralized like any data, its own formatting (`code`, *bold*) kept."""
    if isinstance(text, str):
        return _safe(text)
    params = {k: v.render(lang) if isinstance(v, Text) else
              (neutralize(v) if isinstance(v, str) else v) for k, v in text.params.items()}
    return _json_safe(Text(text.msgid, **params).render(lang))


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


def half_up(value: float | int | Decimal, digits: int = 0, scale: int = 0) -> Decimal:
    """`value` × 10**scale rounded to `digits` decimals, halves away from zero, as people
    round: 12.5 -> 13, 2.675 -> 2.68 (Python's own formatting rounds half to even on the
    binary value, so 12.5 would show as 12, next to figures that add up to 12.5). The value
    is taken as it prints (repr), not as its binary expansion; -0 shows as 0."""
    if isinstance(value, Decimal):
        exact = value
    elif isinstance(value, int):
        exact = Decimal(int(value))
    else:
        exact = Decimal(repr(float(value)))  # float(): numpy floats repr as np.float64(...)
    exact = exact.scaleb(scale)
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _finite(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if not _finite(value):
        return f"{value:,.{digits}f}"
    return f"{half_up(value, digits):,.{digits}f}"


def _percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if not _finite(value):
        return f"{value * 100:.{digits}f}%"
    return f"{half_up(value, digits, scale=2):.{digits}f}%"


def _signed_percent(value: float | None) -> str:
    if value is None:
        return "–"
    if not _finite(value):
        return f"{value * 100:+.0f}%"
    return f"{half_up(value, 0, scale=2):+.0f}%"


def _significant(value: float, digits: int = 2) -> Decimal:
    """`value` (>= 1) rounded half up to `digits` significant figures: 1818.2 -> 1800."""
    exact = Decimal(repr(float(value)))
    return exact.quantize(Decimal(1).scaleb(max(exact.adjusted() + 1 - digits, 0)),
                          rounding=ROUND_HALF_UP)


YEAR_DAYS = 365.25
ONCE_IN_YEARS = 10  # from 10 years on, "once in N years" reads better than days
NEVER_YEARS = 1_000_000  # rarer than this is "practically never"


def _once_in(p: float | None) -> dict[str, Any]:
    """How rarely a daily probability `p` comes up by chance, for a template to word:
    {"unit": "days"|"years", "n": 1800, "shown": "1,800"} (1/p days to two significant
    figures; in years from 10 years on), {"unit": "never"} for 0 or beyond a million years,
    {"unit": None} when unknown. A detector's window ends on every day, so a window's
    probability is also its rate per day."""
    if p is None or not _finite(p) or p < 0:
        return {"unit": None}
    days = 1 / p if p > 0 else math.inf
    if days >= NEVER_YEARS * YEAR_DAYS:
        return {"unit": "never"}
    unit, n = ("years", days / YEAR_DAYS) if days >= ONCE_IN_YEARS * YEAR_DAYS else ("days", days)
    rounded = _significant(max(n, 1))
    return {"unit": unit, "n": int(rounded), "shown": f"{rounded:,.0f}"}


def _clip(value: Any, limit: int = CLIP) -> Markup:
    """Data (escaped by `_safe`) shortened to `limit` characters as the reader sees them
    (bot.text's one clip length unless a template has a reason), never cutting an escape in
    half: for untrusted text of any length in a line."""
    raw = json.loads(f'"{value}"', strict=False)
    raw = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _safe(_cut(raw, limit))


def _plain(value: Any) -> Markup:
    """For plain_text objects (headers, buttons), which may show entities literally: angle
    brackets become look-alikes that no client can read as a mention."""
    text = str(value).replace("&lt;", "‹").replace("&gt;", "›").replace("&amp;", "&")
    return Markup(text)


# A day as people of the language write it, from Babel's locale data (never the process
# locale): "Wed 11 Nov 2026"; Chinese messages keep ISO days, "2026-11-11", as the back
# office writes them. A weekday alone: "Thursday", "周四".
DAY_FORMATS = {"en": "EEE d MMM y", "zh": "y-MM-dd"}
WEEKDAY_FORMATS = {"en": "EEEE", "zh": "EEE"}


def _as_day(value: Any) -> date | None:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return None


def _day(value: Any, lang: str) -> str:
    """An ISO date (or a date) in `lang`'s words; anything else as it is."""
    day = _as_day(value)
    if day is None:
        return str(value)
    from babel.dates import format_date

    return format_date(day, DAY_FORMATS.get(lang, DAY_FORMATS[SOURCE]), locale=lang)


# The traffic report's bucket of the countries it does not list (bot/countries.py).
_OTHER_COUNTRIES = N_("other countries")


def _country(value: Any, lang: str) -> Any:
    """A country as `lang` names it (`US`, `United States` -> 美国 in zh), from Babel's data;
    a value that names no country we know is shown as written. `value` comes escaped."""
    cell = html.unescape(str(value)) if value else ""
    if is_other(cell):
        return translations(lang).gettext(_OTHER_COUNTRIES)
    name = country_name(cell, lang) if cell else None
    return _safe(name) if name else value


def _weekday(value: Any, lang: str) -> str:
    """The weekday of an ISO date (or a date) in `lang`'s words; anything else as it is."""
    day = _as_day(value)
    if day is None:
        return str(value)
    from babel.dates import format_date

    return format_date(day, WEEKDAY_FORMATS.get(lang, WEEKDAY_FORMATS[SOURCE]), locale=lang)


@cache
def environment(lang: str) -> Environment:
    """One environment per language: `{% trans %}`, `_()` and `ngettext()` speak `lang`
    (English for a language without a catalog). Made on first use: a process that renders
    nothing (`opsbot ingest`) does not load jinja2 and the catalogs."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    if lang not in LANGUAGES:
        lang = SOURCE
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=True,  # anything that is not pre-escaped Markup is escaped again
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(plain=_plain, plural=_plural, number=_number, percent=_percent,
                       signed_percent=_signed_percent, once_in=_once_in, clip=_clip,
                       day=lambda value: _day(value, lang),
                       country=lambda value: _country(value, lang),
                       weekday=lambda value: _weekday(value, lang))
    return env


def render(template: str, /, **context: Any) -> dict[str, Any]:
    """Render a message template into a Slack payload (`text` and `blocks`) within limits,
    in the language `lang` of the context (English when not given)."""
    env = environment(context.get("lang") or SOURCE)
    output = env.get_template(template).render(**{k: _safe(v) for k, v in context.items()})
    try:
        # strict=False: templates may break long text over lines inside a JSON string.
        message = json.loads(output, strict=False)
    except json.JSONDecodeError as exc:  # a template bug, not a data problem
        raise ValueError(f"template {template} produced invalid JSON: {exc}\n{output}") from exc
    return fit(message)


def _json_safe(value: Any) -> Any:
    """As _safe, for JSON only: words for a picture (templates/chart.py), where mrkdwn escapes
    would show as `&amp;`."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(json.dumps(value, ensure_ascii=False)[1:-1])
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _safe(value)


def render_words(template: str, /, **context: Any) -> dict[str, Any]:
    """The words a template gives for something that is not a Slack message (a chart's title,
    labels and notes), as a dict, in the language `lang` of the context; data strings are
    escaped for JSON only."""
    env = environment(context.get("lang") or SOURCE)
    output = env.get_template(template).render(**{k: _json_safe(v) for k, v in context.items()})
    try:
        return dict(json.loads(output, strict=False))
    except json.JSONDecodeError as exc:  # a template bug, not a data problem
        raise ValueError(f"template {template} produced invalid JSON: {exc}\n{output}") from exc


def _cut(text: str, limit: int) -> str:
    return clip(text, limit) or ""


def fit(message: dict[str, Any]) -> dict[str, Any]:
    """Hold a message to Slack's limits: a last line of defence behind the templates' own
    "and N more" cuts, so that an oversized export can never make a post fail."""
    blocks = list(message.get("blocks") or [])
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        more = {"type": "mrkdwn", "text": f"…and {hidden} more blocks not shown"}
        blocks = [*blocks[: MAX_BLOCKS - 1], {"type": "context", "elements": [more]}]
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and "text" in text:
            limit = MAX_HEADER if block.get("type") == "header" else MAX_SECTION
            text["text"] = _cut(text["text"], limit)
        if "fields" in block:
            block["fields"] = block["fields"][:MAX_FIELDS]
            for f in block["fields"]:
                f["text"] = _cut(f["text"], MAX_FIELD)
        if block.get("type") == "context":
            block["elements"] = block["elements"][:MAX_CONTEXT_ELEMENTS]
    fitted = {**message, "blocks": blocks} if blocks else dict(message)
    fitted["text"] = _cut(str(message.get("text") or "opsbot"), MAX_TEXT)
    return fitted
