"""`/opsbot setup STORE | unbind | status | config [KEY VALUE] | rules | admins [add|remove
@user] | help`: bind a channel to a store and manage it.

Changes are for the store's admins (bot/roles.py): binding a channel to an existing store,
moving a channel away from its store, unbinding, changing settings and admins. Anyone else
gets an ephemeral refusal naming who may; reading (status, the settings, the alert rules,
the admins) stays open to the channel."""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Any

from bot.roles import LastAdmin, NotAnAdmin, admins_of, change_admins, user_id_of
from bot.status import store_status
from bot.storage import read
from bot.stores import (
    Store,
    StoreError,
    add_store,
    bind_channel,
    configure_store,
    find_store,
    known_settings,
    store_for_channel,
    unbind_channel,
)
from handlers.commands.call import Call, Command, CommandResult, UsageError, usage_entry, words
from templates.i18n import N_, Text

# /opsbot asks Slack to escape its text (to get mentions as IDs), so a word that looks like
# a link arrives as one: `acme.com` as `<http://acme.com|acme.com>`. Read it as typed.
_LINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^|>]*)(?:\|([^>]*))?>", re.IGNORECASE)


def run(call: Call, text: str) -> CommandResult:
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(1), text)
    said = words(text)
    sub = said[0].lower() if said else "help"
    rest = said[1:]
    if sub in ("help", "帮助"):
        return _help(call)
    if sub == "setup":
        return _setup(call, " ".join(rest).strip())
    if sub not in ("status", "config", "rules", "unbind", "admins"):
        raise UsageError(Text("unknown /opsbot command `%(sub)s`: use `setup`, `unbind`, "
                              "`status`, `config`, `rules`, `admins` or `help`", sub=sub))
    if call.store is None:
        return call.unbound()
    if sub == "unbind":
        return _unbind(call, rest)
    if sub == "admins":
        return _admins(call, rest)
    if sub == "rules":
        if rest:
            raise UsageError(Text("`/opsbot rules` takes no words"))
        from bot.alerts.rules import listing

        data = listing(call.store)
        return call.result("rules.json.j2", data, ephemeral=True, listing=data)
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
    if before is None and store_for_channel(call.engine, call.channel_id) is not None:
        # A shared channel bound in another workspace: not this workspace's to move.
        raise UsageError(Text("this channel answers for a store of another workspace: only "
                              "that workspace can change it"))
    store = find_store(call.engine, name)
    if store is not None and not store.belongs_to(call.team_id):
        # Another workspace's store: not even its admins are named here.
        raise UsageError(Text("the store name %(name)r is taken: choose another name",
                              name=store.name))
    if store is not None and before is not None and before.id == store.id:
        return _bound(call, store, created=False, before=None)  # nothing to change
    # An existing store takes one of its admins; moving the channel away from the store it
    # answers for unbinds it from that one, which takes one of that store's admins.
    if store is not None and not call.may_administer(store):
        return call.forbidden(store, "bind")
    if before is not None and not call.may_administer(before):
        return call.forbidden(before, "unbind")
    created = store is None
    if store is None:
        try:  # the asker creates it, and so is its first admin
            store = add_store(call.engine, name, admin=call.user_id)
        except StoreError as exc:
            store = find_store(call.engine, name)  # created by someone else just now
            if store is None:
                raise UsageError(exc.text) from None
            return _setup(call, name)  # now an existing store: its admins decide
    try:
        bind_channel(call.engine, store, call.channel_id, team_id=call.team_id,
                     user_id=call.user_id)
    except StoreError as exc:
        raise UsageError(exc.text) from None
    return _bound(call, store, created=created, before=before)


def _bound(call: Call, store: Store, *, created: bool, before: Store | None) -> CommandResult:
    call.store = store
    data = {"store": store.name, "timezone": store.timezone, "language": store.language,
            "channel": call.channel_id, "created": created,
            "previous_store": before.name if before else None}
    return call.result("opsbot_setup.json.j2", data, ephemeral=False)


def _unbind(call: Call, rest: list[str]) -> CommandResult:
    store = call.store
    assert store is not None
    if rest:
        raise UsageError(Text("`/opsbot unbind` takes no words"))
    if not call.channel_id:
        raise UsageError(Text("unbind works in the channel to unbind (from the CLI: `opsbot "
                              "store unbind --channel ID`)"))
    if not call.may_administer(store):
        return call.forbidden(store, "unbind")
    unbind_channel(call.engine, call.channel_id, team_id=call.team_id, user_id=call.user_id)
    data = {"store": store.name, "channel": call.channel_id}
    return call.result("opsbot_unbind.json.j2", data, ephemeral=False)


# One mention (`<@U123|anna smith>`: a display name may hold spaces) or one word.
_MENTIONS = re.compile(r"<@[^>]*>|\S+")


def _admins(call: Call, rest: list[str]) -> CommandResult:
    store = call.store
    assert store is not None
    if not rest:
        with read(call.engine) as conn:
            admins = admins_of(conn, store)
        return call.result("opsbot_admins.json.j2", {"store": store.name, "admins": admins,
                                                     "added": [], "removed": []},
                           ephemeral=True)
    verb = rest[0].lower()
    named = _MENTIONS.findall(" ".join(rest[1:]))
    users = [user_id_of(word) for word in named]
    if verb not in ("add", "remove") or not users or None in users:
        raise UsageError(Text("mention the people: `/opsbot admins add @name` or "
                              "`/opsbot admins remove @name`"))
    if not call.may_administer(store):
        return call.forbidden(store, "admins")
    try:
        change = change_admins(call.engine, store, by=call.user_id,
                               **{verb: [u for u in users if u]})
    except LastAdmin as exc:
        raise UsageError(Text("<@%(user)s> is the last admin of store %(store)s: add another "
                              "admin first", user=exc.user, store=store.name)) from None
    except NotAnAdmin as exc:
        raise UsageError(Text("<@%(user)s> is not an admin of store %(store)s",
                              user=exc.user, store=store.name)) from None
    data = {"store": store.name, **change}
    # A change is news for the whole channel; reading the admins is not.
    return call.result("opsbot_admins.json.j2", data,
                       ephemeral=not (change["added"] or change["removed"]))


_CONFIG_ALIASES = {"tz": "timezone", "lang": "language", "时区": "timezone", "语言": "language"}


def _config(call: Call, words: list[str]) -> CommandResult:
    store = call.store
    assert store is not None
    changed: dict[str, Any] = {}
    if words:
        if not call.may_administer(store):
            return call.forbidden(store, "config")
        key = _CONFIG_ALIASES.get(words[0].lower(), words[0].lower())
        value = " ".join(words[1:]).strip()
        if not value:
            raise UsageError(Text("`/opsbot config %(key)s VALUE` needs a value", key=key))
        try:
            if key == "timezone":
                store = configure_store(call.engine, store, timezone=value, user_id=call.user_id)
            elif key == "language":
                store = configure_store(call.engine, store, language=value.lower(),
                                        user_id=call.user_id)
            elif key in known_settings():
                store = configure_store(call.engine, store, settings={key: value},
                                        user_id=call.user_id)
            else:
                # Not every name: the list grows with each feature, a usage line must not.
                near = get_close_matches(key, ["timezone", "language", *known_settings()], n=3)
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
                       settings=sorted(known_settings()),
                       commands=[usage_entry(c, call.lang) for c in COMMANDS.values()])


def _needs_store(said: list[str]) -> bool:
    return bool(said) and said[0].lower() not in ("help", "帮助", "setup")


COMMAND = Command(
    name="/opsbot",
    run=run,
    summary=N_("Bind this channel to a store and manage it"),
    usage=(
        ("/opsbot setup STORE", N_("bind this channel to a store (created if new)")),
        ("/opsbot unbind", N_("unbind this channel from its store")),
        ("/opsbot status", N_("the store, its timezone and how fresh each report is")),
        ("/opsbot config timezone TZ",
         N_("set the store timezone (IANA name, e.g. Asia/Shanghai)")),
        ("/opsbot config language zh|en", N_("message language")),
        ("/opsbot config KEY VALUE", N_("change a threshold")),
        ("/opsbot rules", N_("the alert rules with their switch and thresholds")),
        ("/opsbot admins [add|remove @user]",
         N_("the store's admins, who may bind, unbind and configure it; add or remove one")),
        ("/opsbot help", N_("this help")),
    ),
    usage_hint="setup STORE | unbind | status | config [timezone TZ | language zh|en | KEY "
               "VALUE] | rules | admins [add|remove @user] | help",
    needs_store=_needs_store,
    escapes=True,  # `/opsbot admins add @anna` and `config alert_mention @ops` need the IDs
)
