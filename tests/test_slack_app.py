"""The app factory, its settings, delivery receipts, the drop-result messages and the
manifest: what a person installing or running opsbot relies on."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy import Engine

import handlers.wsgi
from bot import receipts
from bot.config import MissingSetting, Settings
from bot.periods import utcnow
from cli.main import main
from handlers.app import create_app, make_client
from handlers.commands import COMMANDS
from handlers.uploads import not_a_report, safe_file_name, store_named_in, thread_of
from templates import render
from tests.slack_limits import assert_data_escaped, assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import MockSlackAPI

ROOT = Path(__file__).resolve().parent.parent



# ---------------------------------------------------------------------------- settings
@pytest.mark.parametrize(("missing", "argv"), [
    ("SLACK_SIGNING_SECRET", ["serve"]),
    ("SLACK_BOT_TOKEN", ["serve"]),
    ("SLACK_APP_TOKEN", ["serve", "--socket-mode"]),
])
def test_serve_names_the_missing_setting_in_one_line(
    missing: str, argv: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(missing)
    code = main(["--database", f"sqlite:///{tmp_path / 'x.db'}", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"opsbot: {missing} is not set: ")


def test_http_app_needs_the_signing_secret(settings: Settings, engine: Engine) -> None:
    no_secret = Settings(**{**settings.__dict__, "slack_signing_secret": None})
    with pytest.raises(MissingSetting) as exc:
        create_app(no_secret, engine, client=make_client(no_secret))
    assert exc.value.name == "SLACK_SIGNING_SECRET"


def test_client_uses_the_configured_api_url_and_retries(settings: Settings) -> None:
    client = make_client(settings)
    assert client.base_url == settings.slack_api_url
    kinds = {type(h) for h in client.retry_handlers}
    assert {RateLimitErrorRetryHandler, ServerErrorRetryHandler,
            ConnectionErrorRetryHandler} <= kinds


def test_server_errors_are_retried(api: MockSlackAPI, settings: Settings) -> None:
    api.fail_next("chat.postMessage", status=503)
    make_client(settings).chat_postMessage(channel="C1", text="hi")
    assert [c.status for c in api.calls_to("chat.postMessage")] == [503, 200]


def test_production_app_checks_the_token_at_start_up(
    api: MockSlackAPI, settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_app(settings, engine)
    assert len(api.calls_to("auth.test")) == 1
    api.valid_tokens.discard(api.bot_token)
    with pytest.raises(Exception, match="invalid_auth"):
        create_app(settings, engine)


def test_gunicorn_entry_point_builds_from_the_environment(
    api: MockSlackAPI, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    for key, value in {**api.env(), "OPSBOT_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(handlers.wsgi, "_built", None)
    application = handlers.wsgi.application
    assert callable(application) and handlers.wsgi.application is application
    seen: list[str] = []
    body = b"".join(application({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"},
                                lambda status, headers: seen.append(status)))
    assert seen == ["200 OK"] and b'"database": "ok"' in body
    monkeypatch.setattr(handlers.wsgi, "_built", None)


# ---------------------------------------------------------------------------- receipts
def test_first_claim_wins_and_release_allows_another(engine: Engine) -> None:
    assert receipts.claim(engine, receipts.EVENT, "Ev1")
    assert not receipts.claim(engine, receipts.EVENT, "Ev1")
    assert receipts.claim(engine, receipts.FILE, "Ev1")  # kinds do not collide
    receipts.release(engine, receipts.EVENT, "Ev1")
    assert receipts.claim(engine, receipts.EVENT, "Ev1")


def test_prune_forgets_only_old_receipts(engine: Engine) -> None:
    now = utcnow()
    receipts.claim(engine, receipts.EVENT, "old", now=now - timedelta(days=40))
    receipts.claim(engine, receipts.EVENT, "new", now=now)
    assert receipts.prune(engine, now=now) == 1
    assert receipts.claim(engine, receipts.EVENT, "old")
    assert not receipts.claim(engine, receipts.EVENT, "new")


# ---------------------------------------------------------------------------- uploads helpers
def test_store_is_read_from_dm_text() -> None:
    assert store_named_in("store: acme") == "acme"
    assert store_named_in("here you go, Store=globex-2 thanks") == "globex-2"
    assert store_named_in("yesterday's export") is None


def test_reports_and_non_reports_are_told_apart() -> None:
    assert not_a_report({"name": "shot.png", "mimetype": "image/png", "filetype": "png",
                         "pretty_type": "PNG"}) == "PNG"
    assert not_a_report({"name": "deck.pdf", "mimetype": "application/pdf",
                         "filetype": "pdf"}) == "pdf"
    assert not_a_report({"name": "Products-2026-11-03.xls", "filetype": "xls",
                         "mimetype": "application/vnd.ms-excel"}) is None
    # a CSV mislabelled as text/plain or binary is still worth trying
    assert not_a_report({"name": "export.csv", "mimetype": "application/octet-stream"}) is None


def test_thread_and_file_name_helpers() -> None:
    shares = {"shares": {"private": {"G1": [{"ts": "1.2", "thread_ts": "0.9"}]},
                         "public": {"C1": [{"ts": "3.4"}]}}}
    assert thread_of(shares, "C1") == "3.4" and thread_of(shares, "G1") == "0.9"
    assert thread_of(shares, "C9") is None
    assert safe_file_name("../../etc/passwd", "F1") == "passwd"
    assert safe_file_name("..", "F1") == "F1"


@pytest.mark.parametrize("status", ["ingested", "duplicate", "rejected", "not_a_report",
                                    "too_big", "no_store", "download_failed"])
def test_every_drop_answer_is_within_limits_and_escaped(status: str) -> None:
    evil = "<!channel> & <@U1> report.csv"
    message = render(
        "drop_result.json.j2", status=status, file=evil, store="<!here>",
        kind_title="Inquiry list", period={"start": "2026-11-01", "end": "2026-11-07"},
        rows=10**6, inserted=5, updated=1, unchanged=0, quarantined=2000,
        errors=[f"row {i}: buyer <!everyone> is {'x' * 500}" for i in range(2000)],
        reason="<@U2>", size_mb=72.5, limit_mb=50.0,
    )
    assert_within_slack_limits(message)
    assert_no_mentions(message)
    assert_data_escaped(message, evil)
    assert "&lt;!channel&gt;" in message["text"]
    if status in ("ingested", "rejected"):
        assert "…and 1995 more" in str(message["blocks"])


# ---------------------------------------------------------------------------- manifest
def test_manifest_declares_what_the_app_uses() -> None:
    manifest = (ROOT / "slack-app-manifest.yml").read_text()
    for command in ("/inquiries", "/customers", "/opsbot"):
        assert re.search(rf"command: {command}\b", manifest)
    for event in ("file_shared", "message.channels", "message.groups", "message.im"):
        assert re.search(rf"- {re.escape(event)}\n", manifest)
    for scope in ("commands", "chat:write", "files:read", "files:write", "channels:history",
                  "groups:history", "im:history"):
        assert re.search(rf"^\s*- {re.escape(scope)}\s*(#.*)?$", manifest, re.M), scope
    # one per command, events, actions
    assert manifest.count("url: https://YOUR-HOST/slack/events") == len(COMMANDS) + 2
    assert "is_enabled: true" in manifest and "socket_mode_enabled: false" in manifest
