"""Hostile workbooks: a decompression bomb is refused before it is read, with a clear reply in
the store's language and nothing written; reading runs capped in memory and time in a child
process, so a file that needs too much cannot take the process down; normal files still read."""

from __future__ import annotations

import os
import signal
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.ingest import limits
from bot.ingest.drop import ingest_file
from bot.ingest.limits import MB, OverLimit, ReadLimits, check_xlsx, run_capped
from bot.ingest.readers import read_sheet
from bot.models import facts
from bot.storage import read
from bot.stores import Store, configure_store
from tests.files import sample, write_xlsx
from tests.slack_app_env import posted, wait_for
from tests.slack_mock import MockSlackAPI
from tests.slack_signing import event_body

CELL = b'<c t="inlineStr"><is><t>boom</t></is></c>'


def _bomb(path: Path, *, rows: int = 0, megabytes: int = 0, dimension: str | None = None,
          strings: int | None = None, level: int = 9) -> Path:
    """A real workbook whose first sheet is replaced by `rows` rows (or `megabytes` MB) of
    the same cells: a small file that unpacks to much more."""
    normal = write_xlsx(path.with_suffix(".normal.xlsx"), sample("inquiries"))
    with zipfile.ZipFile(normal) as source, zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as bomb:
        for member in source.infolist():
            if member.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(member, source.read(member))
        with bomb.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            head = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            if dimension:
                head += f'<dimension ref="{dimension}"/>'.encode()
            sheet.write(head + b"<sheetData>")
            row = b"<row>" + CELL * 8 + b"</row>"
            block = row * 10_000
            if megabytes:
                rows = megabytes * MB // len(row) + 1
            for _ in range(rows // 10_000):
                sheet.write(block)
            sheet.write(row * (rows % 10_000) + b"</sheetData></worksheet>")
        if strings is not None:
            items = b"<si><t>x</t></si>" * strings
            bomb.writestr("xl/sharedStrings.xml",
                          b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                          b'main" count="%d" uniqueCount="%d">' % (strings, strings)
                          + items + b"</sst>")
    return path


def _inquiries(engine: Engine) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(facts["inquiries"])) or 0


# ---------------------------------------------------------------------- refused before reading
def test_a_bomb_past_the_default_size_is_refused_at_once(
        tmp_path: Path, engine: Engine, store: Store) -> None:
    bomb = _bomb(tmp_path / "inquiries.xlsx", megabytes=210, level=1)
    assert bomb.stat().st_size < 3 * MB  # 210 MB of cells in a small file

    tracemalloc.start()
    started = time.perf_counter()
    result = ingest_file(engine, store, bomb)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert result.status == "rejected" and result.over_limit is not None
    assert result.over_limit["why"] == "uncompressed"
    assert result.over_limit["limit"] == 200 * MB and result.over_limit["found"] > 210 * MB
    assert "over the limit of 200 MB" in result.errors[0]
    assert seconds < 2 and peak < 20 * MB  # told from the zip's directory: nothing unpacked
    assert _inquiries(engine) == 0


def test_rows_past_the_limit_are_refused_by_a_streaming_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOT_XLSX_MAX_ROWS", "1000")
    bomb = _bomb(tmp_path / "rows.xlsx", rows=5_000)  # no <dimension>: counted as it unpacks
    with pytest.raises(OverLimit) as refused:
        read_sheet(bomb)
    assert (refused.value.why, refused.value.limit) == ("rows", 1000)
    assert 1000 < refused.value.found <= 5000  # counting stops past the limit


def test_a_declared_dimension_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "dimension.xlsx", rows=10, dimension="A1:H5000000")
    with pytest.raises(OverLimit) as refused:
        check_xlsx(bomb, ReadLimits())
    assert (refused.value.why, refused.value.found) == ("rows", 5_000_000)


def test_shared_strings_past_the_limit_are_refused(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "strings.xlsx", rows=10, strings=500)
    with pytest.raises(OverLimit) as refused:
        check_xlsx(bomb, ReadLimits(shared_strings=100))
    assert (refused.value.why, refused.value.found) == ("shared_strings", 500)


def test_limits_come_from_the_environment() -> None:
    env = {"OPSBOT_XLSX_MAX_UNCOMPRESSED_MB": "20", "OPSBOT_XLSX_MAX_ROWS": "50",
           "OPSBOT_XLSX_MAX_SHARED_STRINGS": "60", "OPSBOT_READ_MEMORY_MB": "300",
           "OPSBOT_READ_SECONDS": "9"}
    assert ReadLimits.from_env(env) == ReadLimits(20 * MB, 50, 60, 300 * MB, 9.0)
    assert ReadLimits.from_env({}) == ReadLimits()
    from bot.config import BadSetting
    with pytest.raises(BadSetting, match="OPSBOT_XLSX_MAX_ROWS=many"):
        ReadLimits.from_env({"OPSBOT_XLSX_MAX_ROWS": "many"})


def test_a_normal_workbook_still_reads(tmp_path: Path, engine: Engine, store: Store) -> None:
    path = write_xlsx(tmp_path / "inquiries.xlsx", sample("inquiries"))
    sheet = read_sheet(path)
    assert sum(len(block) for block in sheet.blocks) == len(sample("inquiries")) - 1
    assert sum(len(block) for block in sheet.blocks) == len(sample("inquiries")) - 1  # again
    result = ingest_file(engine, store, path)
    assert result.status == "ingested" and result.inserted == _inquiries(engine) > 0


# ---------------------------------------------------------------- capped while reading
def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * MB))


def test_a_read_that_needs_too_much_memory_fails_in_its_child() -> None:
    with pytest.raises(OverLimit) as refused:
        run_capped(_allocate, (2048,), ReadLimits(memory_bytes=256 * MB))
    assert refused.value.why == "memory"
    assert run_capped(_allocate, (64,), ReadLimits(memory_bytes=256 * MB)) == 64 * MB


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


def test_a_child_killed_while_reading_is_a_refusal_not_a_crash() -> None:
    with pytest.raises(OverLimit) as refused:
        run_capped(_die, (), ReadLimits())
    assert refused.value.why == "memory"


def test_a_read_that_takes_too_long_is_stopped() -> None:
    started = time.perf_counter()
    with pytest.raises(OverLimit) as refused:
        run_capped(time.sleep, (30,), ReadLimits(seconds=0.5))
    assert refused.value.why == "time" and time.perf_counter() - started < 5


def test_a_workbook_over_the_memory_cap_is_refused_and_nothing_written(
        tmp_path: Path, engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _bomb(tmp_path / "inquiries.xlsx", megabytes=60)  # under the size limit
    monkeypatch.setenv("OPSBOT_READ_MEMORY_MB", "64")
    result = ingest_file(engine, store, bomb)
    assert result.status == "rejected" and result.over_limit is not None
    assert result.over_limit["why"] == "memory"
    assert _inquiries(engine) == 0


# ---------------------------------------------------------------- the reply in Slack
@pytest.mark.parametrize(("language", "words"), [
    ("en", "it has more than 1,000 rows"),
    ("zh", "1,000"),
])
def test_a_bomb_shared_in_slack_gets_a_one_line_reply(
    api: MockSlackAPI, server, engine: Engine, bound: Store, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, language: str, words: str,
) -> None:
    monkeypatch.setenv("OPSBOT_XLSX_MAX_ROWS", "1000")
    if language != "en":
        configure_store(engine, bound, language=language)
    bomb = _bomb(tmp_path / "inquiries.xlsx", rows=5_000)
    file = api.add_file("FBOMB", "inquiries.xlsx", bomb.read_bytes(), filetype="xlsx",
                        mimetype="application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    event = {"type": "message", "subtype": "file_share", "channel": "C0OPS",
             "channel_type": "channel", "user": "U0UPLOADER", "text": "", "files": [file],
             "ts": "1700000100.000100", "event_ts": "1700000100.000100"}
    server.post(event_body(event, "EvBomb"))

    (reply,) = wait_for(lambda: posted(api), timeout=10)
    assert words in reply["text"] and "inquiries.xlsx" in reply["text"]
    assert "\n" not in reply["text"] and len(reply["blocks"]) == 1
    if language == "zh":
        assert "I did not read" not in reply["text"]
    assert _inquiries(engine) == 0


def test_the_reader_module_uses_the_limits() -> None:
    """One definition: the readers take their limits from bot/ingest/limits.py."""
    from bot.ingest import readers
    assert readers.limits is limits
