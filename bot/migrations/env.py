"""Alembic environment: runs on the connection opsbot hands it, or on a URL from the CLI."""

from alembic import context
from sqlalchemy import create_engine

from bot.models import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///opsbot.db"
    with create_engine(url).begin() as conn:
        _run(conn)
