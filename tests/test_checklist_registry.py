"""The checklist registry: a kind is an entry (its days, its build, its template); the worker
records and posts every kind once per store and day, with no code of its own per kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.checklists import daily
from bot.checklists.registry import CHECKLISTS
from bot.models import checklists
from bot.storage import read
from bot.stores import Store, bind_channel
from jobs.tick import run_due
from tests.test_tick import NO_SLACK

MONDAY_9 = datetime(2026, 11, 16, 1, 0)  # 09:00 in Shanghai, a Monday


def _on_mondays(day: date, settings: object) -> bool:
    return day.weekday() == 0


def test_a_registered_kind_is_posted_on_its_days_once(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bind_channel(engine, store, "C1")
    toy = replace(daily.KIND, name="toy_weekly", posts_on=_on_mondays)
    monkeypatch.setitem(CHECKLISTS, "toy_weekly", toy)
    first = run_due(engine, MONDAY_9, settings=NO_SLACK)
    assert sorted(c["kind"] for c in first["checklists"]) == ["daily", "toy_weekly", "weekly"]
    again = run_due(engine, MONDAY_9 + timedelta(minutes=1), settings=NO_SLACK)
    assert again["checklists"] == []  # exactly once per store, kind and day
    tuesday = run_due(engine, MONDAY_9 + timedelta(days=1), settings=NO_SLACK)
    assert [c["kind"] for c in tuesday["checklists"]] == ["daily"]
    with read(engine) as conn:
        kinds = sorted(conn.scalars(select(checklists.c.kind)))
    assert kinds == ["daily", "daily", "toy_weekly", "weekly"]


def test_a_kind_the_store_switched_off_is_not_posted(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bind_channel(engine, store, "C1")
    off = replace(daily.KIND, name="toy_off", enabled=lambda settings: False)
    monkeypatch.setitem(CHECKLISTS, "toy_off", off)
    report = run_due(engine, MONDAY_9, settings=NO_SLACK)
    assert [c["kind"] for c in report["checklists"]] == ["daily", "weekly"]
