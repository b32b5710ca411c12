"""A large file is parsed in a forked child, a block ahead of the writer (bot/ingest/ahead.py).

tests/test_ingest.py runs every ingest test both ways; these tests are about the child itself:
that it is used, that what goes wrong in it reaches the user as a refused file with nothing
written, and that no child outlives its file."""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest import ahead, drop, readers
from bot.ingest.ahead import parsed_ahead
from bot.ingest.drop import ingest_file
from bot.ingest.limits import ROWS, OverLimit
from bot.stores import Store
from tests.files import drop_row, snapshot, stored, write_csv

pytestmark = pytest.mark.skipif(not ahead.CAN_FORK, reason="this system cannot fork")


def _days(n: int) -> list[list[object]]:
    """A P4P report of `n` days, a keyword each."""
    return [["日期", "计划名称", "关键词", "曝光量"]] + [
        [f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}", "LED plan", "led strip", str(d)]
        for d in range(n)]


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as large, and is read in blocks of 4 rows."""
    monkeypatch.setattr(ahead, "FORK_BYTES", 0)
    monkeypatch.setattr(readers, "CHUNK_ROWS", 4)


def _in_the_child_at(parse: int, happen: Callable[[], object],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`happen()` in the parsing child, as it parses its block number `parse` (from 1)."""
    real_parse, parent, calls = drop._parse_chunk, os.getpid(), []

    def parse_chunk(*args: object, **kwargs: object) -> drop._Chunk:
        calls.append(1)
        if os.getpid() != parent and len(calls) == parse:
            happen()
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(drop, "_parse_chunk", parse_chunk)


def _no_child_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name == "opsbot-parse"]


def test_parsed_in_order_by_a_child_only_when_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ahead, "FORK_BYTES", 100)
    with parsed_ahead(range(5), lambda i: (i * i, os.getpid()), size=99) as small:
        assert list(small) == [(i * i, os.getpid()) for i in range(5)]
    with parsed_ahead(range(5), lambda i: (i * i, os.getpid()), size=100) as large:
        got = list(large)
    assert [square for square, _ in got] == [0, 1, 4, 9, 16]
    assert len({pid for _, pid in got}) == 1 and got[0][1] != os.getpid()
    assert _no_child_left()


def test_an_exception_arrives_where_its_item_would_have() -> None:
    def parse(i: int) -> int:
        if i == 2:
            raise ValueError("row 9: not a date")
        return i

    got = []
    with pytest.raises(ValueError, match="row 9: not a date"), \
            parsed_ahead(range(5), parse, size=ahead.FORK_BYTES) as items:
        for item in items:
            got.append(item)
    assert got == [0, 1]
    assert _no_child_left()


def test_an_exception_that_does_not_pickle_keeps_its_words() -> None:
    class Odd(Exception):
        def __init__(self) -> None:
            super().__init__("a lock inside")
            self.lock = multiprocessing.Lock()  # cannot be pickled

    def parse(i: int) -> int:
        raise Odd

    with pytest.raises(RuntimeError, match="Odd: a lock inside"), \
            parsed_ahead(range(3), parse, size=ahead.FORK_BYTES) as items:
        list(items)
    assert _no_child_left()


def test_leaving_early_stops_the_child() -> None:
    with parsed_ahead(range(10**6), lambda i: [i] * 1000, size=ahead.FORK_BYTES) as items:
        assert next(items) == [0] * 1000
    assert _no_child_left()


def test_a_large_file_is_written_from_the_childs_chunks(engine: Engine, store: Store,
                                                        tmp_path: Path, forked: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real_parse, real_write = drop._parse_chunk, drop._Writer.write
    writers: list[tuple[int, int]] = []

    def parse(*args: object, **kwargs: object) -> drop._Chunk:
        chunk = real_parse(*args, **kwargs)
        chunk.good.parsed_by = os.getpid()  # type: ignore[attr-defined]
        return chunk

    def write(self: drop._Writer, rows: drop._Facts) -> list:
        writers.append((rows.parsed_by, len(rows)))  # type: ignore[attr-defined]
        return real_write(self, rows)

    monkeypatch.setattr(drop, "_parse_chunk", parse)
    monkeypatch.setattr(drop._Writer, "write", write)
    rows = _days(30)
    rows[6][3] = "many"  # quarantined in the child's second block
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 30, 29, 1)
    children = {pid for pid, _ in writers}
    assert len(children) == 1 and os.getpid() not in children
    assert sum(n for _, n in writers) == 29
    assert sorted(r["impressions"] for r in stored(engine, "p4p", store.id)) == [
        d for d in range(30) if d != 5]
    assert _no_child_left()


def test_a_file_refused_in_the_child_writes_nothing(engine: Engine, store: Store,
                                                    tmp_path: Path, forked: None) -> None:
    rows = _days(12)
    rows[10][0] = "03/04/2026"  # month or day first? no date of the file tells
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert result.status == "rejected"
    assert "month first or day first" in result.errors[0]
    assert snapshot(engine) == before
    assert drop_row(engine, result.drop_id)["status"] == "rejected"
    assert _no_child_left()


def test_a_failure_while_writing_stops_the_child(engine: Engine, store: Store, tmp_path: Path,
                                                 forked: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = drop._Writer.write
    calls = []

    def failing(self: drop._Writer, rows: drop._Facts) -> list:
        calls.append(len(rows))
        if len(calls) == 2:
            raise OSError("disk I/O error")
        return real_write(self, rows)

    monkeypatch.setattr(drop._Writer, "write", failing)
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", _days(40)))
    assert result.status == "rejected" and "disk I/O error" in result.errors[0]
    assert len(calls) == 2  # the child's remaining blocks were never written
    assert snapshot(engine) == before
    assert _no_child_left()


def test_a_child_that_dies_refuses_the_file(engine: Engine, store: Store, tmp_path: Path,
                                            forked: None, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    # As the kernel's OOM killer would end it.
    _in_the_child_at(3, lambda: os._exit(9), monkeypatch)
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", _days(40)))
    assert result.status == "rejected"
    assert result.over_limit is not None and result.over_limit["why"] == "memory"
    assert "reading was stopped" in result.errors[0]
    assert snapshot(engine) == before
    assert _no_child_left()


def test_a_child_that_stops_sending_is_stopped(engine: Engine, store: Store, tmp_path: Path,
                                               forked: None, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setenv("OPSBOT_READ_SECONDS", "1")
    _in_the_child_at(1, lambda: time.sleep(30), monkeypatch)
    start = time.monotonic()
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", _days(40)))
    assert time.monotonic() - start < 10
    assert result.status == "rejected"
    assert result.over_limit is not None and result.over_limit["why"] == "time"
    assert _no_child_left()


def test_a_refusal_raised_in_the_child_arrives_whole() -> None:
    def parse(i: int) -> int:
        raise OverLimit(ROWS, 10, 11)

    with pytest.raises(OverLimit) as raised, \
            parsed_ahead(range(3), parse, size=ahead.FORK_BYTES) as items:
        list(items)
    assert (raised.value.why, raised.value.limit, raised.value.found) == (ROWS, 10, 11)


def test_a_child_out_of_cpu_time_refuses_the_file_for_its_time(
        engine: Engine, store: Store, tmp_path: Path, forked: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # What the kernel sends past RLIMIT_CPU.
    _in_the_child_at(2, lambda: os.kill(os.getpid(), signal.SIGXCPU), monkeypatch)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", _days(40)))
    assert result.status == "rejected"
    assert result.over_limit is not None and result.over_limit["why"] == "time"


def test_the_cpu_time_allowed_is_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parent waits OPSBOT_READ_SECONDS for each chunk; a long file whose chunks each
    # come in time is not stopped for the sum of them.
    monkeypatch.setenv("OPSBOT_READ_SECONDS", "1")

    def parse(i: int) -> tuple[float, float]:
        end = time.process_time() + 0.4
        while time.process_time() < end:
            pass
        used = resource.getrusage(resource.RUSAGE_SELF)
        return resource.getrlimit(resource.RLIMIT_CPU)[0], used.ru_utime + used.ru_stime

    with parsed_ahead(range(4), parse, size=ahead.FORK_BYTES) as items:
        seen = list(items)
    allowed = [limit for limit, _ in seen]
    assert allowed == sorted(allowed) and allowed[-1] > allowed[0]
    assert all(limit - used > 1 for limit, used in seen)  # more than the wait is left
