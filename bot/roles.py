"""Who may change a store: its admins.

A store's admins are the person who created it with `/opsbot setup NEW` and whoever an admin
adds (`/opsbot admins add @user`, `opsbot store admins NAME --add U…`); workspace admins and
owners are admins of every store of their workspace (Slack's own model: they hold settings);
the CLI, the server's operator, may do everything. Binding a channel to an existing store,
unbinding, changing settings, changing admins and deleting a drop take an admin; reading stays
open to the members of a bound channel.

Whether someone is a workspace admin, or a member of a channel, only Slack can say: the
transport hands that answer in as a callable (handlers/members.py asks Slack and caches), so
this module stays plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select

from bot import audit
from bot.models import store_admins, stores
from bot.periods import utcnow
from bot.storage import read, write
from bot.stores import Store, StoreError, channels_of

# <@U123|anna> or <@U123> (a mention as Slack sends it), or a bare U123 / W123 (a user ID;
# W: an Enterprise Grid user).
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|([UW][A-Z0-9]+)")


class LastAdmin(StoreError):
    """Removing this admin would leave the store without one."""

    def __init__(self, store: Store, user: str) -> None:
        super().__init__(f"{user} is the last admin of store {store.name}: add another admin "
                         "first")
        self.user = user


class NotAnAdmin(StoreError):
    """Removing someone who is not an admin of the store."""

    def __init__(self, store: Store, user: str) -> None:
        super().__init__(f"{user} is not an admin of store {store.name}")
        self.user = user


def user_id_of(text: str) -> str | None:
    """The user ID in a mention (`<@U123|anna>`, `<@U123>`) or a bare ID (`U123`); None
    for anything else (a plain `@anna` is a name: Slack sends no ID for it)."""
    match = _USER.fullmatch(text.strip())
    return next(g for g in match.groups() if g) if match else None


def check_user_id(text: str) -> str:
    """A Slack user ID from a mention or an ID as typed; StoreError if it is neither."""
    user = user_id_of(text)
    if user is None:
        raise StoreError(f"{text.strip()!r} is not a Slack user ID (like U0123456789): in "
                         "Slack, open the person's profile, ⋮ → Copy member ID")
    return user


@dataclass(frozen=True)
class Asker:
    """Who asks for a change: a Slack user, or the CLI operator (`user_id` None).

    `workspace_admin(user_id)` tells whether a Slack user is an admin or owner of the
    workspace the request came from (asked only when the store's own admins do not include
    them, so reading never costs a call to Slack)."""

    user_id: str | None
    workspace_admin: Callable[[str], bool] | None = None

    @property
    def is_operator(self) -> bool:
        return self.user_id is None

    def is_workspace_admin(self) -> bool:
        return (self.user_id is not None and self.workspace_admin is not None
                and bool(self.workspace_admin(self.user_id)))


OPERATOR = Asker(None)


def admins_of(conn: Connection, store: Store | int) -> list[str]:
    """The store's admins (user IDs), in the order they were added."""
    store_id = store if isinstance(store, int) else store.id
    return list(conn.scalars(
        select(store_admins.c.user_id).where(store_admins.c.store_id == store_id)
        .order_by(store_admins.c.added_at, store_admins.c.user_id)))


def may_administer(engine: Engine, store: Store, asker: Asker) -> bool:
    """Whether `asker` may change `store`: the operator, one of its admins, or an admin or
    owner of its workspace."""
    if asker.is_operator:
        return True
    with read(engine) as conn:
        admins = admins_of(conn, store)
    return asker.user_id in admins or asker.is_workspace_admin()


def may_upload(engine: Engine, store: Store, user_id: str, *,
               member_of: Callable[[str], bool], workspace_admin: Callable[[str], bool]
               ) -> bool:
    """Whether `user_id` may send `store` a file outside its channels (a DM naming it): one
    of its admins, a member of one of its bound channels (`member_of(channel_id)`), or an
    admin or owner of its workspace."""
    with read(engine) as conn:
        admins = admins_of(conn, store)
        bound = channels_of(conn, store)
    if user_id in admins:
        return True
    return any(member_of(c) for c in bound) or workspace_admin(user_id)


def change_admins(engine: Engine, store: Store, *, add: Iterable[str] = (),
                  remove: Iterable[str] = (), by: str | None = None) -> dict[str, list[str]]:
    """Add, then remove, admins of `store` (user IDs), as `by` (None: the operator), each
    change with its audit row in one transaction. Returns {"admins", "added", "removed"}: the
    admins after, and the IDs that changed (adding an admin twice changes nothing). Refuses
    (LastAdmin) to leave a store without an admin, and removing someone who is not one."""
    add = [check_user_id(u) for u in add]
    remove = [check_user_id(u) for u in remove]
    now = utcnow()
    added: list[str] = []
    removed: list[str] = []
    with write(engine) as conn:
        # One change of a store's admins at a time: two admins removing each other at once
        # cannot both succeed and leave the store with none.
        conn.execute(select(stores.c.id).where(stores.c.id == store.id).with_for_update())
        admins = admins_of(conn, store)
        for user in add:
            if user in admins or user in added:
                continue
            conn.execute(insert(store_admins).values(store_id=store.id, user_id=user,
                                                     added_by=by or audit.OPERATOR,
                                                     added_at=now))
            audit.record(conn, store, by, audit.ADMIN_ADD, {"admin": user}, at=now)
            added.append(user)
        left = admins + added
        for user in remove:
            if user not in left:
                raise NotAnAdmin(store, user)
            if len(left) == 1:
                raise LastAdmin(store, user)
            conn.execute(delete(store_admins).where(store_admins.c.store_id == store.id,
                                                    store_admins.c.user_id == user))
            audit.record(conn, store, by, audit.ADMIN_REMOVE, {"admin": user}, at=now)
            left.remove(user)
            removed.append(user)
        result = admins_of(conn, store)
    return {"admins": result, "added": added, "removed": removed}
