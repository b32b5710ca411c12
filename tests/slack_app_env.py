"""Helpers for the Slack app's end-to-end tests: a signed-request client for the running
WSGI app, event bodies, an inquiry export to drop, waiting for background effects. The
fixtures themselves are in `tests.slack_app_fixtures`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPConnection
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from bot.models import drops
from bot.storage import read
from tests.files import csv_text
from tests.slack_mock import MockSlackAPI
from tests.slack_signing import event_body, signed_headers

T = TypeVar("T")
CHANNEL = "C0OPS"


@dataclass
class Server:
    url: str
    secret: str

    def request(self, method: str, path: str, body: str = "",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        host = self.url.split("//", 1)[1]
        conn = HTTPConnection(host, timeout=10)
        try:
            conn.request(method, path, body=body.encode(), headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def post(self, body: str, *, timestamp: int | None = None, secret: str | None = None,
             extra: dict[str, str] | None = None) -> tuple[int, bytes]:
        """POST /slack/events signed with the real v0 scheme."""
        headers = {**signed_headers(body, secret or self.secret, timestamp), **(extra or {})}
        status, _, data = self.request("POST", "/slack/events", body, headers)
        return status, data


def wait_for(probe: Callable[[], T], timeout: float = 3.0) -> T:
    """The first truthy value of `probe()`, polled until `timeout` (then the test fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing happened within {timeout}s")
        time.sleep(0.02)


def settle(seconds: float = 0.3) -> None:
    """Give background listeners time to do something they must not do."""
    time.sleep(seconds)


def inquiry_export(buyers: list[str], *, days_ago: int = 1, replied: int = 1,
                   tz: str = "Asia/Shanghai", first_id: int = 1000) -> bytes:
    """An inquiry list (客户名, 国家/地区, …) with one inquiry per buyer, sent `days_ago`
    local days ago at 10:00; the first `replied` were answered an hour later."""
    day = datetime.now(ZoneInfo(tz)).date() - timedelta(days=days_ago)
    rows: list[list[object]] = [["询盘ID", "客户名", "国家/地区", "询盘产品ID", "询盘产品标题",
                                 "创建时间", "最新回复时间", "业务员"]]
    for i, buyer in enumerate(buyers):
        created = datetime(day.year, day.month, day.day, 10, i % 50)
        reply = created + timedelta(hours=1) if i < replied else None
        rows.append([f"INQ{first_id + i}", buyer, "US" if i % 2 else "DE", f"P{i % 3}",
                     "LED strip", created.strftime("%Y/%m/%d %H:%M:%S"),
                     reply.strftime("%Y/%m/%d %H:%M:%S") if reply else "", "Lily"])
    return csv_text(rows).encode("utf-8")


def file_share_event(files: list[dict[str, Any]], *, channel: str = CHANNEL, ts: str =
                     "1700000100.000100", text: str = "", channel_type: str = "channel",
                     event_id: str = "EvUP1", user: str = "U0UPLOADER") -> str:
    event = {"type": "message", "subtype": "file_share", "channel": channel,
             "channel_type": channel_type, "user": user, "text": text, "ts": ts,
             "files": files, "upload": True, "event_ts": ts}
    return event_body(event, event_id)


def file_shared_event(file_id: str, *, channel: str = CHANNEL, event_id: str = "EvFS1") -> str:
    event = {"type": "file_shared", "channel_id": channel, "file_id": file_id,
             "user_id": "U0UPLOADER", "file": {"id": file_id}, "event_ts": "1700000100.000200"}
    return event_body(event, event_id)


def slack_drops(engine: Engine) -> list[Any]:
    with read(engine) as conn:
        return list(conn.execute(select(drops).order_by(drops.c.id)))


def posted(api: MockSlackAPI) -> list[dict[str, Any]]:
    """Every chat.postMessage the mock accepted, as messages (`text`, `blocks`, …)."""
    return [{**c.params, "blocks": c.params.get("blocks") or []}
            for c in api.calls_to("chat.postMessage") if c.status == 200]


def decoded(data: bytes) -> dict[str, Any]:
    return json.loads(data) if data else {}
