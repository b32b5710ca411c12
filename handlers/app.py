"""The one factory of the Slack app, shared by HTTP mode, Socket Mode and the tests.

    app = create_app(Settings.from_env())                     # production: checks the token
    app = create_app(settings, engine, client=mock_client)    # tests: no start-up auth.test

One workspace (the default): SLACK_BOT_TOKEN. Several (OAuth mode, SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET): /slack/install and per-workspace tokens, see handlers/oauth.py.

Listeners never do slow work before acking: `process_before_response=False` makes bolt ack
events before their listener runs (in bolt's thread pool), and slash commands ack with the
answer as soon as it is ready, or with "working on it" within 3 s of the request's arrival
(handlers/slash.py).
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy import Engine

from bot.config import Settings
from bot.storage import get_engine
from handlers import actions, events, oauth, slash, uploads
from handlers.members import Directory

API_TIMEOUT = 30  # seconds per Web API call; files.info and chat.* answer in well under 1 s


def make_client(settings: Settings) -> WebClient:
    """The bot's Web API client: OPSBOT_SLACK_API_URL, retrying 429s (after Retry-After),
    5xx answers and dropped connections. In OAuth mode it has no token: bolt gives each
    request a copy with its workspace's bot token."""
    token = None if settings.oauth else settings.require(
        "SLACK_BOT_TOKEN", "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions")
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=API_TIMEOUT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    client: WebClient | None = None,
    socket_mode: bool = False,
) -> App:
    """The bolt App with every opsbot listener.

    HTTP mode needs SLACK_SIGNING_SECRET (requests are verified: forged or stale ones get 401);
    Socket Mode requests arrive over an authenticated WebSocket and carry no signature.
    Without an injected `client` the bot token is checked once with auth.test at start-up
    (a wrong token stops start-up); with one (tests, benchmarks) that check is skipped and
    bolt runs auth.test lazily on the first request instead.
    """
    secret = None
    if not socket_mode:
        secret = settings.require(
            "SLACK_SIGNING_SECRET", "copy the Signing Secret from Basic Information")
    if client is None:
        client = make_client(settings)
        verify_token = not settings.oauth  # OAuth mode: no token of its own to check
    else:
        verify_token = False
    engine = engine if engine is not None else get_engine(settings.database_url)
    options = oauth.app_options(settings, engine, client) if settings.oauth else {}
    app = App(
        name="opsbot",
        client=client,
        signing_secret=secret,
        process_before_response=False,
        token_verification_enabled=verify_token,
        request_verification_enabled=not socket_mode,
        **options,
    )
    directory = Directory()  # users.info and conversations.members answers, cached
    if settings.oauth:
        oauth.register(app, engine, options["installation_store"])
    slash.register(app, engine, settings, directory)
    uploads.register(app, engine, settings, directory)
    events.register(app, engine, settings)  # after uploads: its catch-alls must come last
    actions.register(app, engine, settings)
    return app

