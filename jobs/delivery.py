"""The outbox sender: delivers queued messages to Slack, each at most once, none lost.

For each due row (bot/outbox.py): claim it (pending -> sending), then
* an edit (`update_of`) is a chat.update of the referred message's ts (safe to repeat);
* a row whose earlier attempt may have reached Slack (`maybe_sent`) is first looked up in the
  channel's history (conversations.history, or conversations.replies for a thread reply) by
  the metadata every post carries; found -> its ts is recorded, nothing is posted;
* otherwise chat.postMessage, with `thread_ts` for a thread reply (to another row's post, or
  to a Slack message whose ts the payload names); Slack's ts is recorded;
* a file upload (bot.outbox.enqueue_file) goes through Slack's upload flow, each step recorded
  so that it completes once (jobs/uploads.py).

Tokens: one SLACK_BOT_TOKEN, or in OAuth mode the bot token of each row's store's workspace
(jobs/workspaces.py); a row whose workspace has no installation fails at once with that reason.

Failures: 429 -> retry after Slack's Retry-After, and only that channel pauses; 5xx, network
errors and timeouts -> exponential backoff (5 s doubling to 10 min), retried for two days;
errors Slack gives for a request it will never accept (channel_not_found, not_in_channel,
invalid_auth, invalid_blocks, …) -> failed with the reason. The WebClient's own retry handlers
are off: the outbox owns retries, because a blind retry after a timeout could post twice.

Pacing: Slack allows chat.postMessage about one message per second per channel (short bursts
tolerated) plus an unpublished workspace-wide limit. The Pacer keeps at least
`per_channel` seconds (1.0) between posts to one channel and at most `per_second` (10) posts a
second overall, and sends round-robin across channels, so one busy channel never holds up
the others. A 429 the pacer did not prevent pauses only its channel.

Scopes: chat:write, and channels:history / groups:history for the history check (files:write
and files:read for uploads). If the history check is refused for good (missing_scope), the
row fails with that reason rather than risk a duplicate.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.error
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.engine import Row

from bot import outbox
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import read, write
from jobs import uploads
from jobs.workspaces import NotInstalled, WorkspaceClients, web_client

log = logging.getLogger(__name__)

CLIENT_TIMEOUT = 30  # seconds per API call
HISTORY_MARGIN = timedelta(minutes=5)  # clock skew between this host and Slack
HISTORY_PAGES = 10
# Errors Slack documents as temporary; any other `ok: false` is a request it will refuse again.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "ratelimited", "team_added_to_org"})
NETWORK_ERRORS = (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError,
                  http.client.HTTPException, OSError)


# What the sender posts with: one WebClient (single-token mode, a handler's own client), or
# the client of each row's workspace (OAuth mode, jobs/workspaces.py; NotInstalled: none).
Clients = WebClient | WorkspaceClients


def outbox_client(settings: Settings, engine: Engine | None = None, *,
                  timeout: float = CLIENT_TIMEOUT) -> Clients | None:
    """The outbox sender's client(s), retries off (the outbox owns them, see the module doc):
    in OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, `engine` needed) each workspace's
    own bot token, else SLACK_BOT_TOKEN; None without either."""
    if settings.oauth:
        if engine is None:
            raise ValueError("OAuth mode looks bot tokens up in the database: pass the engine")
        return WorkspaceClients(engine, settings, timeout)
    if not settings.slack_bot_token:
        return None
    return web_client(settings, settings.slack_bot_token, timeout)


class Pacer:
    """Spaces API calls: `per_channel` seconds between posts to one channel, at most
    `per_second` posts a second overall. Clock and sleep are injectable (virtual time in
    tests and the benchmark)."""

    def __init__(self, per_channel: float = 1.0, per_second: float = 10.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_channel = per_channel
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next_in_channel: dict[str, float] = {}
        self._next_any = float("-inf")
        self._lock = threading.Lock()

    def wait(self, channel: str) -> float:
        """Sleep until a post to `channel` is allowed, then book it; returns the send moment."""
        with self._lock:
            at = max(self.clock(), self._next_in_channel.get(channel, float("-inf")),
                     self._next_any)
            self._next_in_channel[channel] = at + self.per_channel
            self._next_any = at + self.interval
        delay = at - self.clock()
        if delay > 0:
            self.sleep(delay)
        return at

    def pause(self, channel: str, seconds: float) -> None:
        """Slack said wait (429): nothing to this channel for `seconds`."""
        with self._lock:
            until = self.clock() + seconds
            self._next_in_channel[channel] = max(self._next_in_channel.get(channel, 0.0), until)


@dataclass
class Failure:
    kind: str  # "ratelimited" | "transient" | "permanent"
    error: str
    retry_after: timedelta | None = None
    maybe_sent: bool = False  # the request may have been carried out


class HistoryCheckFailed(Exception):
    """The channel history could not be read before a re-send."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure


@dataclass
class Delivery:
    """What one sender run did."""

    delivered: int = 0
    recovered: int = 0  # found already posted by an earlier, interrupted attempt
    retrying: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "recovered": self.recovered,
                "retrying": self.retrying, "failed": self.failed, "errors": self.errors}


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else str(value)
    return None


def classify(exc: BaseException) -> Failure:
    """What a failed API call means for the row: wait, back off, or give up."""
    if isinstance(exc, HistoryCheckFailed):
        return exc.failure
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = str(response.get("error") or f"HTTP {status}") if response is not None else str(exc)
        if status == 429 or error == "ratelimited":
            retry = _header(getattr(response, "headers", None), "Retry-After")
            seconds = int(retry) if retry and retry.strip().isdigit() else 30
            return Failure("ratelimited", "ratelimited", timedelta(seconds=seconds))
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Failure("transient", f"{error} (HTTP {status})", maybe_sent=True)
        return Failure("permanent", error)
    if isinstance(exc, NETWORK_ERRORS):
        return Failure("transient", f"network: {type(exc).__name__}: {exc}", maybe_sent=True)
    # An unexpected exception: keep the message and retry rather than drop it.
    return Failure("transient", f"unexpected: {type(exc).__name__}: {exc}", maybe_sent=True)


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def find_posted(client: WebClient, row: Row) -> str | None:
    """The ts of this row's message if an earlier attempt already posted it."""
    since = (row.first_claimed_at or row.created_at) - HISTORY_MARGIN
    cursor: str | None = None
    for _ in range(HISTORY_PAGES):
        kwargs: dict[str, Any] = {"channel": row.channel, "oldest": f"{_epoch(since):.6f}",
                                  "include_all_metadata": True, "limit": 200}
        if cursor:
            kwargs["cursor"] = cursor
        if thread_ts := _thread_ts(row):
            response = client.conversations_replies(ts=thread_ts, **kwargs)
        else:
            response = client.conversations_history(**kwargs)
        for message in response.get("messages") or []:
            if outbox.is_ours(message, row.id):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def _send(client: WebClient, row: Row) -> tuple[str | None, bool]:
    """Carry the row out; returns (ts, recovered)."""
    payload = dict(row.payload or {})
    text = payload.get("text") or "opsbot"
    blocks = payload.get("blocks")
    if row.update_of:
        response = client.chat_update(channel=row.channel, ts=row.parent_ts, text=text,
                                      blocks=blocks)
        return str(response.get("ts") or row.parent_ts), False
    if row.maybe_sent:
        try:
            found = find_posted(client, row)
        except Exception as exc:
            failure = classify(exc)
            if failure.kind == "permanent":
                failure.error = (f"cannot read the channel history ({failure.error}) to check "
                                 "an interrupted send; not re-sent, to avoid a duplicate")
            raise HistoryCheckFailed(failure) from exc
        if found:
            return found, True
    kwargs: dict[str, Any] = {"channel": row.channel, "text": text,
                              "metadata": outbox.metadata_for(row.id),
                              "unfurl_links": False, "unfurl_media": False}
    if blocks:
        kwargs["blocks"] = blocks
    if thread_ts := _thread_ts(row):
        kwargs["thread_ts"] = thread_ts
    response = client.chat_postMessage(**kwargs)
    return str(response["ts"]), False


def _thread_ts(row: Row) -> str | None:
    """The thread a row replies in: its parent row's post, or a Slack message's ts given in
    the payload (an upload's answer goes in the thread of the message that shared the file)."""
    if row.thread_of:
        return str(row.parent_ts)
    return (row.payload or {}).get("thread_ts")


def _round_robin(rows: list[Row]) -> list[Row]:
    """Interleave channels: the first message of every channel, then the second, …"""
    queues: OrderedDict[str, list[Row]] = OrderedDict()
    for row in rows:
        queues.setdefault(row.channel, []).append(row)
    ordered: list[Row] = []
    while queues:
        for channel in list(queues):
            ordered.append(queues[channel].pop(0))
            if not queues[channel]:
                del queues[channel]
    return ordered


def deliver(
    engine: Engine,
    client: Clients,
    now: datetime | None = None,
    *,
    pacer: Pacer | None = None,
    stop: threading.Event | None = None,
    batch: int = 500,
) -> Delivery:
    """Send every due outbox row once (each row at most one attempt per call).

    `now` (naive UTC) freezes the clock for tests and `opsbot tick --now`; without it each
    step uses the current time.
    """
    pacer = pacer or Pacer()
    clock = (lambda: now) if now is not None else utcnow
    result = Delivery()
    tried: set[int] = set()
    paused: set[str] = set()
    while not (stop and stop.is_set()):
        with read(engine) as conn:
            if not outbox.unsettled(conn):
                break
        with write(engine) as conn:
            outbox.settle(conn, clock())
            rows = [r for r in outbox.due(conn, clock(), limit=batch + len(tried))
                    if r.id not in tried and r.channel not in paused]
        if not rows:
            break
        for row in _round_robin(rows[:batch]):
            if stop and stop.is_set():
                break
            if row.channel in paused:
                continue
            tried.add(row.id)
            with write(engine) as conn:
                claimed = outbox.claim(conn, row, clock())
            if claimed is None:
                continue  # another sender has it
            _attempt(engine, client, claimed, clock, pacer, result, paused)
    return result


def deliver_rows(engine: Engine, client: Clients, ids: list[int],
                 now: datetime | None = None, *, pacer: Pacer | None = None) -> Delivery:
    """Send these outbox rows now, if they are due (e.g. the edits a button click queued,
    sent with the handler's client so the click shows at once). A row that cannot go yet
    (its post is not delivered, or an older edit of it is being sent), that fails, or that
    is in a channel Slack paused (429) during this call, stays with the worker's sender, as
    any other."""
    result = Delivery()
    if not ids:
        return result
    pacer = pacer or Pacer()
    paused: set[str] = set()
    clock = (lambda: now) if now is not None else utcnow
    with read(engine) as conn:
        rows = outbox.due(conn, clock(), ids=ids)
    for row in _round_robin(rows):
        if row.channel in paused:
            continue
        with write(engine) as conn:
            claimed = outbox.claim(conn, row, clock())
        if claimed is not None:
            _attempt(engine, client, claimed, clock, pacer, result, paused)
    return result


def _attempt(engine: Engine, clients: Clients, row: Row, clock: Callable[[], datetime],
             pacer: Pacer, result: Delivery, paused: set[str]) -> None:
    try:
        client = clients(row) if isinstance(clients, WorkspaceClients) else clients
    except NotInstalled as exc:  # dropped, not retried: no token will come back by itself
        with write(engine) as conn:
            outbox.fail(conn, row.id, clock(), error=str(exc))
        result.failed += 1
        result.errors.append({"outbox_id": row.id, "channel": row.channel, "error": str(exc),
                              "status": "failed"})
        log.warning("outbox %s to %s: %s (failed)", row.id, row.channel, exc)
        return
    if not row.update_of:
        pacer.wait(row.channel)
    try:
        if uploads.is_upload(row):
            ts, recovered = uploads.send(engine, client, row, clock)
        else:
            ts, recovered = _send(client, row)
    except Exception as exc:
        failure = classify(exc)
        with write(engine) as conn:
            if failure.kind == "permanent":
                outbox.fail(conn, row.id, clock(), error=failure.error)
                status = "failed"
            else:
                status = outbox.retry_later(conn, row.id, clock(), error=failure.error,
                                            maybe_sent=failure.maybe_sent,
                                            retry_after=failure.retry_after)
        if failure.retry_after is not None:
            pacer.pause(row.channel, failure.retry_after.total_seconds())
            paused.add(row.channel)
        if status == "failed":
            result.failed += 1
        else:
            result.retrying += 1
        result.errors.append({"outbox_id": row.id, "channel": row.channel,
                              "error": failure.error, "status": status})
        log.warning("outbox %s to %s: %s (%s)", row.id, row.channel, failure.error, status)
        return
    with write(engine) as conn:
        outbox.delivered(conn, row.id, ts, clock())
    if recovered:
        result.recovered += 1
    else:
        result.delivered += 1
