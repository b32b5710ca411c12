"""Ingesting a data drop: exactly once, all or nothing.

A drop is identified by its content hash (per store): the same file again is a duplicate and
changes nothing. Facts are upserted on their natural key, so a re-export with overlapping
dates updates what overlaps and never double-counts. Each drop commits in one transaction
together with its drop record and its quarantined rows; a file that cannot be read, or whose
kind or key columns cannot be told, is rejected whole and recorded as rejected.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    Insert,
    Integer,
    Update,
    bindparam,
    cast,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from bot.ingest.ahead import parsed_ahead
from bot.ingest.columns import bare_rate_units, convert, numeric_date_orders
from bot.ingest.currency import (
    CURRENCY_FIELD,
    currency_column,
    money_columns,
    value_currencies,
)
from bot.ingest.kinds import (
    ALIASES,
    KIND_BY_NAME,
    KINDS,
    ReportKind,
    Type,
    header_example,
    normalize_header,
    required_columns,
)
from bot.ingest.limits import OverLimit
from bot.ingest.parsing import (
    DAY_FIRST,
    MONTH_FIRST,
    clean,
    date_order,
    numeric_date_fields,
)
from bot.ingest.readers import (
    Block,
    Unreadable,
    period_from_name,
    period_from_titles,
    read_sheet,
    title_numeric_dates,
)
from bot.ingest.undo import Contended, Refused, undo_drop
from bot.metrics import customer_index
from bot.metrics.freshness import DATED
from bot.models import drops, facts, quarantine, undo
from bot.periods import local_today, utcnow
from bot.storage import write
from bot.stores import Store

TOTALS = frozenset(normalize_header(w) for w in ("汇总", "合计", "总计", "Total", "Totals",
                                                   "Grand Total", "Summary"))
_LOOKUP_BATCH = 500
_LOOKUP_DAYS = 16  # days in one lookup of a dated key: days x keys index probes
_KEY_TEXT_MAX = 500  # the fact tables' key column holds 600 characters
_FILE_NAME_MAX = 500  # drops.file_name
_ATTEMPTS = 3  # tries when concurrent drops collide on the same facts
log = logging.getLogger(__name__)


class Rejected(Exception):
    """The whole file is refused; the message tells the user what was expected."""


@dataclass
class DropResult:
    file: str
    status: str  # "ingested" | "duplicate" | "rejected"
    store: str
    kind: str | None = None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    period: tuple[date, date] | None = None
    period_source: str | None = None  # "title" | "name" | "rows" (drops.period_source)
    errors: list[str] = field(default_factory=list)
    drop_id: int | None = None
    duplicate_of: int | None = None
    sheets: list[str] = field(default_factory=list)  # the workbook sheets read
    # Sheets not read, with why: readers.NO_HEADER or OTHER_HEADER (not the first's header).
    skipped_sheets: list[tuple[str, str]] = field(default_factory=list)
    # A file past a reading limit (bot/ingest/limits.py): OverLimit.to_json(), else None.
    over_limit: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "kind": self.kind,
            "store": self.store,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "period": (
                {"start": self.period[0].isoformat(), "end": self.period[1].isoformat()}
                if self.period else None
            ),
            "errors": list(self.errors),
            "drop_id": self.drop_id,
            "sheets": {
                "read": list(self.sheets),
                "skipped": [{"sheet": s, "reason": why} for s, why in self.skipped_sheets],
            } if self.sheets else None,
            "over_limit": self.over_limit,
        }


# ---- telling the kind ---------------------------------------------------------------------


def column_map(kind: ReportKind, header: list[str]) -> dict[str, int]:
    """Field name -> column index, the first column under any of the field's aliases."""
    index = ALIASES[kind.name]
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = index.get(normalize_header(cell))
        if name and name not in found:
            found[name] = i
    return found


def _missing_required(kind: ReportKind, columns: dict[str, int]) -> list[str]:
    """The columns a kind cannot do without that the header lacks. A kind without required
    columns (customers) needs one of its key alternatives whole."""
    if kind.required:
        return [f.name for f in kind.required if f.name not in columns]
    alternatives = [[n for n in alt if n in kind.by_name] for alt in kind.keys]
    if any(all(n in columns for n in alt) for alt in alternatives):
        return []
    return list(dict.fromkeys(alt[0] for alt in alternatives))


# How many kinds know each header: a column only one kind has (an inquiry ID, an order
# number) tells the kind; one that many share (Date, Country, Impressions) hardly does.
_KINDS_KNOWING = Counter(alias for index in ALIASES.values() for alias in index)
# A kind is told only when it fits clearly better than the next: by this factor.
_CLEAR_LEAD = 1.25


def kind_fit(kind: ReportKind, header: list[str]) -> float:
    """How well a header fits a kind: each of the kind's columns found weighs 1 / the number
    of kinds that know that header."""
    index = ALIASES[kind.name]
    found: set[str] = set()
    fit = 0.0
    for cell in header:
        alias = normalize_header(cell)
        name = index.get(alias)
        if name and name not in found:
            found.add(name)
            fit += 1 / _KINDS_KNOWING[alias]
    return fit


def detect_kind(header: list[str], file_name: str, hint: str | None = None) -> ReportKind:
    """The kind of a file from its header (`hint`: the kind the user named). Rejected when no
    kind fits, when two fit about equally (the file name may break the tie), or when a kind
    whose own columns are there but incomplete fits better than any complete one: a file is
    never guessed into a kind."""
    if hint:
        kind = KIND_BY_NAME.get(hint)
        if kind is None:
            raise Rejected(f"unknown kind {hint!r}: one of {', '.join(KIND_BY_NAME)}")
        missing = _missing_required(kind, column_map(kind, header))
        if missing:
            needs = ", ".join(header_example(kind, m) for m in missing)
            raise Rejected(f"not {kind.noun}: missing the column {needs}")
        return kind
    fitting: list[tuple[float, ReportKind]] = []
    partial: list[tuple[float, ReportKind, list[str]]] = []
    for kind in KINDS:
        columns = column_map(kind, header)
        if not columns:
            continue
        missing = _missing_required(kind, columns)
        if missing:
            partial.append((kind_fit(kind, header), kind, missing))
        else:
            fitting.append((kind_fit(kind, header), kind))
    if not fitting:
        shown = ", ".join(header[:8]) + (", …" if len(header) > 8 else "")
        needs = "; ".join(
            f"{k.name} needs {required_columns(k)}"
            for k in KINDS
        )
        raise Rejected(f"cannot tell the report kind from the columns [{shown}]: {needs}")
    fitting.sort(key=lambda s: s[0], reverse=True)
    best_fit, best = fitting[0]
    if partial:
        fit, rival, missing = max(partial, key=lambda s: s[0])
        if fit > best_fit * _CLEAR_LEAD:
            needs = ", ".join(header_example(rival, m) for m in missing)
            raise Rejected(
                f"the columns look like {rival.noun}, but it misses the column {needs}; "
                f"if it is {best.noun}, say so with --kind {best.name}")
    close = [kind for fit, kind in fitting if fit * _CLEAR_LEAD > best_fit]
    if len(close) > 1:
        name = file_name.lower()
        named = [kind for kind in close if any(h in name for h in kind.file_hints)]
        if len(named) == 1:
            return named[0]
        raise Rejected(
            f"the columns fit both {close[0].noun} ({close[0].name}) and {close[1].noun} "
            f"({close[1].name}) about equally: say which with --kind {close[0].name} or "
            f"--kind {close[1].name}"
        )
    return best


# ---- rows -> facts ------------------------------------------------------------------------
# A block is parsed column by column (bot/ingest/columns.py: each distinct cell once, with
# vectorised operations), natural keys joined per column. Rows only come together as the
# tuples handed to the database driver.


@dataclass
class _Facts:
    """The good rows of a chunk, column by column."""

    numbers: list[int]  # each row's number in the file
    keys: list[str]
    columns: dict[str, Sequence[object]]  # stored column -> values, aligned with keys

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: list[int]) -> _Facts:
        return _Facts([self.numbers[i] for i in rows], [self.keys[i] for i in rows],
                      {name: [values[i] for i in rows] for name, values in self.columns.items()})


@dataclass
class _Chunk:
    good: _Facts
    bad: list[tuple[int, str, dict[str, str]]]
    rows: int
    sheet: str | None  # the workbook sheet of the rows


def _raw(header: list[str], cells: Sequence[object]) -> dict[str, str]:
    raw = {}
    for i, cell in enumerate(cells):
        name = header[i] if i < len(header) and header[i] else f"column {i + 1}"
        raw[name] = clean(cell)
    return raw


_isinstance = np.frompyfunc(isinstance, 2, 1)
_WHITESPACE_CELL = re.compile(r"(?:^|\x00)\s+(?:\x00|$)")


def _blank(cells: np.ndarray) -> np.ndarray:
    """Which cells are blank: empty, missing, or white space only."""
    blank = pd.isna(cells) | (cells == "")
    try:
        joined: str | None = "\x00".join(cells[~blank])
    except TypeError:  # numbers or dates from a spreadsheet
        joined = None
    if joined is None or _WHITESPACE_CELL.search(joined):
        texts = np.flatnonzero(~blank & _isinstance(cells, str).astype(bool))
        blank[texts] = np.char.isspace(cells[texts].astype(str))
    return blank


def _fact_rows(block: Block) -> np.ndarray:
    """Which rows hold facts: neither blank spacer rows nor the totals row (derived data, not
    a fact), told by each row's first non-blank cell."""
    first = np.full(len(block), None, dtype=object)
    pending = np.arange(len(block))
    for column in block.columns:
        if not len(pending):
            break
        cells = column[pending]
        filled = ~_blank(cells)
        first[pending[filled]] = cells[filled]
        pending = pending[~filled]
    codes, uniques = pd.factorize(first)  # a blank row (None) is -1
    facts = np.fromiter((normalize_header(u) not in TOTALS for u in uniques), bool, len(uniques))
    return np.append(facts, False)[codes]


def _split_rows(
    header: list[str], columns: dict[str, int], block: Block
) -> tuple[np.ndarray, list[tuple[int, str, dict[str, str]]]]:
    """The block's data rows (their indexes), and the rows refused whole (cut off, short)."""
    facts = _fact_rows(block)
    bad: list[tuple[int, str, dict[str, str]]] = []
    if block.cut_off is not None and facts[block.cut_off]:
        facts[block.cut_off] = False
        bad.append((int(block.numbers[block.cut_off]),
                    "the file ends in the middle of this row (cut off?)",
                    _raw(header, block.cells(block.cut_off))))
    if block.counts is not None:
        needed = max(columns.values(), default=-1) + 1  # cells a row must have
        short = np.flatnonzero(facts & (block.counts < needed))
        facts[short] = False
        bad += [(int(block.numbers[i]), f"this row has {block.counts[i]} cells but the header "
                 f"has {len(header)} (cut off?)", _raw(header, block.cells(i))) for i in short]
    return np.flatnonzero(facts), bad


def _key_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split()).casefold()


def _key_texts(values: Sequence[object] | None, n: int) -> list[str]:
    """Key texts of a column, "" for an empty value; each distinct value once. (Values of one
    column share one type, so equal values have equal texts.)"""
    if values is None:
        return [""] * n
    texts = {value: "" if value is None or value == "" else _key_text(value)
             for value in dict.fromkeys(values)}
    return list(map(texts.__getitem__, values))


def _bounded_key(alternative: int, text: str) -> str:
    if len(text) > _KEY_TEXT_MAX:  # the key column is bounded; a digest stays unique
        return f"{alternative}#{hashlib.sha256(text.encode()).hexdigest()}"
    return f"{alternative}:{text}"


def natural_keys(kind: ReportKind, values: dict[str, Sequence[object]], n: int
                 ) -> list[str | None]:
    """Each row's natural key, from the first key alternative the row can fill (None: none)."""
    keys: list[str | None] = [None] * n
    pending = list(range(n))
    single = len(kind.keys) == 1
    for i, alternative in enumerate(kind.keys):
        parts = [_key_texts(values.get(name), n) for name in alternative]
        # A lone key may leave its optional parts empty; an alternative needs all of them.
        needed = [p for p, name in zip(parts, alternative, strict=True)
                  if not single or _is_required(kind, name)]
        if len(pending) == n and not any("" in p for p in needed):  # every row fills it
            # The alternative's number goes on each distinct first part, not on each key.
            prefix = f"{i}:"
            head = {text: prefix + text for text in set(parts[0])}
            keys = list(map("\x1f".join, zip(map(head.__getitem__, parts[0]), *parts[1:],
                                              strict=True)))
            if keys and max(map(len, keys)) > len(prefix) + _KEY_TEXT_MAX:
                keys = [k if len(k) <= len(prefix) + _KEY_TEXT_MAX
                        else _bounded_key(i, k[len(prefix):]) for k in keys]
            return keys  # type: ignore[return-value]
        unfilled = []
        for row in pending:
            if any(p[row] == "" for p in needed):
                unfilled.append(row)
            else:
                keys[row] = _bounded_key(i, "\x1f".join(p[row] for p in parts))
        pending = unfilled
    return keys


def _is_required(kind: ReportKind, name: str) -> bool:
    f = kind.by_name.get(name)
    return f is None or f.required  # period columns count as required


def _key_help(kind: ReportKind) -> str:
    options = [" and ".join(header_example(kind, n) for n in alt) for alt in kind.keys]
    return " or ".join(options)


def _parse_chunk(
    kind: ReportKind,
    header: list[str],
    columns: dict[str, int],
    block: Block,
    tz: ZoneInfo,
    period: tuple[date, date] | None,
    percent: set[str] | frozenset[str],
    day_order: _DayOrder,
) -> _Chunk:
    data, bad = _split_rows(header, columns, block)
    rows = len(data) + len(bad)
    n = len(data)
    whole = n == len(block)  # no row left out: the columns as they are, no copies

    parsed: dict[str, Sequence[object]] = {}
    errors: dict[int, list[str]] = {}
    for name, col in columns.items():
        f = kind.by_name[name]
        cells = block.columns[col] if whole else block.columns[col][data]
        column = convert(cells, f.type, tz, percent=name in percent, order=day_order.order)
        if column.numeric and not day_order.decided:
            column = convert(cells, f.type, tz, order=day_order.decide())
        parsed[name] = column.values
        label = header[col] or f.name
        for i, message in column.errors.items():
            errors.setdefault(i, []).append(f"{label}: {message}")
    for f in kind.required:
        values = parsed[f.name]
        if None in values:
            failed = header[columns[f.name]] + ":"
            for i, value in enumerate(values):
                problems = errors.setdefault(i, []) if value is None else None
                if problems is not None and not any(p.startswith(failed) for p in problems):
                    problems.append(f"missing {header_example(kind, f.name)}")
    for f in kind.fields:
        if f.default and f.name not in columns:
            parsed[f.name] = [f.default] * n
    if CURRENCY_FIELD in kind.by_name:  # each money value's currency (bot/ingest/currency.py)
        raw = {m: (block.columns[columns[m]] if whole else block.columns[columns[m]][data]
                   ).tolist() for m in money_columns(kind, columns)}
        label = header[columns[CURRENCY_FIELD]] if CURRENCY_FIELD in columns else CURRENCY_FIELD
        parsed.update(value_currencies(kind, raw, parsed, n, errors, label))
    if period:
        parsed["period_start"], parsed["period_end"] = [period[0]] * n, [period[1]] * n

    keys = natural_keys(kind, parsed, n)
    for i in [i for i, key in enumerate(keys) if key is None and i not in errors]:
        errors[i] = [f"no key: needs {_key_help(kind)}"]
    numbers = block.numbers[data].tolist()
    good = _Facts(numbers, keys, parsed)  # type: ignore[arg-type]
    if errors:
        bad += [(numbers[i], "; ".join(errors[i]), _raw(header, block.cells(int(data[i]))))
                for i in sorted(errors)]
        good = good.take([i for i in range(n) if i not in errors])
    return _Chunk(good, bad, rows, block.sheet)


# ---- writing ------------------------------------------------------------------------------


def _same(old: object, new: object) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        if old is None or new is None:
            return old is new
        return abs(float(old) - float(new)) <= 1e-9 * max(1.0, abs(float(new)))
    return old == new


_NAN = float("nan")


class _Statement:
    """A statement compiled once and run with plain DBAPI parameters: SQLAlchemy's per-row
    parameter processing costs more than the database's work on a bulk load. Values go
    through the column types' own bind processors, so what is stored reads back the same."""

    def __init__(self, conn: Connection, stmt: Insert | Update,
                 types: dict[str, TypeEngine[Any]]) -> None:
        dialect = conn.dialect
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup or []) if compiled.positional else None
        self.processors = {name: t.dialect_impl(dialect).bind_processor(dialect)
                           for name, t in types.items()}
        self.repeating = {name for name, t in types.items() if isinstance(t, Date | DateTime)}
        # sqlite3 binds None slowly (an adapter lookup per value), while SQLite stores a NaN
        # double as NULL: NaN stands in for None there.
        self.null = _NAN if dialect.name == "sqlite" else None

    def run(self, conn: Connection, params: dict[str, Sequence[object]],
            same: Mapping[str, object]) -> int:
        """Execute once per row; `params` maps each parameter name to its column of values,
        `same` each parameter the same for every row to its value (bound once). The rows
        affected in all (-1 when the driver cannot tell)."""
        n = len(next(iter(params.values())))
        columns: dict[str, Iterable[object]] = {
            name: self._bound(name, values) for name, values in params.items()}
        columns.update({name: repeat(self._bound(name, [value])[0], n)
                        for name, value in same.items()})
        if self.order is not None:
            rows: list[Any] = list(zip(*(columns[name] for name in self.order), strict=True))
        else:
            names = list(columns)
            rows = [dict(zip(names, row, strict=True))
                    for row in zip(*columns.values(), strict=True)]
        if not rows:
            return 0
        return conn.exec_driver_sql(self.sql, rows).rowcount

    def _bound(self, name: str, values: Sequence[object]) -> Sequence[object]:
        process = self.processors[name]
        if process is not None and name in self.repeating:
            # Dates are formatted in Python and repeat a lot: each distinct one once.
            bound = {value: process(value) for value in dict.fromkeys(values)}
            values = list(map(bound.__getitem__, values))
        elif process is not None:
            values = list(map(process, values))
        if self.null is not None and None in values:
            values = [self.null if value is None else value for value in values]
        return values


class _Overtaken(Exception):
    """A concurrent drop changed a fact between our read and our write: retry the file."""


class _Writer:
    """Upserts parsed rows of one drop into a fact table and counts what happened. Before a
    fact is updated its before-image goes to the kind's undo table (bot/models.py), and each
    earlier drop whose facts it found unchanged is noted there once, so that the drop can be
    undone; a new fact needs neither (undoing deletes the facts the drop wrote last)."""

    def __init__(self, conn: Connection, kind: ReportKind, store_id: int, drop_id: int,
                 columns: list[str]) -> None:
        table, undo_table = facts[kind.name], undo[kind.name]
        self.conn, self.table, self.store_id, self.drop_id = conn, table, store_id, drop_id
        self.day = kind.date_field if kind.dated_key else None  # see bot/models.py
        self.columns = columns  # only the columns this file carries are updated
        self.inserted = self.updated = self.unchanged = 0
        self.seen: dict[str, int] = {}  # key -> row number, to catch repeats within the file
        self.table_empty = conn.execute(
            select(table.c.id).where(table.c.store_id == store_id).limit(1)
        ).first() is None
        self.now = utcnow()
        inserted = ["key", "store_id", "drop_id", "updated_at", *columns]
        self._insert = _Statement(
            conn, insert(table).values({c: bindparam(c) for c in inserted}),
            {c: table.c[c].type for c in inserted})
        # Updates name the writer they expect (`v_before`): a fact another drop changed since
        # it was read is not overwritten blindly (see write()).
        updated = [*columns, "drop_id", "updated_at"]
        self._update = _Statement(
            conn, update(table).where(table.c.id == bindparam("v_id"),
                                      table.c.drop_id == bindparam("v_before"))
            .values({c: bindparam(f"v_{c}") for c in updated}),
            {"v_id": table.c.id.type, "v_before": table.c.drop_id.type,
             **{f"v_{c}": table.c[c].type for c in updated}})
        kept = [c.name for c in undo_table.columns
                if c.name in table.c and c.name not in ("id", "drop_id")]
        # Copied in the database, a batch of ids at a time (twice as fast as row by row).
        self._save = insert(undo_table).from_select(
            ["drop_id", "fact_id", "before_drop_id", "before_updated_at", *kept],
            select(cast(bindparam("u_drop"), Integer), table.c.id, table.c.drop_id,
                   table.c.updated_at, *(table.c[c] for c in kept))
            .where(table.c.id.in_(bindparam("u_ids", expanding=True))))
        self._restate = _Statement(
            conn, insert(undo_table).values(drop_id=bindparam("drop_id"),
                                            before_drop_id=bindparam("before_drop_id")),
            {c: undo_table.c[c].type for c in ("drop_id", "before_drop_id")})
        self.restated_from: set[int] = set()  # earlier drops whose facts this one restated

    def write(self, rows: _Facts) -> list[tuple[int, str, dict[str, str]]]:
        fresh, repeats = self._first_of_each_key(rows)
        existing = {} if self.table_empty else self._existing(rows, fresh)
        inserts: Sequence[int] = fresh  # when none is stored yet (a store's first load)
        updates, restated = [], []
        if existing:
            inserts = []
            for i in fresh:
                old = existing.get(rows.keys[i])
                if old is None:
                    inserts.append(i)
                elif all(_same(old[c], rows.columns[c][i]) for c in self.columns):
                    restated.append(old["drop_id"])
                else:
                    updates.append((i, old["id"], old["drop_id"]))
        if inserts:
            new = rows if len(inserts) == len(rows) else rows.take(inserts)
            n = len(new)
            self._insert.run(
                self.conn, {"key": new.keys, **{c: new.columns[c] for c in self.columns}},
                {"store_id": self.store_id, "drop_id": self.drop_id, "updated_at": self.now})
            self.inserted += n
        if restated:
            self.unchanged += len(restated)
            earlier = set(restated) - self.restated_from
            if earlier:
                self.restated_from |= earlier
                self._restate.run(self.conn, {"before_drop_id": sorted(earlier)},
                                  {"drop_id": self.drop_id})
        if updates:
            changed = rows.take([i for i, _, _ in updates])
            n = len(changed)
            ids = [row_id for _, row_id, _ in updates]
            befores = [before for _, _, before in updates]
            for i in range(0, n, _LOOKUP_BATCH):
                self.conn.execute(self._save, {"u_drop": self.drop_id,
                                               "u_ids": ids[i : i + _LOOKUP_BATCH]})
            # A fact another drop changed since it was read is not updated (`v_before`): the
            # whole file is tried again, and the before-images copied here are rolled back.
            written = self._update.run(
                self.conn, {"v_id": ids, "v_before": befores,
                            **{f"v_{c}": changed.columns[c] for c in self.columns}},
                {"v_drop_id": self.drop_id, "v_updated_at": self.now})
            if written not in (n, -1):
                raise _Overtaken
            self.updated += n
        return repeats

    def _first_of_each_key(
        self, rows: _Facts
    ) -> tuple[Sequence[int], list[tuple[int, str, dict[str, str]]]]:
        """The rows whose key the file has not had before; the others, for quarantine."""
        keys, numbers = rows.keys, rows.numbers
        if len(set(keys)) == len(keys) and self.seen.keys().isdisjoint(keys):
            self.seen.update(zip(keys, numbers, strict=True))  # the common case, at C speed
            return range(len(keys)), []
        fresh: list[int] = []
        repeats: list[tuple[int, str, dict[str, str]]] = []
        for i, (key, number) in enumerate(zip(keys, numbers, strict=True)):
            first = self.seen.get(key)
            if first is not None:
                repeats.append((number, f"repeats the key of row {first}; kept row {first}", {}))
                continue
            self.seen[key] = number
            fresh.append(i)
        return fresh, repeats

    def _existing(self, rows: _Facts, fresh: Sequence[int]) -> dict[str, Any]:
        """The stored facts with the keys of rows `fresh`, by key."""
        found: dict[str, Any] = {}
        cols = [self.table.c.id, self.table.c.key, self.table.c.drop_id,
                *(self.table.c[c] for c in self.columns)]
        for days, batch in self._lookups(rows, fresh):
            query = select(*cols).where(self.table.c.store_id == self.store_id,
                                        self.table.c.key.in_([rows.keys[j] for j in batch]))
            if days:  # the unique index is (store, day, key): the days lead the lookup
                query = query.where(self.table.c[self.day].in_(days))  # type: ignore[index]
            for rec in self.conn.execute(query).mappings():
                found[rec["key"]] = rec
        return found

    def _lookups(self, rows: _Facts, fresh: Sequence[int]
                 ) -> Iterator[tuple[list[object], list[int]]]:
        """Batches of rows to look up: up to _LOOKUP_BATCH keys, and with a dated key their
        days, few enough that every day x key probe of the index stays cheap."""
        if self.day is None:
            for i in range(0, len(fresh), _LOOKUP_BATCH):
                yield [], list(fresh[i : i + _LOOKUP_BATCH])
            return
        by_day: dict[object, list[int]] = {}
        for j in fresh:
            by_day.setdefault(rows.columns[self.day][j], []).append(j)
        days: list[object] = []
        batch: list[int] = []
        for day, group in by_day.items():
            for i in range(0, len(group), _LOOKUP_BATCH):
                part = group[i : i + _LOOKUP_BATCH]
                if batch and (len(batch) + len(part) > _LOOKUP_BATCH
                              or len(days) == _LOOKUP_DAYS):
                    yield days, batch
                    days, batch = [], []
                if not days or days[-1] != day:
                    days.append(day)
                batch += part
        if batch:
            yield days, batch


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _local_day(value: object, tz: ZoneInfo) -> date | None:
    if isinstance(value, datetime):
        return local_today(value, tz)
    if isinstance(value, date):
        return value
    return None


def _record(conn: Connection, store: Store, name: str, sha: str, result: DropResult,
            source: str, source_ref: str | None) -> int:
    period = result.period or (None, None)
    return conn.execute(
        insert(drops).values(
            store_id=store.id, file_name=name[:_FILE_NAME_MAX], sha256=sha, kind=result.kind,
            status=result.status, source=source, source_ref=source_ref,
            period_start=period[0], period_end=period[1],
            period_source=result.period_source if result.period else None, rows=result.rows,
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
            quarantined=result.quarantined, errors=result.errors,
            duplicate_of=result.duplicate_of, created_at=utcnow(),
        ).returning(drops.c.id)
    ).scalar_one()


def _earlier(conn: Connection, store: Store, sha: str, kind: str | None
             ) -> tuple[int | None, bool]:
    """The ingested drop of the same content, if any, and whether `kind` refiles it: the user
    names another kind than it was ingested as, so it is undone rather than duplicated."""
    row = conn.execute(select(drops.c.id, drops.c.kind).where(
        drops.c.store_id == store.id, drops.c.sha256 == sha, drops.c.status == "ingested")
    ).first()
    if row is None:
        return None, False
    return row.id, kind is not None and row.kind != kind


def _refile(conn: Connection, store: Store, sha: str, kind: str | None,
            result: DropResult) -> None:
    """Undo the earlier drop of the same bytes, in the transaction that ingests them again
    as `kind`. Looked up again here: another process may have refiled them meanwhile."""
    earlier, refiled = _earlier(conn, store, sha, kind)
    if earlier is None:
        return
    if not refiled:
        raise _Overtaken  # the caller finds the drop that did it and reports a duplicate
    try:
        done = undo_drop(conn, earlier, store.id)
    except Contended:
        raise _Overtaken from None
    except Refused as exc:
        raise Rejected(f"this file is drop {earlier}, which cannot be undone: {exc}") from None
    result.errors.append(
        f"replaces drop {earlier}, ingested as {KIND_BY_NAME[done.kind].noun}: {done.counts}")


def ingest_file(
    engine: Engine,
    store: Store,
    path: Path | str,
    *,
    kind: str | None = None,
    file_name: str | None = None,
    source: str = "cli",
    source_ref: str | None = None,
) -> DropResult:
    """Ingest one file into a store. Never raises for bad input: the result says why."""
    path = Path(path)
    name = file_name or path.name
    result = DropResult(file=name, status="ingested", store=store.name)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        result.status = "rejected"
        result.errors = [f"cannot read the file: {exc.strerror or exc}"]
        return result
    with write(engine) as conn:
        earlier, refiled = _earlier(conn, store, sha, kind)
        if earlier is not None and not refiled:
            return _duplicate(conn, store, name, sha, result, earlier, source, source_ref)
    for attempt in range(_ATTEMPTS):
        try:
            with _collector_paused(), write(engine) as conn:
                if earlier is not None:  # the same bytes, ingested as another kind
                    _refile(conn, store, sha, kind, result)
                _ingest(conn, store, path, name, sha, kind, result, source, source_ref)
            return result
        except (Rejected, Unreadable, OverLimit) as exc:
            result = DropResult(file=name, status="rejected", store=store.name,
                                kind=result.kind, errors=[str(exc)],
                                over_limit=exc.to_json() if isinstance(exc, OverLimit) else None)
        except (IntegrityError, _Overtaken):
            # Another process committed concurrently. The same content: ours is the copy.
            # Overlapping facts (PostgreSQL): a retry sees them and updates them.
            with write(engine) as conn:
                earlier, refiled = _earlier(conn, store, sha, kind)
                if earlier is not None and not refiled:
                    fresh = DropResult(file=name, status="ingested", store=store.name)
                    return _duplicate(conn, store, name, sha, fresh, earlier, source, source_ref)
            result = DropResult(file=name, status="ingested", store=store.name)
            if attempt + 1 < _ATTEMPTS:
                continue
            result = DropResult(file=name, status="rejected", store=store.name, errors=[
                "other drops kept writing the same facts at the same time; send it again"])
        except Exception as exc:
            # A failure while writing (disk full, lost connection, a bug): the transaction
            # was rolled back, so nothing is half-written; record the drop as rejected.
            log.exception("ingesting %s failed", name)
            result = DropResult(file=name, status="rejected", store=store.name,
                                kind=result.kind, errors=[
                                    f"could not be stored ({type(exc).__name__}: {exc}); "
                                    "nothing was written, send it again"])
        break
    with write(engine) as conn:
        result.drop_id = _record(conn, store, name, sha, result, source, source_ref)
    return result


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a load. A load allocates millions of
    short-lived containers (CSV rows, parameter tuples) that reference counting frees; the
    collector's repeated passes over them took a third of the load time and free nothing.
    Cycles made meanwhile (few: BadValue keeps no traceback) are collected once it resumes.
    Only the caller that paused it resumes it, so concurrent loads leave it enabled."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _duplicate(conn: Connection, store: Store, name: str, sha: str, result: DropResult,
               earlier: int, source: str, source_ref: str | None) -> DropResult:
    first = conn.execute(select(drops).where(drops.c.id == earlier)).one()
    result.status = "duplicate"
    result.kind = first.kind
    result.duplicate_of = earlier
    result.period = (first.period_start, first.period_end) if first.period_start else None
    # The same content arrived again: its period is the first one's, unless its own name
    # names a later one (the first had no title giving it). Only then does it refresh a
    # list's coverage (bot/metrics/freshness.py): an empty list re-exported for a later
    # period is the same bytes, whereas a re-upload of an old export says nothing about the
    # days since.
    result.period_source = first.period_source
    named = period_from_name(name) if first.kind not in DATED else None
    if (named and first.period_source != "title" and not KIND_BY_NAME[first.kind].periodic
            and (first.period_end is None or named[1] > first.period_end)):
        result.period, result.period_source = named, "name"
    result.errors = [f"already ingested as drop {earlier} ({first.file_name}); nothing changed"]
    result.drop_id = _record(conn, store, name, sha, result, source, source_ref)
    return result


def _ingest(conn: Connection, store: Store, path: Path, name: str, sha: str, hint: str | None,
            result: DropResult, source: str, source_ref: str | None) -> None:
    sheet = read_sheet(path, hint)
    kind = detect_kind(sheet.header, name, hint)
    result.kind = kind.name
    result.sheets, result.skipped_sheets = sheet.sheets, sheet.skipped
    columns = column_map(kind, sheet.header)
    day_order = _DayOrder(kind, sheet.header, columns, sheet.blocks, sheet.title_lines)
    period = None
    if kind.periodic or kind.name not in DATED:
        # Periodic reports need their period; a list (a snapshot) covers the period its
        # title or name gives, if any; dated reports' rows say which days they cover.
        numeric = title_numeric_dates(sheet.title_lines)
        titled = period_from_titles(sheet.title_lines, day_order.decide() if numeric else None)
        period = titled or period_from_name(name)
        result.period_source = "title" if titled else "name" if period else None
        if period is None and kind.periodic:
            raise Rejected(
                f"a {kind.name} report needs its period: a title row like "
                "时间周期2026-11-01~2026-11-07 above the header, or a date in the file name "
                "like Products-2026-11-15.xls"
            )
    result.period = period
    drop_id = _record(conn, store, name, sha, result, source, source_ref)
    result.drop_id = drop_id
    stored = [*columns, *(f.name for f in kind.fields if f.default and f.name not in columns)]
    stored += [currency_column(m) for m in money_columns(kind, columns)]
    if kind.periodic:
        stored += ["period_start", "period_end"]
    writer = _Writer(conn, kind, store.id, drop_id, stored)
    units = _RateUnits(kind, sheet.header, columns, sheet.blocks)
    days: set[date] = set()
    quarantined: list[dict[str, Any]] = []

    def parse(block: Block) -> _Chunk:
        return _parse_chunk(kind, sheet.header, columns, block, store.tz,
                            period if kind.periodic else None, units.percent_in(block),
                            day_order)

    with parsed_ahead(sheet.blocks, parse, size=path.stat().st_size) as chunks:
        for parsed in chunks:
            result.rows += parsed.rows
            bad = parsed.bad + writer.write(parsed.good)
            if len(sheet.sheets) > 1:  # row numbers repeat from sheet to sheet
                bad = [(n, f"sheet {parsed.sheet}: {why}", raw) for n, why, raw in bad]
            if kind.date_field and kind.date_field in columns:
                for value in set(parsed.good.columns[kind.date_field]):
                    day = _local_day(value, store.tz)
                    if day:
                        days.add(day)
            quarantined += [{"drop_id": drop_id, "row_number": n, "reason": why, "raw": raw}
                            for n, why, raw in bad]
    if quarantined:
        conn.execute(insert(quarantine), quarantined)
    result.inserted, result.updated, result.unchanged = (
        writer.inserted, writer.updated, writer.unchanged)
    result.quarantined = len(quarantined)
    if result.rows and result.quarantined == result.rows:
        reasons = sorted(quarantined, key=lambda q: q["row_number"])[:3]
        raise Rejected("no row could be read; first problems: " + "; ".join(
            f"row {q['row_number']}: {q['reason']}" for q in reasons))
    if not result.rows:
        result.errors.append("the file has a header but no data rows")
    if period is None and days:
        result.period = (min(days), max(days))
        result.period_source = "rows"
    conn.execute(update(drops).where(drops.c.id == drop_id).values(
        period_source=result.period_source if result.period else None,
        rows=result.rows, inserted=result.inserted, updated=result.updated,
        unchanged=result.unchanged, quarantined=result.quarantined, errors=result.errors,
        period_start=result.period[0] if result.period else None,
        period_end=result.period[1] if result.period else None,
    ))
    if kind.name in customer_index.KINDS:  # questions about customers read the index
        customer_index.rebuild(conn, store)


class _RateUnits:
    """Which rate columns have bare numbers in percent units. A `%` in the header (点击率(%))
    says so; otherwise it is decided once over the whole column: deciding per chunk would store
    0.5 as 50% in one part of a file and 0.5% in another. Exports mostly write every rate with
    its % sign, which needs no decision, so the rest of the file is scanned only when a
    chunk's bare numbers cannot decide it."""

    def __init__(self, kind: ReportKind, header: list[str], columns: dict[str, int],
                 blocks: Iterable[Block]) -> None:
        rates = {n: c for n, c in columns.items() if kind.by_name[n].type is Type.RATE}
        self.percent = {n for n, c in rates.items() if "%" in header[c]}
        self.undecided = {n: c for n, c in rates.items() if n not in self.percent}
        self.blocks = blocks

    def percent_in(self, block: Block) -> set[str]:
        """The percent columns, at the latest once `block` holds a column's first bare number
        (earlier blocks had none, so they read the same either way)."""
        for name, col in list(self.undecided.items()):
            units = bare_rate_units(block.columns[col])
            if units is None:
                continue
            del self.undecided[name]
            if units is False:  # all within ±1 so far: the rest of the file decides
                units = any(bare_rate_units(later.columns[col]) for later in self.blocks)
            if units:
                self.percent.add(name)
        return self.percent


class _DayOrder:
    """Whether the file's numeric dates (11/10/2026) are month or day first: one decision for
    the whole file, title included, from the dates that tell (a field above 12 is the day). A
    file whose numeric dates never tell, or tell both ways, is rejected, never guessed. The
    file is scanned for it only once a numeric date turns up."""

    def __init__(self, kind: ReportKind, header: list[str], columns: dict[str, int],
                 blocks: Iterable[Block], titles: list[str]) -> None:
        self.labels = {c: header[c] or name for name, c in columns.items()
                       if kind.by_name[name].type in (Type.DATE, Type.DATETIME)}
        self.blocks, self.titles = blocks, titles
        self.order: str | None = None
        self.decided = False

    def decide(self) -> str:
        if not self.decided:
            self.order, self.decided = self._scan(), True
        return self.order  # type: ignore[return-value]

    def _scan(self) -> str:
        told: dict[str, str] = {}  # order -> the first date telling it, and where
        either: str | None = None  # the first date that could be both
        for text in title_numeric_dates(self.titles):
            order = date_order(*numeric_date_fields(text))  # type: ignore[misc]
            if order:
                told.setdefault(order, f"{text} in the title")
            else:
                either = either or f"{text} in the title"
        for block in self.blocks:
            for col, label in self.labels.items():
                for order, i in numeric_date_orders(block.columns[col]).items():
                    where = f"{clean(block.columns[col][i])} in {label}, {_row_name(block, i)}"
                    if order:
                        told.setdefault(order, where)
                    else:
                        either = either or where
        if len(told) > 1:
            raise Rejected(
                f"the dates are month first in places ({told[MONTH_FIRST]}) and day first in "
                f"others ({told[DAY_FIRST]}): {_ISO_PLEASE}")
        if not told:
            raise Rejected(
                f"the dates can be read month first or day first ({either}), and no date in "
                f"the file has a day above 12 to tell which: {_ISO_PLEASE}")
        return next(iter(told))


_ISO_PLEASE = "export the report with ISO dates (2026-11-10)"


def _row_name(block: Block, i: int) -> str:
    row = f"row {block.numbers[i]}"
    return f"{row} of sheet {block.sheet}" if block.sheet else row
