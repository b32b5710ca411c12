"""Data drops by upload: a report shared into a bound channel (or into a DM with the bot,
naming the store: "store: acme") is downloaded with the bot token, ingested like
`opsbot ingest`, and answered in the file's thread. A DM naming a store is taken only from the
store's admins and the members of its bound channels (bot/roles.py may_upload); anyone else
is told so politely and nothing is downloaded.

One upload reaches us as several events (`file_shared` and a `message` with subtype
`file_share`) and each may be retried; the Slack file id is leased in SQL (bot/receipts.py),
so the file is ingested and answered once. A process that dies mid-upload (kill -9, out of
memory, a worker timeout) lets its lease run out: a later share of the file or the worker's
sweep (jobs/upload_sweep.py) takes it up again. The answer is queued in the outbox in the
transaction that ends the lease (one dedupe key per attempt), then sent at once; the outbox
sends it exactly once even if the process dies now. After GIVE_UP_AFTER attempts died the
file is given up on with a reply saying so: it may be the file that stops the process.
Bolt acks these events before the listeners run, so downloading and ingesting never hold
up an ack.
"""

from __future__ import annotations

import logging
import re
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, select

from bot import outbox, receipts
from bot.config import Settings
from bot.ingest.drop import DropResult, ingest_file
from bot.ingest.kinds import KIND_BY_NAME
from bot.models import drops
from bot.periods import utcnow
from bot.roles import may_upload
from bot.storage import read, write
from bot.stores import Store, find_store, store_for_channel
from handlers.events import first_delivery
from handlers.members import Directory
from jobs.delivery import deliver_rows
from templates import render

log = logging.getLogger(__name__)

REPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".xls", ".xlsx")
# Slack filetypes that are never an export (images etc. are told by their mimetype too).
NOT_REPORTS = frozenset({
    "pdf", "doc", "docx", "ppt", "pptx", "key", "pages", "zip", "gzip", "tar", "7z", "rar",
    "mp4", "mov", "mp3", "m4a", "wav", "png", "jpg", "jpeg", "gif", "heic", "webp", "bmp",
    "svg", "psd", "ai", "sketch", "apk", "exe", "dmg",
})
NOT_REPORT_MIMETYPES = ("image/", "video/", "audio/")
DOWNLOAD_TIMEOUT = 60  # seconds without progress before a download is given up
_CHUNK = 64 * 1024
ANSWER = "upload_answer"  # outbox purpose of an upload's answer
GIVE_UP_AFTER = 3  # attempts in a row that died with the upload before it is given up
_STORE_WORDS = re.compile(r"\bstore\s*[:=]?\s*[`'\"]?([\w.\-]+)", re.IGNORECASE)


@dataclass
class Upload:
    """Where a file was shared and what the answer should say about it."""

    file_id: str
    channel_id: str
    thread_ts: str | None
    name: str


class DownloadFailed(Exception):
    """The file could not be fetched; the message is shown to the user."""


class TooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def store_named_in(text: str | None) -> str | None:
    """The store a DM names: "store: acme", "store acme", "store=acme"."""
    match = _STORE_WORDS.search(text or "")
    return match.group(1) if match else None


def looks_like_report(file: dict[str, Any]) -> bool:
    return str(file.get("name") or "").lower().endswith(REPORT_SUFFIXES)


def not_a_report(file: dict[str, Any]) -> str | None:
    """Why a file is plainly not an export (its type, as Slack names it), or None."""
    mimetype = str(file.get("mimetype") or "")
    filetype = str(file.get("filetype") or "").lower()
    if looks_like_report(file):
        return None
    if mimetype.startswith(NOT_REPORT_MIMETYPES) or filetype in NOT_REPORTS:
        return str(file.get("pretty_type") or filetype or mimetype)
    return None


def thread_of(file: dict[str, Any], channel_id: str) -> str | None:
    """The ts of the message that shared `file` in `channel_id` (from files.info `shares`)."""
    shares = file.get("shares") or {}
    for scope in ("public", "private"):
        entries = (shares.get(scope) or {}).get(channel_id) or []
        if entries:
            return entries[0].get("thread_ts") or entries[0].get("ts")
    return None


def safe_file_name(name: str, fallback: str) -> str:
    """The original name without any directory part, usable as a local file name."""
    base = re.split(r"[\\/]", name)[-1].replace("\x00", "").strip(". ")
    return base[-200:] or fallback


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Slack redirects an unauthorised download to its sign-in page; never follow it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def download(url: str, token: str, path: Path, limit: int) -> int:
    """Stream `url` into `path` with the bot token; refuses more than `limit` bytes."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with _opener.open(request, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.headers.get_content_type() == "text/html":
                raise DownloadFailed(
                    "Slack sent a web page instead of the file (does the app have files:read?)")
            length = int(response.headers.get("Content-Length") or 0)
            if length > limit:
                raise TooBig(length)
            size = 0
            with path.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:  # Content-Length can be absent or wrong
                        raise TooBig(size)
                    out.write(chunk)
            return size
    except HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DownloadFailed(
                "Slack sent me to its sign-in page (does the app have files:read?)") from None
        raise DownloadFailed(f"Slack answered HTTP {exc.code}") from None
    except (URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"the connection failed ({reason})") from None


def _answer(upload: Upload, store: Store | None, status: str, **context: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status, "file": upload.name, "store": store.name if store else "",
        "kind_title": None, "period": None, "rows": 0, "inserted": 0, "updated": 0,
        "unchanged": 0, "quarantined": 0, "errors": [], "reason": None,
        "size_mb": 0.0, "limit_mb": 0.0, "sheets": None, "count": 0, "over_limit": None,
        "lang": store.language if store else None,
    }
    values.update(context)
    return render("drop_result.json.j2", **values)


def _result_context(result: DropResult) -> dict[str, Any]:
    data = result.to_json()
    kind = KIND_BY_NAME.get(result.kind or "")
    return {
        "kind_title": kind.title if kind else None,
        "period": data["period"],
        **{k: data[k] for k in ("rows", "inserted", "updated", "unchanged", "quarantined")},
        "errors": data["errors"],
        "sheets": data["sheets"],
        "over_limit": data["over_limit"],
    }


def _post(client: WebClient, upload: Upload, message: dict[str, Any]) -> None:
    """Post an answer that is about no store (so has no outbox row and no lease)."""
    try:
        client.chat_postMessage(
            channel=upload.channel_id, thread_ts=upload.thread_ts, text=message["text"],
            blocks=message.get("blocks"), unfurl_links=False, unfurl_media=False,
        )
    except SlackApiError as exc:  # retries are spent; nothing was taken from the file
        log.error("could not answer about %s in %s: %s", upload.file_id, upload.channel_id,
                  exc.response.get("error"))


def _answer_once(engine: Engine, client: WebClient, store: Store, held: receipts.Lease,
                 upload: Upload, message: dict[str, Any], *, release: bool = False) -> None:
    """End the lease and queue the answer in one transaction, then send it at once.

    One answer per attempt (dedupe key) and one attempt that finishes (the lease's
    compare-and-set): a process that died after this commit has its answer sent by the
    worker's sender; one that died before it left its lease to run out, and whoever takes
    it over answers instead."""
    with write(engine) as conn:
        if not receipts.finish(conn, held, release=release):
            log.warning("upload %s was taken over by a newer attempt: not answered here",
                        upload.file_id)
            return
        row_id = outbox.enqueue_new(
            conn, store_id=store.id, channel=upload.channel_id, purpose=ANSWER,
            subject=f"file:{upload.file_id}",
            dedupe_key=f"{ANSWER}:{upload.file_id}:{held.attempt}",
            payload={"text": message["text"], "blocks": message.get("blocks"),
                     "thread_ts": upload.thread_ts},
            now=utcnow())
    if row_id is not None:
        deliver_rows(engine, client, [row_id])


def handle_upload(
    engine: Engine, settings: Settings, client: WebClient, store: Store, file_id: str,
    channel_id: str, thread_ts: str | None = None,
) -> DropResult | None:
    """Fetch, ingest and answer one shared file, once per Slack file id (or again, when the
    process that had it died: bot/receipts.py)."""
    held = receipts.lease(engine, receipts.FILE, file_id, store_id=store.id,
                          channel=channel_id, thread_ts=thread_ts)
    if held is None:
        log.info("file %s was announced again: already handled or being handled", file_id)
        return None
    return process_upload(engine, settings, client, store, held)


def process_upload(engine: Engine, settings: Settings, client: WebClient, store: Store,
                   held: receipts.Lease) -> DropResult | None:
    """Carry out one attempt at an upload whose lease is `held` (from a share, or taken over
    by the worker's sweep), and answer it."""
    file_id, channel_id = held.ref, str(held.channel or "")
    upload = Upload(file_id, channel_id, held.thread_ts, file_id)

    def answer(status: str, *, release: bool = False, **context: Any) -> None:
        _answer_once(engine, client, store, held, upload,
                     _answer(upload, store, status, **context), release=release)

    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        answer("download_failed", release=True,
               reason=f"files.info said {exc.response.get('error')}")
        return None
    upload.name = str(info.get("name") or info.get("title") or file_id)
    upload.thread_ts = held.thread_ts or thread_of(info, channel_id)
    if held.lapses >= GIVE_UP_AFTER:
        # The file itself may be what stops the process; a new share may try again.
        log.error("upload %s: %d attempts died; given up", file_id, held.lapses)
        answer("interrupted", release=True, count=held.lapses)
        return None
    limit = settings.max_upload_bytes
    too_big = {"limit_mb": limit / 2**20}

    reason = not_a_report(info)
    if reason:
        answer("not_a_report", reason=reason)
        return None
    if int(info.get("size") or 0) > limit:
        answer("too_big", size_mb=int(info["size"]) / 2**20, **too_big)
        return None
    url = info.get("url_private_download") or info.get("url_private")
    try:
        if not url:
            raise DownloadFailed("Slack gave no download link")
        with tempfile.TemporaryDirectory(prefix="opsbot-upload-") as tmp:
            path = Path(tmp) / safe_file_name(upload.name, file_id)
            download(url, str(client.token), path, limit)
            receipts.renew(engine, held)
            result = ingest_file(engine, store, path, file_name=upload.name, source="slack",
                                 source_ref=file_id)
    except TooBig as exc:
        answer("too_big", size_mb=exc.size / 2**20, **too_big)
        return None
    except DownloadFailed as exc:
        answer("download_failed", release=True, reason=str(exc))  # a new share may try again
        return None
    except Exception:
        with write(engine) as conn:
            receipts.finish(conn, held, release=True)
        raise
    answer(**{"status": result.status, **_result_context(result),
              **_resumed(engine, result, held)})
    return result


def _resumed(engine: Engine, result: DropResult, held: receipts.Lease) -> dict[str, Any]:
    """An attempt that took over from one that died after ingesting the file finds it a
    duplicate of that attempt's drop: the answer then reports that drop, as the first
    attempt would have."""
    if result.status != "duplicate" or held.attempt == 1 or result.duplicate_of is None:
        return {}
    with read(engine) as conn:
        first = conn.execute(select(drops).where(drops.c.id == result.duplicate_of)).first()
    if first is None or first.source_ref != held.ref or first.status != "ingested":
        return {}
    kind = KIND_BY_NAME.get(first.kind or "")
    period = ({"start": first.period_start.isoformat(), "end": first.period_end.isoformat()}
              if first.period_start and first.period_end else None)
    return {"status": "ingested", "kind_title": kind.title if kind else None, "period": period,
            "errors": list(first.errors or []),
            **{k: getattr(first, k) for k in ("rows", "inserted", "updated", "unchanged",
                                              "quarantined")}}


def register(app: App, engine: Engine, settings: Settings,
             directory: Directory | None = None) -> None:
    directory = directory or Directory()

    @app.event("file_shared")
    def on_file_shared(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if not first_delivery(engine, body):
            return
        channel_id = event.get("channel_id") or ""
        store = store_for_channel(engine, channel_id, body.get("team_id"))
        if store is None:
            # Not a bound channel. In a DM the message event carries the text naming the
            # store; anywhere else the file is not ours to take.
            return
        file_id = event.get("file_id") or (event.get("file") or {}).get("id")
        if file_id:
            handle_upload(engine, settings, client, store, file_id, channel_id)

    @app.event({"type": "message", "subtype": "file_share"})
    def on_file_message(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if not first_delivery(engine, body):
            return
        channel_id = event.get("channel") or ""
        is_dm = event.get("channel_type") == "im" or channel_id.startswith("D")
        team_id = body.get("team_id")
        store = store_for_channel(engine, channel_id, team_id)
        thread_ts = event.get("thread_ts") or event.get("ts")
        if store is None and is_dm:
            named = store_named_in(event.get("text"))
            store = find_store(engine, named) if named else None
            if store is not None and not store.belongs_to(team_id):
                store = None  # another workspace's store: not known here
            user = str(event.get("user") or "")
            if store is not None and not may_upload(
                    engine, store, user,
                    member_of=lambda channel: directory.is_member(client, channel, user),
                    workspace_admin=lambda u: directory.is_workspace_admin(client, team_id, u)):
                log.warning("DM upload by %s for store %s refused: not an admin or member",
                            user, store.name)
                names = ", ".join(str(f.get("name") or f.get("id")) for f in
                                  event.get("files") or [])
                _post(client, Upload("", channel_id, thread_ts, names),
                      render("upload_refused.json.j2", file=names, store=store.name,
                             lang=store.language))
                return
        for file in event.get("files") or []:
            if not file.get("id"):
                continue
            if store is not None:
                handle_upload(engine, settings, client, store, file["id"], channel_id, thread_ts)
            elif is_dm or looks_like_report(file):
                upload = Upload(file["id"], channel_id, thread_ts,
                                str(file.get("name") or file["id"]))
                _post(client, upload, _answer(upload, None, "no_store"))
