"""What reading a workbook may cost, so that a hostile or broken file cannot take a process
down (a 1 MB `.xlsx` can unpack to gigabytes: a decompression bomb).

Two lines of defence (bot/ingest/readers.py uses both):
1. `check_xlsx`, before anything is parsed: an `.xlsx` is a zip; it is refused when the sizes
   its members declare add up to more than `uncompressed_bytes`, when its shared-strings
   table declares or holds more than `shared_strings` strings, or when a sheet declares (its
   `<dimension>`) or holds more than `rows` rows. The members are then streamed through
   zipfile, which stops at each member's declared size and checks its CRC, counting rows and
   strings as they go by, in constant memory: a file that lies about its sizes is refused
   too.
2. `run_capped`: the read itself runs in a forked child process (milliseconds to start) with
   its address space capped at
   `memory_bytes` over its starting size and its time at `seconds`. A read that needs more
   memory fails in the child (MemoryError, or an abort from the Rust parser), never in the
   web process or the worker; either way the file is refused, saying which limit it hit.

Defaults fit the largest real exports (tens of thousands of rows, a few MB unpacked) many
times over. Settable by environment variables, read at each read (README):
OPSBOT_XLSX_MAX_UNCOMPRESSED_MB (200), OPSBOT_XLSX_MAX_ROWS (1000000),
OPSBOT_XLSX_MAX_SHARED_STRINGS (2000000), OPSBOT_READ_MEMORY_MB (1024) and
OPSBOT_READ_SECONDS (300).

Imports nothing of opsbot but bot.config; never slack_*, templates or jobs.
"""

from __future__ import annotations

import faulthandler
import math
import multiprocessing
import os
import pickle
import re
import resource
import signal
import threading
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import BadSetting

MB = 1024 * 1024
_STREAM_CHUNK = 1 << 20
_HEAD = 4096  # bytes of a part read for its declared counts
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_TAG_TAIL = 64  # bytes kept between chunks, so that a tag cut in two is still counted
_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\s[^>]*ref=\"[A-Z]*\d+(?::[A-Z]*(\d+))?\"")
# The table's size is its uniqueCount; its count is of the cells that use it.
_SST_COUNT = re.compile(rb"<(?:[\w.-]+:)?sst\s[^>]*?\buniqueCount=\"(\d+)\"")
# Why a file was refused (OverLimit.why): the words are the templates'.
UNCOMPRESSED, ROWS, SHARED_STRINGS, MEMORY, TIME = (
    "uncompressed", "rows", "shared_strings", "memory", "time")


@dataclass(frozen=True)
class ReadLimits:
    uncompressed_bytes: int = 200 * MB
    rows: int = 1_000_000
    shared_strings: int = 2_000_000
    memory_bytes: int = 1024 * MB
    seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReadLimits:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            text = env.get(name) or ""
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise BadSetting(name, text, "not a number") from None
            if value <= 0:
                raise BadSetting(name, text, "must be more than 0")
            return value

        return cls(
            uncompressed_bytes=int(number("OPSBOT_XLSX_MAX_UNCOMPRESSED_MB", 200) * MB),
            rows=int(number("OPSBOT_XLSX_MAX_ROWS", 1_000_000)),
            shared_strings=int(number("OPSBOT_XLSX_MAX_SHARED_STRINGS", 2_000_000)),
            memory_bytes=int(number("OPSBOT_READ_MEMORY_MB", 1024) * MB),
            seconds=number("OPSBOT_READ_SECONDS", 300),
        )


class OverLimit(ValueError):
    """A file passes a limit; `why` is one of UNCOMPRESSED, ROWS, SHARED_STRINGS, MEMORY,
    TIME, `limit` the limit (bytes for sizes, seconds for time), `found` what the file
    declares, or how far a count got when it passed the limit (None when a read was
    stopped)."""

    def __init__(self, why: str, limit: float, found: float | None = None) -> None:
        self.why, self.limit, self.found = why, limit, found
        super().__init__(self.sentence())

    def sentence(self) -> str:
        shown = {UNCOMPRESSED: lambda n: f"{n / MB:,.0f} MB unpacked",
                 MEMORY: lambda n: f"{n / MB:,.0f} MB of memory",
                 TIME: lambda n: f"{n:,.0f} seconds",
                 ROWS: lambda n: f"{n:,.0f} rows",
                 SHARED_STRINGS: lambda n: f"{n:,.0f} distinct texts"}[self.why]
        if self.why == UNCOMPRESSED:
            return (f"refused before reading: it is {shown(self.found)}, over the limit of "
                    f"{shown(self.limit)}")
        if self.why in (ROWS, SHARED_STRINGS):
            return f"refused before reading: it has more than {shown(self.limit)}"
        return f"reading was stopped: it needed more than {shown(self.limit)}"

    def to_json(self) -> dict[str, Any]:
        return {"why": self.why, "limit": self.limit, "found": self.found}

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a child, raised again here
        return (OverLimit, (self.why, self.limit, self.found))


# ---- 1. before reading ---------------------------------------------------------------------


def check_xlsx(path: Path, limits: ReadLimits) -> None:
    """OverLimit when the workbook at `path` passes a limit (see the module doc). A file that
    is not a readable zip is left to the reader, which says it is damaged."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with book:
        members = book.infolist()
        declared = sum(m.file_size for m in members)
        if declared > limits.uncompressed_bytes:
            raise OverLimit(UNCOMPRESSED, limits.uncompressed_bytes, declared)
        sheets = [m for m in members if _is_sheet(m.filename)]
        strings = [m for m in members if m.filename.lower().endswith("sharedstrings.xml")]
        for member in sheets:
            _check_declared(book, member, _DIMENSION, ROWS, limits.rows)
        for member in strings:
            _check_declared(book, member, _SST_COUNT, SHARED_STRINGS, limits.shared_strings)
        try:
            for member in members:
                counts = (_ROW, ROWS, limits.rows) if member in sheets else (
                    (_STRING, SHARED_STRINGS, limits.shared_strings) if member in strings
                    else None)
                _stream(book, member, counts)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
            return  # damaged, encrypted, or an unknown compression: the reader says so


def _is_sheet(name: str) -> bool:
    lower = name.lower()
    return "worksheets/" in lower and lower.endswith(".xml")


def _check_declared(book: zipfile.ZipFile, member: zipfile.ZipInfo, pattern: re.Pattern[bytes],
                    why: str, limit: int) -> None:
    """The count a part declares in its first bytes (a sheet's last row, the number of
    shared strings)."""
    try:
        with book.open(member) as part:
            head = part.read(_HEAD)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
        return
    match = pattern.search(head)
    if match and match.group(1) and int(match.group(1)) > limit:
        raise OverLimit(why, limit, int(match.group(1)))


def _stream(book: zipfile.ZipFile, member: zipfile.ZipInfo,
            counts: tuple[re.Pattern[bytes], str, int] | None) -> None:
    """Unpack `member` chunk by chunk (zipfile checks its size and CRC at the end), counting
    `counts`' tags and refusing past its limit; nothing is kept."""
    total, tail = 0, b""
    with book.open(member) as part:
        while chunk := part.read(_STREAM_CHUNK):
            if counts is None:
                continue
            pattern, why, limit = counts
            data = tail + chunk
            # A tag that ends in the kept tail was counted in the previous chunk.
            total += sum(1 for m in pattern.finditer(data) if m.end() > len(tail))
            if total > limit:
                raise OverLimit(why, limit, total)
            tail = data[-_TAG_TAIL:]


# ---- 2. while reading ----------------------------------------------------------------------


def run_capped(function: Callable[..., Any], args: tuple[Any, ...], limits: ReadLimits) -> Any:
    """function(*args) in a forked child process capped to `limits.memory_bytes` more memory
    and `limits.seconds`; its (picklable) result. OverLimit(MEMORY) when it ran out of memory
    or died, OverLimit(TIME) when it took too long. Its other exceptions are raised here (they
    must pickle).

    Forked, not spawned: a fork costs milliseconds, where a new interpreter (or a
    forkserver child, which re-imports the main module: gunicorn's, pytest's) costs a
    second or more per file. The child runs only the parser on a file and pickles its
    result: it logs nothing and imports nothing new, so no lock another thread of the
    parent held at the fork can stop it (and if one did, the time limit ends it)."""
    receive, child = start_child("opsbot-read", _child, (function, args, limits))
    try:
        outcome, value = next_message(receive, child, limits)
    finally:
        stop_child(receive, child)
    if outcome == "memory":
        raise OverLimit(MEMORY, limits.memory_bytes)
    if outcome == "raised":
        raise value
    return value


# One pipe made and handed to its child at a time: a child that another thread forked
# meanwhile would hold the pipe's write end too, and this child's death would not read as
# the end of the pipe.
_FORKING = threading.Lock()


def start_child(name: str, target: Callable[..., None], args: tuple[Any, ...]
                ) -> tuple[Any, Any]:
    """A forked child running target(send, *args), and the end of the pipe it sends on."""
    context = multiprocessing.get_context("fork")
    with _FORKING:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_in_child, args=(receive, send, target, args),
                                daemon=True, name=name)
        child.start()
        send.close()
    return receive, child


def _in_child(receive: Any, send: Any, target: Callable[..., None], args: tuple[Any, ...]
              ) -> None:
    receive.close()  # the parent's end: a parent that stops reading is a broken pipe here
    target(send, *args)


def stop_child(receive: Any, child: Any) -> None:
    receive.close()
    if child.is_alive():
        child.kill()
    child.join(10)


def next_message(receive: Any, child: Any, limits: ReadLimits) -> Any:
    """What the child sends next. OverLimit(TIME) when nothing comes for `limits.seconds`;
    the reason it died (died()) when it ended without a word."""
    if not receive.poll(limits.seconds):
        raise OverLimit(TIME, limits.seconds)
    try:
        return receive.recv()
    except EOFError:
        raise died(child, limits) from None


def died(child: Any, limits: ReadLimits) -> OverLimit:
    """Why a child ended without a word: its CPU time ran out (SIGXCPU), else it was killed
    for its memory (an abort of the Rust parser out of memory, the kernel's OOM killer)."""
    child.join(10)
    if child.exitcode == -signal.SIGXCPU:
        return OverLimit(TIME, limits.seconds)
    return OverLimit(MEMORY, limits.memory_bytes)


def sendable(exc: BaseException) -> BaseException:
    """`exc`, or its words in a RuntimeError when it would not arrive whole in the parent."""
    try:
        pickle.loads(pickle.dumps(exc))  # our own bytes, just made
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def enter_capped_child(limits: ReadLimits) -> None:
    """Cap a forked child that reads or parses a file: `limits.memory_bytes` more memory than
    it started with, and a little more CPU time than its parent waits for it."""
    # An abort here (the Rust parser out of memory) is an expected refusal: no Python
    # stack dump of it (pytest and `python -X faulthandler` enable one).
    faulthandler.disable()
    _cap_memory(limits.memory_bytes)
    allow_cpu(limits)


def allow_cpu(limits: ReadLimits) -> None:
    """Let this child use `limits.seconds` more CPU time from now (and a little more: the
    parent stops waiting first); past that it is ended (SIGXCPU), a runaway stopped."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + limits.seconds) + 5
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard == resource.RLIM_INFINITY
                                             else min(cpu, hard), hard))


def _child(send: Any, function: Callable[..., Any], args: tuple[Any, ...],
           limits: ReadLimits) -> None:
    enter_capped_child(limits)
    try:
        outcome: tuple[str, Any] = ("ok", function(*args))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as exc:
        outcome = ("raised", sendable(exc))
    try:
        send.send(outcome)
    except MemoryError:
        send.send(("memory", None))
    send.close()
    # Out at once: no flush of stdio buffers or finalizers the parent's other threads may
    # have held locks of at the fork.
    os._exit(0)


def _cap_memory(extra: int) -> None:
    """Cap this process's address space at its current size plus `extra` bytes (the
    libraries already mapped are not the file's doing)."""
    try:
        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:  # not Linux: RLIMIT_AS is not enforced there anyway
        return
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))
