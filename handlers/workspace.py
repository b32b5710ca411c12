"""Whether a request's workspace may act on a store. A message posted in a Slack Connect
channel is visible in every workspace that shares it; a click from a workspace the store
does not belong to changes nothing (bot.stores.Store.belongs_to)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from bot.stores import get_store


def team_of(body: dict[str, Any]) -> str | None:
    """The workspace a request comes from (events: `team_id`; interactions: `team.id`)."""
    return body.get("team_id") or (body.get("team") or {}).get("id") or None


def may_act(conn: Connection, store_id: int | None, body: dict[str, Any]) -> bool:
    """True when the store exists and belongs to the request's workspace."""
    return store_id is not None and get_store(conn, store_id).belongs_to(team_of(body))
