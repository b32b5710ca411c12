"""HTTP mode: one WSGI application serving Slack's endpoint and a health check.

    POST /slack/events   events, slash commands and interactivity (bolt's WSGI adapter)
    GET  /healthz        200 {"ok": true, "database": "ok", "stores": N}, 503 if the DB is down
    GET  /slack/install, /slack/oauth_redirect   OAuth mode only (handlers/oauth.py; bolt's
                         adapter serves them, 404 otherwise)

Production: `gunicorn "handlers.wsgi:application"` (the Procfile's web line); `application`
is built on first access from the environment, so importing this module needs no settings.
`opsbot serve` runs the same application on a threaded stdlib server (`make_server`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine

from bot.stores import store_count
from handlers.arrival import stamp_environ

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY = 1_000_000  # bytes; Slack's largest payloads (a block_actions body) are ~100 kB

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health(engine: Engine) -> tuple[int, dict[str, Any]]:
    """Status code and body of the health check: the process is up and the DB answers."""
    try:
        stores = store_count(engine)
    except Exception as exc:  # any database failure means "not healthy", never a 500 page
        return 503, {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
    return 200, {"ok": True, "database": "ok", "stores": stores}


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]
           ) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def _refusal(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Why a request to the Slack endpoint is refused before its body is read, or None.

    Slack's own payloads stay far below MAX_BODY: a larger or unsized body is refused
    without reading it (so it cannot grow the process). A signature timestamp that is not a
    number is a forgery (401), not a server error."""
    length = environ.get("CONTENT_LENGTH") or ""
    if not length.isdigit():
        return "411 Length Required", "a request body needs a Content-Length"
    if int(length) > MAX_BODY:
        return "413 Content Too Large", f"request bodies are limited to {MAX_BODY} bytes"
    stamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    if stamp is not None and not stamp.strip().isdigit():
        return "401 Unauthorized", "invalid request signature"
    return None


def make_wsgi_app(app: App, engine: Engine) -> WSGIApp:
    slack = SlackRequestHandler(app, path=SLACK_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stamp_environ(environ)  # before anything else: the ack deadline counts from here
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            status, body = health(engine)
            return _reply(start_response,
                          f"{status} {'OK' if status == 200 else 'Service Unavailable'}", body)
        if path == SLACK_PATH and method == "POST":
            refused = _refusal(environ)
            if refused is not None:
                log.warning("refused a request to %s: %s", SLACK_PATH, refused[1])
                return _reply(start_response, refused[0], {"ok": False, "error": refused[1]})
        return slack(environ, start_response)

    return application


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow request never holds up another's ack."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(application: WSGIApp, host: str = "0.0.0.0", port: int = 3000) -> WSGIServer:
    """A threaded stdlib WSGI server (port 0 picks a free port: `server.server_port`)."""
    return _make_server(host, port, application, server_class=_ThreadingWSGIServer,
                        handler_class=_QuietHandler)


_built: WSGIApp | None = None
_lock = threading.Lock()


def _from_environment() -> WSGIApp:
    from bot.config import SettingError, Settings
    from bot.storage import DatabaseError, get_engine
    from handlers.app import create_app

    try:
        settings = Settings.from_env()
        engine = get_engine(settings.database_url)
        return make_wsgi_app(create_app(settings, engine), engine)
    except SettingError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseError as exc:
        url = f"={exc.url}" if exc.url else ""
        print(f"opsbot: OPSBOT_DATABASE_URL{url}: {exc.cause}", file=sys.stderr)
        raise SystemExit(2) from None


def __getattr__(name: str) -> Any:
    """`handlers.wsgi.application`, built once on first access (gunicorn's import)."""
    global _built
    if name != "application":
        raise AttributeError(name)
    with _lock:
        if _built is None:
            _built = _from_environment()
    return _built
