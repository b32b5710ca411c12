"""Money in more than one currency: added up only within one currency.

Every stored money value keeps its currency (bot/ingest/currency.py). A sum over values in
several currencies is kept as amounts per currency ({"CNY": 300.0, "USD": 20.0}) and shown
apart, unless the store sets a rate between them (`usd_cny_rate`: CNY per US dollar): then it
is converted, and the rates used go with the figure so that the message names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.ingest.kinds import KIND_BY_NAME, currency_column
from bot.stores import Store

Amounts = dict[str, float]

# (from, to) -> the store setting giving how many `to` one `from` is worth.
RATE_SETTINGS = {("USD", "CNY"): "usd_cny_rate"}


def default_currency(kind: str) -> str:
    """The currency of a kind's money when nothing says otherwise (ad spend CNY, orders USD)."""
    return KIND_BY_NAME[kind].by_name["currency"].default or ""


def currency_of(row: Any, field: str, kind: str) -> str:
    """The currency of a stored fact's money `field` (bot/ingest/currency.py: NULL is the
    kind's default)."""
    return getattr(row, currency_column(field)) or default_currency(kind)


def add_up(values: Iterable[tuple[str | None, float | None]], default: str) -> Amounts:
    """Amounts per currency of (currency, value) pairs; a value without a currency is in
    `default` (the kind's), a missing value is left out."""
    out: Amounts = {}
    for currency, value in values:
        if value is not None:
            code = currency or default
            out[code] = out.get(code, 0.0) + float(value)
    return out


def rate(store: Store, source: str, target: str) -> tuple[float, dict[str, Any] | None] | None:
    """(how many `target` one `source` is worth, the rate as the store states it: {"from",
    "to", "rate", "setting"}, None for the same currency); None when the store sets none."""
    if source == target:
        return 1.0, None
    for (a, b), setting in RATE_SETTINGS.items():
        value = store.setting(setting)
        if value and {a, b} == {source, target}:
            stated = {"from": a, "to": b, "rate": value, "setting": setting}
            return (float(value) if a == source else 1.0 / float(value)), stated
    return None


def convert(store: Store, amounts: Amounts, target: str
            ) -> tuple[float | None, list[dict[str, Any]]]:
    """The sum of `amounts` in `target` and the rates used (rate()'s stated form); (None, [])
    when some currency has no rate to `target`."""
    total, used = 0.0, []
    for currency, amount in amounts.items():
        found = rate(store, currency, target)
        if found is None:
            return None, []
        factor, stated = found
        total += amount * factor
        if stated is not None and stated not in used:
            used.append(stated)
    return total, used


def one_currency(store: Store, amounts: Amounts, preferred: str
                 ) -> tuple[float | None, str | None, list[dict[str, Any]]]:
    """(total, its currency, rates used) of `amounts`: in their one currency; over several,
    in `preferred` when the store's rates convert them all, else (None, None, []) - they
    are shown apart. No amounts: (None, None, [])."""
    if not amounts:
        return None, None, []
    if len(amounts) == 1:
        (currency, total), = amounts.items()
        return total, currency, []
    total, used = convert(store, amounts, preferred)
    if total is None:
        return None, None, []
    return total, preferred, used


def rounded(amounts: Amounts, digits: int = 2) -> Amounts:
    """Amounts rounded for JSON, in a stable order (by currency)."""
    return {c: round(v, digits) for c, v in sorted(amounts.items())}
