"""What only Slack can tell about a person, for store roles (bot/roles.py): whether they are an
admin or owner of the workspace (`users.info`), and who is in a channel
(`conversations.members`). Each answer is cached for a few minutes, so a burst of commands or
uploads costs one Web API call; an answer Slack could not give (a missing scope, Slack down)
counts as "no" and is not cached.

The calls go through the client bolt hands the listener (the request's workspace's token).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

TTL = 300.0  # seconds an answer is kept: a promotion or a new member counts within minutes
MAX_ENTRIES = 10_000  # beyond this the expired answers are dropped, then the oldest
_PAGE = 1000  # conversations.members page size (Slack's maximum)


class Directory:
    """Cached `users.info` and `conversations.members` answers; one per app, thread-safe."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def is_workspace_admin(self, client: Any, team_id: str | None, user_id: str) -> bool:
        """Whether `user_id` is an admin or owner of workspace `team_id` (users.info)."""
        def ask() -> bool:
            user = client.users_info(user=user_id)["user"]
            return bool(user.get("is_admin") or user.get("is_owner")
                        or user.get("is_primary_owner"))

        return bool(self._cached(("admin", team_id or "", user_id), ask, False))

    def members(self, client: Any, channel_id: str) -> frozenset[str]:
        """The user IDs in a channel (conversations.members, every page)."""
        def ask() -> frozenset[str]:
            found: set[str] = set()
            cursor = None
            while True:
                page = client.conversations_members(channel=channel_id, limit=_PAGE,
                                                    cursor=cursor)
                found.update(page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return frozenset(found)

        return self._cached(("members", channel_id), ask, frozenset())

    def is_member(self, client: Any, channel_id: str, user_id: str) -> bool:
        return user_id in self.members(client, channel_id)

    def _cached(self, key: tuple[str, ...], ask: Callable[[], Any], otherwise: Any) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        try:
            value = ask()
        except (SlackApiError, OSError) as exc:  # OSError: the connection failed
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("Slack could not tell %s: %s", " ".join(key), reason)
            return otherwise
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._prune(now)
            self._cache[key] = (now + self.ttl, value)
        return value

    def _prune(self, now: float) -> None:
        for key in [k for k, (until, _) in self._cache.items() if until <= now]:
            del self._cache[key]
        while len(self._cache) >= MAX_ENTRIES:  # all fresh: the oldest go first
            del self._cache[next(iter(self._cache))]
