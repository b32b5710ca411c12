"""The weekly review: posted on `weekly_day` (default Monday) at `checklist_time`, for the
previous ISO week (Monday to Sunday) in the store's timezone (bot/checklists/review.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from bot.checklists.kind import ChecklistKind
from bot.checklists.review import build_review, item_keys
from bot.stores import WEEKDAYS, Store
from templates.i18n import N_

WEEKLY = "weekly"


def posts_on(day: date, settings: Mapping[str, Any]) -> bool:
    return day.weekday() == WEEKDAYS.index(settings.get("weekly_day") or "monday")


def enabled(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("weekly_checklist", True))


def build(conn: Connection, store: Store, now: datetime, day: date | None) -> dict[str, Any]:
    return build_review(conn, store, now, day, WEEKLY)


KIND = ChecklistKind(name=WEEKLY, title=N_("Weekly review"), template="checklist_review.json.j2",
                     items=item_keys(WEEKLY), build=build, posts_on=posts_on, enabled=enabled,
                     chart=WEEKLY, keyed_items=True)
