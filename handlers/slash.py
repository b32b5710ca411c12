"""Slash commands: hand the words to `handlers.commands.run_command` and give Slack its answer.

Slack wants the ack within 3 s of sending the request, however long the request then waited
for one of gunicorn's threads or the database. So the deadline counts from the request's
arrival (stamped at the edge: handlers/arrival.py), and the command is answered in the
request's own thread (a global middleware), never queued behind bolt's listener pool,
which uploads share:

* the command runs in a fixed pool of threads (`CommandPool`); how long it waited for a
  thread is logged with its ack;
* the answer usually takes milliseconds (one SQL aggregate), so the ack itself carries it:
  one round trip, no response_url call;
* if it is not ready `ACK_DEADLINE` seconds after arrival (a locked table, a saturated
  pool), the ack says "working on it" (visible only to the asker) and the answer follows
  through the command's response_url once it is ready; when every command thread has been
  stuck for longer than that already, the ack goes at once;
* when `MAX_WAITING` commands already wait for a thread, a new one is answered at once with
  "busy, try again in a minute" rather than queued for minutes. Which of the two carries the answer
  is decided once, by the request's thread, so an answer is never lost nor sent twice.

An answer the command queued as a post of the bot's (`CommandResult.posts`: `/customers`,
whose buttons redraw it, which Slack allows only on the bot's own posts) is sent right after
an empty ack; if Slack refuses the post (e.g. the bot is not in the channel), the answer goes
through the response_url instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.request.payload_utils import is_slash_command
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import Settings
from handlers.arrival import arrival_of
from handlers.commands import COMMANDS, CommandResult, normalize_command, run_command
from handlers.members import Directory
from jobs.delivery import deliver_rows
from templates import render

log = logging.getLogger(__name__)

# Seconds after arrival. The other 1.5 s of Slack's 3 s are for the network and for a busy
# machine: on 2 loaded cores, benchmarks/bench_load.py saw acks leave up to 0.6 s late.
ACK_DEADLINE = 1.5
POOL_SIZE = 8  # command threads per process; each holds at most one database connection
# Commands waiting for a thread, per process, beyond which a new one is answered at once with
# "busy, try again": a longer queue could not be answered within a useful time anyway.
MAX_WAITING = 32


@dataclass(frozen=True)
class Ran:
    """A command's result and how long it waited for a thread of the pool."""

    result: CommandResult
    waited: float


class CommandPool:
    """A fixed number of threads running commands. A command beyond them waits in the
    queue; how long it waited is returned with its result (and logged with its ack)."""

    def __init__(self, size: int | None = None, max_waiting: int | None = None) -> None:
        self.size = size = size or POOL_SIZE
        self.max_waiting = max_waiting or MAX_WAITING
        self._executor = ThreadPoolExecutor(max_workers=size,
                                            thread_name_prefix="opsbot-command")
        # Late answers and queued posts: Web API calls, kept off the command threads so a
        # finished answer never waits behind commands stuck on the database.
        self._followups = ThreadPoolExecutor(max_workers=max(1, size // 2),
                                             thread_name_prefix="opsbot-answer")
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}  # job -> when it got its thread
        self._waiting = 0

    def submit(self, fn: Callable[..., CommandResult], /, *args: Any, **kwargs: Any
               ) -> Future[Ran]:
        submitted = time.monotonic()
        with self._lock:
            self._waiting += 1

        def job() -> Ran:
            started = time.monotonic()
            with self._lock:
                self._waiting -= 1
                self._running[id(job)] = started
            try:
                return Ran(fn(*args, **kwargs), started - submitted)
            finally:
                with self._lock:
                    del self._running[id(job)]

        return self._executor.submit(job)

    def follow_up(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Run follow-up work (posts, late answers) on its own bounded threads."""
        self._followups.submit(fn, *args)

    def full(self) -> bool:
        """As many commands wait for a thread as the pool lets wait."""
        with self._lock:
            return self._waiting >= self.max_waiting

    def stalled(self, seconds: float) -> bool:
        """Every thread has been on its command for over `seconds` (the database is stuck):
        a command submitted now cannot be answered within them."""
        now = time.monotonic()
        with self._lock:
            return (len(self._running) >= self.size
                    and all(now - started > seconds for started in self._running.values()))


def reply_payload(message: dict[str, Any], *, ephemeral: bool) -> dict[str, Any]:
    """A command answer as a slash-command response body (ack or response_url)."""
    payload: dict[str, Any] = {"text": message.get("text") or "opsbot",
                               "response_type": "ephemeral" if ephemeral else "in_channel"}
    if message.get("blocks"):
        payload["blocks"] = message["blocks"]
    return payload


def _notice(kind: str, command: str, detail: str | None = None) -> dict[str, Any]:
    return dict(_rendered_notice(kind, command, detail))


@lru_cache(maxsize=64)
def _rendered_notice(kind: str, command: str, detail: str | None) -> dict[str, Any]:
    # Rendered once per command: at the deadline, the ack must not wait for the CPU.
    return reply_payload(render("notice.json.j2", kind=kind, command=command, detail=detail),
                         ephemeral=True)


def register(app: App, engine: Engine, settings: Settings,
             directory: Directory | None = None, pool: CommandPool | None = None) -> None:
    pool = pool or CommandPool()
    directory = directory or Directory()

    def commands(request: BoltRequest, command: dict[str, Any], ack: Ack, respond: Respond,
                 client: WebClient, next_: Callable[[], None]) -> BoltResponse | None:
        name = normalize_command(command.get("command", "")) if command else ""
        if not is_slash_command(request.body) or name not in COMMANDS:
            next_()  # not ours: bolt's listeners (or its 404) take it
            return None
        arrival = arrival_of(request.headers)
        picked_up = time.monotonic() - arrival  # waited for a web thread and bolt's checks
        if pool.full():
            _log_ack(name, "busy", arrival, picked_up, None)
            return ack(**_notice("busy", name))
        team_id = command.get("team_id")
        future = pool.submit(
            run_command, engine, name, command.get("text") or "",
            channel_id=command.get("channel_id"),
            # A Slack request always names its user; none would be the CLI operator.
            user_id=command.get("user_id") or "unknown", team_id=team_id,
            workspace_admin=partial(directory.is_workspace_admin, client, team_id),
        )
        # Every thread stuck past the deadline: waiting for this one is pointless, ack now.
        wait = 0.0 if pool.stalled(ACK_DEADLINE) else arrival + ACK_DEADLINE - time.monotonic()
        try:
            ran = future.result(timeout=max(0.0, wait))
        except FutureTimeout:
            # Decided here, once: the answer goes through the response_url, not the ack.
            future.add_done_callback(lambda done: pool.follow_up(
                _respond_later, done, respond, name, engine, client))
            _log_ack(name, "working", arrival, picked_up, None)
            return ack(**_notice("working", name))
        except Exception as exc:
            log.exception("%s %r failed", name, command.get("text"))
            return ack(**_notice("failed", name, type(exc).__name__))
        _log_ack(name, "answer", arrival, picked_up, ran.waited)
        if ran.result.posts:
            pool.follow_up(_send_posts, engine, client, ran.result, respond)
            return ack()
        return ack(**reply_payload(ran.result.message, ephemeral=ran.result.ephemeral))

    app.middleware(commands)


def _log_ack(name: str, kind: str, arrival: float, picked_up: float,
             waited: float | None) -> None:
    # One line per command; benchmarks/bench_load.py reads the pool waits from it.
    log.info("%s ack=%s %.3f s after arrival: %.3f s before a web thread took it, "
             "pool_wait=%s", name, kind, time.monotonic() - arrival, picked_up,
             "pending" if waited is None else f"{waited:.3f}")


def _send_posts(engine: Engine, client: Any, result: CommandResult, respond: Respond) -> None:
    """Deliver the posts a command queued; one Slack refused for good is answered through
    the response_url instead (one that failed for now stays with the worker's sender)."""
    try:
        delivery = deliver_rows(engine, client, result.posts)
    except Exception:  # the database went away: the worker's sender still has the rows
        log.exception("%s: delivering its posts failed", result.command)
        return
    if delivery.failed:
        log.warning("%s posted through the response_url: %s", result.command, delivery.errors)
        _respond(respond, result.command,
                 reply_payload(result.message, ephemeral=result.ephemeral))


def _respond_later(done: Future[Ran], respond: Respond, name: str, engine: Engine,
                   client: Any) -> None:
    try:
        ran = done.result()
    except Exception as exc:
        log.exception("%s failed after the ack", name)
        _respond(respond, name, _notice("failed", name, type(exc).__name__))
        return
    log.info("%s answered through the response_url, pool_wait=%.3f", name, ran.waited)
    if ran.result.posts:
        _send_posts(engine, client, ran.result, respond)
        return
    _respond(respond, name, reply_payload(ran.result.message, ephemeral=ran.result.ephemeral))


def _respond(respond: Respond, name: str, payload: dict[str, Any]) -> None:
    try:
        respond(**payload)
    except Exception:  # the response_url expired (30 min) or Slack is down: nothing to tell
        log.exception("could not deliver the answer to %s", name)
