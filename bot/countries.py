"""Countries as exports write them: an ISO code (`US`), or a name in English or Chinese
(`United States`, `美国`), whichever the export's language gave.

The names are Babel's (the CLDR locale data), for every country; ALIASES holds only the
everyday spellings CLDR does not give (USA, UK, UAE, 阿联酋). So a `country:germany` filter
finds rows saying `DE` or `德国`, and a message names each country in the store's language
whatever the export wrote.
"""

from __future__ import annotations

from functools import cache

from babel import Locale

LANGUAGES = ("en", "zh")  # the export languages whose names are recognised

ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("usa", "united states of america", "america"),
    "GB": ("uk", "great britain", "england", "britain"),
    "DE": ("deutschland",),
    "NL": ("holland",),
    "RU": ("russian federation",),
    "TR": ("turkey",),
    "KR": ("korea", "republic of korea"),
    "AE": ("uae", "阿联酋"),
    "SA": ("沙特",),
    "VN": ("viet nam",),
    "ID": ("印尼",),
    "HK": ("hong kong", "香港"),
    "TW": ("台湾",),
    "MO": ("macau", "macao", "澳门"),
}


# CLDR's two-letter codes that are no country: the EU, the UN, unknown and pseudo regions.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})

# The traffic report's bucket of every country it does not list (其他, Other): no country; the
# templates name it in each language.
_OTHER_SPELLINGS = frozenset({"其他", "其它", "其他国家", "其他国家/地区", "other", "others",
                              "other countries"})


def is_other(value: object) -> bool:
    return isinstance(value, str) and " ".join(value.split()).casefold() in _OTHER_SPELLINGS


@cache
def _territories(lang: str) -> dict[str, str]:
    """Country code -> name in `lang` (regions such as `001`, the world, left out)."""
    return {code: name for code, name in Locale.parse(lang).territories.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


@cache
def _codes() -> dict[str, str]:
    """Every spelling we recognise, lower case -> its country code."""
    codes: dict[str, str] = {}
    for lang in LANGUAGES:
        for code, name in _territories(lang).items():
            codes.setdefault(name.casefold(), code)
    for code, aliases in ALIASES.items():
        for alias in aliases:
            codes.setdefault(alias, code)
    for code in _territories(LANGUAGES[0]):
        codes[code.casefold()] = code
    return codes


def code_of(value: object) -> str | None:
    """The country code of a cell (`US`, `united states`, `美国` -> `US`), or None when it
    names no country we know."""
    if not isinstance(value, str):
        return None
    return _codes().get(" ".join(value.split()).casefold())


def spellings(wanted: str) -> list[str]:
    """The lower-case spellings a `country:` filter matches: what was typed, and when it names
    a country, its code and its names in English and Chinese and the everyday aliases."""
    typed = " ".join(wanted.split()).casefold()
    code = code_of(typed)
    if code is None:
        return [typed]
    names = {typed, code.casefold(), *ALIASES.get(code, ())}
    names |= {_territories(lang)[code].casefold() for lang in LANGUAGES
              if code in _territories(lang)}
    # As SQL's lower() leaves them too: SQLite lowers ASCII letters only (Åland).
    names |= {"".join(c.lower() if c.isascii() else c for c in _territories(lang)[code])
              for lang in LANGUAGES if code in _territories(lang)}
    return sorted(names)


def country_name(value: object, lang: str) -> str | None:
    """The name of the country a cell names, in `lang` (`US` -> 美国 for zh); None when the
    cell names no country we know (it is then shown as written)."""
    code = code_of(value)
    if code is None:
        return None
    names = _territories(lang if lang in LANGUAGES else LANGUAGES[0])
    return names.get(code)
