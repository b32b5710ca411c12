"""A local fake of Slack's Socket Mode WebSocket endpoint for tests.

Why: Socket Mode handlers must be exercised end to end (connect, receive an envelope, ack
within 3 s, optionally with a response payload) without Slack. This server speaks the same
protocol: ``hello`` on connect, envelopes out, acks (``{"envelope_id": ..., "payload": ...}``) in.

How a client finds it - exactly like production, via ``apps.connections.open``::

    from tests.slack_mock import MockSlackAPI
    from tests.slack_signing import event_payload
    from tests.socket_mock import MockSocketModeServer, close_socket_client

    with MockSlackAPI() as api, MockSocketModeServer() as sock:
        api.register_socket_server(sock)          # apps.connections.open -> sock.url?ticket=..
        web = WebClient(token=api.bot_token, base_url=api.base_url)

        # slack_sdk's builtin client (slack_sdk.socket_mode.builtin.SocketModeClient):
        client = SocketModeClient(app_token=api.app_token, web_client=web,
                                  auto_reconnect_enabled=False)
        client.connect()          # POST apps.connections.open with the xapp token, then ws://

        # or bolt (slack_bolt.adapter.socket_mode.SocketModeHandler); it uses ``app.client``
        # unless ``web_client=`` is given, so a mock-pointed App client is enough:
        app = App(client=web)     # App() calls auth.test on the mock at construction
        handler = SocketModeHandler(app, app_token=api.app_token)
        handler.connect()         # non-blocking; handler.start() would block forever

        env_id = sock.send_envelope("events_api", event_payload({...}))
        ack = sock.wait_for_ack(env_id)
        ...
        close_socket_client(client)   # or close_socket_client(handler.client), before the mocks

Notes:

* The URL is ``ws://127.0.0.1:PORT/link/``; the builtin client only uses plain TCP (no TLS)
  because the port is not 443, which is exactly how slack-sdk tests itself.
* Unset ``HTTPS_PROXY``/``HTTP_PROXY`` in tests that connect: the builtin client picks proxies
  up from the environment.
* The server pings every ``ping_interval`` seconds (0.2 by default). Besides keeping the
  connection honest, that wakes the builtin client's blocking ``recv`` so its ``close()`` is
  quick. Use :func:`close_socket_client` to close a builtin client in well under a second.
* ``send_envelope`` goes to the most recent live connection (Slack picks one connection too).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

JsonDict = dict[str, Any]

# Slack sets accepts_response_payload for requests whose ack may carry a response body.
_RESPONSE_PAYLOAD_INTERACTIVE = {"view_submission", "block_suggestion"}


class MockSocketModeServer:
    """WebSocket server with its own event loop thread; records what clients send back."""

    def __init__(self, app_id: str = "A1", ping_interval: float | None = 0.2) -> None:
        self.app_id = app_id
        self.ping_interval = ping_interval
        self.received: list[JsonDict] = []  # every text message from clients, JSON-decoded
        self.sent: list[JsonDict] = []  # every message this server sent
        self.connection_paths: list[str] = []  # request path incl. ?ticket=... per connection
        self._clients: list[ServerConnection] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> MockSocketModeServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(5) or not self._port:
            raise RuntimeError("MockSocketModeServer did not start")
        return self

    def stop(self) -> None:
        """Close all connections (code 1001) and the server, then join the loop thread."""
        if self._thread is None or self._loop is None or self._stop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)
        self._thread = self._loop = self._server = self._stop = None

    def __enter__(self) -> MockSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``MockSlackAPI.register_socket_server`` (it appends ``?ticket=``)."""
        if not self._port:
            raise RuntimeError("MockSocketModeServer is not started")
        return f"ws://127.0.0.1:{self._port}/link/"

    # ------------------------------------------------------------------ test controls
    @property
    def connection_count(self) -> int:
        """Connections currently open."""
        with self._cond:
            return len(self._clients)

    def wait_for_connection(self, timeout: float = 2.0, count: int = 1) -> None:
        """Block until at least ``count`` clients are connected (hello already sent)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._clients) >= count, timeout):
                raise AssertionError(f"no Socket Mode client connected within {timeout}s")

    def send_envelope(
        self,
        type: str,
        payload: JsonDict,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send an ``events_api`` / ``slash_commands`` / ``interactive`` envelope; returns its id.

        ``accepts_response_payload`` defaults to what Slack sends: true for slash commands,
        view submissions and block suggestions, false otherwise.
        """
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIVE
            )
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        self.send_raw(envelope)
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        self.send_raw(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "mock-socket-mode"}}
        )

    def send_raw(self, message: JsonDict, timeout: float = 2.0) -> None:
        """Send any JSON message to the most recent connection (waits for one to exist)."""
        self.wait_for_connection(timeout)
        with self._cond:
            ws = self._clients[-1]
        if self._loop is None:
            raise RuntimeError("MockSocketModeServer is not started")
        text = json.dumps(message)
        asyncio.run_coroutine_threadsafe(ws.send(text), self._loop).result(timeout)
        with self._cond:
            self.sent.append(message)

    @property
    def acks(self) -> list[JsonDict]:
        """Client messages that acknowledge an envelope."""
        with self._cond:
            return [m for m in self.received if "envelope_id" in m]

    def wait_for_ack(self, envelope_id: str, timeout: float = 2.0) -> JsonDict:
        """Return the ack for ``envelope_id``; fail the test if none arrives in time.

        Slack retries events not acked within 3 s, so keep ``timeout`` below that to mirror
        the real deadline.
        """

        def find() -> JsonDict | None:
            return next((m for m in self.received if m.get("envelope_id") == envelope_id), None)

        with self._cond:
            if not self._cond.wait_for(lambda: find() is not None, timeout):
                raise AssertionError(
                    f"no ack for envelope {envelope_id} within {timeout}s; got {self.received!r}"
                )
            ack = find()
        assert ack is not None
        return ack

    # ------------------------------------------------------------------ internals
    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            loop.close()
            ready.set()  # unblock start() if startup failed

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        async with serve(
            self._handle,
            "127.0.0.1",
            0,
            ping_interval=self.ping_interval,
            ping_timeout=5,
            close_timeout=1,
            compression=None,  # the builtin client does not speak permessage-deflate
        ) as server:
            self._server = server
            self._port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop.wait()
            server.close()  # closes open connections with 1001 (going away)
            await server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "mock-socket-mode", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send(json.dumps(hello))
        with self._cond:
            self.sent.append(hello)
            self.connection_paths.append(ws.request.path if ws.request else "")
            self._clients.append(ws)
            self._cond.notify_all()
        try:
            async for raw in ws:
                text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                try:
                    message = json.loads(text)
                except ValueError:
                    message = {"_raw": text}
                with self._cond:
                    self.received.append(message if isinstance(message, dict) else {"_raw": text})
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._clients.remove(ws)
                self._cond.notify_all()


def close_socket_client(client: Any) -> None:
    """Close a builtin ``SocketModeClient`` (e.g. ``handler.client``) quickly.

    ``SocketModeClient.close()`` waits for its message thread's 1 s ``queue.get`` to time out;
    marking it closed and waking it first avoids that per-test second.
    """
    client.auto_reconnect_enabled = False
    client.closed = True
    client.message_queue.put(None)  # processed as "nothing" and wakes the worker loop
    client.close()
