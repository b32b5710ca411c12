"""Engines, transactions and automatic schema migration.

SQLite (the embedded default) runs in WAL mode with foreign keys on; writers take the lock up
front (BEGIN IMMEDIATE) so that two processes never deadlock upgrading a read to a write.
PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in MIGRATIONS/versions (a test checks it): a database already there, or
# a new one, needs no Alembic: importing and running it costs a short command a tenth of a
# second.
HEAD = "0001"
_MIGRATION_LOCK = 4_815_162_342  # PostgreSQL advisory lock id: one migrator at a time
BACKENDS = ("sqlite", "postgresql")
CONNECT_TIMEOUT = 10  # seconds: an unreachable PostgreSQL host fails start-up within this
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()

# What a user is told when the database cannot be used (DatabaseError.cause).
USE = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE"
NOT_A_URL = f"not a database URL: {USE}"


class DatabaseError(RuntimeError):
    """The database cannot be opened or reached. `url` is the URL without its password (None
    when it could not be read as a URL), `cause` a few words on why; the caller names the
    setting the URL came from."""

    def __init__(self, url: str | None, cause: str) -> None:
        super().__init__(f"{url}: {cause}" if url else cause)
        self.url = url
        self.cause = cause


def _quiet_alembic_context(record: logging.LogRecord) -> bool:
    """Alembic says "Context impl SQLiteImpl." and "Will assume transactional DDL." at INFO
    on every start-up: noise in the worker's log. Its other lines (an upgrade run, warnings)
    still show."""
    return record.levelno >= logging.WARNING or not record.getMessage().startswith(
        ("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_quiet_alembic_context)


def shown_url(url: str) -> str | None:
    """The URL as it may be shown (password hidden), or None when it is not a URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return None


def problem(exc: BaseException) -> str:
    """A database error's cause in one line: the driver's own first line."""
    orig = getattr(exc, "orig", None) or exc
    line = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return f"cannot use the database: {line}"


def normalize_url(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _check_driver(url: str, shown: str | None) -> None:
    """DatabaseError for a kind of database opsbot does not run on."""
    backend = make_url(url).get_backend_name()
    if backend not in BACKENDS:
        raise DatabaseError(shown, f"unknown database driver {backend!r}: {USE}")


def _check_folder(url: str, shown: str | None) -> None:
    """DatabaseError for a SQLite file in a folder that does not exist: SQLite would only
    say "unable to open database file"."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database \
            and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        try:
            folder = Path(parsed.database).absolute().parent
        except OSError:  # no current folder (deleted): SQLite's own error will say
            return
        if not folder.is_dir():
            raise DatabaseError(shown, f"the folder {folder} does not exist: create it, or "
                                       "give a path in an existing folder")


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        # 16 KiB pages (SQLite's default is 4 KiB) for a new database; an existing one keeps
        # its own. A drop's rows go into the fact table and its indexes in fewer, fuller
        # pages: a tenth less time for a large drop, and a small write costs little more.
        cursor.execute("PRAGMA page_size=16384")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache (the default is 2 MiB): a drop's inserts keep the fact table's
        # indexes in memory instead of spilling pages to the WAL halfway through (a tenth of a
        # 200,000-row ingest's time); allocated only as pages are used.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("opsbot_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for a URL; DatabaseError when the URL cannot be used (nothing is opened
    yet: connection problems show on first use)."""
    shown = shown_url(url)  # as the user wrote it
    try:
        url = normalize_url(url)
    except ArgumentError:
        raise DatabaseError(None, NOT_A_URL) from None
    _check_driver(url, shown)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            _sqlite_setup(engine)
        else:
            wait = {} if "connect_timeout" in make_url(url).query else {
                "connect_timeout": CONNECT_TIMEOUT}
            engine = create_engine(url, pool_pre_ping=True, connect_args=wait)
    except (NoSuchModuleError, ImportError):
        driver = make_url(url).drivername
        raise DatabaseError(shown, f"the database driver {driver!r} is not installed: "
                                   f"{USE}") from None
    return engine


# Alembic's own record of a database's revision, as Alembic creates it.
_version = Table("alembic_version", MetaData(),
                 Column("version_num", String(32), nullable=False),
                 PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision."""
    with write(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        tables = set(inspect(conn).get_table_names())
        if _version.name in tables and conn.scalar(select(_version.c.version_num)) == HEAD:
            return
        if not tables:
            # A new database: the models' tables as they are, stamped with the newest
            # revision (Alembic's recipe; a test checks that the migrations build the same).
            from bot.models import metadata

            metadata.create_all(conn)
            _version.create(conn)
            conn.execute(_version.insert().values(version_num=HEAD))
            return
        from alembic import command

        command.upgrade(alembic_config(conn), "head")


def get_engine(url: str) -> Engine:
    """The process-wide engine for a URL, migrated on first use; DatabaseError (one line)
    when the database cannot be opened, reached or migrated."""
    try:
        key = normalize_url(url)
    except ArgumentError:
        raise DatabaseError(None, NOT_A_URL) from None
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            _check_folder(key, shown_url(url))
            engine = make_engine(url)
            try:
                migrate(engine)
            except DBAPIError as exc:
                engine.dispose()
                raise DatabaseError(shown_url(url), problem(exc)) from None
            _engines[key] = engine
        return engine


def dispose_all() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any error."""
    with engine.connect().execution_options(opsbot_write=True) as conn, conn.begin():
        yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn
