"""Shared fixtures: every storage and end-to-end test runs on SQLite and, when
OPSBOT_TEST_DATABASE_URL is set, on PostgreSQL too (one migrated schema per test process,
emptied before each test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.models import metadata
from bot.storage import dispose_all, make_engine, migrate, normalize_url
from bot.stores import Store, add_store

PG_URL = os.environ.get("OPSBOT_TEST_DATABASE_URL")

# Fixtures for tests that run the Slack app against the mock Web API, and `cli`.
pytest_plugins = ["tests.slack_app_fixtures", "tests.cli_helpers"]


def _backends() -> list:
    pg = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="PostgreSQL tests need OPSBOT_TEST_DATABASE_URL (see README)"
        ),
    )
    return ["sqlite", pg]


def _pg_schema_url(schema: str) -> str:
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{normalize_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema, dropped afterwards."""
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(schema)
    finally:
        dispose_all()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[str]:
    """One migrated schema per test process: migrating for every test costs seconds."""
    with _pg_schema() as url:
        eng = make_engine(url)
        migrate(eng)
        eng.dispose()
        yield url


def _empty_tables(url: str) -> None:
    eng = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '20s'"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with the schema in place and no data, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsbot.db'}"
        return
    url = request.getfixturevalue("_pg_migrated")
    dispose_all()  # engines cached by earlier tests hold connections
    _empty_tables(url)
    yield url
    dispose_all()


@pytest.fixture(params=_backends())
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even the schema, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsbot.db'}"
        return
    with _pg_schema() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on a fresh database."""
    eng = make_engine(database_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    return add_store(engine, "acme", "Asia/Shanghai", "en")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack-sdk and urllib pick proxies up from the environment; every mock is local."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
