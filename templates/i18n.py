"""Message catalogs: every word a person reads comes from gettext, by the store's language.

English is the source language (the msgids); `locale/zh/LC_MESSAGES/messages.po` holds the
Chinese. The `.po` file is compiled in memory on first use (Babel), so there is no build step
and no binary file in the repository. `make messages` extracts new msgids from the Python code
and the templates and merges them into the catalog for translators.

- Templates use `{% trans %}…{% endtrans %}`, `_()` and `ngettext()` (jinja2.ext.i18n).
- Python code that must hand a sentence to a person (a usage error, a period error) wraps it
  in `Text(msgid, **params)`: the words stay data until the edge renders them in the asker's
  language. `N_()` marks a msgid held in a table (a command's help) for extraction.
"""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")
SOURCE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Mark a msgid for extraction; it is translated where it is shown."""
    return msgid


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang` (English and unknown languages: the msgids as they are).
    Babel is loaded here, on first use: a process that says nothing costs nothing."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    path = catalog_path(lang)
    if lang == SOURCE or not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    mo = BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def gettext(lang: str, msgid: str, /, **params: Any) -> str:
    text = translations(lang).gettext(msgid)
    return text % params if params else text


def ngettext(lang: str, singular: str, plural: str, n: int, /, **params: Any) -> str:
    text = translations(lang).ngettext(singular, plural, n)
    return text % {"num": n, **params}


@dataclass(frozen=True)
class Text:
    """A sentence for a person, not yet in a language: a msgid and its parameters.

    Parameters may be Text themselves (a word inside a sentence) and are rendered first."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def __init__(self, msgid: str, /, **params: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", params)

    def render(self, lang: str) -> str:
        params = {k: v.render(lang) if isinstance(v, Text) else v
                  for k, v in self.params.items()}
        return gettext(lang, self.msgid, **params)

    def __str__(self) -> str:  # logs and English-only callers
        return self.render(SOURCE)


def say(value: Text | str, lang: str) -> str:
    """A message in `lang`, whether it came as Text or as a plain (already worded) string."""
    return value.render(lang) if isinstance(value, Text) else value
