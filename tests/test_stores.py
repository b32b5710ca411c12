"""Store settings: one parser for Slack, the CLI and Python callers; a bad value is never
stored, because the worker would then fail on that store every minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.schedule import checklist_due
from bot.stores import (
    DEFAULT_SETTINGS,
    Store,
    StoreError,
    add_store,
    configure_store,
    find_store,
    parse_setting,
)


@pytest.mark.parametrize(("key", "text", "value"), [
    ("checklist_time", "9:30", "09:30"),
    ("checklist_time", " 23:59 ", "23:59"),
    ("checklist_time", "00:00", "00:00"),
    ("catch_up_hours", "0", 0),
    ("catch_up_hours", "23", 23),
    ("catch_up_hours", "1.5", 1.5),
    ("alert_level", "0.05", 0.05),
    ("alert_min_drop", "0.5", 0.5),
    ("alert_min_expected", "2.5", 2.5),
    ("lost_days", "30", 30),
    ("unreplied_hours", "12", 12),
    ("posts_per_day", "5", 5),
    ("workdays_only", "yes", True),
    ("workdays_only", "ON", True),
    ("workdays_only", "true", True),
    ("workdays_only", "1", True),
    ("workdays_only", "是", True),
    ("workdays_only", "no", False),
    ("workdays_only", "off", False),
    ("workdays_only", "0", False),
    ("workdays_only", "否", False),
    ("p4p_daily_budget", "1,500", 1500),
    ("p4p_daily_budget", "99.5", 99.5),
    ("p4p_daily_budget", "none", None),
    ("p4p_daily_budget", "-", None),
    ("key_keywords", "led strip, garden lamp，solar light,", ["led strip", "garden lamp",
                                                           "solar light"]),
])
def test_good_values_are_typed(key: str, text: str, value: Any) -> None:
    parsed = parse_setting(key, text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("key", "text", "says"), [
    ("checklist_time", "25:00", "00:00 to 23:59"),
    ("checklist_time", "12:60", "HH:MM"),
    ("checklist_time", "nine", "HH:MM"),
    ("checklist_time", "-1:30", "HH:MM"),
    ("catch_up_hours", "24", "0 to 23"),
    ("catch_up_hours", "-1", "0 to 23"),
    ("alert_level", "5", "below 1"),
    ("alert_level", "0", "above 0"),
    ("alert_level", "1", "below 1"),
    ("alert_min_drop", "1.5", "below 1"),
    ("alert_min_expected", "0", "above 0"),
    ("alert_min_expected", "nan", "above 0"),
    ("lost_days", "-5", "at least 1"),
    ("zombie_days", "0", "at least 1"),
    ("unreplied_hours", "2.5", "whole number"),
    ("posts_per_day", "many", "whole number"),
    ("posts_max_per_day", "inf", "whole number"),
    ("workdays_only", "maybe", "yes or no"),
    ("workdays_only", "2", "yes or no"),
    ("p4p_daily_budget", "0", "positive"),
    ("p4p_daily_budget", "-10", "none"),
    ("colour", "red", "unknown setting"),
])
def test_bad_values_say_what_is_expected(key: str, text: str, says: str) -> None:
    with pytest.raises(StoreError) as error:
        parse_setting(key, text)
    message = str(error.value)
    assert says in message and key in message and "\n" not in message


def test_every_setting_has_a_parser_that_accepts_its_default() -> None:
    for key, default in DEFAULT_SETTINGS.items():
        assert parse_setting(key, default) == default


@pytest.mark.parametrize("settings", [
    {"checklist_time": "25:00"},
    {"checklist_time": "nine"},
    {"alert_level": 5},
    {"lost_days": -5},
    {"workdays_only": 1},  # an int is not a yes/no: a typo, not a choice
    {"workdays_only": "maybe"},
    {"posts_per_day": True},
    {"key_keywords": "led, lamp", "lost_days": 0},  # one bad value stores none of them
    {"posts_per_day": 20},  # above posts_max_per_day (12)
])
def test_configure_store_refuses_bad_python_values(engine: Engine, store: Store,
                                                   settings: dict[str, Any]) -> None:
    with pytest.raises(StoreError):
        configure_store(engine, store, settings=settings)
    assert find_store(engine, store.name) == store  # nothing stored


def test_configure_store_stores_typed_values_the_worker_can_use(engine: Engine,
                                                                store: Store) -> None:
    store = configure_store(engine, store, settings={
        "checklist_time": "7:05", "workdays_only": "yes", "catch_up_hours": "2",
        "posts_max_per_day": 30, "posts_per_day": 20, "p4p_daily_budget": "none"})
    stored = find_store(engine, store.name)
    assert stored is not None and stored.settings == {
        "checklist_time": "07:05", "workdays_only": True, "catch_up_hours": 2,
        "posts_max_per_day": 30, "posts_per_day": 20, "p4p_daily_budget": None}
    # 07:05 Shanghai on Friday 2026-11-20 is 23:05 UTC the day before.
    due = checklist_due(stored.tz, stored.settings, datetime(2026, 11, 19, 23, 6))
    assert due is not None and due.late_by == timedelta(minutes=1)
    # Lowering the maximum below the daily target is refused as well.
    with pytest.raises(StoreError, match="posts_per_day"):
        configure_store(engine, stored, settings={"posts_max_per_day": 10})


def test_two_config_changes_from_stale_views_both_stay(engine: Engine) -> None:
    """Two admins change two settings at once, each from the store as they loaded it: the
    second change must not put the first one's key back to what it saw."""
    store = add_store(engine, "acme", "Asia/Shanghai", "en")
    first_view = find_store(engine, "acme")
    second_view = find_store(engine, "acme")
    assert first_view is not None and second_view is not None
    configure_store(engine, first_view, settings={"alert_level": "0.02"})
    configure_store(engine, second_view, settings={"posts_per_day": "4"})
    now = find_store(engine, store.name)
    assert now is not None
    assert now.setting("alert_level") == 0.02 and now.setting("posts_per_day") == 4
