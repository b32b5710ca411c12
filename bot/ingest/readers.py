"""Reading a dropped file into a header and blocks of rows, whatever its format.

Formats are told by content, not by name: BIFF8 `.xls` (OLE2), `.xlsx` (zip), otherwise text
CSV/TSV in UTF-8 (with or without BOM) or GBK/GB18030. The header row is found, never assumed:
real exports carry 1-5 title rows above it, and the report period is read from them. A
workbook is read sheet by sheet: every sheet whose header is the first data sheet's (exports
split large data across sheets), in a child process capped in memory and time, after an
`.xlsx`'s declared sizes passed the limits (bot/ingest/limits.py). A CSV is parsed by pandas'
C reader, every cell as text.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import pickle
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook  # here, not in the read's child: see limits

from bot.ingest import limits
from bot.ingest.kinds import ALIASES, KIND_BY_NAME, KINDS, normalize_header, required_columns
from bot.ingest.parsing import AmbiguousDate, BadValue, clean, numeric_date_fields, parse_date

HEADER_SCAN_ROWS = 30
# Rows per block. A block of a wide export parses to about 1 MB, what a pipe holds: a large
# file's child parses a block ahead and sends it whole (bot/ingest/ahead.py).
CHUNK_ROWS = 7_000
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_NOT_REPORTS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"RIFF": "a media file",
}
# Why a workbook sheet was not read (DropResult.sheets).
NO_HEADER = "no_header"
OTHER_HEADER = "other_header"


class Unreadable(ValueError):
    """The file cannot be read as a report at all; the message says why."""


@dataclass
class Block:
    """Consecutive rows of a table, column by column: each column an object array of the raw
    cells (str from a CSV; str, float, int, bool, datetime from a spreadsheet)."""

    numbers: np.ndarray  # each row's number as the user sees it: 1-based, title rows counted
    columns: list[np.ndarray]
    # The cells each row has: a CSV row can be short (cut off) and is reported as such.
    # None when every row has every column.
    counts: np.ndarray | None = None
    cut_off: int | None = None  # index of a row the file ends in the middle of
    sheet: str | None = None  # the workbook sheet the rows are on

    def __len__(self) -> int:
        return len(self.numbers)

    def cells(self, i: int) -> list[object]:
        """Row `i`'s cells as read (a short row's only)."""
        width = len(self.columns) if self.counts is None else int(self.counts[i])
        return [column[i] for column in self.columns[:width]]

    def rows(self) -> Iterator[tuple[int, list[object]]]:
        for i in range(len(self)):
            yield int(self.numbers[i]), self.cells(i)


@dataclass
class Sheet:
    """A table found in a file: the header, the text above it, and the rows below it."""

    format: str  # "xls", "xlsx" or "csv"
    header: list[str]
    header_row: int  # 1-based, as the user sees it
    title_lines: list[str]
    # Re-iterable: ingestion may read the rows twice (rate units and the order of numeric
    # dates are decided per whole column).
    blocks: Iterable[Block] = field(repr=False)
    encoding: str | None = None
    sheets: list[str] = field(default_factory=list)  # the workbook sheets read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sheet, NO_HEADER | ...)


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


class _Reiterable:
    """Each iteration reads the rows afresh, so a file of any size can be read twice."""

    def __init__(self, start: Callable[[], Iterator[Block]]) -> None:
        self._start = start

    def __iter__(self) -> Iterator[Block]:
        return self._start()


def _block(first: int, rows: list[list[object]], width: int, *, short: bool,
           sheet: str | None = None) -> Block:
    """A block of rows given as lists (spreadsheet rows, or CSV rows the csv module read), at
    least `width` columns wide (short rows padded with empty cells)."""
    width = max(width, *map(len, rows))
    columns = []
    for j in range(width):
        column = np.empty(len(rows), dtype=object)
        column[:] = [row[j] if j < len(row) else "" for row in rows]
        columns.append(column)
    counts = np.fromiter(map(len, rows), np.int64, len(rows)) if short else None
    return Block(np.arange(first, first + len(rows)), columns, counts, sheet=sheet)


# ---- spreadsheets -------------------------------------------------------------------------


@contextmanager
def _damaged(what: str) -> Iterator[None]:
    """Calamine's errors for broken files, and the Rust panics some cut-off .xls files cause
    (a pyo3 PanicException, which is a BaseException), as Unreadable."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:
        raise Unreadable(f"{what} (cut off or damaged?): {exc}") from exc


def _read_workbook(path: Path, fmt: str, kind: str | None) -> Sheet:
    """A workbook, read in a child process capped in memory and time (bot/ingest/limits.py),
    an `.xlsx` after its declared sizes passed the limits. The child writes the rows, block
    by block, to a temporary file that this process reads back (twice if need be), one
    block at a time."""
    read_limits = limits.ReadLimits.from_env()
    if fmt == "xlsx":
        limits.check_xlsx(path, read_limits)
    out = Path(tempfile.mkdtemp(prefix="opsbot-read-"))
    try:
        sheet: Sheet = limits.run_capped(
            _read_workbook_into, (path, fmt, kind, out / "blocks", CHUNK_ROWS), read_limits)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    sheet.blocks = _Reiterable(functools.partial(_stored_blocks, out / "blocks"))
    weakref.finalize(sheet.blocks, shutil.rmtree, out, True)  # gone with the last reader
    return sheet


def _read_workbook_into(path: Path, fmt: str, kind: str | None, blocks: Path,
                        chunk_rows: int) -> Sheet:
    """In the capped child: read the workbook, its blocks pickled one after another into
    `blocks`; the sheet without them."""
    global CHUNK_ROWS
    CHUNK_ROWS = chunk_rows  # as the parent has it (tests set it)
    sheet = _read_workbook_here(path, fmt, kind)
    with blocks.open("wb") as out:
        for block in sheet.blocks:
            pickle.dump(block, out, protocol=pickle.HIGHEST_PROTOCOL)
    sheet.blocks = ()
    return sheet


def _stored_blocks(blocks: Path) -> Iterator[Block]:
    with blocks.open("rb") as stored:
        while True:
            try:
                yield pickle.load(stored)  # written by _read_workbook_into: our own data
            except EOFError:
                return


def _read_workbook_here(path: Path, fmt: str, kind: str | None) -> Sheet:
    with _damaged(f"cannot open this .{fmt} file"):
        # From the bytes, not the path: calamine picks its reader by the file's extension,
        # and a renamed download (.xlsx saved as .xls) must still be read.
        book = CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    first: Sheet | None = None
    found: list[tuple[str, int]] = []  # the sheets to read, with their header's index
    skipped: list[tuple[str, str]] = []
    for name in book.sheet_names:
        with _damaged(f"cannot read sheet {name!r}"):
            head = book.get_sheet_by_name(name).to_python(skip_empty_area=False,
                                                          nrows=HEADER_SCAN_ROWS)
        at = find_header(head, kind)
        header = [clean(c) for c in _trim(head[at])] if at is not None else []
        if at is None:
            skipped.append((name, NO_HEADER))
        elif first is None:
            first = Sheet(fmt, header, at + 1, [_row_text(r) for r in head[:at]], ())
            found.append((name, at))
        elif list(map(normalize_header, header)) == list(map(normalize_header, first.header)):
            found.append((name, at))
        else:
            skipped.append((name, OTHER_HEADER))
    if first is None:
        raise _no_header(kind)
    first.blocks = _Reiterable(lambda: _workbook_blocks(book, found))
    first.sheets, first.skipped = [name for name, _ in found], skipped
    return first


def _workbook_blocks(book: object, found: list[tuple[str, int]]) -> Iterator[Block]:
    for name, at in found:
        with _damaged(f"cannot read sheet {name!r}"):
            rows = book.get_sheet_by_name(name).to_python(  # type: ignore[attr-defined]
                skip_empty_area=False)
        for start in range(at + 1, len(rows), CHUNK_ROWS):
            yield _block(start + 1, rows[start : start + CHUNK_ROWS], len(rows[at]),
                         short=False, sheet=name)


# ---- CSV ----------------------------------------------------------------------------------
# pandas' C reader pads a short row with empty cells, so it cannot tell `a,b` from `a,b,,`.
# Every line is given one more field, a sentinel, before pandas reads it: the column the
# sentinel lands in is the number of cells the row has. Files the sentinel cannot be added to
# (holding the sentinel, or lines ending in a lone CR) and the rest of a file the C reader
# refuses (a row wider than expected, a quote left open at the end) go through the csv module.
_SENTINEL = "\x01"


@dataclass
class _Text:
    """What one pass over a CSV's bytes found."""

    encoding: str
    size: int  # bytes to read: a character cut off at the very end is left out
    ends_line: bool  # the last byte read ends a line
    plain: bool  # lines end in LF or CRLF and no byte is the sentinel
    quoted: bool  # some byte is a quote: a cell may span lines


def _inspect(path: Path) -> _Text:
    """UTF-8 (BOM or not) when the whole file decodes as UTF-8, else GB18030 (a GBK superset);
    a file cut off inside a character keeps its complete part."""
    size, plain, quoted, last = 0, True, False, b""
    utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            if block.endswith(b"\r"):
                block += fh.read(1)  # keep CRLF together
            size += len(block)
            last = block[-1:]
            plain = plain and _SENTINEL.encode() not in block and (
                block.count(b"\r") == block.count(b"\r\n"))
            quoted = quoted or b'"' in block
            if utf8 is not None:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    utf8 = None
    if utf8 is not None:
        encoding, decoder = "utf-8-sig", utf8
    else:
        encoding, decoder = "gb18030", codecs.getincrementaldecoder("gb18030")()
        try:
            with path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    decoder.decode(block)
        except UnicodeDecodeError as exc:
            raise Unreadable(f"not a text file in UTF-8 or GBK: {exc}") from exc
    cut = len(decoder.getstate()[0])  # bytes of an unfinished character at the very end
    if cut:
        size -= cut
        with path.open("rb") as fh:
            fh.seek(max(size - 1, 0))
            last = fh.read(1) if size else b""
    return _Text(encoding, size, last in (b"\n", b"\r"), plain, quoted)


class _Bytes(io.RawIOBase):
    """A file's first `size` bytes; with `delimiter`, every line ends in one more field, the
    sentinel (the last line too, when it has no line end)."""

    def __init__(self, path: Path, size: int, delimiter: str | None = None) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._left = size
        self._end = (delimiter + _SENTINEL).encode() if delimiter else b""
        self._spare = b""
        self._ended = size == 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()
        super().close()

    def _next(self, n: int) -> bytes:
        block = self._fh.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(block)
        if not self._end:
            return block
        if block.endswith(b"\r") and self._left:
            more = self._fh.read(1)
            self._left -= len(more)
            block += more
        end = self._end
        block = block.replace(b"\n", end + b"\n").replace(b"\r" + end + b"\n", end + b"\r\n")
        if not self._left and not self._ended:
            self._ended = True
            if not block.endswith(b"\n"):
                block += end
        return block

    def read(self, n: int = -1) -> bytes:  # may return more than n bytes; pandas takes them
        if self._spare:
            block, self._spare = self._spare, b""
            return block
        return self._next(n)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._spare:
            self._spare = self._next(len(buffer))
        n = min(len(buffer), len(self._spare))
        buffer[:n] = self._spare[:n]
        self._spare = self._spare[n:]
        return n


def _text_stream(path: Path, text: _Text) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedReader(_Bytes(path, text.size)), encoding=text.encoding,
                            newline="")


def _dialect(delimiter: str) -> type[csv.Dialect]:
    return type("Export", (csv.excel,), {"delimiter": delimiter})


def _read_csv(path: Path, kind: str | None) -> Sheet:
    text = _inspect(path)
    try:
        with _text_stream(path, text) as fh:
            sample = fh.read(65536)
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not a text file in UTF-8 or GBK: {exc}") from exc
    # The delimiter is the one under which a header row is found: counting characters alone
    # mistakes a TSV full of `1,234` numbers (or quoted commas) for a CSV.
    first_lines = sample.splitlines()[:HEADER_SCAN_ROWS]
    counts = {d: max((line.count(d) for line in first_lines), default=0) for d in ",\t;"}
    best: tuple[int, str, list[list[str]], int | None] | None = None
    error: csv.Error | None = None
    for delimiter in sorted(counts, key=lambda d: -counts[d]):  # most frequent first
        try:
            rows = list(csv.reader(io.StringIO(sample), _dialect(delimiter)))
        except csv.Error as exc:
            error = exc
            continue
        if len(sample) == 65536:
            rows = rows[:-1]  # the sample may end inside a row
        found = find_header(rows[:HEADER_SCAN_ROWS], kind)
        score = -1 if found is None else header_score(rows[found], kind)
        if best is None or score > best[0]:
            best = (score, delimiter, rows, found)
    if best is None:
        raise Unreadable(f"not a readable CSV file: {error}")
    _, delimiter, head_rows, at = best
    if at is None:
        raise _no_header(kind)
    header = [clean(c) for c in _trim(head_rows[at])]
    titles = [_row_text(r) for r in head_rows[:at]]
    # As many columns as the widest row in the sample; a wider row later is read by the
    # csv module.
    width = max(len(header), *(len(r) for r in head_rows[at:]))
    blocks = _Reiterable(lambda: _csv_blocks(path, text, delimiter, at, len(header), width))
    return Sheet("csv", header, at + 1, titles, blocks, text.encoding)


def _csv_blocks(path: Path, text: _Text, delimiter: str, header_at: int, header_width: int,
                width: int) -> Iterator[Block]:
    """The rows below the header, in blocks of CHUNK_ROWS; the last row is marked cut off
    when the file ends inside it (in an open quote, or short of cells without a line end)."""
    done = 0  # rows read so far
    first = header_at + 2  # Excel numbers records, not physical lines; so do we
    held: Block | None = None  # one block back, to know which is the last
    widest = 0  # the most cells a row had, before the block held back
    open_quote = False
    if text.plain:
        try:
            with _Bytes(path, text.size, delimiter) as raw:
                frames = pd.read_csv(
                    raw, sep=delimiter, header=None, names=range(width + 2), index_col=False,
                    dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                    skiprows=header_at + 1, chunksize=CHUNK_ROWS, engine="c", quotechar='"',
                    doublequote=True, skipinitialspace=False, encoding=_pandas_encoding(text))
                for size in _block_sizes():
                    try:
                        frame = frames.get_chunk(size)
                    except StopIteration:
                        break
                    block = _frame_block(frame, first + done, delimiter, header_width,
                                         text.quoted)
                    done += len(block)
                    if held is not None:
                        widest = _widest(widest, held)
                        yield held
                    held = block
            if held is not None:
                yield _ends(held, text.ends_line, widest, header_width, False)
            return
        except pd.errors.EmptyDataError:  # nothing below the header
            return
        except pd.errors.ParserError as exc:
            open_quote = "EOF inside string" in str(exc)
    if held is not None:
        widest = _widest(widest, held)
        yield held
    yield from _csv_module_blocks(path, text, delimiter, header_at + 1 + done, first + done,
                                  header_width, widest, open_quote)


def _block_sizes() -> Iterator[int]:
    """Rows per block: the first ones small, so that a large file's first rows are parsed
    and written while the rest is read (bot/ingest/ahead.py), then CHUNK_ROWS."""
    yield from (max(1, CHUNK_ROWS // 16), max(1, CHUNK_ROWS // 4))
    while True:
        yield CHUNK_ROWS


def _pandas_encoding(text: _Text) -> str:
    # A BOM is on the first line, which is the header or above it: skipped either way.
    return "utf-8" if text.encoding == "utf-8-sig" else text.encoding


def _frame_block(frame: pd.DataFrame, first: int, delimiter: str, width: int, quoted: bool
                 ) -> Block:
    """A block from pandas' rows, each with its sentinel: in column `width` for most rows
    (as many cells as the header), elsewhere for shorter or longer ones."""
    columns = [frame[j].to_numpy(dtype=object) for j in frame.columns]
    counts = np.full(len(frame), width)
    usual = columns[width] == _SENTINEL
    columns[width][usual] = ""
    others = np.flatnonzero(~usual)
    for j in range(len(columns)):  # the rows with more or fewer cells, if any
        if not len(others):
            break
        at = others[columns[j][others] == _SENTINEL]
        counts[at] = j
        columns[j][at] = ""
    if quoted:
        for column in columns:
            # A quoted cell spanning lines got the sentinel before each of its line ends.
            if _SENTINEL in "".join(column):
                inside = np.flatnonzero(pd.Series(column).str.contains(_SENTINEL, regex=False))
                column[inside] = [c.replace(delimiter + _SENTINEL, "") for c in column[inside]]
    return Block(np.arange(first, first + len(frame)), columns[:-1], counts)


def _widest(widest: int, block: Block) -> int:
    return max(widest, int(block.counts.max())) if block.counts is not None else widest


def _ends(block: Block, ends_line: bool, widest: int, header_width: int, open_quote: bool
          ) -> Block:
    """The last block of a file, its last row marked when the file ends in the middle of it:
    inside a quote, or without a line end and with fewer cells than the header and the rows
    before it (some exports leave trailing empty cells out). A complete last row is a row."""
    counts, last = block.counts, len(block) - 1
    if last < 0 or counts is None:
        return block
    if last:
        widest = max(widest, int(counts[:last].max()))
    if open_quote or (not ends_line and counts[last] < min(widest or header_width,
                                                           header_width)):
        block.cut_off = last
    return block


def _csv_module_blocks(path: Path, text: _Text, delimiter: str, skip: int, first: int,
                       header_width: int, widest: int, open_quote: bool) -> Iterator[Block]:
    """The rows after the first `skip` records, read by the csv module; `widest`: the most
    cells a row before them had."""
    with _text_stream(path, text) as fh:
        reader = csv.reader(fh, _dialect(delimiter))
        rows: list[list[object]] = []
        index = 0
        held: Block | None = None
        try:
            for index, row in enumerate(reader):
                if index < skip:
                    continue
                rows.append(row)  # type: ignore[arg-type]
                if len(rows) >= CHUNK_ROWS:
                    if held is not None:
                        widest = _widest(widest, held)
                        yield held
                    held = _block(first, rows, header_width, short=True)
                    first += len(rows)
                    rows = []
        except csv.Error as exc:
            raise Unreadable(f"CSV broken near row {index + 2}: {exc}") from exc
        if rows:
            if held is not None:
                widest = _widest(widest, held)
                yield held
            held = _block(first, rows, header_width, short=True)
        if held is not None:
            yield _ends(held, text.ends_line, widest, header_width, open_quote)


# ---- report period ------------------------------------------------------------------------

_ISO = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
_NUMERIC = r"\d{1,2}\s*(?P<sep>[-/.])\s*\d{1,2}\s*(?P=sep)\s*\d{4}"
_NAMED = (r"[a-z]{3,9}\.?\s*\d{1,2}(?:st|nd|rd|th)?\s*,?\s*\d{4}"
          r"|\d{1,2}(?:\s*|-)[a-z]{3,9}\.?(?:\s*|-)\d{4}")
_DATE_IN_TEXT = re.compile(rf"(?<!\d)(?:{_ISO}|{_NUMERIC}|{_NAMED})(?!\d)", re.I)
_CONNECTOR = re.compile(r"\s*(?:~|～|至|到|—|–|-|to)\s*", re.I)
_FILE_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_FILE_RANGE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})\s*(?:~|～|_|-|至|到|to)\s*"
                         r"(\d{4})-?(\d{2})-?(\d{2})(?!\d)", re.I)


def _date(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def _title_dates(line: str) -> list[re.Match[str]]:
    return list(_DATE_IN_TEXT.finditer(clean(line)))


def title_numeric_dates(titles: list[str]) -> list[str]:
    """The numeric dates (11/07/2026) in the rows above the header: the file's order of day and
    month decides how they read."""
    return [m[0] for line in titles for m in _title_dates(line)
            if numeric_date_fields(m[0]) is not None]


def period_from_titles(titles: list[str], order: str | None = None
                       ) -> tuple[date, date] | None:
    """`时间周期2026-11-01~2026-11-07`, `Date range: 11/01/2026 - 11/07/2026`, or a single
    date, in the rows above the header. `order`: the file's order of numeric dates (parsing's
    MONTH_FIRST or DAY_FIRST); without it, a numeric date that does not tell its own order
    raises parsing.AmbiguousDate."""
    for line in titles:
        text = clean(line)
        found = _title_dates(text)
        for a, b in itertools.pairwise(found):
            if _CONNECTOR.fullmatch(text[a.end():b.start()]):
                start, end = _title_day(a[0], order), _title_day(b[0], order)
                if start and end:
                    return (start, end) if start <= end else (end, start)
    for line in titles:
        for m in _title_dates(line):
            if day := _title_day(m[0], order):
                return day, day
    return None


def _title_day(text: str, order: str | None) -> date | None:
    try:
        return parse_date(text, order=order)
    except AmbiguousDate:
        raise  # the caller decides the order and asks again
    except BadValue:
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
