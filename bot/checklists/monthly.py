"""The monthly review: posted on `monthly_day` (default 1) at `checklist_time`, for the
previous calendar month in the store's timezone (bot/checklists/review.py). A `monthly_day`
beyond a short month's last day posts on its last day."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from bot.checklists.kind import ChecklistKind
from bot.checklists.review import build_review, item_keys
from bot.stores import Store
from templates.i18n import N_

MONTHLY = "monthly"


def posts_on(day: date, settings: Mapping[str, Any]) -> bool:
    wanted = int(settings.get("monthly_day") or 1)
    return day.day == min(wanted, calendar.monthrange(day.year, day.month)[1])


def enabled(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("monthly_checklist", True))


def build(conn: Connection, store: Store, now: datetime, day: date | None) -> dict[str, Any]:
    return build_review(conn, store, now, day, MONTHLY)


KIND = ChecklistKind(name=MONTHLY, title=N_("Monthly review"),
                     template="checklist_review.json.j2", items=item_keys(MONTHLY), build=build,
                     posts_on=posts_on, enabled=enabled,
                     chart=MONTHLY, keyed_items=True)
