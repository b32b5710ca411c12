"""What a checklist kind declares (bot/checklists/registry.py lists the kinds). Its own module:
each kind's module imports it, and the registry imports the kinds' modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from bot.stores import Store


def _always(settings: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class ChecklistKind:
    name: str  # the checklists table's `kind`
    title: str  # N_() msgid
    template: str  # the message (templates/)
    items: tuple[str, ...]  # the item keys a checkbox may tick
    # (conn, store, now, local posting day or None for today) -> the checklist's data
    build: Callable[[Connection, Store, datetime, date | None], dict[str, Any]]
    # Whether a local day is a posting day, given the store's settings (bot/schedule.py).
    posts_on: Callable[[date, Mapping[str, Any]], bool]
    # Whether the store wants this kind at all (a per-store switch).
    enabled: Callable[[Mapping[str, Any]], bool] = _always
    # The trend chart uploaded into the thread of each post (bot.metrics.trend's kind), if any.
    chart: str | None = None
    # `--json` gives the items as an object keyed by item key (the reviews' contract, issue 11)
    # rather than the daily checklist's list.
    keyed_items: bool = False
