"""Socket Mode: bolt's handler, stamping each request's arrival (handlers/arrival.py) as it
is taken up, so a slash command's ack deadline counts from there."""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode import SocketModeHandler as _BoltSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_bolt.request import BoltRequest
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from handlers.arrival import HEADER


class SocketModeHandler(_BoltSocketModeHandler):
    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        headers = {**(build_headers(req) or {}), HEADER: repr(time.monotonic())}
        response = self.app.dispatch(BoltRequest(mode="socket_mode", body=req.payload,
                                                 headers=headers))
        send_response(client, req, response, started)
