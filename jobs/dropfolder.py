"""The drop folder (`OPSBOT_DROP_DIR`): reports saved there are ingested, then moved away.

Layout: a file directly in the folder belongs to the only store (or to the store `default`
when there is none yet; with several stores it is rejected with a note asking for a
sub-folder named after the store, and listing the stores); a file in a sub-folder named after
a store belongs to that store, however deep it is inside it (`drop/acme/2026-11/x.csv` is
acme's: teams keep monthly or per-report folders). After ingestion a file moves to
`processed/` (ingested, or a duplicate - with a note) or to `rejected/` (with a note saying
why), inside the folder it was in, as `NAME` beside `NAME.why.txt`. A name already taken
there gets a numbered suffix. `processed/`, `rejected/` and dot-folders are never read, at
any depth.

A file still being written is not read half-way. Names that browsers and copy tools use
while a file is in progress (`*.part`, `*.partial`, `*.crdownload`, `*.download`, `*.tmp`)
are never read: they wait for the file's final name. Any other file is taken only once its
size and modification time are the same in two consecutive scans of the watcher, or, for a
one-shot scan (`opsbot tick`), once it has not changed for SETTLE_SECONDS. Until then `scan`
reports it with the status `waiting` (and `moved_to` None), so a user running `opsbot tick`
sees why it was not taken. An empty (0-byte) file is waited for too, until it has stayed
empty for EMPTY_SECONDS by its modification time: then it is moved to `rejected/` with the
note "empty file…". Dotfiles, Office lock files (`~$*`) and `*.why.txt` notes are not
reports: they are ignored, never listed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.ingest.drop import DropResult, ingest_file
from bot.stores import Store, StoreError, find_store, list_stores, resolve_store

log = logging.getLogger(__name__)

PROCESSED = "processed"
REJECTED = "rejected"
SETTLE_SECONDS = 10.0
EMPTY_SECONDS = 600.0  # an empty file still empty this long after it was written: rejected
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp")
NOTE_SUFFIX = ".why.txt"


def is_ignored(name: str) -> bool:
    """Not a report, never listed: dotfiles, Office lock files (~$…) and our own notes."""
    return name.startswith((".", "~$")) or name.lower().endswith(NOTE_SUFFIX)


def in_progress(name: str) -> bool:
    """A download or copy still under its temporary name: listed as waiting, never read."""
    return name.lower().endswith(IN_PROGRESS_SUFFIXES)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


@dataclass
class DropFolder:
    """A watched folder; keep one instance between scans so stability can be seen."""

    root: Path
    settle_seconds: float = SETTLE_SECONDS
    empty_seconds: float = EMPTY_SECONDS
    clock: Callable[[], float] = time.time  # wall clock, as file mtimes are
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def candidates(self) -> list[tuple[Path, str | None]]:
        """(file, store folder name or None) for every file that looks like a report (or one
        still in progress): the folder's own files, and every file at any depth in a store's
        sub-folder."""
        found: list[tuple[Path, str | None]] = []
        if not self.root.is_dir():
            return found
        for entry in sorted(self.root.iterdir()):
            if _skipped_dir(entry.name):
                continue
            if entry.is_file() and not is_ignored(entry.name):
                found.append((entry, None))
            elif entry.is_dir():
                found += [(inner, entry.name) for inner in _files_under(entry)]
        return found

    def ready(self, path: Path) -> bool:
        """Stable across two scans, or untouched for settle_seconds."""
        try:
            stat = path.stat()
        except OSError:
            return False
        signature = (stat.st_size, stat.st_mtime_ns)
        previous = self._seen.get(path)
        self._seen[path] = signature
        if stat.st_size == 0:
            return False  # a file just created, not written yet
        if previous == signature:
            return True
        return self.clock() - stat.st_mtime >= self.settle_seconds

    def scan(self, engine: Engine) -> list[dict[str, Any]]:
        """Ingest every ready file once and move it away; returns what happened to each."""
        results = []
        present = set()
        for path, folder in self.candidates():
            present.add(path)
            if in_progress(path.name):
                results.append(self._waiting(path, folder))
                continue
            if self._empty_for_good(path):
                results.append(self._reject_empty(path, folder))
                self._seen.pop(path, None)
                continue
            if not self.ready(path):
                results.append(self._waiting(path, folder))
                continue
            results.append(self._take(engine, path, folder))
            self._seen.pop(path, None)
        for gone in set(self._seen) - present:
            self._seen.pop(gone, None)
        return results

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _empty_for_good(self, path: Path) -> bool:
        """Empty, and not written to for empty_seconds (by its modification time)."""
        try:
            stat = path.stat()
        except OSError:
            return False
        return stat.st_size == 0 and self.clock() - stat.st_mtime >= self.empty_seconds

    def _reject_empty(self, path: Path, folder: str | None) -> dict[str, Any]:
        note = (f"empty file: still 0 bytes {_duration(self.empty_seconds)} after it was "
                "written; save or export the report again")
        moved = _move(path, REJECTED, note)
        return {"file": self._shown(path), "store": folder, "status": "rejected", "why": note,
                "moved_to": str(moved)}

    def _waiting(self, path: Path, folder: str | None) -> dict[str, Any]:
        try:
            empty = path.stat().st_size == 0
        except OSError:
            empty = False
        if in_progress(path.name):
            suffix = path.suffix.lower()
            why = (f"still being downloaded or copied (a {suffix} file): taken once it is "
                   f"renamed to its final name")
        elif empty:
            why = ("empty so far: waiting for it to be written (rejected if still empty after "
                   f"{_duration(self.empty_seconds)})")
        else:
            why = (f"still being written (changed in the last {self.settle_seconds:g} s): "
                   "taken once it stops changing")
        return {"file": self._shown(path), "store": folder, "status": "waiting", "why": why,
                "moved_to": None}

    def _take(self, engine: Engine, path: Path, folder: str | None) -> dict[str, Any]:
        shown = self._shown(path)
        try:
            store = _store_for(engine, folder)
        except StoreError as exc:
            moved = _move(path, REJECTED, str(exc))
            return {"file": shown, "store": folder, "status": "rejected", "why": str(exc),
                    "moved_to": str(moved)}
        result = ingest_file(engine, store, path, source="folder", source_ref=shown)
        note = _note(result)
        moved = _move(path, REJECTED if result.status == "rejected" else PROCESSED, note)
        return {"file": shown, "store": store.name, "status": result.status,
                "kind": result.kind, "drop_id": result.drop_id, "rows": result.rows,
                "why": note, "moved_to": str(moved)}


def _skipped_dir(name: str) -> bool:
    return name in (PROCESSED, REJECTED) or name.startswith(".")


def _files_under(folder: Path) -> list[Path]:
    """Every report-looking file (or one in progress) in `folder` and its sub-folders, but
    not in processed/, rejected/ or dot-folders (symbolic links to folders are not
    followed)."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d))
        found += [Path(here) / f for f in sorted(files) if not is_ignored(f)]
    return found


def _store_for(engine: Engine, folder: str | None) -> Store:
    if folder is None:
        names = [s.name for s in list_stores(engine)]
        if len(names) > 1:
            raise StoreError(
                "there are several stores, so a file at the top of the drop folder cannot "
                "tell which one it is for: put it in a sub-folder named after its store ("
                + ", ".join(f"{name}/" for name in names) + ")")
        return resolve_store(engine, None)
    store = find_store(engine, folder)
    if store is None:
        raise StoreError(f"no store named {folder!r} (the sub-folder's name): add it with "
                         f"`opsbot store add {folder}` or move the file")
    return store


def _note(result: DropResult) -> str | None:
    if result.status == "rejected":
        return "; ".join(result.errors) or "rejected"
    if result.status == "duplicate":
        return "; ".join(result.errors) or "already ingested; nothing changed"
    if result.quarantined or result.errors:
        lines = [f"ingested as drop {result.drop_id}: {result.rows} rows, "
                 f"{result.quarantined} quarantined (opsbot drops show {result.drop_id})",
                 *result.errors]
        return "\n".join(lines)
    return None


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    stem, suffix = os.path.splitext(name)
    n = 1
    while target.exists() or Path(f"{target}.why.txt").exists():
        n += 1
        target = directory / f"{stem} ({n}){suffix}"
    return target


def _move(path: Path, where: str, note: str | None) -> Path:
    """Move into `where/` beside the file, with NAME.why.txt when there is something to say."""
    directory = path.parent / where
    directory.mkdir(exist_ok=True)
    target = _free_name(directory, path.name)
    if note:  # the note first: a crash between the two leaves the file to be taken again
        Path(f"{target}.why.txt").write_text(note.rstrip() + "\n", encoding="utf-8")
    os.replace(path, target)
    log.info("drop folder: %s -> %s", path, target)
    return target
