"""Several workspaces (OAuth mode): which bot token posts a store's messages.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, opsbot is installed into each workspace
through /slack/install (handlers/oauth.py); slack_sdk's SQLAlchemyInstallationStore keeps one
bot token per workspace in opsbot's own database (the tables are in bot/models.py, created by
the one migration). The outbox sender then posts each row with the token of the workspace its
store belongs to (`stores.team_id`, set when a channel is bound from Slack).

A store whose workspace has no installation (the app was uninstalled or its bot token
revoked) gets nothing sent: its rows fail with that reason, logged, and are never retried;
its data stays until someone deletes it on purpose.

Enterprise Grid: a workspace's own install is found by its team id whatever its enterprise;
an org-wide install (no team id) is not reachable from a store yet (stores keep no
enterprise id).
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, select
from sqlalchemy.engine import Row

from bot.config import Settings
from bot.models import stores
from bot.storage import read
from bot.workspaces import bot_token

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # an install link is good for 10 minutes (bolt's default)


class NotInstalled(Exception):
    """No bot token for the workspace of an outbox row's store; the message says why."""


def installation_store(settings: Settings, engine: Engine) -> SQLAlchemyInstallationStore:
    """slack_sdk's installation store on opsbot's engine (its tables: bot/models.py)."""
    client_id = settings.require("SLACK_CLIENT_ID", "OAuth mode needs the app's Client ID")
    return SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)


def state_store(engine: Engine) -> SQLAlchemyOAuthStateStore:
    """slack_sdk's OAuth state store (the install link's one-time `state`) on opsbot's engine."""
    return SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine, logger=log)


def web_client(settings: Settings, token: str | None, timeout: float) -> WebClient:
    """A sender's WebClient (base URL from OPSBOT_SLACK_API_URL), retries off: the outbox
    owns them (a blind retry after a timeout could post twice)."""
    return WebClient(token=token, base_url=settings.slack_api_url,
                     timeout=timeout,  # type: ignore[arg-type]  # urllib takes floats
                     retry_handlers=[])


class WorkspaceClients:
    """The outbox sender's client for a row: its store's workspace's bot token (one
    WebClient per token). The token is looked up for every row, so an uninstall stops
    delivery from the next row on."""

    def __init__(self, engine: Engine, settings: Settings, timeout: float) -> None:
        self.engine, self.settings, self.timeout = engine, settings, timeout
        self.client_id = settings.require("SLACK_CLIENT_ID",
                                          "OAuth mode needs the app's Client ID")
        self._clients: dict[str, WebClient] = {}
        self._lock = threading.Lock()

    def __call__(self, row: Row) -> WebClient:
        with read(self.engine) as conn:
            team_id = conn.scalar(select(stores.c.team_id).where(stores.c.id == row.store_id))
            token = bot_token(conn, self.client_id, team_id) if team_id else None
        if team_id is None:
            raise NotInstalled("the store belongs to no workspace yet (bound from the CLI "
                               "only): bind one of its channels from Slack to deliver")
        if token is None:
            raise NotInstalled(f"opsbot is not installed in workspace {team_id} (uninstalled "
                               "or its token revoked): not sent")
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                client = self._clients[token] = web_client(self.settings, token, self.timeout)
        return client
