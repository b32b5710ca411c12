"""The worker's sweep of uploads left unfinished: a process that died mid-upload (kill -9,
out of memory, a worker timeout) leaves the file's lease running out (bot/receipts.py). The
sweep takes each such lease over, carries the upload out again and answers it in its thread,
once (handlers/uploads.process_upload). A lease still running is never taken: its holder may
be alive and busy. A live holder that was too slow finds its lease taken at its end and
answers nothing."""

from __future__ import annotations

import logging
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot import receipts
from bot.config import Settings
from bot.periods import utcnow
from bot.storage import read, write
from bot.stores import get_store
from handlers.uploads import process_upload
from jobs.delivery import Clients
from jobs.workspaces import NotInstalled

log = logging.getLogger(__name__)


def _client_for(client: Clients, store_id: int) -> WebClient:
    """The client of the store's workspace: the one token, or in OAuth mode its own."""
    if isinstance(client, WebClient):
        return client
    return client(SimpleNamespace(store_id=store_id))  # type: ignore[arg-type]


def sweep(engine: Engine, settings: Settings, client: Clients,
          now: datetime | None = None) -> list[dict[str, Any]]:
    """Take up every upload whose lease ran out; what became of each."""
    done: list[dict[str, Any]] = []
    for row in receipts.lapsed(engine, receipts.FILE, now=now):
        held = receipts.take_over(engine, row, now=now or utcnow())
        if held is None:
            continue  # a share or another sweep took it first
        if held.store_id is None or not held.channel:
            with write(engine) as conn:  # from before receipts said where: cannot answer
                receipts.finish(conn, held)
            continue
        with read(engine) as conn:
            store = get_store(conn, held.store_id)
        try:
            store_client = _client_for(client, held.store_id)
        except NotInstalled as exc:  # uninstalled since: nobody to answer, nothing to fetch
            log.warning("upload %s: not taken up again: %s", held.ref, exc)
            with write(engine) as conn:
                receipts.finish(conn, held, release=True)
            continue
        log.warning("upload %s: taken up again (attempt %d) after its process stopped",
                    held.ref, held.attempt)
        try:
            result = process_upload(engine, settings, store_client, store, held)
        except Exception as exc:  # one broken upload must not stop the others
            log.exception("upload %s: taking it up again failed", held.ref)
            done.append({"file": held.ref, "store": store.name, "attempt": held.attempt,
                         "error": f"{type(exc).__name__}: {exc}"})
            continue
        done.append({"file": held.ref, "store": store.name, "attempt": held.attempt,
                     "status": result.status if result else None})
    return done
