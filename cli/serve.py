"""`opsbot serve`: run the Slack app, over HTTP (default) or Socket Mode."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from urllib.error import URLError

from slack_bolt.error import BoltError

from bot.config import Settings
from bot.storage import get_engine
from cli.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the Slack app (HTTP on /slack/events, or --socket-mode)",
        description="Run the Slack app. HTTP mode needs SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET and a public URL for /slack/events; Socket Mode needs "
        "SLACK_BOT_TOKEN and SLACK_APP_TOKEN and no public URL. OAuth mode (several "
        "workspaces) takes SLACK_CLIENT_ID and SLACK_CLIENT_SECRET instead of "
        "SLACK_BOT_TOKEN and serves /slack/install and /slack/oauth_redirect.",
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000),
                   help="HTTP port (default: $PORT or 3000)")
    p.add_argument("--host", default="0.0.0.0", help="HTTP interface (default: 0.0.0.0)")
    p.add_argument("--socket-mode", action="store_true",
                   help="connect to Slack over a WebSocket with SLACK_APP_TOKEN instead")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    if args.socket_mode:  # create_app checks the bot token and (HTTP) the signing secret
        app_token = settings.require(
            "SLACK_APP_TOKEN", "Socket Mode needs an app-level token (xapp-…) with "
            "connections:write, from Basic Information > App-Level Tokens")

    from handlers.app import create_app

    try:
        app = create_app(settings, socket_mode=args.socket_mode)
    except BoltError as exc:  # auth.test refused the token
        raise UserError(f"Slack refused SLACK_BOT_TOKEN: {exc}") from None
    except URLError as exc:
        raise UserError(f"cannot reach Slack at {settings.slack_api_url}: {exc.reason}") from None

    if args.socket_mode:
        from handlers.socket_mode import SocketModeHandler

        print("opsbot: connecting to Slack in Socket Mode (Ctrl-C stops)", file=sys.stderr)
        SocketModeHandler(app, app_token=app_token).start()  # blocks, reconnects by itself
        return 0

    from handlers.wsgi import make_server, make_wsgi_app

    engine = get_engine(settings.database_url)  # the app's own engine (cached)
    try:
        server = make_server(make_wsgi_app(app, engine), args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    install = "; install: /slack/install" if settings.oauth else ""
    print(f"opsbot: serving Slack on http://{args.host}:{server.server_port}/slack/events "
          f"(health: /healthz{install}; Ctrl-C stops)", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
