"""The alert rules: one table. A rule judges and returns findings (plain figures); the
incident lifecycle (bot/alerts/incidents.py) owns firing, escalation, recovery,
acknowledgement, snoozes and the messages' state, once for every rule. Adding a rule is a
module with `RULE = Rule(...)` plus one entry below, and its wording in
templates/alert_rules/NAME.j2 (the macros templates/alert.json.j2 calls).

Each rule has a per-store switch, `NAME.enabled`, and declares its thresholds in `settings`
({key: (default, kind of value)}, kinds in bot.stores.VALUE_KINDS); they become store settings
`NAME.key` (`opsbot store set STORE NAME.key=VALUE`, `/opsbot config NAME.key VALUE`), read
with `setting(store, RULE, key)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from bot.models import alerts
from bot.stores import Store, register_settings

TIERS = ("watch", "alert")  # watch: worth a look, never pings; alert: posted and pinged


@dataclass
class Finding:
    """A rule's judgement of one subject on one day."""

    day: date
    state: str  # "down" (firing), "normal", or "skipped" (no verdict: `why`)
    subject: str = ""  # "" for a store-wide rule
    severity: str | None = None  # warning | critical when down
    tier: str = "alert"  # when down: "watch" (worth a look, never pings) or "alert"
    figures: dict[str, Any] = field(default_factory=dict)  # JSON-able, the rule's own
    hints: list[dict[str, Any]] = field(default_factory=list)
    why: str | None = None
    # Down only because a window still holds earlier days: with an incident open this is a
    # recovery, not a continuation.
    tail_only: bool = False
    # The first day the finding's window covers: an incident resolved inside it is this
    # finding's aftermath, not a new incident.
    window_start: date | None = None
    back: dict[str, Any] | None = None  # figures of the recovering day, for "back to normal"


@dataclass(frozen=True)
class Rule:
    name: str
    title: str  # N_() msgid: what an operator reads instead of the rule's name
    subject: str  # what an incident is about: "store", "keyword", "product", "kind"
    evaluate: Callable[[Connection, Store, datetime], list[Finding]]
    # The stored figures as messages and `opsbot alerts` show them (derived values added).
    describe: Callable[[dict[str, Any]], dict[str, Any]]
    # The figures `opsbot alerts --json` also shows at the top level (its older contract).
    top_level: tuple[str, ...] = ()
    # Thresholds: {key: (default, kind of value in bot.stores.VALUE_KINDS)}, store settings
    # `name.key`; the switch `name.enabled` is every rule's.
    settings: dict[str, tuple[Any, str]] = field(default_factory=dict)
    enabled_by_default: bool = True
    # Store-wide settings the rule also reads (older than the rule's own; `opsbot rules`).
    store_settings: tuple[str, ...] = ()


def setting(store: Store, rule: Rule, key: str) -> Any:
    """The store's value of one of `rule`'s settings (its own, else the rule's default)."""
    return store.settings.get(f"{rule.name}.{key}", rule.settings[key][0])


def enabled(store: Store, rule: Rule) -> bool:
    return bool(store.settings.get(f"{rule.name}.enabled", rule.enabled_by_default))


# The store settings that steer every rule's delivery (bot/alerts/incidents.py), listed by
# `opsbot rules` beside the rules' own.
DELIVERY_SETTINGS = ("alert_mention", "watch_posts", "quiet_hours", "cooldown_hours")


def listing(store: Store | None = None) -> dict[str, Any]:
    """Every rule with its switch and thresholds, for `store` (its own value, else the
    default) or the defaults (None): {"store", "rules": [{"name", "title", "subject",
    "enabled", "settings": {key: value}, "setting_names": {key: the store setting's name}}],
    "delivery": {key: value}}. A rule's thresholds
    are its declared settings; inquiry_drop's alert tier also reads the older store-wide
    alert_level, alert_min_drop and alert_min_expected, listed with it."""
    from bot.stores import known_settings

    defaults = known_settings()

    def value(key: str) -> Any:
        return store.setting(key) if store is not None else defaults[key]

    rules = []
    for rule in RULES.values():
        keys = {k: f"{rule.name}.{k}" for k in rule.settings}
        shown = {k: value(full) for k, full in keys.items()}
        shown.update({k: value(k) for k in rule.store_settings})
        rules.append({"name": rule.name, "title": rule.title, "subject": rule.subject,
                      "enabled": bool(value(f"{rule.name}.enabled")), "settings": shown,
                      # what to type in `opsbot store set` / `/opsbot config`
                      "setting_names": {**keys, **{k: k for k in rule.store_settings}}})
    return {"store": store.name if store is not None else None, "rules": rules,
            "delivery": {k: value(k) for k in DELIVERY_SETTINGS}}


def open_subjects(conn: Connection, store: Store, rule: Rule) -> list[str]:
    """The subjects of the store's unresolved incidents of `rule`: a rule that picks its
    subjects anew each time (the key keywords of the week, the kinds dropped regularly) still
    judges these, so an incident whose subject left the list can recover."""
    return list(conn.scalars(select(alerts.c.subject).distinct().where(
        alerts.c.store_id == store.id, alerts.c.rule == rule.name,
        alerts.c.status != "resolved").order_by(alerts.c.subject)))


def _rules() -> dict[str, Rule]:
    from bot.alerts.rules import (
        cpc_jump,
        exposure_drop,
        inquiry_drop,
        p4p_spend,
        position_lost,
        stale_data,
        unreplied_backlog,
    )

    return {r.name: r for r in (
        inquiry_drop.RULE,
        exposure_drop.RULE,
        p4p_spend.RULE,
        cpc_jump.RULE,
        position_lost.RULE,
        unreplied_backlog.RULE,
        stale_data.RULE,
    )}


RULES: dict[str, Rule] = _rules()
for _rule in RULES.values():
    register_settings({f"{_rule.name}.enabled": (_rule.enabled_by_default, "yes_no"),
                       **{f"{_rule.name}.{k}": v for k, v in _rule.settings.items()}})
