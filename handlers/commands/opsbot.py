"""`/opsbot setup STORE | status | config [KEY VALUE] | help`: bind a channel to a store and
manage it."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from bot.status import store_status
from bot.storage import read
from bot.stores import (
    DEFAULT_SETTINGS,
    StoreError,
    bind_channel,
    configure_store,
    ensure_store,
    find_store,
    store_for_channel,
)
from handlers.commands.call import Call, Command, CommandResult, UsageError, usage_entry, words
from templates.i18n import N_, Text


def run(call: Call, text: str) -> CommandResult:
    said = words(text)
    sub = said[0].lower() if said else "help"
    rest = said[1:]
    if sub in ("help", "帮助"):
        return _help(call)
    if sub == "setup":
        return _setup(call, " ".join(rest).strip())
    if sub not in ("status", "config"):
        raise UsageError(Text("unknown /opsbot command `%(sub)s`: use `setup`, `status`, "
                              "`config` or `help`", sub=sub))
    if call.store is None:
        return call.unbound()
    if sub == "status":
        if rest:
            raise UsageError(Text("`/opsbot status` takes no words"))
        with read(call.engine) as conn:
            data = store_status(conn, call.store, call.now)
        return call.result("opsbot_status.json.j2", data, ephemeral=True)
    return _config(call, rest)


def _setup(call: Call, name: str) -> CommandResult:
    if not name:
        raise UsageError(Text("name the store: `/opsbot setup STORE`"))
    if not call.channel_id:
        raise UsageError(Text("setup binds a Slack channel: run it in that channel (from the "
                              "CLI: `--channel ID`)"))
    if len(name) > 200:
        raise UsageError(Text("a store name is at most %(max)s characters", max=200))
    before = store_for_channel(call.engine, call.channel_id, call.team_id)
    created = find_store(call.engine, name) is None
    try:
        store = ensure_store(call.engine, name)
    except StoreError as exc:
        raise UsageError(exc.text) from None
    try:
        bind_channel(call.engine, store, call.channel_id, team_id=call.team_id,
                     user_id=call.user_id)
    except StoreError as exc:
        raise UsageError(exc.text) from None
    call.store = store
    data = {"store": store.name, "timezone": store.timezone, "language": store.language,
            "channel": call.channel_id, "created": created,
            "previous_store": before.name if before else None}
    return call.result("opsbot_setup.json.j2", data, ephemeral=False)


_CONFIG_ALIASES = {"tz": "timezone", "lang": "language", "时区": "timezone", "语言": "language"}


def _config(call: Call, words: list[str]) -> CommandResult:
    store = call.store
    assert store is not None
    changed: dict[str, Any] = {}
    if words:
        key = _CONFIG_ALIASES.get(words[0].lower(), words[0].lower())
        value = " ".join(words[1:]).strip()
        if not value:
            raise UsageError(Text("`/opsbot config %(key)s VALUE` needs a value", key=key))
        try:
            if key == "timezone":
                store = configure_store(call.engine, store, timezone=value)
            elif key == "language":
                store = configure_store(call.engine, store, language=value.lower())
            elif key in DEFAULT_SETTINGS:
                store = configure_store(call.engine, store, settings={key: value})
            else:
                # Not every name: the list grows with each feature, a usage line must not.
                near = get_close_matches(key, ["timezone", "language", *DEFAULT_SETTINGS], n=3)
                raise UsageError(Text("unknown setting `%(key)s`: %(hint)s`/opsbot config` "
                                      "lists every setting", key=key,
                                      hint=Text("did you mean %(near)s? ", near=", ".join(near))
                                      if near else ""))
        except StoreError as exc:
            raise UsageError(exc.text) from None
        changed = {key: getattr(store, key) if key in ("timezone", "language")
                   else store.setting(key)}
        call.store = store
    data = {"store": store.name, "timezone": store.timezone, "language": store.language,
            "settings": store.all_settings, "changed": changed}
    # A change is news for the whole channel; reading the settings is not.
    return call.result("opsbot_config.json.j2", data, ephemeral=not changed)




def _help(call: Call) -> CommandResult:
    from handlers.commands.registry import COMMANDS  # the registry imports this module

    store = call.store.name if call.store else None
    return call.result("opsbot_help.json.j2", {"store": store}, ephemeral=True, store=store,
                       settings=sorted(DEFAULT_SETTINGS),
                       commands=[usage_entry(c, call.lang) for c in COMMANDS.values()])


def _needs_store(said: list[str]) -> bool:
    return bool(said) and said[0].lower() not in ("help", "帮助", "setup")


COMMAND = Command(
    name="/opsbot",
    run=run,
    summary=N_("Bind this channel to a store and manage it"),
    usage=(
        ("/opsbot setup STORE", N_("bind this channel to a store (created if new)")),
        ("/opsbot status", N_("the store, its timezone and how fresh each report is")),
        ("/opsbot config timezone TZ",
         N_("set the store timezone (IANA name, e.g. Asia/Shanghai)")),
        ("/opsbot config language zh|en", N_("message language")),
        ("/opsbot config KEY VALUE", N_("change a threshold")),
        ("/opsbot help", N_("this help")),
    ),
    usage_hint="setup STORE | status | config [timezone TZ | language zh|en | KEY VALUE] | help",
    needs_store=_needs_store,
)
