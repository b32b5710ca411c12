"""The currency of each row's money values, at ingestion.

A money cell may name its currency (`US $20.00`, `$5`, `USD 12`, `¥1,234.50`, `12 元`): that
mark wins over the row's currency column (`币种` / `Currency`), which wins over the kind's
default (ad spend is CNY, order amounts USD; `Field.default` in bot/ingest/kinds.py). Rows of
one column, and columns of one row, may differ.

Stored: beside each money field a column of its own (`currency_column`: spend ->
spend_currency) holding the value's currency, NULL for the kind's default - so the common
report, all in its kind's currency, stores no more text than before, and a value's currency
is written with the value, whatever a later file carries. (The kind's `currency` column keeps
what the file stated, else the default.) Read it with bot.metrics.money.currency_of.

parse_money (bot/ingest/parsing.py) strips these marks from the value; this module reads them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.ingest.kinds import ReportKind, Type, currency_column
from bot.ingest.parsing import MISSING, BadValue, clean

CURRENCY_FIELD = "currency"

# A currency column's words and a money cell's marks -> the code stored.
_CODES = {
    "usd": "USD", "us$": "USD", "$": "USD", "美元": "USD", "美金": "USD",
    "cny": "CNY", "rmb": "CNY", "¥": "CNY", "元": "CNY", "人民币": "CNY",
    "eur": "EUR", "€": "EUR", "欧元": "EUR", "港币": "HKD", "港元": "HKD", "英镑": "GBP",
    "日元": "JPY",
}
_ISO_CODE = re.compile(r"[a-z]{3}")
# After NFKC (clean): ￥ -> ¥, ＄ -> $. A sign may stand before the mark (-¥3.00).
_MARK = re.compile(r"^[+-]?\s*(us\s*\$|usd|cny|rmb|eur|\$|¥|€)|(usd|cny|rmb|eur|美元|元)$", re.I)
# Characters without which a column holds no mark: most columns are decided by this alone;
# and those of marks other than the yen sign.
_MARK_HINT = re.compile(r"[$¥￥€元＄a-zA-Z]")
_OTHER_HINT = re.compile(r"[$€元＄a-zA-Z]")


def currency_code(text: object) -> str | None:
    """A currency column's value as a code: "USD", "美元", "US$" -> "USD"; another three-letter
    code as it is (upper case); None when blank. BadValue for anything else."""
    word = clean(text)
    if not word or word.lower() in MISSING:
        return None
    folded = "".join(word.split()).lower()
    if folded in _CODES:
        return _CODES[folded]
    if _ISO_CODE.fullmatch(folded):
        return folded.upper()
    raise BadValue(f"not a currency: {word!r} (a code like USD or CNY)")


def mark_currency(raw: object) -> str | None:
    """The currency a money cell names by its own mark, None when it names none."""
    if not isinstance(raw, str):
        return None  # numbers from a spreadsheet carry no mark
    match = _MARK.search(clean(raw))
    if match is None:
        return None
    return _CODES["".join((match.group(1) or match.group(2)).split()).lower()]


def _column_marks(cells: Sequence[object]) -> list[str | None] | str | None:
    """Each cell's mark; None when no cell has one; "CNY" when the only marks are yen signs
    (the back office's ad reports: `¥1,234.50`), which a cell carries if it has one."""
    try:
        text = "\n".join(cells)  # type: ignore[arg-type]
    except TypeError:  # numbers or dates from a spreadsheet, which carry no mark
        text = "\n".join(c for c in cells if isinstance(c, str))
    if not _MARK_HINT.search(text):
        return None
    if not _OTHER_HINT.search(text):
        return "CNY"
    marks = {cell: mark_currency(cell) for cell in dict.fromkeys(cells) if isinstance(cell, str)}
    if not any(marks.values()):
        return None
    return [marks.get(cell) if isinstance(cell, str) else None for cell in cells]


def _has_yen(cell: object) -> bool:
    return isinstance(cell, str) and ("¥" in cell or "￥" in cell)


def money_columns(kind: ReportKind, columns: dict[str, int]) -> list[str]:
    """The money fields a file carries."""
    return [name for name in columns if kind.by_name[name].type is Type.MONEY]


def value_currencies(
    kind: ReportKind,
    money_cells: dict[str, Sequence[object]],
    parsed: dict[str, Sequence[object]],
    n: int,
    errors: dict[int, list[str]],
    label: str,
) -> dict[str, list[str | None]]:
    """Each money value's currency, per stored column (currency_column(field) -> codes, None
    for the kind's default; see the module doc), from `money_cells` (money field -> the raw
    cells of its column's `n` rows); and `parsed`'s currency column (as stated, else the
    default) as codes. A row whose currency column (headed `label`) names no currency gets an
    entry in `errors` (row index -> problems)."""
    default = kind.by_name[CURRENCY_FIELD].default
    stated_raw = parsed.get(CURRENCY_FIELD)
    if stated_raw is None:
        stated: list[str | None] = [default] * n
    else:
        codes: dict[object, str | None] = {}
        for value in dict.fromkeys(stated_raw):
            try:
                codes[value] = currency_code(value) or default
            except BadValue as exc:  # the row is refused with the reason: its money is unsure
                codes[value], problem = default, f"{label}: {exc}"
                for i in (i for i, v in enumerate(stated_raw) if v == value):
                    errors.setdefault(i, []).append(problem)
        stated = list(map(codes.__getitem__, stated_raw))
        parsed[CURRENCY_FIELD] = stated
    uniform = stated[0] if n and stated.count(stated[0]) == n else None
    out: dict[str, list[str | None]] = {}
    for name, cells in money_cells.items():
        marks = _column_marks(cells)
        if marks == "CNY" and uniform == "CNY":
            marks = None  # yen signs in a CNY report: every value is CNY, marked or not
        if marks is None and uniform is not None:  # the common case: one currency
            currencies: list[str | None] = [None if uniform == default else uniform] * n
        elif marks is None:
            currencies = [None if c == default else c for c in stated]
        elif marks == "CNY":
            currencies = [None if (code := "CNY" if _has_yen(cell) else c) == default else code
                          for cell, c in zip(cells, stated, strict=True)]
        else:
            currencies = [None if (code := m or c) == default else code
                          for m, c in zip(marks, stated, strict=True)]
        out[currency_column(name)] = currencies
    return out
