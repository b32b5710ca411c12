"""Ingesting a data drop: exactly once, all or nothing.

A drop is identified by its content hash (per store): the same file again is a duplicate and
changes nothing. Facts are upserted on their natural key, so a re-export with overlapping
dates updates what overlaps and never double-counts. Each drop commits in one transaction
together with its drop record and its quarantined rows; a file that cannot be read, or whose
kind or key columns cannot be told, is rejected whole and recorded as rejected.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.kinds import (
    ALIASES,
    KIND_BY_NAME,
    KINDS,
    ReportKind,
    Type,
    header_example,
    normalize_header,
    required_columns,
)
from bot.models import drops, facts, quarantine
from bot.parsing import BadValue, clean, parse_rate, parser_for, rate_column_in_percent
from bot.readers import Sheet, Unreadable, period_from_name, period_from_titles, read_sheet
from bot.storage import write
from bot.stores import Store, utcnow

TOTALS = frozenset(normalize_header(w) for w in ("汇总", "合计", "总计", "Total", "Totals",
                                                   "Grand Total", "Summary"))
_LOOKUP_BATCH = 500
_KEY_TEXT_MAX = 500  # the fact tables' key column holds 600 characters
_FILE_NAME_MAX = 500  # drops.file_name
_ATTEMPTS = 3  # tries when concurrent drops collide on the same facts
log = logging.getLogger(__name__)
_MISS = object()


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
    errors: list[str] = field(default_factory=list)
    drop_id: int | None = None
    duplicate_of: int | None = None

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
    return [f.name for f in kind.required if f.name not in columns]


def detect_kind(header: list[str], file_name: str, hint: str | None = None) -> ReportKind:
    if hint:
        kind = KIND_BY_NAME.get(hint)
        if kind is None:
            raise Rejected(f"unknown kind {hint!r}: one of {', '.join(KIND_BY_NAME)}")
        missing = _missing_required(kind, column_map(kind, header))
        if missing:
            needs = ", ".join(header_example(kind, m) for m in missing)
            raise Rejected(f"not a {kind.name} report: missing the column {needs}")
        return kind
    name = file_name.lower()
    scored = []
    for kind in KINDS:
        columns = column_map(kind, header)
        if columns and not _missing_required(kind, columns):
            named = any(h in name for h in kind.file_hints)
            scored.append((len(columns), named, kind))
    if not scored:
        shown = ", ".join(header[:8]) + (", …" if len(header) > 8 else "")
        needs = "; ".join(
            f"{k.name} needs {required_columns(k)}"
            for k in KINDS
        )
        raise Rejected(f"cannot tell the report kind from the columns [{shown}]: {needs}")
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    if len(scored) > 1 and scored[0][:2] == scored[1][:2]:
        raise Rejected(
            f"the columns fit both {scored[0][2].name} and {scored[1][2].name} reports: "
            "say which with --kind"
        )
    return scored[0][2]


# ---- rows -> facts ------------------------------------------------------------------------


@dataclass
class _Chunk:
    good: list[dict[str, Any]]
    bad: list[tuple[int, str, dict[str, str]]]
    rows: int


def _raw(header: list[str], cells: list[object]) -> dict[str, str]:
    raw = {}
    for i, cell in enumerate(cells):
        name = header[i] if i < len(header) and header[i] else f"column {i + 1}"
        raw[name] = clean(cell)
    return raw


def _first_text(cells: list[object]) -> str | None:
    """The first non-blank cell's text, None for a blank row; cleans only what it must."""
    for cell in cells:
        if cell is None or cell == "":
            continue
        text = clean(cell)
        if text:
            return text
    return None


def _parse_once(raw: object, parse: Callable[[object], object]) -> object:
    try:
        return parse(raw)
    except BadValue as exc:
        return exc
    except (ValueError, OverflowError):
        return BadValue(f"cannot read {clean(raw)!r}")


def _column(
    values: list[object], parse: Callable[[object], object]
) -> tuple[list[object], dict[int, str]]:
    """Parse a column, each distinct raw value once (dates and flags repeat a lot)."""
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # an unhashable cell value: one by one below
        return _column_by_cell(values, parse)
    failed = False
    for raw in distinct:
        value = distinct[raw] = _parse_once(raw, parse)
        failed = failed or isinstance(value, BadValue)
    out = [distinct[raw] for raw in values]
    errors: dict[int, str] = {}
    if failed:
        for i, value in enumerate(out):
            if isinstance(value, BadValue):
                errors[i] = str(value)
                out[i] = None
    return out, errors


def _column_by_cell(
    values: list[object], parse: Callable[[object], object]
) -> tuple[list[object], dict[int, str]]:
    cache: dict[object, object] = {}
    out: list[object] = []
    errors: dict[int, str] = {}
    for i, raw in enumerate(values):
        try:
            value = cache.get(raw, _MISS)
        except TypeError:  # an unhashable cell value
            value = _MISS
        if value is _MISS:
            try:
                value = parse(raw)
            except BadValue as exc:
                value = exc
            except (ValueError, OverflowError):
                value = BadValue(f"cannot read {clean(raw)!r}")
            with contextlib.suppress(TypeError):
                cache[raw] = value
        if isinstance(value, BadValue):
            errors[i] = str(value)
            out.append(None)
        else:
            out.append(value)
    return out, errors


def _key_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split()).casefold()


_KEY_PLANS: dict[str, tuple[ReportKind, list[tuple[int, tuple[str, ...], tuple[bool, ...]]]]] = {}


def _key_plan(kind: ReportKind) -> list[tuple[int, tuple[str, ...], tuple[bool, ...]]]:
    """Per key alternative: its index, its parts, and which parts may be empty (worked out
    once per kind, not once per row)."""
    known = _KEY_PLANS.get(kind.name)
    if known is None or known[0] is not kind:
        single = len(kind.keys) == 1
        plan = [(i, alt, tuple(single and not _is_required(kind, n) for n in alt))
                for i, alt in enumerate(kind.keys)]
        known = _KEY_PLANS[kind.name] = (kind, plan)
    return known[1]


def natural_key(kind: ReportKind, values: dict[str, Any]) -> str | None:
    """The row's natural key, from the first key alternative the row can fill."""
    for i, alternative, optional in _key_plan(kind):
        parts = [values.get(name) for name in alternative]
        usable = all(p not in (None, "") or may_be_empty
                     for p, may_be_empty in zip(parts, optional, strict=True))
        if usable:
            text = "\x1f".join("" if p is None else _key_text(p) for p in parts)
            if len(text) > _KEY_TEXT_MAX:  # the key column is bounded; a digest stays unique
                return f"{i}#{hashlib.sha256(text.encode()).hexdigest()}"
            return f"{i}:{text}"
    return None


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
    chunk: list[tuple[int, list[object]]],
    tz: ZoneInfo,
    period: tuple[date, date] | None,
    cut_off_row: int | None,
    percent: set[str] | frozenset[str] = frozenset(),
) -> _Chunk:
    width = len(header)
    data: list[tuple[int, list[object]]] = []
    bad: list[tuple[int, str, dict[str, str]]] = []
    for number, cells in chunk:
        first = _first_text(cells)
        if first is None:
            continue  # blank spacer row
        if normalize_header(first) in TOTALS:
            continue  # the totals row is derived data, not a fact
        if number == cut_off_row:
            bad.append((number, "the file ends in the middle of this row (cut off?)",
                        _raw(header, cells)))
        elif len(cells) < width and any(i >= len(cells) for i in columns.values()):
            bad.append((number, f"this row has {len(cells)} cells but the header has {width} "
                                "(cut off?)", _raw(header, cells)))
        else:
            data.append((number, cells))
    rows = len(data) + len(bad)

    parsed: dict[str, list[object]] = {}
    errors: dict[int, list[str]] = {}
    for name, col in columns.items():
        f = kind.by_name[name]
        raw_values = [cells[col] if col < len(cells) else None for _, cells in data]
        parse = parser_for(f.type, tz)
        if name in percent:
            parse = lambda raw: parse_rate(raw, percent_units=True)  # noqa: E731
        values, column_errors = _column(raw_values, parse)
        parsed[name] = values
        label = header[col] or f.name
        for i, message in column_errors.items():
            errors.setdefault(i, []).append(f"{label}: {message}")

    defaults = {f.name: f.default for f in kind.fields if f.default and f.name not in columns}
    good: list[dict[str, Any]] = []
    names = list(columns)
    by_row = zip(*(parsed[n] for n in names), strict=True) if names else [()] * len(data)
    for i, ((number, cells), parts) in enumerate(zip(data, by_row, strict=True)):
        values = dict(zip(names, parts, strict=True))
        problems = errors.get(i, [])
        for f in kind.required:
            if values.get(f.name) is None and not any(p.startswith(header[columns[f.name]] + ":")
                                                      for p in problems):
                problems.append(f"missing {header_example(kind, f.name)}")
        values.update(defaults)
        if period:
            values["period_start"], values["period_end"] = period
        key = None if problems else natural_key(kind, values)
        if not problems and key is None:
            problems.append(f"no key: needs {_key_help(kind)}")
        if problems:
            bad.append((number, "; ".join(problems), _raw(header, cells)))
            continue
        values["key"] = key
        values["_row"] = number
        good.append(values)
    return _Chunk(good, bad, rows)


# ---- writing ------------------------------------------------------------------------------


def _same(old: object, new: object) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        if old is None or new is None:
            return old is new
        return abs(float(old) - float(new)) <= 1e-9 * max(1.0, abs(float(new)))
    return old == new


class _Writer:
    """Upserts parsed rows of one drop into a fact table and counts what happened."""

    def __init__(self, conn: Connection, table: Table, store_id: int, drop_id: int,
                 columns: list[str]) -> None:
        self.conn, self.table, self.store_id, self.drop_id = conn, table, store_id, drop_id
        self.columns = columns  # only the columns this file carries are updated
        self.inserted = self.updated = self.unchanged = 0
        self.seen: dict[str, int] = {}  # key -> row number, to catch repeats within the file
        self.table_empty = conn.execute(
            select(table.c.id).where(table.c.store_id == store_id).limit(1)
        ).first() is None
        self.now = utcnow()

    def write(self, rows: list[dict[str, Any]]) -> list[tuple[int, str, dict[str, str]]]:
        repeats: list[tuple[int, str, dict[str, str]]] = []
        fresh: list[dict[str, Any]] = []
        for row in rows:
            first = self.seen.get(row["key"])
            if first is not None:
                repeats.append((row["_row"], f"repeats the key of row {first}; kept row {first}",
                                {}))
                continue
            self.seen[row["key"]] = row["_row"]
            fresh.append(row)
        existing = {} if self.table_empty else self._existing([r["key"] for r in fresh])
        inserts, updates = [], []
        for row in fresh:
            old = existing.get(row["key"])
            values = {c: row.get(c) for c in self.columns}
            if old is None:
                values.update(key=row["key"], store_id=self.store_id, drop_id=self.drop_id,
                              updated_at=self.now)
                inserts.append(values)
            elif all(_same(old[c], values[c]) for c in self.columns):
                self.unchanged += 1
            else:
                updates.append({**{f"v_{c}": v for c, v in values.items()}, "v_id": old["id"],
                                "v_drop_id": self.drop_id, "v_updated_at": self.now})
        if inserts:
            self.conn.execute(insert(self.table), inserts)
            self.inserted += len(inserts)
        if updates:
            stmt = (
                update(self.table)
                .where(self.table.c.id == bindparam("v_id"))
                .values({c: bindparam(f"v_{c}") for c in [*self.columns, "drop_id",
                                                           "updated_at"]})
            )
            self.conn.execute(stmt, updates)
            self.updated += len(updates)
        return repeats

    def _existing(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        cols = [self.table.c.id, self.table.c.key, *(self.table.c[c] for c in self.columns)]
        for i in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[i : i + _LOOKUP_BATCH]
            query = select(*cols).where(self.table.c.store_id == self.store_id,
                                        self.table.c.key.in_(batch))
            for rec in self.conn.execute(query).mappings():
                found[rec["key"]] = rec
        return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _local_day(value: object, tz: ZoneInfo) -> date | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).astimezone(tz).date()
    if isinstance(value, date):
        return value
    return None


def _cut_off_row(path: Path, sheet: Sheet) -> int | None:
    """A CSV that does not end in a newline was cut off: its last record is suspect."""
    if sheet.format != "csv":
        return None
    with path.open("rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return None
        fh.seek(-1, 2)
        if fh.read(1) in (b"\n", b"\r"):
            return None
    return -1  # resolved to the last record number by the caller


def _record(conn: Connection, store: Store, name: str, sha: str, result: DropResult,
            source: str, source_ref: str | None) -> int:
    period = result.period or (None, None)
    return conn.execute(
        insert(drops).values(
            store_id=store.id, file_name=name[:_FILE_NAME_MAX], sha256=sha, kind=result.kind,
            status=result.status, source=source, source_ref=source_ref,
            period_start=period[0], period_end=period[1], rows=result.rows,
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
            quarantined=result.quarantined, errors=result.errors,
            duplicate_of=result.duplicate_of, created_at=utcnow(),
        ).returning(drops.c.id)
    ).scalar_one()


def _find_ingested(conn: Connection, store: Store, sha: str) -> int | None:
    return conn.scalar(select(drops.c.id).where(
        drops.c.store_id == store.id, drops.c.sha256 == sha, drops.c.status == "ingested"))


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
        earlier = _find_ingested(conn, store, sha)
        if earlier is not None:
            return _duplicate(conn, store, name, sha, result, earlier, source, source_ref)
    for attempt in range(_ATTEMPTS):
        try:
            with write(engine) as conn:
                _ingest(conn, store, path, name, sha, kind, result, source, source_ref)
            return result
        except (Rejected, Unreadable) as exc:
            result = DropResult(file=name, status="rejected", store=store.name,
                                kind=result.kind, errors=[str(exc)])
        except IntegrityError:
            # Another process committed concurrently. The same content: ours is the copy.
            # Overlapping facts (PostgreSQL): a retry sees them and updates them.
            with write(engine) as conn:
                earlier = _find_ingested(conn, store, sha)
                if earlier is not None:
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


def _duplicate(conn: Connection, store: Store, name: str, sha: str, result: DropResult,
               earlier: int, source: str, source_ref: str | None) -> DropResult:
    first = conn.execute(select(drops).where(drops.c.id == earlier)).one()
    result.status = "duplicate"
    result.kind = first.kind
    result.duplicate_of = earlier
    result.period = (first.period_start, first.period_end) if first.period_start else None
    result.errors = [f"already ingested as drop {earlier} ({first.file_name}); nothing changed"]
    result.drop_id = _record(conn, store, name, sha, result, source, source_ref)
    return result


def _ingest(conn: Connection, store: Store, path: Path, name: str, sha: str, hint: str | None,
            result: DropResult, source: str, source_ref: str | None) -> None:
    sheet = read_sheet(path, hint)
    kind = detect_kind(sheet.header, name, hint)
    result.kind = kind.name
    columns = column_map(kind, sheet.header)
    period = None
    if kind.periodic:
        period = period_from_titles(sheet.title_lines) or period_from_name(name)
        if period is None:
            raise Rejected(
                f"a {kind.name} report needs its period: a title row like "
                "时间周期2026-11-01~2026-11-07 above the header, or a date in the file name "
                "like Products-2026-11-15.xls"
            )
    result.period = period
    drop_id = _record(conn, store, name, sha, result, source, source_ref)
    result.drop_id = drop_id
    stored = [*columns, *(f.name for f in kind.fields if f.default and f.name not in columns)]
    if kind.periodic:
        stored += ["period_start", "period_end"]
    writer = _Writer(conn, facts[kind.name], store.id, drop_id, stored)
    cut_off = _cut_off_row(path, sheet)
    percent = _percent_columns(kind, columns, sheet.chunks)
    first_day: date | None = None
    last_day: date | None = None
    quarantined: list[dict[str, Any]] = []
    chunks: Iterable[list[tuple[int, list[object]]]] = sheet.chunks
    for chunk, is_last in _with_last(chunks):
        cut_row = chunk[-1][0] if (cut_off and is_last and chunk) else None
        parsed = _parse_chunk(kind, sheet.header, columns, chunk, store.tz, period, cut_row,
                              percent)
        result.rows += parsed.rows
        bad = parsed.bad + writer.write(parsed.good)
        if kind.date_field and kind.date_field in columns:
            for row in parsed.good:
                day = _local_day(row.get(kind.date_field), store.tz)
                if day:
                    first_day = day if first_day is None or day < first_day else first_day
                    last_day = day if last_day is None or day > last_day else last_day
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
    if period is None and first_day and last_day:
        result.period = (first_day, last_day)
    conn.execute(update(drops).where(drops.c.id == drop_id).values(
        rows=result.rows, inserted=result.inserted, updated=result.updated,
        unchanged=result.unchanged, quarantined=result.quarantined, errors=result.errors,
        period_start=result.period[0] if result.period else None,
        period_end=result.period[1] if result.period else None,
    ))


def _percent_columns(kind: ReportKind, columns: dict[str, int],
                     chunks: Iterable[list[tuple[int, list[object]]]]) -> set[str]:
    """Rate columns whose bare numbers are percentages, decided once over the whole column:
    deciding per chunk would store 0.5 as 50% in one part of a file and 0.5% in another."""
    rates = {n: c for n, c in columns.items() if kind.by_name[n].type is Type.RATE}
    percent: set[str] = set()
    if not rates:
        return percent
    for chunk in chunks:
        for name, col in rates.items():
            if name not in percent and rate_column_in_percent(
                    [cells[col] for _, cells in chunk if col < len(cells)]):
                percent.add(name)
        if len(percent) == len(rates):
            break
    return percent


def _with_last(chunks: Iterable[list[Any]]) -> Iterable[tuple[list[Any], bool]]:
    iterator = iter(chunks)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following is None
        current = following
