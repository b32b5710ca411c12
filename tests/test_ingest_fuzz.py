"""Property tests: malformed files never crash ingestion and never half-write.

Whatever a file holds (random bytes, random cells in random encodings, cut-off files, random
title rows, garbage in typed columns), `ingest_file` returns ingested, duplicate or rejected;
a rejected or duplicate drop leaves every table as it was, and an ingested drop accounts for
every row it counted: rows == inserted + updated + unchanged + quarantined, with exactly the
quarantined rows in the quarantine table. SQLite only: the properties are about our code.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Engine, func, select

from bot.ingest.drop import DropResult, ingest_file
from bot.ingest.kinds import KINDS, Type
from bot.models import facts, quarantine
from bot.storage import make_engine, migrate
from bot.stores import Store, add_store
from tests.files import csv_text, snapshot, write_xls, write_xlsx

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAMES = ["Products-2026-11-15.csv", "report.csv", "getKeywords-2026-11-15 (1).csv",
         "orders.xls", "inquiries", "p4p 20261103.xlsx"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Store, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{folder / 'fuzz.db'}")
    migrate(engine)
    yield engine, add_store(engine, "fuzz"), folder
    engine.dispose()


def ingest_checked(db: tuple[Engine, Store, Path], content: bytes, name: str,
                   kind: str | None = None) -> DropResult:
    """Ingest `content` and check the invariants that must hold for any file."""
    engine, store, folder = db
    path = folder / f"{next(_counter)}" / name
    path.parent.mkdir()
    path.write_bytes(content)
    before = snapshot(engine)
    result = ingest_file(engine, store, path, kind=kind)  # must not raise
    event(result.status)  # see the mix with --hypothesis-show-statistics
    assert result.status in ("ingested", "duplicate", "rejected")
    # A failure inside our code is caught and reported as "could not be stored": a bug here.
    assert not any("could not be stored" in e for e in result.errors), result.errors
    if result.status != "ingested":
        assert snapshot(engine) == before
        if result.status == "rejected":
            assert result.errors and all(e.strip() for e in result.errors)
        return result
    assert result.kind in {k.name for k in KINDS}
    assert result.rows == (result.inserted + result.updated + result.unchanged
                           + result.quarantined)
    with engine.connect() as conn:
        kept = conn.scalar(select(func.count()).select_from(quarantine)
                           .where(quarantine.c.drop_id == result.drop_id))
        table = facts[result.kind]
        total = conn.scalar(select(func.count()).select_from(table))
    assert kept == result.quarantined
    assert total == len(before[result.kind]) + result.inserted
    return result


# ---- strategies -------------------------------------------------------------------------------

MAGIC = [b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF", b"\xef\xbb\xbf",
         b"\xff\xfe", b"\x89PNG"]

GARBAGE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["-", "--", "", "-1", "N/A", "1,234", "3.25%", "3.25", "0.0325", "US $1.20",
                     "¥1,234.50", "￥12", "Y", "N", "是", "否", "2026-11-03 14:05",
                     "2026/11/3 下午2:05:00", "2026-11-03T14:05:00+08:00", "1793685900",
                     "1793685900000", "汇总", "合计", "Total", "1.2万", "9" * 30, "2026-02-30",
                     "=SUM(A1:A3)", "\"", "a,b", "\t", "\r\n", "😀", "<!channel>"]),
    st.integers(-10**12, 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)

TITLES = st.lists(st.one_of(
    st.just(["时间周期2026-11-01~2026-11-07"]), st.just(["数据管家-产品分析"]), st.just([]),
    st.lists(GARBAGE, max_size=3)), max_size=6)


DAYS = st.dates(date(2026, 1, 1), date(2026, 12, 31))
VALID = {  # plausible cells of each column type, in the formats exports use
    Type.TEXT: st.text("abcLED 灯带-_0123456789", min_size=1, max_size=10),
    Type.INT: st.integers(0, 10**7).map(lambda n: f"{n:,}"),
    Type.NUMBER: st.floats(0, 1e6, allow_nan=False).map(lambda x: f"{x:.2f}"),
    Type.RATE: st.floats(0, 100, allow_nan=False).map(lambda x: f"{x:.2f}%"),
    Type.MONEY: st.floats(0, 1e5, allow_nan=False).map(lambda x: f"¥{x:,.2f}"),
    Type.BOOL: st.sampled_from(["Y", "N", "是", "否"]),
    Type.DATE: DAYS.map(str),
    Type.DATETIME: DAYS.map(lambda d: f"{d} 14:05"),
}


@st.composite
def tables(draw: st.DrawFn) -> list[list[object]]:
    """A report-like table: title rows, a header of a kind's aliases, rows of mostly
    plausible values with garbage mixed in, short and long rows, maybe a totals row."""
    kind = draw(st.sampled_from(KINDS))
    chosen = draw(st.lists(st.sampled_from(kind.fields), min_size=2, max_size=8, unique=True))
    fields = [*(f for f in kind.required if f not in chosen), *chosen]
    header: list[object] = [draw(st.sampled_from((f.name, *f.aliases))) for f in fields]
    if draw(st.booleans()):
        header.append(draw(GARBAGE))  # an unknown extra column
    cells = [VALID[f.type] for f in fields] + [GARBAGE] * (len(header) - len(fields))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(st.one_of(GARBAGE, value, value)) for value in cells]
        if draw(st.integers(0, 9)) == 0:
            row = row[: draw(st.integers(0, len(row)))]  # a short row
        rows.append(row)
    if draw(st.booleans()):
        rows.append([draw(st.sampled_from(["汇总", "合计", "Total"]))])
    return [*draw(TITLES), header, *rows]


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


# ---- properties -------------------------------------------------------------------------------


@FUZZ
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=2048),
       name=st.sampled_from(NAMES))
def test_random_bytes(db: tuple[Engine, Store, Path], magic: bytes, body: bytes,
                      name: str) -> None:
    ingest_checked(db, magic + body, name)


@FUZZ
@given(table=tables(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030"]),
       delimiter=st.sampled_from([",", "\t", ";"]), cut=st.none() | st.floats(0, 1),
       name=st.sampled_from(NAMES), kind=st.none() | st.sampled_from([k.name for k in KINDS]))
def test_random_csv(db: tuple[Engine, Store, Path], table: list[list[object]], encoding: str,
                    delimiter: str, cut: float | None, name: str, kind: str | None) -> None:
    content = encode(csv_text(table, delimiter), encoding)
    if cut is not None:
        content = content[: int(len(content) * cut)]  # cut off anywhere, even mid-character
    ingest_checked(db, content, name, kind)


@settings(FUZZ, max_examples=30)
@given(table=tables(), fmt=st.sampled_from(["xlsx", "xls"]), cut=st.none() | st.floats(0, 1),
       name=st.sampled_from(NAMES))
def test_random_workbooks(db: tuple[Engine, Store, Path], table: list[list[object]], fmt: str,
                          cut: float | None, name: str) -> None:
    _, _, folder = db
    path = folder / f"book-{next(_counter)}.{fmt}"
    # Within what the writers accept: xls has 256 columns, xlsx no control characters.
    cells = [[ILLEGAL_CHARACTERS_RE.sub("", str(c))[:200] for c in row][:250] for row in table]
    (write_xlsx if fmt == "xlsx" else write_xls)(path, cells)
    content = path.read_bytes()
    if cut is not None:
        content = content[: int(len(content) * cut)]
    ingest_checked(db, content, name)


@FUZZ
@given(table=tables())
def test_the_same_file_twice_changes_nothing(db: tuple[Engine, Store, Path],
                                             table: list[list[object]]) -> None:
    content = encode(csv_text(table), "utf-8")
    first = ingest_checked(db, content, "Products-2026-11-15.csv")
    again = ingest_checked(db, content, "Products-2026-11-15 (1).csv")
    if first.status == "ingested":
        assert again.status == "duplicate"
