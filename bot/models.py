"""The SQL schema. Fact tables are generated from the report-kind table in `bot.kinds`, so a
kind's columns, types and natural key are written down once.

All moments are stored as naive UTC; dates (report days, ship-by dates) are the store's local
calendar dates. Unique keys, not application checks, enforce "exactly once".
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from bot.kinds import KINDS, ReportKind, Type

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False, server_default="Asia/Shanghai"),
    Column("language", String(8), nullable=False, server_default="en"),
    # Per-store thresholds and schedule (see bot.stores.StoreSettings for keys and defaults).
    Column("settings", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
)

# A Slack channel answers for exactly one store.
channels = Table(
    "channels",
    metadata,
    Column("channel_id", String(64), primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("team_id", String(64)),
    Column("bound_by", String(64)),
    Column("bound_at", DateTime, nullable=False),
)

drops = Table(
    "drops",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(32)),
    Column("status", String(16), nullable=False),  # ingested | duplicate | rejected
    Column("source", String(32), nullable=False, server_default="cli"),  # cli|slack|folder|demo
    Column("source_ref", String(200)),  # e.g. the Slack file id
    Column("period_start", Date),
    Column("period_end", Date),
    Column("rows", Integer, nullable=False, server_default="0"),
    Column("inserted", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
    Column("errors", JSON, nullable=False, default=list),
    Column("duplicate_of", Integer),
    Column("created_at", DateTime, nullable=False),
    Index("ix_drops_store_id_created_at", "store_id", "created_at"),
    # The same content is ingested once per store; duplicates and rejections are still logged.
    Index(
        "uq_drops_store_content",
        "store_id",
        "sha256",
        unique=True,
        sqlite_where=text("status = 'ingested'"),
        postgresql_where=text("status = 'ingested'"),
    ),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("drop_id", ForeignKey("drops.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("row_number", Integer, nullable=False),  # as the user sees it in the file, 1-based
    Column("reason", Text, nullable=False),
    Column("raw", JSON, nullable=False),  # the row's cells, header -> text
)

_SQL_TYPES: dict[Type, TypeEngine] = {
    Type.TEXT: Text(),
    Type.INT: BigInteger(),
    Type.NUMBER: Float(),
    Type.RATE: Float(),
    Type.MONEY: Numeric(18, 4, asdecimal=False),
    Type.BOOL: Boolean(),
    Type.DATE: Date(),
    Type.DATETIME: DateTime(),
}


def _fact_table(kind: ReportKind) -> Table:
    columns: list[Column | Index | UniqueConstraint] = [
        Column("id", Integer, primary_key=True),
        Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        # The last drop that wrote this fact, for provenance.
        Column("drop_id", ForeignKey("drops.id"), nullable=False, index=True),
        # The natural key, joined from the kind's key fields: unique per store.
        Column("key", String(600), nullable=False),
        UniqueConstraint("store_id", "key"),
    ]
    if kind.periodic:
        columns += [
            Column("period_start", Date, nullable=False),
            Column("period_end", Date, nullable=False),
            Index(f"ix_{kind.name}_store_id_period_end", "store_id", "period_end"),
        ]
    for f in kind.fields:
        columns.append(Column(f.name, _SQL_TYPES[f.type], nullable=not f.required))
    if kind.date_field:
        columns.append(
            Index(f"ix_{kind.name}_store_id_{kind.date_field}", "store_id", kind.date_field)
        )
    columns.append(Column("updated_at", DateTime, nullable=False))
    return Table(kind.name, metadata, *columns)


facts: dict[str, Table] = {kind.name: _fact_table(kind) for kind in KINDS}
