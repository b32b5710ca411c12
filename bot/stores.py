"""Stores (storefronts) and the Slack channels bound to them.

Agencies run dozens of storefronts, so every fact belongs to a store. A store has a name, a
timezone (its "day" for every report) and a language for its messages, plus per-store
settings whose defaults live in `DEFAULT_SETTINGS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot import audit
from bot.models import channels, store_admins, stores
from bot.periods import utcnow
from bot.schedule import (
    MAX_CATCH_UP_HOURS,
    ScheduleError,
    catch_up_window,
    parse_quiet_hours,
    parse_time,
)
from bot.storage import read, write
from templates.i18n import N_, Text

LANGUAGES = ("en", "zh")
DEFAULT_STORE = "default"
# Every threshold is configurable per store (`opsbot store set` / `/opsbot config`).
DEFAULT_SETTINGS: dict[str, Any] = {
    "checklist_time": "09:00",
    "workdays_only": False,
    "catch_up_hours": 3,  # a checklist missed at checklist_time is made up within this grace
    "p4p_daily_budget": None,  # CNY; falls back to the budget column of the P4P report
    "usd_cny_rate": None,  # CNY per US dollar: adds up money in both (bot/metrics/money.py)
    "key_keywords": [],  # keywords whose P4P position must stay in 1-5
    "posts_per_day": 3,
    "posts_max_per_day": 12,
    "unreplied_hours": 24,
    "unreplied_max_days": 30,  # older unreplied inquiries are counted, not listed
    "duplicate_days": 3,
    "ship_soon_days": 3,
    "zombie_days": 2,
    "hesitant_days": 7,
    "lost_days": 90,
    "alert_level": 0.01,
    "alert_min_drop": 0.40,
    "alert_min_expected": 5.0,
    "alert_mention": "here",  # who an alert's first post and escalation ping (_mention)
    "watch_posts": False,  # a watch (bot/alerts/rules TIERS) is also posted, quietly
    "quiet_hours": None,  # "21:00-08:00", local: alert messages wait until they end
    "cooldown_hours": 24,  # a subject down again this soon after recovering reopens it
    # /keywords (bot/metrics/keywords.py): rising and falling words, wasted P4P words
    "rising_min_impressions": 100,
    "rising_min_change": 0.5,  # +50% on the previous period
    "falling_min_impressions": 100,  # in the previous period
    "falling_min_drop": 0.3,  # -30%
    "wasted_min_clicks": 10,
    "weekly_checklist": True,  # the weekly review (bot/checklists/weekly.py)
    "weekly_day": "monday",
    "monthly_checklist": True,  # the monthly review (bot/checklists/monthly.py)
    "monthly_day": 1,  # a day past a short month's end posts on its last day
    "product_score_target": 75,
}
MAX_COOLDOWN_HOURS = 24 * 14
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class StoreError(ValueError):
    """A store operation a user asked for that cannot be done; the message says why. `text`
    is that message as a `Text` where a chat reply words it in the store's language
    (`/opsbot config`), else as English."""

    def __init__(self, message: Text | str) -> None:
        super().__init__(str(message))
        self.text = message


class NoSuchStore(StoreError):
    """A store named that does not exist (in this database)."""


@dataclass(frozen=True)
class Store:
    id: int
    name: str
    timezone: str
    language: str
    settings: dict[str, Any] = field(default_factory=dict)
    team_id: str | None = None  # the Slack workspace it belongs to (models.stores.team_id)

    def belongs_to(self, team_id: str | None) -> bool:
        """Whether a request from workspace `team_id` may see the store: the CLI (no team)
        always may; a workspace may when the store is its own or not claimed by any yet."""
        return team_id is None or self.team_id is None or self.team_id == team_id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def setting(self, name: str) -> Any:
        return self.settings[name] if name in self.settings else known_settings()[name]

    @property
    def all_settings(self) -> dict[str, Any]:
        """Every setting: the store's own, else the default."""
        return {**known_settings(), **self.settings}


# ---- settings: one parser for every path (Slack, CLI, Python) ------------------------------
#
# Each setting has a converter that takes text (as typed) or a Python value and returns the
# value to store, raising ValueError when it does not fit; SETTINGS_EXPECTED says, for the
# error message, what a good value looks like. A stored setting is then always usable: a bad
# checklist_time would otherwise fail every worker tick for that store.

_YES = {"yes", "true", "on", "1", "是"}
_NO = {"no", "false", "off", "0", "否"}
_CLEAR = {"none", "-"}
_TIME = re.compile(r"\d{1,2}:\d{2}")


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(value)  # True is an int to Python, not a number to a user
    if isinstance(value, str):
        value = value.strip().replace(",", "")  # thousands separators, as typed in Slack
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _tidy(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _count(value: Any) -> int:
    number = _number(value)
    if not number.is_integer() or number < 1:
        raise ValueError(value)
    return int(number)


def _positive(value: Any) -> int | float:
    number = _number(value)
    if number <= 0:
        raise ValueError(value)
    return _tidy(number)


def _fraction(value: Any) -> float:
    number = _number(value)
    if not 0 < number < 1:
        raise ValueError(value)
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    raise ValueError(value)


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not _TIME.fullmatch(value.strip()):
        raise ValueError(value)
    try:
        return parse_time(value).strftime("%H:%M")  # the worker's own parser decides
    except ScheduleError:
        raise ValueError(value) from None


def _grace(value: Any) -> int | float:
    number = _number(value)
    try:
        catch_up_window(number)  # the worker's own limits decide
    except ScheduleError:
        raise ValueError(value) from None
    return _tidy(number)


def _quiet_hours(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _CLEAR):
        return None
    if not isinstance(value, str):
        raise ValueError(value)
    try:
        start, end = parse_quiet_hours(value)  # the worker's own parser decides
    except ScheduleError:
        raise ValueError(value) from None
    return f"{start:%H:%M}-{end:%H:%M}"


def _hours(value: Any) -> int | float:
    number = _number(value)
    if not 0 <= number <= MAX_COOLDOWN_HOURS:
        raise ValueError(value)
    return _tidy(number)


def _positive_or_none(value: Any) -> int | float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _CLEAR):
        return None
    return _positive(value)


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[,，]", value)  # Chinese keyboards type the full-width comma
    if not isinstance(value, list | tuple) or not all(isinstance(w, str) for w in value):
        raise ValueError(value)
    return [w.strip() for w in value if w.strip()]


# <!subteam^S123|@ops> or S123 (a user group), <@U123|anna>, U123 or W123 (a user).
_MENTION = re.compile(r"<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>|<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>"
                      r"|([SUW][A-Z0-9]{2,})")


def _weekday(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    word = value.strip().lower()
    found = [d for d in WEEKDAYS if len(word) >= 3 and d.startswith(word)]
    if len(found) != 1:
        raise ValueError(value)
    return found[0]


def _month_day(value: Any) -> int:
    number = _count(value)
    if number > 31:
        raise ValueError(value)
    return number


def _score(value: Any) -> int | float:
    number = _number(value)
    if not 0 < number <= 100:
        raise ValueError(value)
    return _tidy(number)


def _mention(value: Any) -> str:
    """here | channel | none, or the id of a user group (S…) or a user (U…/W…)."""
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip()
    word = text.lower().strip("<>").lstrip("@!")
    if word in ("here", "channel", "none"):
        return word
    match = _MENTION.fullmatch(text)
    if not match:
        raise ValueError(value)
    return next(g for g in match.groups() if g)


# What each setting expects: N_() msgids, worded in the asker's language.
_COUNT = N_("a whole number of at least 1")
_FRACTION = N_("a number above 0 and below 1 (like 0.05)")
_YES_NO = N_("yes or no (true/false, on/off, 1/0, 是/否)")
SETTING_PARSERS: dict[str, tuple[Callable[[Any], Any], str | Text]] = {
    "checklist_time": (_clock, N_("a 24-hour time HH:MM from 00:00 to 23:59 (like 09:00)")),
    "workdays_only": (_boolean, _YES_NO),
    "catch_up_hours": (_grace, Text("a number of hours from 0 to %(max)s",
                                    max=format(MAX_CATCH_UP_HOURS, "g"))),
    "p4p_daily_budget": (_positive_or_none,
                         N_("a positive amount in CNY, or none (or -) to clear it")),
    "usd_cny_rate": (_positive_or_none, N_("a positive number of CNY per US dollar (like 7.1), "
                                           "or none (or -) to clear it")),
    "key_keywords": (_keywords, N_("a comma-separated list of keywords")),
    "posts_per_day": (_count, _COUNT),
    "posts_max_per_day": (_count, _COUNT),
    "unreplied_hours": (_count, _COUNT),
    "unreplied_max_days": (_count, _COUNT),
    "duplicate_days": (_count, _COUNT),
    "ship_soon_days": (_count, _COUNT),
    "zombie_days": (_count, _COUNT),
    "hesitant_days": (_count, _COUNT),
    "lost_days": (_count, _COUNT),
    "alert_level": (_fraction, _FRACTION),
    "alert_min_drop": (_fraction, _FRACTION),
    "alert_min_expected": (_positive, N_("a number above 0")),
    "alert_mention": (_mention, N_("here, channel, none, a user group (<!subteam^S…> or S…) "
                                   "or a user (U… or W…)")),
    "watch_posts": (_boolean, _YES_NO),
    "quiet_hours": (_quiet_hours, N_("two 24-hour times FROM-TO in the store's timezone (like "
                                     "21:00-08:00), or none (or -) to clear them")),
    "cooldown_hours": (_hours, Text("a number of hours from 0 to %(max)s",
                                    max=str(MAX_COOLDOWN_HOURS))),
    "rising_min_impressions": (_count, _COUNT),
    "rising_min_change": (_positive, N_("a number above 0 (0.5 means up 50%)")),
    "falling_min_impressions": (_count, _COUNT),
    "falling_min_drop": (_fraction, N_("a number above 0 and below 1 (0.3 means down 30%)")),
    "wasted_min_clicks": (_count, _COUNT),
    "weekly_checklist": (_boolean, _YES_NO),
    "weekly_day": (_weekday, N_("a day of the week (monday to sunday, or mon, tue…)")),
    "monthly_checklist": (_boolean, _YES_NO),
    "monthly_day": (_month_day, N_("a day of the month from 1 to 31")),
    "product_score_target": (_score, N_("a product score above 0 and up to 100 (like 75)")),
}
# Kinds of value a setting declared elsewhere (an alert rule's switch and thresholds,
# bot/alerts/rules/) may take: its parser and what a good value looks like.
VALUE_KINDS: dict[str, tuple[Callable[[Any], Any], str | Text]] = {
    "count": (_count, _COUNT),
    "fraction": (_fraction, _FRACTION),
    "positive": (_positive, N_("a number above 0")),
    "yes_no": (_boolean, _YES_NO),
    "positive_or_none": (_positive_or_none, N_("a number above 0, or none (or -) to clear it")),
}


def register_settings(declared: Mapping[str, tuple[Any, str]]) -> None:
    """Add settings declared outside this module: {name: (default, a kind in VALUE_KINDS)}.
    The alert rules declare theirs as `RULE.key` (bot/alerts/rules/__init__.py)."""
    for name, (default, kind) in declared.items():
        DEFAULT_SETTINGS[name] = default
        SETTING_PARSERS[name] = VALUE_KINDS[kind]


def known_settings() -> dict[str, Any]:
    """Every setting with its default, the alert rules' included. The rules import this
    module, so they register their settings when first imported; importing them here on
    first use (not at the top) keeps that cycle out of import order."""
    import bot.alerts.rules  # noqa: F401  (registers each rule's switch and thresholds)

    return DEFAULT_SETTINGS


# Settings that must not exceed another one (checked on the merged settings of a store).
SETTING_LIMITS: tuple[tuple[str, str], ...] = (("posts_per_day", "posts_max_per_day"),)
# Settings that must stay below another one (times a factor: hours below days), and why
# (bot/metrics/customers.py: a customer is hesitant after hesitant_days without contact and lost
# after lost_days; zombie_days counts from an unanswered inquiry, which after lost_days is lost;
# bot/metrics/inquiry_checks.py lists unreplied inquiries between the two unreplied settings).
SETTING_BELOW: tuple[tuple[str, str, int, str], ...] = (
    ("hesitant_days", "lost_days", 1,
     N_("a customer is hesitant between hesitant_days and lost_days without contact, so "
        "nobody could ever be hesitant")),
    ("zombie_days", "lost_days", 1,
     N_("a zombie must turn up before the customer counts as lost")),
    ("unreplied_hours", "unreplied_max_days", 24,
     N_("the checklist lists unreplied inquiries older than unreplied_hours and younger than "
        "unreplied_max_days, so it would list none")),
)


def parse_setting(key: str, text: Any) -> Any:
    """The value to store for setting `key` from `text` as typed (or a Python value).

    StoreError (saying what is expected) for an unknown key or a value that does not fit."""
    known_settings()
    if key not in SETTING_PARSERS:
        raise StoreError(Text("unknown setting %(key)r: known settings are %(known)s",
                              key=key, known=", ".join(sorted(SETTING_PARSERS))))
    convert, expected = SETTING_PARSERS[key]
    try:
        return convert(text)
    except (ValueError, TypeError):
        shown = text.strip() if isinstance(text, str) else text
        raise StoreError(Text("%(key)s must be %(expected)s, not %(value)r", key=key,
                              expected=expected if isinstance(expected, Text) else Text(expected),
                              value=shown)) from None


def check_settings(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `changes` parsed and applied; StoreError when any does not fit."""
    merged = {**current, **{key: parse_setting(key, value) for key, value in changes.items()}}
    for low, high in SETTING_LIMITS:
        a = merged.get(low, known_settings()[low])
        b = merged.get(high, known_settings()[high])
        if (low in changes or high in changes) and a > b:
            raise StoreError(Text("%(low)s (%(a)s) cannot be more than %(high)s (%(b)s)",
                                  low=low, a=a, high=high, b=b))
    for low, high, factor, why in SETTING_BELOW:
        a = merged.get(low, known_settings()[low])
        b = merged.get(high, known_settings()[high])
        if (low in changes or high in changes) and a >= b * factor:
            limit = f"{high} ({b})" if factor == 1 else f"{high} ({b}) × {factor}"
            raise StoreError(Text("%(low)s (%(a)s) must be less than %(limit)s: %(why)s",
                                  low=low, a=a, limit=limit, why=Text(why)))
    return merged


# A store's timezone is an IANA region (Area/Location, e.g. America/New_York) or UTC. Other
# names the database knows are abbreviations with a fixed offset (EST, MST, HST), POSIX-style
# rules (EST5EDT), Etc/GMT+5 offsets or old aliases (US/Eastern, PRC): some never change for
# daylight saving time, and all of them hide which region is meant.
TIMEZONE_AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic",
                  "Australia", "Europe", "Indian", "Pacific")
_TIMEZONE_SUGGESTIONS = {
    "EST": "America/New_York", "EST5EDT": "America/New_York", "US/Eastern": "America/New_York",
    "CST6CDT": "America/Chicago", "US/Central": "America/Chicago",
    "MST": "America/Denver", "MST7MDT": "America/Denver", "US/Mountain": "America/Denver",
    "US/Arizona": "America/Phoenix", "PST8PDT": "America/Los_Angeles",
    "US/Pacific": "America/Los_Angeles", "HST": "Pacific/Honolulu",
    "US/Hawaii": "Pacific/Honolulu", "PRC": "Asia/Shanghai", "Hongkong": "Asia/Hong_Kong",
    "ROC": "Asia/Taipei", "Japan": "Asia/Tokyo", "ROK": "Asia/Seoul",
    "Singapore": "Asia/Singapore", "GB": "Europe/London", "GMT": "Europe/London or UTC",
    "WET": "Europe/Lisbon", "CET": "Europe/Paris", "MET": "Europe/Paris",
    "EET": "Europe/Athens", "Etc/UTC": "UTC", "UCT": "UTC", "Universal": "UTC", "Zulu": "UTC",
}


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StoreError(Text("unknown timezone %(name)r: use an IANA name like Asia/Shanghai "
                              "or America/New_York", name=name)) from None
    if name != "UTC" and name.partition("/")[0] not in TIMEZONE_AREAS:
        suggestion = _TIMEZONE_SUGGESTIONS.get(name, "America/New_York or Asia/Shanghai")
        raise StoreError(Text(
            "timezone %(name)r is an abbreviation, fixed offset or alias, not a region, so "
            "daylight saving time could be wrong: use an IANA region name (Area/Location) "
            "such as %(suggestion)s, or UTC", name=name, suggestion=suggestion))
    return name


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise StoreError(Text("unknown language %(language)r: use one of %(known)s",
                              language=language, known=", ".join(LANGUAGES)))
    return language


def _store(row: Any) -> Store:
    return Store(row.id, row.name, row.timezone, row.language, dict(row.settings or {}),
                 row.team_id)


def add_store(
    engine: Engine, name: str, timezone: str = "Asia/Shanghai", language: str = "en", *,
    admin: str | None = None,
) -> Store:
    """A new store. Created from Slack, `admin` (the Slack user creating it) is its first
    admin, in the same transaction; from the CLI (None) it has none until one is added."""
    name = name.strip()
    if not name:
        raise StoreError("a store needs a name")
    check_timezone(timezone)
    check_language(language)
    now = utcnow()
    try:
        with write(engine) as conn:
            store_id = conn.execute(
                insert(stores).values(
                    name=name, timezone=timezone, language=language, settings={},
                    created_at=now,
                ).returning(stores.c.id)
            ).scalar_one()
            audit.record(conn, store_id, admin, audit.CREATE, {"name": name}, at=now)
            if admin is not None:
                conn.execute(insert(store_admins).values(
                    store_id=store_id, user_id=admin, added_by=admin, added_at=now))
                audit.record(conn, store_id, admin, audit.ADMIN_ADD, {"admin": admin}, at=now)
    except IntegrityError:
        raise StoreError(f"a store named {name!r} already exists") from None
    store = find_store(engine, name)
    assert store is not None
    return store


def list_stores(engine: Engine) -> list[Store]:
    with read(engine) as conn:
        return [_store(r) for r in conn.execute(select(stores).order_by(stores.c.name))]


def find_store(engine: Engine, name: str) -> Store | None:
    with read(engine) as conn:
        row = conn.execute(select(stores).where(stores.c.name == name)).first()
    return _store(row) if row else None


def get_store(conn: Connection, store_id: int, *, lock: bool = False) -> Store:
    """The store with id `store_id`; `lock`: under a row lock until the transaction ends."""
    query = select(stores).where(stores.c.id == store_id)
    return _store(conn.execute(query.with_for_update() if lock else query).one())


def resolve_store(engine: Engine, name: str | None) -> Store:
    """The store a command means: the one named, else the only one, else `default`."""
    if name:
        store = find_store(engine, name)
        if store is None:
            raise NoSuchStore(f"no store named {name!r}: add it with `opsbot store add {name}`")
        return store
    existing = list_stores(engine)
    if len(existing) == 1:
        return existing[0]
    if not existing:
        try:
            return add_store(engine, DEFAULT_STORE)
        except StoreError:  # created concurrently by another process
            found = find_store(engine, DEFAULT_STORE)
            assert found is not None
            return found
    names = ", ".join(s.name for s in existing)
    raise StoreError(f"there are several stores ({names}): name one with --store")


def ensure_store(engine: Engine, name: str) -> Store:
    """The named store, created with defaults when it does not exist yet."""
    store = find_store(engine, name)
    if store is not None:
        return store
    try:
        return add_store(engine, name)
    except StoreError:
        found = find_store(engine, name)
        if found is None:
            raise
        return found


def configure_store(
    engine: Engine,
    store: Store,
    *,
    timezone: str | None = None,
    language: str | None = None,
    settings: dict[str, Any] | None = None,
    user_id: str | None = None,
) -> Store:
    """Change a store's timezone, language or settings, as `user_id` (None: the CLI
    operator); the change and its audit row (each key from and to) in one transaction."""
    values: dict[str, Any] = {}
    if timezone is not None:
        values["timezone"] = check_timezone(timezone)
    if language is not None:
        values["language"] = check_language(language)
    if settings:
        check_settings(store.settings, settings)  # a mistake is told before any write
    if values or settings:
        with write(engine) as conn:
            # Merge into the settings as they are now, under a row lock: two changes at
            # once (two admins, two keys) both stay, neither overwrites the other.
            current = get_store(conn, store.id, lock=True)
            changed = {key: {"from": getattr(current, key), "to": value}
                       for key, value in values.items()}
            if settings:
                values["settings"] = check_settings(current.settings, settings)
                changed.update({key: {"from": current.setting(key),
                                      "to": values["settings"][key]} for key in settings})
            conn.execute(update(stores).where(stores.c.id == store.id).values(**values))
            audit.record(conn, store, user_id, audit.CONFIGURE, changed)
    with read(engine) as conn:
        return get_store(conn, store.id)


# Slack names a channel by its ID: C (public), G (private, older) or D (direct message), then
# uppercase letters and digits. A name (#general) never appears in events, so a binding made
# with one would never match.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")


def check_channel_id(channel_id: str) -> str:
    """The channel ID without surrounding spaces (as pasted); StoreError if it is not one."""
    if isinstance(channel_id, str):
        channel_id = channel_id.strip()
    if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
        raise StoreError(
            f"{channel_id!r} is not a Slack channel ID (like C0123456789): in Slack, open the "
            "channel's details (click its name) and copy the Channel ID at the bottom, or run "
            "/opsbot setup STORE in the channel"
        )
    return channel_id


class ChannelTaken(StoreError):
    """The channel answers for another store, and moving it was not asked for."""

    def __init__(self, channel_id: str, current: str) -> None:
        super().__init__(f"channel {channel_id} answers for store {current}")
        self.channel_id = channel_id
        self.current = current


def bind_channel(
    engine: Engine, store: Store, channel_id: str, *, team_id: str | None = None,
    user_id: str | None = None, move: bool = True,
) -> str | None:
    """Bind a channel to a store; a channel answers for one store, so rebinding moves it
    (with move=False, ChannelTaken instead). Returns the store it answered for before, if
    another one. Bound from a workspace (`team_id`), a store no workspace has claimed becomes
    that workspace's; StoreError if it is another workspace's. `user_id` (None: the CLI
    operator) is recorded in the audit trail of both stores when the channel moves."""
    channel_id = check_channel_id(channel_id)
    if not store.belongs_to(team_id):
        raise StoreError(Text("the store name %(name)r is taken: choose another name",
                              name=store.name))
    with write(engine) as conn:
        if team_id is not None and store.team_id is None:
            conn.execute(update(stores).where(stores.c.id == store.id, stores.c.team_id.is_(None))
                         .values(team_id=team_id))
        bound = conn.execute(
            select(channels.c.store_id, stores.c.name)
            .join(stores, stores.c.id == channels.c.store_id)
            .where(channels.c.channel_id == channel_id)
        ).first()
        previous = bound.name if bound and bound.store_id != store.id else None
        if previous and not move:
            raise ChannelTaken(channel_id, previous)
        now = utcnow()
        values = {"store_id": store.id, "team_id": team_id, "bound_by": user_id,
                  "bound_at": now}
        if bound:
            conn.execute(update(channels).where(channels.c.channel_id == channel_id)
                         .values(**values))
        else:
            conn.execute(insert(channels).values(channel_id=channel_id, **values))
        if bound and previous:
            audit.record(conn, bound.store_id, user_id, audit.UNBIND,
                         {"channel": channel_id, "moved_to": store.name}, at=now)
        audit.record(conn, store, user_id, audit.BIND,
                     {"channel": channel_id, "moved_from": previous}, at=now)
    return previous


def unbind_channel(engine: Engine, channel_id: str, *, team_id: str | None = None,
                   user_id: str | None = None) -> Store | None:
    """Unbind a channel, as `user_id` (None: the CLI operator) from workspace `team_id`;
    the store it answered for, or None when it was not bound (as seen from `team_id`)."""
    channel_id = check_channel_id(channel_id)
    store = store_for_channel(engine, channel_id, team_id)
    if store is None:
        return None
    with write(engine) as conn:
        gone = conn.execute(delete(channels).where(channels.c.channel_id == channel_id,
                                                   channels.c.store_id == store.id)).rowcount
        if gone:
            audit.record(conn, store, user_id, audit.UNBIND, {"channel": channel_id})
    return store if gone else None


def store_for_channel(engine: Engine, channel_id: str, team_id: str | None = None
                      ) -> Store | None:
    """The store a channel answers for, as seen from workspace `team_id` (None: the CLI).
    A channel bound in another workspace (a Slack Connect channel shared with it) or a store
    of another workspace is not bound here: None."""
    with read(engine) as conn:
        row = conn.execute(
            select(stores, channels.c.team_id.label("bound_in"))
            .join(channels, channels.c.store_id == stores.c.id)
            .where(channels.c.channel_id == channel_id)
        ).first()
    if row is None:
        return None
    store = _store(row)
    if team_id is not None and row.bound_in not in (None, team_id):
        return None
    return store if store.belongs_to(team_id) else None


def channels_of(conn: Connection, store: Store) -> list[str]:
    """The channels bound to a store, in the order they were bound."""
    return list(conn.scalars(
        select(channels.c.channel_id).where(channels.c.store_id == store.id)
        .order_by(channels.c.bound_at, channels.c.channel_id)
    ))


def store_count(engine: Engine) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(stores)) or 0
