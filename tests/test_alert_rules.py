"""The rule registry and the one lifecycle: a rule only judges; incidents are per (rule,
subject), so one rule can hold an incident per keyword."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from bot.alerts import incidents
from bot.alerts.rules import RULES, Finding, Rule
from bot.storage import read, write
from bot.stores import Store

NOW = datetime(2026, 11, 17, 2, 0)  # 10:00 in Shanghai
DAY = NOW.date() - timedelta(days=1)


def _toy(down: dict[str, str]) -> Rule:
    """A rule that finds each subject of `down` ("down"/"normal") as told."""
    def evaluate(conn: Connection, store: Store, now: datetime) -> list[Finding]:
        return [Finding(day=(now - timedelta(hours=10)).date(), state=state, subject=subject,
                        severity="warning", figures={"position": 7})
                for subject, state in down.items()]
    return Rule(name="position_toy", title="Toy", subject="keyword", evaluate=evaluate,
                describe=lambda figures: dict(figures))


def _run(engine: Engine, store: Store, now: datetime) -> list[dict[str, Any]]:
    with write(engine) as conn:
        return incidents.evaluate_store(conn, store, now)


def test_one_incident_per_subject_and_recovery_per_subject(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    states = {"led light": "down", "solar lamp": "down"}
    monkeypatch.setattr(incidents, "RULES", {"position_toy": _toy(states)})
    events = _run(engine, store, NOW)
    assert sorted((e["subject"], e["event"]) for e in events) == [
        ("led light", "fired"), ("solar lamp", "fired")]
    states["led light"] = "normal"
    events = _run(engine, store, NOW + timedelta(days=1))
    assert sorted((e["subject"], e["event"]) for e in events) == [
        ("led light", "recovered"), ("solar lamp", "continues")]
    with read(engine) as conn:
        (left,) = incidents.active(conn, store, NOW + timedelta(days=1))
    assert (left["rule"], left["subject"], left["figures"]) == (
        "position_toy", "solar lamp", {"position": 7})


def test_inquiry_drop_is_the_first_registered_rule() -> None:
    assert next(iter(RULES)) == "inquiry_drop"
    assert RULES["inquiry_drop"].top_level == ("observed", "expected", "p_value", "method",
                                               "span")


def test_a_rule_switched_off_for_a_store_is_not_judged(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import stores
    from bot.stores import configure_store

    toy = _toy({"led light": "down"})
    monkeypatch.setattr(incidents, "RULES", {"position_toy": toy})
    monkeypatch.setitem(RULES, "position_toy", toy)
    # the rule's switch is a store setting like any other, parsed as typed in Slack (set up
    # for this test only: the registry's tables are the process's)
    monkeypatch.setitem(stores.DEFAULT_SETTINGS, "position_toy.enabled", True)
    monkeypatch.setitem(stores.SETTING_PARSERS, "position_toy.enabled",
                        stores.VALUE_KINDS["yes_no"])
    switched_off = configure_store(engine, store, settings={"position_toy.enabled": "off"})
    assert _run(engine, switched_off, NOW) == []
    switched_on = configure_store(engine, store, settings={"position_toy.enabled": "on"})
    assert [e["event"] for e in _run(engine, switched_on, NOW)] == ["fired"]


def test_every_rule_has_a_switch_and_thresholds_as_store_settings() -> None:
    from bot.stores import StoreError, known_settings, parse_setting

    for name in RULES:
        assert known_settings()[f"{name}.enabled"] in (True, False)
    assert parse_setting("inquiry_drop.enabled", "否") is False
    with pytest.raises(StoreError, match=r"unknown setting 'inquiry_drop\.enabeld'"):
        parse_setting("inquiry_drop.enabeld", "no")
