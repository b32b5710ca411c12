"""The Slack app fixtures (mock Web API, its Socket Mode server, settings pointing at them, the
app, the running WSGI server, a bound store), loaded for every test by `tests/conftest.py`;
helpers are in `tests.slack_app_env`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot.config import Settings
from bot.stores import Store, bind_channel
from handlers.app import create_app, make_client
from handlers.wsgi import make_server, make_wsgi_app
from tests.slack_app_env import CHANNEL, Server
from tests.slack_mock import MockSlackAPI
from tests.socket_mock import MockSocketModeServer


@pytest.fixture
def api() -> Iterator[MockSlackAPI]:
    with MockSlackAPI() as mock:
        yield mock


@pytest.fixture
def sock(api: MockSlackAPI) -> Iterator[MockSocketModeServer]:
    """A local Socket Mode server that the mock's apps.connections.open points to."""
    with MockSocketModeServer() as server:
        api.register_socket_server(server)
        yield server


@pytest.fixture
def settings(api: MockSlackAPI, database_url: str) -> Settings:
    return Settings.from_env({**api.env(), "OPSBOT_DATABASE_URL": database_url,
                              "OPSBOT_MAX_UPLOAD_MB": "1"})


@pytest.fixture
def slack_app(settings: Settings, engine: Engine) -> App:
    return create_app(settings, engine, client=make_client(settings))


@pytest.fixture
def server(slack_app: App, engine: Engine, api: MockSlackAPI) -> Iterator[Server]:
    """`opsbot serve`'s WSGI app on a threaded server, port 0."""
    httpd = make_server(make_wsgi_app(slack_app, engine), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{httpd.server_port}", api.signing_secret)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def bound(engine: Engine, store: Store) -> Store:
    bind_channel(engine, store, CHANNEL, team_id="T1", user_id="U1")
    return store
