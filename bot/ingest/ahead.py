"""Parse a large file in a forked child while this process writes what the child has parsed.

Writing a drop (SQLite's B-tree work, PostgreSQL's round trips) takes about as long as reading
and converting its cells. Threads cannot overlap the two: the database driver takes the GIL
back for every row it binds, and the parser holds it most of the time. A forked child holds
its own: it reads and parses block after block and sends each parsed chunk through a pipe,
and this process writes one chunk while the child parses the next. A pipe holds little, so
the child is never more than a chunk ahead: memory stays at a few chunks whatever the size of
the file.

The child runs capped like a workbook read (bot/ingest/limits.py): it dies rather than take
the machine's memory, and a child that stops sending for `seconds` is stopped. Its
exceptions (a rejected file) are raised here, where the chunk they stopped would have come.
Small files, and systems that cannot fork, are parsed in this process: with one block there
is nothing to overlap, and a fork costs a few milliseconds.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from bot.ingest.limits import (
    MEMORY,
    OverLimit,
    ReadLimits,
    allow_cpu,
    enter_capped_child,
    next_message,
    sendable,
    start_child,
    stop_child,
)

T = TypeVar("T")
R = TypeVar("R")

# Files from this size on are parsed in a child (about 10,000 rows of a CSV export; tests
# lower it).
FORK_BYTES = 1024 * 1024
CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
_PIPE_BYTES = 1024 * 1024  # Linux lets a process raise its pipes to this (pipe-max-size)

_CHUNK, _END, _RAISED, _MEMORY = "chunk", "end", "raised", "memory"


@contextmanager
def parsed_ahead(items: Iterable[T], parse: Callable[[T], R], *, size: int
                 ) -> Iterator[Iterator[R]]:
    """parse(item) for each item, in order. For a file of `size` bytes from FORK_BYTES on,
    in a forked child working ahead of the caller; else here, as the caller takes them. On
    leaving, the child is gone."""
    if size < FORK_BYTES or not CAN_FORK:
        yield (parse(item) for item in items)
        return
    limits = ReadLimits.from_env()
    receive, child = start_child("opsbot-parse", _child, (items, parse, limits))
    try:
        yield _received(receive, child, limits)
    finally:
        stop_child(receive, child)


def _received(receive: Any, child: Any, limits: ReadLimits) -> Iterator[Any]:
    while True:
        outcome, value = next_message(receive, child, limits)
        if outcome == _CHUNK:
            yield value
        elif outcome == _END:
            return
        elif outcome == _MEMORY:
            raise OverLimit(MEMORY, limits.memory_bytes)
        else:
            raise value


def _child(send: Any, items: Iterable[T], parse: Callable[[T], R],
           limits: ReadLimits) -> None:
    enter_capped_child(limits)
    with suppress(OSError, AttributeError):  # Linux: a chunk in a few writes, not a hundred
        fcntl.fcntl(send.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    try:
        try:
            for item in items:
                send.send((_CHUNK, parse(item)))
                allow_cpu(limits)  # the parent waits `seconds` for each chunk: so may we
            send.send((_END, None))
        except MemoryError:
            send.send((_MEMORY, None))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the parent stopped reading: it has what it needs, or failed itself
        except Exception as exc:
            with suppress(BrokenPipeError, ConnectionResetError):
                send.send((_RAISED, sendable(exc)))
    finally:
        # Out at once: no finalizer of the parent's objects (its database connection, the
        # workbook's temporary blocks) may run here.
        os._exit(0)
