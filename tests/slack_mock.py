"""A local, in-process fake of the Slack Web API for tests.

Why: the bot must be tested without Slack, the same way slack-sdk and bolt-python test
themselves - by pointing a real ``WebClient`` at a local HTTP server. Everything goes through
the real client code (URL building, JSON/form encoding, retry handlers, error raising).

Usage::

    from tests.slack_mock import MockSlackAPI

    with MockSlackAPI() as api:
        client = WebClient(token=api.bot_token, base_url=api.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert api.calls_to("chat.postMessage")[0].params["text"] == "hi"

    # or for code that reads its settings from the environment:
    for key, value in api.env().items():
        monkeypatch.setenv(key, value)   # OPSBOT_SLACK_API_URL, SLACK_BOT_TOKEN, ...

Behaviour worth knowing:

* Every request is recorded as a :class:`Call` (``api.calls``); ``params`` merges the query
  string, a form body and a JSON body (slack-sdk sends JSON for ``chat.*`` and form data or a
  query string for most other methods). Form values stay strings, so ``blocks`` sent by a form
  method is a JSON string; :func:`json_field` decodes it.
* Every API method checks the token (``Authorization: Bearer`` or a ``token`` param) against
  ``api.valid_tokens``; a bad or missing token gets HTTP 200 ``{"ok": false, "error":
  "invalid_auth"}``, like Slack. ``apps.connections.open`` needs an app-level ``xapp-`` token
  (``not_allowed_token_type`` otherwise).
* Fault injection, consumed in FIFO order per method: ``fail_next`` (429 + ``Retry-After``,
  5xx, or ``ok: false`` with ``error=...``), ``error_next`` (``ok: false`` sugar) and
  ``delay_next`` (sleep before answering, to trigger client timeouts; ``stop()`` cuts it short).
* ``respond_with(method, dict_or_callable)`` adds or overrides any method's answer.
* Files: ``add_file`` registers a file; ``files.info`` returns it and its ``url_private`` /
  ``url_private_download`` point here. A GET there returns the bytes only with
  ``Authorization: Bearer <valid non-xapp token>``. Otherwise it answers **302 to a sign-in
  page** (``/signin``, HTML, 200) - what Slack does - so a client that follows redirects gets
  HTML instead of the file, which is the failure the bot must detect. Unknown files: 404.
  ``files_upload_v2`` works too (getUploadURLExternal -> POST bytes -> completeUploadExternal),
  and uploaded files become downloadable. The upload URL is served here (``UPLOAD`` calls, with
  ``fail_next`` / ``delay_next`` on ``UPLOAD`` like any method) and takes exactly the
  ``length`` asked for; until completed the file is unknown to ``files.info``. Completing
  shares the file into ``channel_id`` (a file message in ``api.messages``, in ``thread_ts``'s
  thread when given, with ``initial_comment`` as its text); completing a file again shares it
  again - the duplicate a sender must never cause (``file_shares``).
* ``response_url(key)`` gives a URL (for slash commands / block actions) whose POSTs are
  recorded as ``Call(method="response_url")``.
* ``users.info`` answers ``add_user`` registrations (``is_admin``/``is_owner`` False by default);
  ``conversations.members`` answers ``set_members`` (paged by ``limit``/``cursor``), and
  ``channel_not_found`` for a channel never registered.
* Several workspaces (OAuth mode): ``add_team(team_id)`` registers another workspace with its
  own bot token (``auth.test`` answers each token with its team); ``oauth_code(team_id)``
  issues a one-time code that ``oauth.v2.access`` exchanges, with the app's ``client_id`` and
  ``client_secret`` (HTTP Basic, as slack-sdk sends them, or params), for that team's bot
  token (``invalid_code`` for an unknown or used code, ``invalid_client_id`` /
  ``bad_client_secret`` otherwise). ``revoke(token)`` makes a token ``invalid_auth``.
  ``oauth_env()`` is ``env()`` for OAuth mode (client id and secret, no bot token).
* ``register_socket_server(server)`` makes ``apps.connections.open`` return that server's URL
  (see ``socket_mock.py``).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

JsonDict = dict[str, Any]
Responder = JsonDict | Callable[["Call"], JsonDict]

DOWNLOAD = "files-pri"
UPLOAD = "upload"
RESPONSE_URL = "response_url"


@dataclass
class Call:
    """One request the mock received."""

    method: str  # API method ("chat.postMessage") or DOWNLOAD / UPLOAD / RESPONSE_URL
    path: str
    headers: dict[str, str]
    params: JsonDict
    http_method: str = "POST"
    body: bytes = b""
    status: int = 200

    @property
    def token(self) -> str | None:
        """The bearer token (or ``token`` param) the caller sent."""
        auth = next((v for k, v in self.headers.items() if k.lower() == "authorization"), "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip()
        token = self.params.get("token")
        return str(token) if token else None


def response_key(call: Call) -> str:
    """The key a ``response_url(key)`` POST was sent to."""
    parts = call.path.split("/")  # /hooks/commands/TEAM/KEY/secret
    return parts[4] if len(parts) > 4 else ""


@dataclass
class _Fault:
    status: int | None  # None: answer normally (after the delay)
    retry_after: int | None = None
    error: str | None = None
    delay: float = 0.0
    times: int = 1


def json_field(value: Any) -> Any:
    """Decode a JSON-encoded form value (``blocks``, ``attachments``, ``files``); else as is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class _File:
    obj: JsonDict
    content: bytes = b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: MockSlackAPI


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.api._dispatch(self)

    def do_POST(self) -> None:
        self.server.api._dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@dataclass
class _Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(
        cls, data: JsonDict, status: int = 200, headers: dict[str, str] | None = None
    ) -> _Reply:
        return cls(status, json.dumps(data).encode(), headers=headers or {})


class MockSlackAPI:
    """Threaded local HTTP server answering like ``https://slack.com/api/``."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T1",
        signing_secret: str = "test-signing-secret",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.signing_secret = signing_secret  # only handed out via env(); the mock never signs
        self.team_domain = "opsbot-test"
        self.bot_user_id = "U0BOT"
        self.bot_id = "B0BOT"
        self.app_id = "A1"
        self.valid_tokens: set[str] = {bot_token, app_token}
        self.client_id = "1111.2222"
        self.client_secret = "test-client-secret"
        self.scopes = "commands,chat:write"
        # bot token -> its workspace (auth.test, oauth.v2.access); the default team is T1
        self.teams: dict[str, JsonDict] = {bot_token: {"team_id": team_id, "enterprise_id": None,
                                                        "name": "Opsbot Test",
                                                        "bot_user_id": "U0BOT", "bot_id": "B0BOT"}}
        self._codes: dict[str, str] = {}  # one-time OAuth code -> the bot token it grants
        self.calls: list[Call] = []
        self.messages: dict[str, JsonDict] = {}  # ts -> latest message (post + updates)
        self.files: dict[str, _File] = {}
        self.users: dict[str, JsonDict] = {}
        self.channels: dict[str, JsonDict] = {}
        self.members: dict[str, list[str]] = {}  # channel -> user IDs (conversations.members)
        self.socket_url: str | None = None
        self._responders: dict[str, Responder] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._uploads: dict[str, JsonDict] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._builtins = self._builtin_methods()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> MockSlackAPI:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down; pending ``delay_next`` sleeps are cut short so this never hangs."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> MockSlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("MockSlackAPI is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """For ``WebClient(base_url=...)`` and ``OPSBOT_SLACK_API_URL`` (ends with ``/``)."""
        return f"{self.root_url}/api/"

    def env(self) -> dict[str, str]:
        """Environment variables that point the bot at this mock."""
        return {
            "OPSBOT_SLACK_API_URL": self.base_url,
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
        }

    def oauth_env(self) -> dict[str, str]:
        """Environment variables for OAuth mode against this mock (no SLACK_BOT_TOKEN)."""
        env = {k: v for k, v in self.env().items() if k != "SLACK_BOT_TOKEN"}
        return {**env, "SLACK_CLIENT_ID": self.client_id,
                "SLACK_CLIENT_SECRET": self.client_secret}

    # ------------------------------------------------------------------ test controls
    def add_team(self, team_id: str, *, enterprise_id: str | None = None,
                 name: str | None = None) -> str:
        """Register workspace `team_id` with a bot token of its own; returns the token."""
        token = f"xoxb-{team_id.lower()}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.teams[token] = {"team_id": team_id, "enterprise_id": enterprise_id,
                                 "name": name or f"Team {team_id}",
                                 "bot_user_id": f"U0BOT{team_id}", "bot_id": f"B0BOT{team_id}"}
            self.valid_tokens.add(token)
        return token

    def token_of(self, team_id: str) -> str:
        """The (latest) bot token registered for `team_id`."""
        with self._lock:
            return [t for t, team in self.teams.items() if team["team_id"] == team_id][-1]

    def oauth_code(self, team_id: str, *, enterprise_id: str | None = None) -> str:
        """A one-time code for oauth.v2.access that installs the app into `team_id` (a team
        not registered yet gets a new bot token)."""
        with self._lock:
            known = [t for t, team in self.teams.items() if team["team_id"] == team_id]
        token = known[-1] if known else self.add_team(team_id, enterprise_id=enterprise_id)
        code = f"code-{uuid.uuid4().hex}"
        with self._lock:
            self._codes[code] = token
        return code

    def revoke(self, token: str) -> None:
        """The token stops working (Slack's answer after an uninstall: invalid_auth)."""
        with self._lock:
            self.valid_tokens.discard(token)

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one API method (or DOWNLOAD / UPLOAD / RESPONSE_URL)."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def responses(self, key: str | None = None) -> list[Call]:
        """POSTs to ``response_url(key)`` (to any response_url when key is None)."""
        return [c for c in self.calls_to(RESPONSE_URL)
                if key is None or response_key(c) == key]

    @property
    def downloads(self) -> list[Call]:
        """Every GET of a ``url_private*`` URL, authorised or not (see ``Call.status``)."""
        return self.calls_to(DOWNLOAD)

    def reset(self) -> None:
        """Forget calls, messages, pending faults and custom responders (keeps files/users)."""
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self._faults.clear()
            self._responders.clear()

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        *,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        429 -> ``Retry-After: retry_after`` and ``{"ok": false, "error": "ratelimited"}``;
        5xx -> ``{"ok": false, "error": "internal_error"}``; 200 with ``error`` -> ``ok: false``.
        """
        default = "ratelimited" if status == 429 else "internal_error"
        fault = _Fault(status, retry_after if status == 429 else None, error or default)
        self._add_fault(method, fault, times)

    def error_next(self, method: str, error: str, *, times: int = 1) -> None:
        """Next ``times`` calls of ``method`` answer 200 ``{"ok": false, "error": error}``."""
        self._add_fault(method, _Fault(200, error=error), times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` calls (simulates a timeout)."""
        self._add_fault(method, _Fault(None, delay=seconds), times)

    def respond_with(self, method: str, response: Responder) -> None:
        """Answer ``method`` with ``{"ok": true, **response}`` or ``response(call)``."""
        self._responders[method] = response

    def register_socket_server(self, server: Any) -> None:
        """``apps.connections.open`` will return ``server.url`` (or ``server`` if a str)."""
        self.socket_url = server if isinstance(server, str) else server.url

    def response_url(self, key: str = "1") -> str:
        """A ``response_url`` served by this mock; POSTs are recorded as RESPONSE_URL calls."""
        return f"{self.root_url}/hooks/commands/{self.team_id}/{quote(key)}/secret"

    def add_user(self, user_id: str, **fields: Any) -> JsonDict:
        """Register a ``users.info`` answer; unregistered ids get a plausible default."""
        user = {**self._default_user(user_id), **fields}
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, **fields: Any) -> JsonDict:
        """Register a ``conversations.info`` answer; unregistered ids get a public channel."""
        channel = {**self._default_channel(channel_id), **fields}
        self.channels[channel_id] = channel
        return channel

    def set_members(self, channel_id: str, members: list[str]) -> None:
        """Register a ``conversations.members`` answer: the channel's user IDs."""
        self.members[channel_id] = list(members)

    def add_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        filetype: str = "binary",
        mimetype: str = "application/octet-stream",
        size: int | None = None,
        **fields: Any,
    ) -> JsonDict:
        """Register a file; returns the Slack file object (as ``files.info`` and events carry).

        ``size`` may differ from ``len(content)`` to test size checks without big payloads.
        """
        base = f"{self.root_url}/files-pri/{self.team_id}-{file_id}"
        quoted = quote(name)
        obj: JsonDict = {
            "id": file_id,
            "created": 1700000000,
            "timestamp": 1700000000,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": "U0UPLOADER",
            "user_team": self.team_id,
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "size": len(content) if size is None else size,
            "url_private": f"{base}/{quoted}",
            "url_private_download": f"{base}/download/{quoted}",
            "permalink": f"https://{self.team_domain}.slack.com/files/U0UPLOADER/{file_id}/{quoted}",
            **fields,
        }
        with self._lock:
            self.files[file_id] = _File(obj, content)
        return obj

    # ------------------------------------------------------------------ internals
    def _add_fault(self, method: str, fault: _Fault, times: int) -> None:
        fault.times = times
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def _next_ts(self) -> str:
        with self._lock:
            self._counter += 1
            micros = self._counter * 100
        return f"{1700000000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dispatch(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = dict(handler.headers.items())
        path = unquote(split.path)
        kind, method = self._route(path)
        call = Call(method, path, headers, {}, handler.command, body)
        try:
            call.params = self._params(kind, split.query, handler.headers.get_content_type(), body)
            reply = self._answer(kind, call)
        except Exception as exc:  # a bug in a responder must show up, not hang the client
            reply = _Reply.of_json({"ok": False, "error": f"mock_error: {exc!r}"}, 500)
        call.status = reply.status
        with self._lock:
            self.calls.append(call)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (timeout test); nothing to tell it

    @staticmethod
    def _params(kind: str, query: str, content_type: str, body: bytes) -> JsonDict:
        """Query string + form body + JSON body, merged (raw upload bytes are not params)."""
        params: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
        if not body or kind not in ("api", "hook"):
            return params
        if content_type == "application/json":
            data = json.loads(body)
            params.update(data if isinstance(data, dict) else {"_json": data})
        elif content_type == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        return params

    @staticmethod
    def _route(path: str) -> tuple[str, str]:
        if path.startswith("/api/"):
            return "api", path[len("/api/") :]
        if path.startswith("/files-pri/"):
            return "download", DOWNLOAD
        if path.startswith("/upload/v1/"):
            return "upload", UPLOAD
        if path.startswith("/hooks/"):
            return "hook", RESPONSE_URL
        if path == "/signin":
            return "signin", "signin"
        return "unknown", path

    def _answer(self, kind: str, call: Call) -> _Reply:
        if kind == "api":
            return self._answer_api(call)
        if kind == "download":
            return self._download(call)
        if kind == "upload":
            fault = self._take_fault(UPLOAD)
            if fault is not None:
                if fault.delay:
                    self._stopping.wait(fault.delay)
                if fault.status is not None:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                    return _Reply(fault.status, (fault.error or "").encode(), "text/plain",
                                  headers)
            return self._upload(call)
        if kind == "hook":
            return _Reply(200, b"ok", "text/plain; charset=utf-8")
        if kind == "signin":
            page = b"<!DOCTYPE html><html><body><h1>Sign in to Slack</h1></body></html>"
            return _Reply(200, page, "text/html; charset=utf-8")
        return _Reply(404, b"not found", "text/plain")

    def _answer_api(self, call: Call) -> _Reply:
        fault = self._take_fault(call.method)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return _Reply.of_json({"ok": False, "error": fault.error}, fault.status, headers)
        if call.method == "oauth.v2.access":  # client credentials, not a token
            return _Reply.of_json(self._oauth_access(call))
        if call.token not in self.valid_tokens:
            return _Reply.of_json({"ok": False, "error": "invalid_auth"})
        responder = self._responders.get(call.method)
        if callable(responder):
            return _Reply.of_json(responder(call))
        if responder is not None:
            return _Reply.of_json({"ok": True, **responder})
        builtin = self._builtins.get(call.method)
        return _Reply.of_json(builtin(call) if builtin else {"ok": True})

    def _builtin_methods(self) -> dict[str, Callable[[Call], JsonDict]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "conversations.info": self._conversation_info,
            "conversations.history": self._history,
            "conversations.members": self._members,
            "conversations.replies": self._replies,
            "users.info": self._user_info,
            "files.info": self._file_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def _auth_test(self, call: Call) -> JsonDict:
        team = self.teams.get(call.token or "")
        if team is None:  # the app-level token, or a token a test made valid by hand
            team = {"team_id": self.team_id, "enterprise_id": None, "name": "Opsbot Test",
                    "bot_user_id": self.bot_user_id, "bot_id": self.bot_id}
        answer: JsonDict = {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": team["name"],
            "user": "opsbot",
            "team_id": team["team_id"],
            "user_id": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "is_enterprise_install": False,
        }
        if team["enterprise_id"]:
            answer["enterprise_id"] = team["enterprise_id"]
        return answer

    def _oauth_access(self, call: Call) -> JsonDict:
        client_id, secret = call.params.get("client_id"), call.params.get("client_secret")
        auth = next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        with self._lock:
            token = self._codes.pop(str(call.params.get("code")), None)
        if token is None:
            return {"ok": False, "error": "invalid_code"}
        team = self.teams[token]
        enterprise = ({"id": team["enterprise_id"], "name": f"Org {team['enterprise_id']}"}
                      if team["enterprise_id"] else None)
        return {"ok": True, "app_id": self.app_id, "access_token": token, "token_type": "bot",
                "scope": self.scopes, "bot_user_id": team["bot_user_id"],
                "authed_user": {"id": "U0INSTALLER"}, "enterprise": enterprise,
                "team": {"id": team["team_id"], "name": team["name"]},
                "is_enterprise_install": False}

    def _connections_open(self, call: Call) -> JsonDict:
        if not (call.token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.socket_url is None:
            return {"ok": False, "error": "mock_no_socket_server_registered"}
        ticket = uuid.uuid4().hex
        return {"ok": True, "url": f"{self.socket_url}?ticket={ticket}&app_id={self.app_id}"}

    def _message(self, call: Call, ts: str) -> JsonDict:
        p = call.params
        message: JsonDict = {
            "type": "message",
            "subtype": "bot_message",
            "text": p.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if p.get(key):
                message[key] = json_field(p[key])
        return message

    def _post_message(self, call: Call) -> JsonDict:
        p = call.params
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            return {"ok": False, "error": "no_text"}
        blocks = json_field(p.get("blocks")) or []
        if len(blocks) > 50:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {
                    "messages": ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
                },
            }
        if len(str(p.get("text") or "")) > 40_000:
            return {"ok": False, "error": "msg_too_long"}
        ts = self._next_ts()
        message = self._message(call, ts)
        with self._lock:
            self.messages[ts] = {**message, "channel": p["channel"]}
        return {"ok": True, "channel": p["channel"], "ts": ts, "message": message}

    def _update(self, call: Call) -> JsonDict:
        p = call.params
        ts = str(p.get("ts", ""))
        with self._lock:
            old = self.messages.get(ts)
        if old is None or old["channel"] != p.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        message = {**old, **self._message(call, ts), "edited": {"user": self.bot_user_id}}
        with self._lock:
            self.messages[ts] = message
        public = {k: v for k, v in message.items() if k != "channel"}
        return {
            "ok": True,
            "channel": p["channel"],
            "ts": ts,
            "text": message["text"],
            "message": public,
        }

    def _visible(self, message: JsonDict, call: Call) -> JsonDict:
        shown = {k: v for k, v in message.items() if k != "channel"}
        if str(call.params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            shown.pop("metadata", None)  # as Slack: metadata only when asked for
        return shown

    def _history(self, call: Call) -> JsonDict:
        """The channel's posted messages, newest first (``oldest``/``limit`` ignored: the
        mock's ts clock is unrelated to a test's frozen time)."""
        with self._lock:
            found = [self._visible(m, call) for m in self.messages.values()
                     if m["channel"] == call.params.get("channel") and "thread_ts" not in m]
        return {"ok": True, "messages": found[::-1], "has_more": False}

    def _replies(self, call: Call) -> JsonDict:
        parent = str(call.params.get("ts"))
        with self._lock:
            found = [self._visible(m, call) for m in self.messages.values()
                     if m["channel"] == call.params.get("channel")
                     and (m["ts"] == parent or m.get("thread_ts") == parent)]
        return {"ok": True, "messages": found, "has_more": False}

    def _post_ephemeral(self, call: Call) -> JsonDict:
        p = call.params
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _permalink(self, call: Call) -> JsonDict:
        channel, ts = call.params.get("channel"), str(call.params.get("message_ts", ""))
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversation_info(self, call: Call) -> JsonDict:
        channel_id = call.params.get("channel")
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channels.get(channel_id) or self._default_channel(channel_id)
        return {"ok": True, "channel": channel}

    def _members(self, call: Call) -> JsonDict:
        channel_id = str(call.params.get("channel") or "")
        if channel_id not in self.members and channel_id not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        members = self.members.get(channel_id, [])
        start = int(call.params.get("cursor") or 0)
        end = start + int(call.params.get("limit") or 100)
        cursor = str(end) if end < len(members) else ""
        return {"ok": True, "members": members[start:end],
                "response_metadata": {"next_cursor": cursor}}

    def _user_info(self, call: Call) -> JsonDict:
        user_id = call.params.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self.users.get(user_id) or self._default_user(user_id)}

    def _file_info(self, call: Call) -> JsonDict:
        stored = self.files.get(str(call.params.get("file")))
        if stored is None:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": stored.obj,
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _upload_url(self, call: Call) -> JsonDict:
        length = str(call.params.get("length") or "")
        if not call.params.get("filename") or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            self._counter += 1
            file_id = f"F0UP{self._counter:05d}"
            self._uploads[file_id] = {
                "filename": call.params["filename"],
                "length": int(length),
                "content": None,
            }
        return {
            "ok": True,
            "upload_url": f"{self.root_url}/upload/v1/{file_id}",
            "file_id": file_id,
        }

    def _upload(self, call: Call) -> _Reply:
        file_id = call.path.rsplit("/", 1)[-1]
        with self._lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                return _Reply(404, b"unknown upload", "text/plain")
            if len(call.body) != pending["length"]:
                return _Reply(400, b"length does not match", "text/plain")
            pending["content"] = call.body
        call.params = {"file_id": file_id, "size": len(call.body)}
        return _Reply(200, f"OK - {len(call.body)}".encode(), "text/plain")

    def _complete_upload(self, call: Call) -> JsonDict:
        done: list[JsonDict] = []
        for item in json_field(call.params.get("files")) or []:
            pending = self._uploads.get(item.get("id", ""))
            if pending is None or pending["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            name = pending["filename"]
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
            known = self.files.get(item["id"])
            obj = known.obj if known is not None else self.add_file(
                item["id"],
                name,
                pending["content"],
                filetype,
                mimetype,
                title=item.get("title") or name,
            )
            channel = call.params.get("channel_id")
            if channel:
                obj["channels"] = [channel]
                self._share(obj, channel, call.params)
            done.append(obj)
        return {"ok": True, "files": done}

    def _share(self, obj: JsonDict, channel: str, params: JsonDict) -> None:
        """A completed upload's file message in the channel (or the thread)."""
        ts = self._next_ts()
        message: JsonDict = {"type": "message", "subtype": "file_share", "ts": ts,
                             "text": params.get("initial_comment") or "", "files": [obj],
                             "user": self.bot_user_id, "bot_id": self.bot_id,
                             "channel": channel}
        share: JsonDict = {"ts": ts}
        if params.get("thread_ts"):
            message["thread_ts"] = share["thread_ts"] = str(params["thread_ts"])
        with self._lock:
            self.messages[ts] = message
            obj.setdefault("shares", {}).setdefault("public", {}).setdefault(
                channel, []).append(share)

    def file_shares(self, file_id: str | None = None) -> list[JsonDict]:
        """File messages posted by completed uploads (of one file, when given), oldest
        first."""
        with self._lock:
            return [m for m in self.messages.values() if m.get("subtype") == "file_share"
                    and (file_id is None or any(f["id"] == file_id for f in m["files"]))]

    def _download(self, call: Call) -> _Reply:
        # /files-pri/{team}-{file_id}/[download/]{name}
        parts = call.path.split("/")
        file_id = parts[2].split("-", 1)[-1] if len(parts) > 3 else ""
        stored = self.files.get(file_id)
        if stored is None:
            return _Reply(404, b"file not found", "text/plain")
        token = call.token if "token" not in call.params else None  # no ?token= downloads
        if token not in self.valid_tokens or token.startswith("xapp-"):
            location = f"{self.root_url}/signin?redir={quote(call.path)}"
            return _Reply(302, b"", "text/html", {"Location": location})
        return _Reply(200, stored.content, stored.obj["mimetype"])

    def _default_user(self, user_id: str) -> JsonDict:
        name = f"user-{user_id.lower()}"
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_bot": False,
            "is_admin": False,
            "is_owner": False,
            "tz": "America/Los_Angeles",  # Slack's default for new members
            "tz_offset": -28800,
            "profile": {
                "real_name": name.title(),
                "display_name": name,
                "email": f"{name}@example.test",
            },
        }

    @staticmethod
    def _default_channel(channel_id: str) -> JsonDict:
        return {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_im": channel_id.startswith("D"),
            "is_private": channel_id.startswith("G"),
            "is_archived": False,
            "is_member": True,
        }
