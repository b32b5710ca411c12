"""The workspaces opsbot is installed in (OAuth mode), read from the installation store's tables
(bot/models.py: slack_bots, written by slack_sdk at /slack/install). Plain SQL: the worker
finds a store's bot token here, `opsbot workspaces` lists them. Tokens never leave this
module except to the sender."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, desc, func, select

from bot.models import outbox, slack_bots, slack_oauth_states, stores


def bot_token(conn: Connection, client_id: str | None, team_id: str) -> str | None:
    """The bot token of the newest installation of app `client_id` into workspace `team_id`
    (whatever its Enterprise Grid organisation), or None when it has none (never installed,
    uninstalled, or its token revoked: those delete the row)."""
    c = slack_bots.c
    return conn.scalar(select(c.bot_token)
                       .where(c.client_id == client_id, c.team_id == team_id,
                              c.bot_token.is_not(None))
                       .order_by(desc(c.installed_at), desc(c.id)).limit(1))


def installed(conn: Connection, client_id: str | None) -> set[str]:
    """The workspaces app `client_id` is installed in now (with a bot token)."""
    c = slack_bots.c
    return set(conn.scalars(select(c.team_id).distinct().where(
        c.client_id == client_id, c.team_id.is_not(None), c.bot_token.is_not(None))))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def overview(conn: Connection, client_id: str | None) -> list[dict[str, Any]]:
    """Every workspace that installed opsbot or owns a store: `team_id`, `team_name`,
    `enterprise_id`, `installed` (bool), `installed_at`, `stores` (names), and its stores'
    messages `queued` (pending or being sent) and `failed`."""
    c = slack_bots.c
    latest: dict[str, Any] = {}
    for row in conn.execute(select(c.team_id, c.team_name, c.enterprise_id, c.installed_at)
                            .where(c.client_id == client_id, c.team_id.is_not(None))
                            .order_by(c.installed_at, c.id)):
        latest[row.team_id] = row  # the newest wins
    owned: dict[str, list[str]] = {}
    for team_id, name in conn.execute(select(stores.c.team_id, stores.c.name)
                                      .where(stores.c.team_id.is_not(None))
                                      .order_by(stores.c.name)):
        owned.setdefault(team_id, []).append(name)
    counts: dict[tuple[str, str], int] = {
        (team_id, status): n for team_id, status, n in conn.execute(
            select(stores.c.team_id, outbox.c.status, func.count())
            .join(stores, stores.c.id == outbox.c.store_id)
            .where(stores.c.team_id.is_not(None))
            .group_by(stores.c.team_id, outbox.c.status))}
    result = []
    for team_id in sorted(set(latest) | set(owned)):
        bot = latest.get(team_id)
        result.append({
            "team_id": team_id, "team_name": bot.team_name if bot else None,
            "enterprise_id": bot.enterprise_id if bot else None, "installed": bot is not None,
            "installed_at": _iso(bot.installed_at) if bot else None,
            "stores": owned.get(team_id, []),
            "queued": counts.get((team_id, "pending"), 0) + counts.get((team_id, "sending"), 0),
            "failed": counts.get((team_id, "failed"), 0)})
    return result


def prune_states(conn: Connection, now: datetime) -> int:
    """Delete the `state` of install links that expired unused (naive UTC `now`); how many.
    slack_sdk deletes a state when it is used, never when it is not."""
    return conn.execute(delete(slack_oauth_states)
                        .where(slack_oauth_states.c.expire_at <= now)).rowcount or 0
