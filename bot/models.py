"""The SQL schema. Fact tables are generated from the report-kind table in `bot.ingest.kinds`, so a
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
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.types import TypeEngine

from bot.ingest.kinds import KINDS, ReportKind, Type, currency_column

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
    # The Slack workspace the store belongs to: the team it was first bound in (None: made
    # from the CLI and not bound from Slack yet). No other workspace reads or writes it.
    Column("team_id", String(64)),
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

# Who may bind, unbind and configure a store (bot/roles.py): its admins by Slack user ID.
# Workspace admins and owners are admins of every store of their workspace without a row.
store_admins = Table(
    "store_admins",
    metadata,
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("added_by", String(64), nullable=False),  # a Slack user ID, or "cli"
    Column("added_at", DateTime, nullable=False),
)

# The audit trail (bot/audit.py): who changed or clicked what in a store, and when; each row
# written in the transaction of the change it records.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(64), nullable=False),  # a Slack user ID, or "cli"
    Column("action", String(32), nullable=False),  # bind | unbind | configure | ... (audit.py)
    Column("detail", JSON, nullable=False),
    Index("ix_audit_store_id_id", "store_id", "id"),
)

drops = Table(
    "drops",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(32)),
    Column("status", String(16), nullable=False),  # ingested | duplicate | rejected | deleted
    Column("source", String(32), nullable=False, server_default="cli"),  # cli|slack|folder|demo
    Column("source_ref", String(200)),  # e.g. the Slack file id
    Column("period_start", Date),
    Column("period_end", Date),
    # Where the period came from: "title" (a title row), "name" (the file name) or "rows"
    # (the dates in the rows); None for a drop without a period. A list's coverage depends on it.
    Column("period_source", String(8)),
    Column("rows", Integer, nullable=False, server_default="0"),
    Column("inserted", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
    Column("errors", JSON, nullable=False, default=list),
    Column("duplicate_of", Integer),
    Column("created_at", DateTime, nullable=False),
    # When the drop was undone (status deleted): `opsbot drops delete`, or a re-ingest of the
    # same bytes as another kind (bot/ingest/undo.py).
    Column("deleted_at", DateTime),
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


# Columns a kind's (store, date) index also carries: /inquiries' counts and groups and the
# open-inquiry list read only these, so years of inquiries are answered from the index alone.
# P4P rows, a hundred times as many, get none: an index carrying /keywords' figures copies
# every row and cost a load of P4P history a fifth of its time, while /keywords answers from
# the table well inside its 300 ms (benchmarks/bench_keywords.py). So did a partial index of
# the rows that brought an inquiry.
_COVERED: dict[str, tuple[str, ...]] = {
    "inquiries": ("is_spam", "replied_at", "country", "product_id"),
}


def _fact_table(kind: ReportKind) -> Table:
    columns: list[Column | Index | UniqueConstraint] = [
        Column("id", Integer, primary_key=True),
        Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        # The last drop that wrote this fact, for provenance.
        Column("drop_id", ForeignKey("drops.id"), nullable=False),
        # The natural key, joined from the kind's key fields: unique per store.
        Column("key", String(600), nullable=False),
    ]
    if kind.periodic:
        columns += [
            Column("period_start", Date, nullable=False),
            Column("period_end", Date, nullable=False),
            # period_start too: the distinct report periods are read from the index alone.
            Index(f"ix_{kind.name}_store_id_period_end", "store_id", "period_end",
                  "period_start"),
        ]
    for f in kind.fields:
        columns.append(Column(f.name, _SQL_TYPES[f.type], nullable=not f.required))
        if f.type is Type.MONEY:  # each value's own currency (bot/ingest/currency.py)
            columns.append(Column(currency_column(f.name), Text))
    if kind.dated_key:
        # The key tells the day, so (store, day, key) is as unique as (store, key), and the
        # one index serves both the upserts and the questions about a period: a second
        # index of the days cost a load of P4P history a tenth of its time.
        columns.append(UniqueConstraint("store_id", kind.date_field, "key"))
    else:
        columns.append(UniqueConstraint("store_id", "key"))
        if kind.date_field:
            columns.append(
                Index(f"ix_{kind.name}_store_id_{kind.date_field}", "store_id",
                      kind.date_field, *_COVERED.get(kind.name, ())))
    columns.append(Column("updated_at", DateTime, nullable=False))
    return Table(kind.name, metadata, *columns)


facts: dict[str, Table] = {kind.name: _fact_table(kind) for kind in KINDS}

# ---- Undoing a drop (bot/ingest/undo.py) ----------------------------------------------------
# Before a drop updates a fact, the fact as it was (its before-image) is written here in the
# same transaction. Facts the drop found unchanged are then the later drop's as much as the
# earlier one's, so the earlier one must not take them away: one row without a fact (fact_id
# NULL) per earlier drop whose facts it restated says so. Undoing a drop puts its
# before-images back and deletes the facts it inserted; while rows here name a drop in
# `before_drop_id`, that drop cannot be undone (undo the later one first). A first load of new
# facts writes nothing here.
_FACT_BOOKKEEPING = ("id", "store_id", "drop_id", "key", "updated_at")


def _undo_table(kind: ReportKind) -> Table:
    values = [Column(c.name, c.type, nullable=True) for c in facts[kind.name].columns
              if c.name not in _FACT_BOOKKEEPING]
    return Table(
        f"{kind.name}_undo",
        metadata,
        Column("id", Integer, primary_key=True),
        # The drop that overwrote (or restated) the fact.
        Column("drop_id", ForeignKey("drops.id", ondelete="CASCADE"), nullable=False,
               index=True),
        Column("fact_id", Integer),  # NULL: facts of before_drop_id restated, not changed
        # The drop that had written the fact before.
        Column("before_drop_id", Integer, nullable=False, index=True),
        Column("before_updated_at", DateTime),
        *values,
    )


undo: dict[str, Table] = {kind.name: _undo_table(kind) for kind in KINDS}

# ---- Slack delivery receipts (handlers/events.py, handlers/uploads.py) ----------------------
# Slack redelivers an event it thinks was missed (X-Slack-Retry-Num) and announces one upload
# by several events (file_shared, message/file_share); the first insert of (kind, ref) wins,
# so each event id and each Slack file id has exactly one effect. A file's receipt is a lease
# (bot/receipts.py): `working` until `lease_until`, then anyone may take it over (a process
# that died mid-upload); `done`, or `released` (a new share may try again).
slack_receipts = Table(
    "slack_receipts",
    metadata,
    Column("kind", String(16), primary_key=True),  # "event" | "file"
    Column("ref", String(200), primary_key=True),  # the event id or the Slack file id
    Column("received_at", DateTime, nullable=False, index=True),  # the latest claim
    Column("state", String(8), nullable=False, server_default="done"),
    Column("lease_until", DateTime),  # while `working`
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("lapses", Integer, nullable=False, server_default="0"),  # attempts in a row that died
    # Where a file was shared, for whoever takes the upload over.
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE")),
    Column("channel", String(32)),
    Column("thread_ts", String(32)),
    Index("ix_slack_receipts_lapsing", "state", "lease_until"),
)

# ---- Checklists (bot/checklists/daily.py) --------------------------------------------------------
# One checklist per store, kind and local day: the unique key, not the worker's schedule,
# keeps two workers (or a catch-up run) from posting the day's checklist twice.
checklists = Table(
    "checklists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # "daily"
    Column("day", Date, nullable=False),  # the store's local day
    Column("data", JSON, nullable=False),  # the figures as built (bot.checklists.daily.build_daily)
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("store_id", "kind", "day"),
)

# Who ticked which item and when; one row per item, updated on every tick or untick.
checklist_ticks = Table(
    "checklist_ticks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("checklist_id", ForeignKey("checklists.id", ondelete="CASCADE"), nullable=False),
    Column("item_key", String(32), nullable=False),
    Column("done", Boolean, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("ticked_at", DateTime, nullable=False),
    UniqueConstraint("checklist_id", "item_key"),
)


# ---- The worker's outbox (bot/outbox.py, jobs/delivery.py) ---------------------------------
# Every message the worker sends is first written here, in the same transaction as what
# produced it; the sender delivers it later. The unique dedupe_key makes "enqueue" idempotent,
# and the status column with its claim time makes "send" at most once (see bot/outbox.py).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),  # checklist | alert | alert_recovered | ...
    Column("subject", String(64)),  # what the message is about, e.g. "alert:12"
    Column("dedupe_key", String(300), nullable=False, unique=True),
    # {"text", "blocks"}, what the sender passes to Slack; an alert post that announced an
    # escalation also has "escalation": true (jobs/alert_messages.py), which it does not.
    Column("payload", JSON, nullable=False),
    # Another outbox row whose Slack ts this one needs: a thread reply, or an edit of it.
    Column("thread_of", ForeignKey("outbox.id", ondelete="SET NULL")),
    Column("update_of", ForeignKey("outbox.id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("claimed_at", DateTime),  # the latest claim (status sending)
    Column("first_claimed_at", DateTime),  # the earliest moment a post may have reached Slack
    # True after an attempt whose outcome is unknown (timeout, network error, 5xx, or a worker
    # killed mid-send): Slack's history is checked before posting again.
    Column("maybe_sent", Boolean, nullable=False, server_default="0"),
    Column("ts", String(32)),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_outbox_subject_channel", "subject", "channel"),
)

# A file an outbox row uploads into its parent's thread (bot/outbox.enqueue_file,
# jobs/uploads.py): the bytes, and each step of Slack's upload as it is done, so that a
# sender restarted mid-upload finishes that upload instead of starting a second one.
outbox_files = Table(
    "outbox_files",
    metadata,
    Column("outbox_id", ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("file_id", String(64)),  # from files.getUploadURLExternal, with its upload_url
    Column("upload_url", Text),
    Column("uploaded_at", DateTime),  # the bytes were accepted at upload_url
    # files.completeUploadExternal was called: the file may be shared, check before again
    Column("completing_at", DateTime),
)

# ---- Alerts (bot/alerts/) ----------------------------------------------------------------------
# One row per incident: opened when a rule fires for a subject, updated while it stays down,
# resolved when it recovers. (store, rule, subject, started_day) is unique so two workers open
# one incident. A rule's own figures are data (`figures`), not columns: each rule
# (bot/alerts/rules/) says what it records.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("rule", String(32), nullable=False),  # a name in bot.alerts.rules.RULES
    # What the incident is about within the store: "" for a store-wide rule, else the
    # keyword, product or report kind the rule watches.
    Column("subject", String(200), nullable=False, server_default=""),
    Column("started_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),  # the latest day evaluated as down
    Column("figures", JSON, nullable=False),  # the rule's figures of the latest evaluation
    Column("severity", String(16)),  # warning | critical (the latest); None for a watch
    # watch (worth a look, never pings) | alert (posted and pinged): bot.alerts.rules.TIERS
    Column("tier", String(8), nullable=False, server_default="alert"),
    Column("notified_severity", String(16)),  # the highest severity a message was sent for
    Column("hint", JSON),  # the hints: [{"kind", figures…}] (the rule's)
    Column("status", String(16), nullable=False),  # open|acknowledged|snoozed|resolved
    Column("snoozed_until", DateTime),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", DateTime),
    Column("resolved_day", Date),
    Column("resolved_at", DateTime),  # when it recovered: the cool-down counts from it
    Column("back", JSON),  # the recovering figures (Finding.back), for a reply sent later
    # The change quiet hours held back (fired | worse | reopened | recovered), None when
    # nothing is owed: bot.alerts.incidents.flush delivers the state once they end.
    Column("held", String(16)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("store_id", "rule", "subject", "started_day"),
    Index("ix_alerts_store_id_status", "store_id", "status"),
)

# When each store's alerts were last evaluated, so a tick re-evaluates only after new data
# (a higher drop id) or a new local day.
alert_checks = Table(
    "alert_checks",
    metadata,
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("last_drop_id", Integer, nullable=False, server_default="0"),
    Column("last_day", Date),  # the local "yesterday" of the last evaluation
    Column("evaluated_at", DateTime, nullable=False),
)

# ---- Customers (bot/metrics/customer_index.py, customer_marks.py; docs/customers.md) -------
# One row per customer of a store, matched from its CRM, inquiry and order records, with the
# team's marks applied: derived data, rebuilt whenever one of those lists is ingested and
# updated by every mark, so that classes and rankings are plain SQL over this one table and
# no request matches records in Python.
customer_index = Table(
    "customer_index",
    metadata,
    # The store's customers are read together: on SQLite the table is clustered on its
    # primary key (WITHOUT ROWID), so they are one range of the b-tree, not 50,000 lookups.
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(16), primary_key=True),  # a hash of the customer's identity
    Column("name", Text),
    Column("company", Text),
    Column("country", Text),
    Column("email", Text),
    Column("owner", Text),
    Column("name_key", Text),  # the name (else company) folded, for `restore NAME`
    Column("owner_key", Text),  # the owner folded, for `owner:NAME`
    Column("last_inquiry_at", DateTime),
    Column("last_inquiry_id", Text),
    # The latest follow-up: the data's (小记时间, replies) or a Contacted mark's.
    Column("last_contact_at", DateTime),
    Column("last_order_at", DateTime),
    Column("ordered", Boolean, nullable=False),
    Column("inquiries", Integer, nullable=False),
    Column("orders", Integer, nullable=False),
    # The team's marks as they stand (customer_marks is the record of who did what).
    Column("not_lead", Boolean, nullable=False),
    Column("snoozed_until", DateTime),
    Index("ix_customer_index_store_id_name_key", "store_id", "name_key"),
    sqlite_with_rowid=False,
)

# The CRM, inquiry and order drops each store's customer index was built from (the newest
# one's id, and how many): a new drop, or one undone, makes it stale.
customer_index_state = Table(
    "customer_index_state",
    metadata,
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("last_drop_id", Integer, nullable=False, server_default="0"),
    Column("drops", Integer, nullable=False, server_default="0"),
    Column("built_at", DateTime, nullable=False),
)

# What the team did about a customer: contacted | snooze | not_lead | restore, by whom and
# when. The unique dedupe_key (store, customer, mark and the message or moment it came from)
# makes a double click record once.
customer_marks = Table(
    "customer_marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("customer_key", String(16), nullable=False),
    Column("mark", String(16), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("marked_at", DateTime, nullable=False),
    Column("until", DateTime),  # a snooze's end
    Column("reason", Text),  # a snooze's reason: a code (later, holiday, …) or free text
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Index("ix_customer_marks_store_id_customer_key", "store_id", "customer_key"),
)

# Several workspaces (OAuth mode, handlers/oauth.py): the tables slack_sdk's
# SQLAlchemyInstallationStore and SQLAlchemyOAuthStateStore read and write, declared here so
# that the one migration creates them with everything else. The layout is slack_sdk's own
# (build_installations_table, build_bots_table, build_oauth_states_table; tests/test_oauth.py
# fails if they drift apart); the core never reads them.
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id",
          "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
