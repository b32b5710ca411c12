"""The drop folder: files are taken only when complete, ingested once, and moved to
processed/ or rejected/ beside a note saying why."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.models import drops
from bot.storage import read
from bot.stores import Store, add_store
from jobs.dropfolder import DropFolder
from tests.files import write_csv

INQUIRIES = [["询盘ID", "客户名", "国家/地区", "创建时间"],
             ["Q1", "John", "US", "2026-11-03 14:05"],
             ["Q2", "Ana", "ES", "2026-11-03 15:00"]]


@pytest.fixture
def drop_dir(tmp_path: Path) -> Path:
    """The drop folder, apart from the test's SQLite file."""
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def settled(path: Path) -> Path:
    """Pretend the file was written a minute ago."""
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def test_ingests_moves_to_processed_and_records_the_source(engine: Engine, store: Store,
                                                           drop_dir: Path) -> None:
    settled(write_csv(drop_dir / "inquiries.csv", INQUIRIES))
    (result,) = DropFolder(drop_dir).scan(engine)
    assert (result["status"], result["store"], result["rows"]) == ("ingested", "acme", 2)
    assert not (drop_dir / "inquiries.csv").exists()
    assert (drop_dir / "processed" / "inquiries.csv").exists()
    assert not (drop_dir / "processed" / "inquiries.csv.why.txt").exists()
    with read(engine) as conn:
        drop = conn.execute(select(drops)).one()
    assert (drop.source, drop.source_ref, drop.status) == ("folder", "inquiries.csv", "ingested")
    assert DropFolder(drop_dir).scan(engine) == []  # processed/ is never read again


def test_a_file_being_written_is_not_read_half_way(engine: Engine, store: Store,
                                                   drop_dir: Path) -> None:
    folder = DropFolder(drop_dir)
    fresh = write_csv(drop_dir / "inquiries.csv", INQUIRIES[:2])
    write_csv(drop_dir / "download.csv.part", INQUIRIES)
    write_csv(drop_dir / ".hidden.csv", INQUIRIES)
    write_csv(drop_dir / "~$inquiries.xlsx", INQUIRIES)
    settled(drop_dir / "download.csv.part")
    # Just written: wait for a second look, and say so. A download's temporary name waits
    # for its final name, however old; dotfiles and Office lock files are not listed.
    part, waiting = folder.scan(engine)
    assert (waiting["file"], waiting["status"], waiting["moved_to"]) == (
        "inquiries.csv", "waiting", None)
    assert "still being written" in waiting["why"]
    assert (part["file"], part["status"], part["moved_to"]) == (
        "download.csv.part", "waiting", None)
    assert part["why"] == ("still being downloaded or copied (a .part file): taken once it is "
                           "renamed to its final name")
    # Still growing between the two scans: wait again.
    write_csv(fresh, INQUIRIES)
    os.utime(fresh, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert [(r["file"], r["status"]) for r in folder.scan(engine)] == [
        ("download.csv.part", "waiting"), ("inquiries.csv", "waiting")]
    part, result = folder.scan(engine)  # unchanged since the last scan: complete
    assert result["file"] == "inquiries.csv" and result["rows"] == 2
    assert part["status"] == "waiting"
    assert sorted(p.name for p in drop_dir.iterdir() if p.is_file()) == [
        ".hidden.csv", "download.csv.part", "~$inquiries.xlsx"]


def test_duplicate_goes_to_processed_with_a_note(engine: Engine, store: Store,
                                                 drop_dir: Path) -> None:
    settled(write_csv(drop_dir / "inquiries.csv", INQUIRIES))
    DropFolder(drop_dir).scan(engine)
    settled(write_csv(drop_dir / "inquiries.csv", INQUIRIES))
    (result,) = DropFolder(drop_dir).scan(engine)
    assert result["status"] == "duplicate"
    second = drop_dir / "processed" / "inquiries (2).csv"
    assert second.exists()
    note = Path(f"{second}.why.txt").read_text(encoding="utf-8")
    assert "already ingested as drop" in note and "nothing changed" in note


def test_unreadable_file_is_rejected_with_the_reason(engine: Engine, store: Store,
                                                     drop_dir: Path) -> None:
    settled(write_csv(drop_dir / "notes.csv", [["hello", "world"], ["a", "b"]]))
    (result,) = DropFolder(drop_dir).scan(engine)
    assert result["status"] == "rejected"
    moved = drop_dir / "rejected" / "notes.csv"
    assert moved.exists()
    note = Path(f"{moved}.why.txt").read_text(encoding="utf-8").strip()
    assert note and note == result["why"]


def test_store_sub_folders(engine: Engine, store: Store, drop_dir: Path) -> None:
    add_store(engine, "globex", "Europe/London")
    (drop_dir / "globex").mkdir()
    (drop_dir / "nobody").mkdir()
    settled(write_csv(drop_dir / "globex" / "inquiries.csv", INQUIRIES))
    settled(write_csv(drop_dir / "nobody" / "inquiries.csv", INQUIRIES))
    settled(write_csv(drop_dir / "top.csv", INQUIRIES))
    results = {r["file"]: r for r in DropFolder(drop_dir).scan(engine)}
    assert results["globex/inquiries.csv"]["status"] == "ingested"
    assert results["globex/inquiries.csv"]["store"] == "globex"
    assert (drop_dir / "globex" / "processed" / "inquiries.csv").exists()
    assert results["nobody/inquiries.csv"]["status"] == "rejected"
    assert "no store named 'nobody'" in (
        drop_dir / "nobody" / "rejected" / "inquiries.csv.why.txt").read_text()
    # Two stores now: a file at the top cannot tell which one it is for. The note speaks of
    # folders (the user drops files, there is no --store to name) and lists the stores.
    assert results["top.csv"]["status"] == "rejected"
    note = (drop_dir / "rejected" / "top.csv.why.txt").read_text()
    assert "put it in a sub-folder named after its store (acme/, globex/)" in note
    assert "--store" not in note and note.count("\n") == 1


def test_files_deeper_in_a_store_folder_belong_to_that_store(engine: Engine, store: Store,
                                                             drop_dir: Path) -> None:
    """drop/acme/2026-11/x.csv is acme's (monthly folders); processed/ and rejected/ at any
    depth are never read again."""
    add_store(engine, "globex", "Europe/London")
    deeper = drop_dir / "globex" / "2026-11" / "week 45"
    deeper.mkdir(parents=True)
    settled(write_csv(deeper / "inquiries.csv", INQUIRIES))
    (result,) = DropFolder(drop_dir).scan(engine)
    assert (result["file"], result["store"], result["status"], result["rows"]) == (
        "globex/2026-11/week 45/inquiries.csv", "globex", "ingested", 2)
    assert (deeper / "processed" / "inquiries.csv").exists()
    with read(engine) as conn:
        assert conn.execute(select(drops.c.source_ref)).scalar_one() == result["file"]
    assert DropFolder(drop_dir).scan(engine) == []


def test_an_empty_file_is_waited_for(engine: Engine, store: Store, drop_dir: Path) -> None:
    empty = drop_dir / "acme" / "inquiries.csv"
    empty.parent.mkdir()
    empty.touch()
    settled(empty)
    (result,) = DropFolder(drop_dir).scan(engine)
    assert (result["file"], result["store"], result["status"]) == (
        "acme/inquiries.csv", "acme", "waiting")
    assert result["why"] == ("empty so far: waiting for it to be written (rejected if still "
                             "empty after 10 min)")


def test_an_empty_file_still_empty_after_ten_minutes_is_rejected(
        engine: Engine, store: Store, drop_dir: Path) -> None:
    empty = drop_dir / "acme" / "inquiries.csv"
    empty.parent.mkdir()
    empty.touch()
    old = time.time() - 601
    os.utime(empty, (old, old))
    (result,) = DropFolder(drop_dir).scan(engine)
    note = "empty file: still 0 bytes 10 min after it was written; save or export the report again"
    assert (result["file"], result["store"], result["status"], result["why"]) == (
        "acme/inquiries.csv", "acme", "rejected", note)
    rejected = drop_dir / "acme" / "rejected" / "inquiries.csv"
    assert result["moved_to"] == str(rejected) and rejected.exists() and not empty.exists()
    assert (drop_dir / "acme" / "rejected" / "inquiries.csv.why.txt").read_text(
        encoding="utf-8") == note + "\n"
    assert DropFolder(drop_dir).scan(engine) == []
