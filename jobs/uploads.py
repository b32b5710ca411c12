"""Sending an outbox upload (bot.outbox.enqueue_file): a file into its post's thread, once.

Slack's upload flow has three steps:
1. files.getUploadURLExternal(filename, length) -> a file id and an upload URL;
2. POST the bytes to that URL;
3. files.completeUploadExternal(files=[{id, title}], channel_id, thread_ts) shares the file.
Only the third shows, and only it must never happen twice: completing a file that was shared
already errors or shares it again. Each step is recorded when done (outbox_files), so a
retry, or a sender that took over from a dead one, carries on where the upload got to:

* the file id, once obtained, is kept and used to the end, never asked for again (an id lost
  to a crash before it was recorded was never completed, and Slack drops such uploads);
* posting the bytes may be repeated (nothing is shared before step 3); an upload Slack no
  longer takes (its URL answers 4xx other than 429, or step 3 finds no such file: it expired)
  starts over with a new id and URL, once a try;
* step 3 is recorded as begun before it is called. A try that finds it begun (the call timed
  out, got a 5xx, or the worker died) asks files.info first: a file Slack knows has been
  completed, so the upload is done and is not repeated; file_not_found means it was not, and
  it is completed now.

Failures are classified like any outbox row (jobs/delivery.classify): 429 waits Retry-After,
5xx, network errors and timeouts back off, on every step including the POST of the bytes.
Scopes: files:write (steps 1 and 3), files:read (the check).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from datetime import datetime
from urllib.error import HTTPError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse
from sqlalchemy import Engine
from sqlalchemy.engine import Row

from bot import outbox
from bot.storage import read, write

NOT_COMPLETED = frozenset({"file_not_found"})


class StartOver(SlackApiError):
    """Slack no longer takes this upload (its URL refused the bytes with a 4xx other than
    429, or completing found no such file): a new file id and URL are needed. The second
    time in one try, the row fails with this reason."""


def is_upload(row: Row) -> bool:
    return "upload" in (row.payload or {})


def send(engine: Engine, client: WebClient, row: Row, clock: Callable[[], datetime]
         ) -> tuple[str | None, bool]:
    """Carry the upload out from where it got to; (None, recovered): Slack gives no message
    ts for a shared file, and `recovered` says an earlier try had completed it."""
    for second in (False, True):
        try:
            return _carry_on(engine, client, row, clock)
        except StartOver:
            if second:
                raise
            with write(engine) as conn:
                outbox.upload_progress(conn, row.id, file_id=None, upload_url=None,
                                       uploaded_at=None, completing_at=None)
    raise AssertionError("unreachable")


def _carry_on(engine: Engine, client: WebClient, row: Row, clock: Callable[[], datetime]
              ) -> tuple[str | None, bool]:
    spec = row.payload["upload"]
    with read(engine) as conn:
        state = outbox.upload_of(conn, row.id)
    if state.completing_at is not None and _completed(client, state.file_id):
        return None, True
    file_id, url = state.file_id, state.upload_url
    if state.uploaded_at is None:
        content = bytes(state.content)
        if file_id is None:
            response = client.files_getUploadURLExternal(filename=spec["filename"],
                                                         length=len(content))
            file_id, url = str(response["file_id"]), str(response["upload_url"])
            with write(engine) as conn:
                outbox.upload_progress(conn, row.id, file_id=file_id, upload_url=url)
        _post(url, content, client.timeout)
        with write(engine) as conn:
            outbox.upload_progress(conn, row.id, uploaded_at=clock())
    with write(engine) as conn:
        outbox.upload_progress(conn, row.id, completing_at=clock())
    try:
        client.files_completeUploadExternal(
            files=[{"id": file_id, "title": spec["title"]}], channel_id=row.channel,
            thread_ts=row.parent_ts, initial_comment=spec.get("initial_comment"))
    except SlackApiError as exc:
        if _error(exc) in NOT_COMPLETED:  # the upload expired at Slack: nothing was shared
            raise StartOver(str(exc), exc.response) from exc
        raise
    return None, False


def _post(url: str, content: bytes, timeout: float) -> None:
    """The bytes to the upload URL. A refusal is raised as Slack's API errors are, so that
    the outbox classifies it alike (429 with its Retry-After, 5xx), or as StartOver."""
    request = urllib.request.Request(url, data=content, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except HTTPError as exc:
        error = ("ratelimited" if exc.code == 429 else
                 "upload_failed" if exc.code >= 500 else "upload_url_refused")
        refusal = SlackResponse(client=None, http_verb="POST", api_url=url, req_args={},
                                data={"ok": False, "error": error},
                                headers=dict(exc.headers or {}), status_code=exc.code)
        kind = SlackApiError if exc.code == 429 or exc.code >= 500 else StartOver
        raise kind(f"the upload URL answered HTTP {exc.code}", refusal) from exc


def _error(exc: SlackApiError) -> str | None:
    return exc.response.get("error") if exc.response is not None else None


def _completed(client: WebClient, file_id: str) -> bool:
    """Whether Slack knows the file: an upload becomes a file only once completed."""
    try:
        client.files_info(file=file_id)
    except SlackApiError as exc:
        if _error(exc) in NOT_COMPLETED:
            return False
        raise
    return True
