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

from sqlalchemy import Connection

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


def setting(store: Store, rule: Rule, key: str) -> Any:
    """The store's value of one of `rule`'s settings (its own, else the rule's default)."""
    return store.settings.get(f"{rule.name}.{key}", rule.settings[key][0])


def enabled(store: Store, rule: Rule) -> bool:
    return bool(store.settings.get(f"{rule.name}.enabled", rule.enabled_by_default))


def _rules() -> dict[str, Rule]:
    from bot.alerts.rules import cpc_jump, exposure_drop, inquiry_drop, p4p_spend

    return {r.name: r for r in (
        inquiry_drop.RULE,
        exposure_drop.RULE,
        p4p_spend.RULE,
        cpc_jump.RULE,
    )}


RULES: dict[str, Rule] = _rules()
for _rule in RULES.values():
    register_settings({f"{_rule.name}.enabled": (_rule.enabled_by_default, "yes_no"),
                       **{f"{_rule.name}.{k}": v for k, v in _rule.settings.items()}})
