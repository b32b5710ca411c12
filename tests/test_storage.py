"""Storage (bot.storage): the schema appears on first use, SQLite runs in WAL with foreign
keys on, the migration matches the models, and a write is one transaction."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from bot.models import drops, facts, metadata, stores
from bot.periods import utcnow
from bot.storage import (
    HEAD,
    alembic_config,
    dispose_all,
    get_engine,
    make_engine,
    migrate,
    normalize_url,
    read,
    write,
)
from bot.stores import Store
from tests.conftest import _pg_schema


def _drop(store_id: int, sha: str, status: str) -> dict[str, object]:
    return {"store_id": store_id, "file_name": "f.csv", "sha256": sha, "status": status,
            "errors": [], "created_at": utcnow()}


@pytest.fixture
def fresh_url(empty_database_url: str) -> str:
    yield empty_database_url
    dispose_all()


def test_the_schema_is_created_on_first_use(fresh_url: str) -> None:
    engine = get_engine(fresh_url)  # an empty SQLite file or an empty PostgreSQL schema
    tables = set(inspect(engine).get_table_names())
    assert {"stores", "channels", "drops", "quarantine", *facts} <= tables
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    assert get_engine(fresh_url) is engine  # migrated once, then cached


def test_the_schema_is_created_in_a_new_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "opsbot.db"
    path.parent.mkdir()
    try:
        engine = get_engine(f"sqlite:///{path}")
        assert path.exists()
        assert "drops" in inspect(engine).get_table_names()
    finally:
        dispose_all()


def test_head_names_the_newest_migration() -> None:
    # migrate() skips Alembic for a database at HEAD: a new revision must move HEAD too.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def _schema(engine: Engine) -> dict[str, object]:
    """Every table's columns, keys and indexes as the database reports them, in no order."""
    found = inspect(engine)
    return {table: {
        "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                          for c in found.get_columns(table)),
        "primary": found.get_pk_constraint(table)["constrained_columns"],
        "foreign": sorted((f["name"], f["constrained_columns"], f["referred_table"],
                           f["referred_columns"], sorted(f["options"].items()))
                          for f in found.get_foreign_keys(table)),
        "indexes": sorted((i["name"], i["column_names"], i["unique"],
                           sorted((k, str(v)) for k, v in (i.get("dialect_options") or {}).items()))
                          for i in found.get_indexes(table)),
        "unique": sorted((u["name"], u["column_names"])
                         for u in found.get_unique_constraints(table)),
    } for table in found.get_table_names()}


def test_a_new_database_gets_the_schema_the_migrations_build(fresh_url: str,
                                                             tmp_path: Path) -> None:
    created = make_engine(fresh_url)
    migrate(created)  # a new database: created from the models, without Alembic
    with contextlib.ExitStack() as stack:
        other = (f"sqlite:///{tmp_path / 'migrated.db'}" if fresh_url.startswith("sqlite")
                 else stack.enter_context(_pg_schema()))
        migrated = make_engine(other)
        with write(migrated) as conn:
            command.upgrade(alembic_config(conn), "head")
        try:
            assert _schema(created) == _schema(migrated)
            assert "p4p" in _schema(created)
            for engine in (created, migrated):
                with engine.connect() as conn:
                    assert MigrationContext.configure(conn).get_current_revision() == HEAD
        finally:
            migrated.dispose()
            created.dispose()


def test_migrating_again_changes_nothing(engine: Engine) -> None:
    before = sorted(inspect(engine).get_table_names())
    migrate(engine)
    assert sorted(inspect(engine).get_table_names()) == before


def test_the_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        # ...and the comparison does see a model the migration lacks.
        changed = MetaData(naming_convention=metadata.naming_convention)
        for table in metadata.tables.values():
            table.to_metadata(changed)
        Table("not_migrated", changed, Column("id", Integer, primary_key=True))
        assert [d[0] for d in compare_metadata(context, changed)] == ["add_table"]


def test_sqlite_runs_in_wal_with_foreign_keys_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(IntegrityError), write(engine) as conn:
        conn.execute(insert(drops).values(**_drop(999, "a" * 64, "ingested")))
    engine.dispose()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), write(engine) as conn:
        conn.execute(insert(drops).values(**_drop(12345, "a" * 64, "ingested")))


def test_a_content_is_ingested_once_per_store_by_a_unique_key(engine: Engine,
                                                              store: Store) -> None:
    with write(engine) as conn:
        conn.execute(insert(drops).values(**_drop(store.id, "a" * 64, "ingested")))
        # Duplicates and rejections of the same content are logged freely.
        conn.execute(insert(drops).values(**_drop(store.id, "a" * 64, "duplicate")))
        conn.execute(insert(drops).values(**_drop(store.id, "a" * 64, "rejected")))
    with pytest.raises(IntegrityError), write(engine) as conn:
        conn.execute(insert(drops).values(**_drop(store.id, "a" * 64, "ingested")))


def test_a_write_is_all_or_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write(engine) as conn:
        conn.execute(insert(stores).values(name="half", timezone="UTC", language="en",
                                           settings={}, created_at=utcnow()))
        raise RuntimeError("failed after the insert")
    with read(engine) as conn:
        assert conn.scalar(select(stores.c.id).where(stores.c.name == "half")) is None


@pytest.mark.parametrize("url", ["postgresql://u@h:5432/db", "postgres://u@h/db"])
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert normalize_url(url).startswith("postgresql+psycopg://u@h")
    assert make_engine(url).dialect.driver == "psycopg"
