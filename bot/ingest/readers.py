"""Reading a dropped file into a header and streamed rows, whatever its format.

Formats are told by content, not by name: BIFF8 `.xls` (OLE2), `.xlsx` (zip), otherwise text
CSV/TSV in UTF-8 (with or without BOM) or GBK/GB18030. The header row is found, never assumed:
real exports carry 1-5 title rows above it, and the report period is read from them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bot.ingest.kinds import ALIASES, KIND_BY_NAME, KINDS, normalize_header, required_columns
from bot.ingest.parsing import clean

HEADER_SCAN_ROWS = 30
CHUNK_ROWS = 20_000
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_NOT_REPORTS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"RIFF": "a media file",
}


class Unreadable(ValueError):
    """The file cannot be read as a report at all; the message says why."""


@dataclass
class Sheet:
    """A table found in a file: the header, the text above it, and the rows below it."""

    format: str  # "xls", "xlsx" or "csv"
    header: list[str]
    header_row: int  # 1-based, as the user sees it
    title_lines: list[str]
    # Chunks of (row number, cells); cells are raw values, not padded to the header width,
    # so that a short (cut-off) row can be reported as such.
    chunks: Iterable[list[tuple[int, list[object]]]] = field(repr=False)
    encoding: str | None = None


def sniff_format(head: bytes) -> str:
    if head.startswith(_OLE2):
        return "xls"
    if head.startswith(_ZIP):
        return "xlsx"
    for magic, what in _NOT_REPORTS.items():
        if head.startswith(magic):
            raise Unreadable(f"this is {what}, not a report: send the .xls, .xlsx or .csv export")
    if b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Unreadable("this is a binary file, not a report: send the .xls, .xlsx or .csv")
    return "csv"


def header_score(cells: list[object], kind: str | None = None) -> int:
    """How many cells of a row are known column names (of one kind, or of the best kind)."""
    names = [normalize_header(c) for c in cells if clean(c)]
    indexes = [ALIASES[kind]] if kind else ALIASES.values()
    return max(len({index[n] for n in names if n in index}) for index in indexes)


def find_header(rows: list[list[object]], kind: str | None = None) -> int | None:
    """Index of the header among the first rows: the first row with the most known names."""
    best, best_score = None, 1  # one matching cell could be a title; ask for two
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        score = header_score(row, kind)
        if score > best_score:
            best, best_score = i, score
    return best


def _row_text(row: list[object]) -> str:
    return " ".join(clean(c) for c in row if clean(c))


def _trim(row: list[object]) -> list[object]:
    end = len(row)
    while end and not clean(row[end - 1]):
        end -= 1
    return list(row[:end])


def read_sheet(path: Path, kind: str | None = None) -> Sheet:
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head:
        raise Unreadable("the file is empty")
    fmt = sniff_format(head)
    if fmt == "csv":
        return _read_csv(path, kind)
    return _read_workbook(path, fmt, kind)


def _no_header(kind: str | None) -> Unreadable:
    if kind:
        what = f"{KIND_BY_NAME[kind].noun}, which needs {required_columns(KIND_BY_NAME[kind])}"
    else:
        what = "any report kind (" + "; ".join(
            f"{k.name} needs {required_columns(k)}" for k in KINDS) + ")"
    return Unreadable(
        f"no header row found: none of the first {HEADER_SCAN_ROWS} rows has the column "
        f"names of {what}; see `opsbot kinds` for every column"
    )


# ---- spreadsheets -------------------------------------------------------------------------


@contextmanager
def _damaged(what: str) -> Iterator[None]:
    """Calamine's errors for broken files, and the Rust panics some cut-off .xls files cause
    (a pyo3 PanicException, which is a BaseException), as Unreadable."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        raise Unreadable(f"{what} (cut off or damaged?): {exc}") from exc


def _read_workbook(path: Path, fmt: str, kind: str | None) -> Sheet:
    from python_calamine import CalamineWorkbook

    with _damaged(f"cannot open this .{fmt} file"):
        # From the bytes, not the path: calamine picks its reader by the file's extension,
        # and a renamed download (.xlsx saved as .xls) must still be read.
        book = CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    for name in book.sheet_names:
        with _damaged(f"cannot read sheet {name!r}"):
            rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        at = find_header(rows, kind)
        if at is None:
            continue
        header = [clean(c) for c in _trim(rows[at])]
        body = [(i + 1, list(r)) for i, r in enumerate(rows) if i > at]
        chunks = [body[i : i + CHUNK_ROWS] for i in range(0, len(body), CHUNK_ROWS)]
        return Sheet(fmt, header, at + 1, [_row_text(r) for r in rows[:at]], chunks)
    raise _no_header(kind)


# ---- CSV ----------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) when the whole file decodes as UTF-8, else GB18030 (a GBK superset)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def _dialect(delimiter: str) -> type[csv.Dialect]:
    return type("Export", (csv.excel,), {"delimiter": delimiter})


def _read_csv(path: Path, kind: str | None) -> Sheet:
    encoding = detect_encoding(path)
    try:
        with path.open(encoding=encoding, newline="") as fh:
            sample = fh.read(65536)
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not a text file in UTF-8 or GBK: {exc}") from exc
    # The delimiter is the one under which a header row is found: counting characters alone
    # mistakes a TSV full of `1,234` numbers (or quoted commas) for a CSV.
    first_lines = sample.splitlines()[:HEADER_SCAN_ROWS]
    counts = {d: max((line.count(d) for line in first_lines), default=0) for d in ",\t;"}
    best: tuple[int, type[csv.Dialect], list[list[str]], int | None] | None = None
    error: csv.Error | None = None
    for delimiter in sorted(counts, key=lambda d: -counts[d]):  # most frequent first
        dialect = _dialect(delimiter)
        try:
            rows = list(csv.reader(io.StringIO(sample), dialect))[:HEADER_SCAN_ROWS + 1]
        except csv.Error as exc:
            error = exc
            continue
        if len(sample) == 65536:
            rows = rows[:-1]  # the sample may end inside a row
        rows = rows[:HEADER_SCAN_ROWS]
        found = find_header(rows, kind)
        score = -1 if found is None else header_score(rows[found], kind)
        if best is None or score > best[0]:
            best = (score, dialect, rows, found)
    if best is None:
        raise Unreadable(f"not a readable CSV file: {error}")
    _, dialect, head_rows, at = best
    if at is None:
        raise _no_header(kind)
    header = [clean(c) for c in _trim(head_rows[at])]
    titles = [_row_text(r) for r in head_rows[:at]]
    # Re-iterable: ingestion may read the rows twice (rate units are decided per whole column).
    chunks = _Reiterable(lambda: _csv_chunks(path, encoding, dialect, at))
    return Sheet("csv", header, at + 1, titles, chunks, encoding)


class _Reiterable:
    """Each iteration reads the file afresh, so a CSV of any size can be read twice."""

    def __init__(self, start: Callable[[], Iterator[list[tuple[int, list[object]]]]]) -> None:
        self._start = start

    def __iter__(self) -> Iterator[list[tuple[int, list[object]]]]:
        return self._start()


def _csv_chunks(
    path: Path, encoding: str, dialect: type[csv.Dialect] | csv.Dialect, header_at: int
) -> Iterator[list[tuple[int, list[object]]]]:
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, dialect)
        chunk: list[tuple[int, list[object]]] = []
        index = 0
        try:
            for index, row in enumerate(reader):
                if index <= header_at:
                    continue
                # Excel numbers records, not physical lines; so do we (header = record 1 + at).
                chunk.append((index + 1, row))  # the reader makes a new list per row
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
        except csv.Error as exc:
            raise Unreadable(f"CSV broken near row {index + 2}: {exc}") from exc
        if chunk:
            yield chunk


# ---- report period ------------------------------------------------------------------------

_D = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_RANGE = re.compile(_D + r"\s*(?:~|～|至|到|—|–|-|to)\s*" + _D, re.I)
_SINGLE = re.compile(_D)
_FILE_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_FILE_RANGE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})\s*(?:~|～|_|-|至|到|to)\s*"
                         r"(\d{4})-?(\d{2})-?(\d{2})(?!\d)", re.I)


def _date(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def period_from_titles(titles: list[str]) -> tuple[date, date] | None:
    """`时间周期2026-11-01~2026-11-07` (or a single date) in the rows above the header."""
    for line in titles:
        m = _RANGE.search(clean(line))
        if m:
            start, end = _date(*m.groups()[:3]), _date(*m.groups()[3:])
            if start and end:
                return (start, end) if start <= end else (end, start)
    for line in titles:
        m = _SINGLE.search(clean(line))
        if m and (day := _date(*m.groups())):
            return day, day
    return None


def period_from_name(file_name: str) -> tuple[date, date] | None:
    """`Products-2026-11-15.xls` or `getKeywords-2026-11-15 (1).xls`: that one day;
    `询盘列表_20261112-20261118.csv` (two dates joined by -, _, ~ or "to"): that period."""
    name = Path(file_name).name
    for m in _FILE_RANGE.finditer(name):
        start, end = _date(*m.groups()[:3]), _date(*m.groups()[3:])
        if start and end:
            return (start, end) if start <= end else (end, start)
    for m in _FILE_DATE.finditer(name):  # other digits may come first
        if day := _date(*m.groups()):
            return day, day
    return None
