"""OAuth mode: opsbot installed into several workspaces (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET).

    GET /slack/install          the "Add to Slack" page (bolt's), with a one-time `state`
    GET /slack/oauth_redirect   Slack comes back here: oauth.v2.access, the install is saved

Installations and states live in opsbot's own database (slack_sdk's SQLAlchemy stores,
jobs/workspaces.py). Every request is authorized by its workspace's installation (bolt's
`authorize`: a workspace that has not installed opsbot gets nothing done), and listeners get a
client with that workspace's bot token; the worker posts with it too.

`app_uninstalled` and `tokens_revoked` (bot token) delete the workspace's installation (bolt's
own listeners) and drop the messages queued for its stores, with the reason logged; the
stores, their facts and their history stay until someone deletes them on purpose.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.listener.builtins import TokenRevocationListeners
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine

from bot import outbox
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import write
from handlers.events import first_delivery
from handlers.manifest import BOT_SCOPES
from jobs.workspaces import STATE_SECONDS, installation_store, state_store
from templates.i18n import LANGUAGES, N_, gettext

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
NOT_INSTALLED = N_("opsbot is not installed in this workspace (or was removed from it): a "
                   "workspace admin can add it again. Nothing was done.")


def not_installed_reply() -> str:
    """What a person in a workspace without an installation is told (bolt answers it, before
    any store, so before any store language is known): English, then Chinese."""
    return "\n".join(gettext(lang, NOT_INSTALLED) for lang in LANGUAGES)


def app_options(settings: Settings, engine: Engine, client: WebClient) -> dict[str, Any]:
    """bolt App keyword arguments for OAuth mode: the install flow and per-workspace
    authorization, both on opsbot's database."""
    store = installation_store(settings, engine)
    client_secret = settings.require("SLACK_CLIENT_SECRET",
                                     "OAuth mode needs the app's Client Secret")
    return {
        "installation_store": store,
        "installation_store_bot_only": True,  # opsbot asks for no user token
        "user_facing_authorize_error_message": not_installed_reply(),
        # cache_enabled: auth.test once per token, not once per request (the 3 s ack);
        # the installation itself is still looked up every time, so an uninstall counts.
        "authorize": InstallationStoreAuthorize(
            logger=log, installation_store=store, client_id=store.client_id,
            client_secret=client_secret, bot_only=True, cache_enabled=True, client=client),
        "oauth_settings": OAuthSettings(
            client_id=store.client_id, client_secret=client_secret, scopes=list(BOT_SCOPES),
            install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
            installation_store=store, installation_store_bot_only=True,
            state_store=state_store(engine), state_expiration_seconds=STATE_SECONDS,
            logger=log),
    }


def stop_delivery(engine: Engine, team_id: str | None, why: str) -> list[int]:
    """Drop what is queued for workspace `team_id`'s stores (logged), keeping their data."""
    if not team_id:
        return []
    reason = f"not sent: workspace {team_id} {why}"
    with write(engine) as conn:
        dropped = outbox.drop_for_workspace(conn, team_id, utcnow(), reason=reason)
    log.warning("workspace %s %s: %d queued messages dropped, its stores and data kept",
                team_id, why, len(dropped))
    return dropped


def register(app: App, engine: Engine, store: SQLAlchemyInstallationStore) -> None:
    """The uninstall listeners (before handlers.events' catch-alls)."""
    builtin = TokenRevocationListeners(store)

    @app.event("app_uninstalled")
    def uninstalled(body: dict[str, Any], context: BoltContext) -> None:
        if not first_delivery(engine, body):
            return
        builtin.handle_app_uninstalled_events(context)
        stop_delivery(engine, context.team_id, "uninstalled opsbot")

    @app.event("tokens_revoked")
    def revoked(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        if not first_delivery(engine, body):
            return
        builtin.handle_tokens_revoked_events(event, context)
        if (event.get("tokens") or {}).get("bot"):
            stop_delivery(engine, context.team_id, "revoked opsbot's bot token")
