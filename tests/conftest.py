"""Shared fixtures: every storage and end-to-end test runs on SQLite and, when
OPSBOT_TEST_DATABASE_URL is set, on PostgreSQL too (each test in a schema of its own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.storage import make_engine, migrate, normalize_url
from bot.stores import Store, add_store

PG_URL = os.environ.get("OPSBOT_TEST_DATABASE_URL")


def _backends() -> list:
    pg = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="PostgreSQL tests need OPSBOT_TEST_DATABASE_URL (see README)"
        ),
    )
    return ["sqlite", pg]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsbot.db'}"
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{normalize_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


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
