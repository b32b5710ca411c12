"""Several workspaces (OAuth mode): installed through /slack/install against the mock Web API,
every request authorized by its workspace's installation and answered with its token, the
worker posting to each workspace with that workspace's token, and an uninstall stopping
delivery there while its stores and facts stay."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, MetaData, Table, func, select
from sqlalchemy.engine import Row

from bot import models, outbox
from bot.config import MissingSetting, Settings
from bot.models import facts, slack_bots
from bot.periods import utcnow
from bot.storage import read, write
from bot.stores import Store, add_store, bind_channel, find_store
from bot.workspaces import prune_states
from handlers.manifest import BOT_SCOPES, MANIFEST
from jobs.delivery import Delivery, Pacer, deliver, outbox_client
from jobs.tick import run_due
from jobs.workspaces import state_store
from tests.slack_app_env import Server, decoded, inquiry_export, settle, wait_for
from tests.slack_mock import DOWNLOAD, RESPONSE_URL, MockSlackAPI
from tests.slack_signing import event_body, slash_command_body
from tests.test_inquiries import FIXTURE, add_inquiries

TEAM_A, TEAM_B = "TA", "TB"
CHANNEL_A, CHANNEL_B = "C0AAA", "C0BBB"


@pytest.fixture
def settings(api: MockSlackAPI, database_url: str) -> Settings:
    """OAuth mode for this module: `slack_app` and `server` (tests/slack_app_fixtures.py)
    build the app from these."""
    return Settings.from_env({**api.oauth_env(), "OPSBOT_DATABASE_URL": database_url,
                              "OPSBOT_MAX_UPLOAD_MB": "1"})


def install(server: Server, api: MockSlackAPI, team_id: str) -> str:
    """The install round trip a workspace admin makes; returns the workspace's bot token."""
    status, headers, page = server.request("GET", "/slack/install")
    assert status == 200
    link = html.unescape(re.search(r'<a href="([^"]+)"', page.decode())[1])
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == [api.client_id]
    assert query["scope"][0].split(",") == list(BOT_SCOPES)
    cookie = headers["set-cookie"].split(";")[0]
    assert cookie.split("=", 1)[1] == query["state"][0]  # the state is tied to this browser
    code = api.oauth_code(team_id)
    redirect = "/slack/oauth_redirect?" + urlencode({"code": code, "state": query["state"][0]})
    status, _, _ = server.request("GET", redirect, headers={"Cookie": cookie})
    assert status == 200
    return api.token_of(team_id)


def installed_teams(engine: Engine) -> list[str]:
    with read(engine) as conn:
        return sorted(conn.scalars(select(slack_bots.c.team_id)))


def two_workspaces(engine: Engine, server: Server, api: MockSlackAPI
                   ) -> tuple[Store, Store, str, str]:
    token_a, token_b = install(server, api, TEAM_A), install(server, api, TEAM_B)
    acme, beta = add_store(engine, "acme", "Asia/Shanghai", "en"), \
        add_store(engine, "beta", "Asia/Shanghai", "en")
    bind_channel(engine, acme, CHANNEL_A, team_id=TEAM_A, user_id="U0ANNA")
    bind_channel(engine, beta, CHANNEL_B, team_id=TEAM_B, user_id="U0BEN")
    return acme, beta, token_a, token_b


def queue(engine: Engine, store: Store, channel: str, key: str) -> int:
    with write(engine) as conn:
        return outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="test",
                              dedupe_key=key, payload={"text": key}, now=utcnow())


def send(engine: Engine, settings: Settings) -> Delivery:
    clients = outbox_client(settings, engine)
    assert clients is not None
    return deliver(engine, clients, pacer=Pacer(0, 0))


def row(engine: Engine, outbox_id: int) -> Row:
    with read(engine) as conn:
        return conn.execute(select(models.outbox).where(models.outbox.c.id == outbox_id)).one()


def command(server: Server, api: MockSlackAPI, text: str, team: str, user: str,
            channel: str) -> tuple[int, dict]:
    body = slash_command_body("/opsbot", text, channel_id=channel, user_id=user, team_id=team,
                              response_url=api.response_url(f"cmd-{team}"))
    status, data = server.post(body)
    return status, decoded(data) if data.startswith(b"{") else {"raw": data.decode()}


# ---------------------------------------------------------------------------- set-up


def test_the_tables_are_slack_sdks_own(engine: Engine) -> None:
    """opsbot's migration creates the tables slack_sdk's stores read and write."""
    theirs = MetaData()
    for build, name in ((SQLAlchemyInstallationStore.build_installations_table,
                         "slack_installations"),
                        (SQLAlchemyInstallationStore.build_bots_table, "slack_bots"),
                        (SQLAlchemyOAuthStateStore.build_oauth_states_table,
                         "slack_oauth_states")):
        expected: Table = build(theirs, name)
        ours = models.metadata.tables[name]
        assert [(c.name, str(c.type), c.nullable) for c in ours.columns] == \
            [(c.name, str(c.type), c.nullable) for c in expected.columns]
    with read(engine) as conn:  # and the migration made them
        assert conn.scalar(select(func.count()).select_from(slack_bots)) == 0


def test_the_manifest_asks_for_the_scopes_install_asks_for() -> None:
    manifest = yaml.safe_load(Path(MANIFEST).read_text())
    assert manifest["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://YOUR-HOST/slack/oauth_redirect"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(
        manifest["settings"]["event_subscriptions"]["bot_events"])


def test_oauth_mode_needs_both_the_client_id_and_secret() -> None:
    assert not Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}).oauth  # the default
    assert Settings.from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"}).oauth
    with pytest.raises(MissingSetting) as half:
        _ = Settings.from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_BOT_TOKEN": "xoxb-1"}).oauth
    assert half.value.name == "SLACK_CLIENT_SECRET"


def test_single_token_mode_serves_no_install_page(
        api: MockSlackAPI, database_url: str, engine: Engine) -> None:
    from handlers.app import create_app, make_client
    from handlers.wsgi import make_wsgi_app

    single = Settings.from_env({**api.env(), "OPSBOT_DATABASE_URL": database_url})
    app = create_app(single, engine, client=make_client(single))
    assert app.oauth_flow is None
    seen: list[str] = []
    body = make_wsgi_app(app, engine)({"REQUEST_METHOD": "GET", "PATH_INFO": "/slack/install",
                                       "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
                                       "wsgi.input": None},
                                      lambda status, headers: seen.append(status))
    assert seen[0].startswith("404") and b"".join(body) == b"Not Found"


# ---------------------------------------------------------------------------- install


def test_install_round_trip_saves_the_workspace_token(
        api: MockSlackAPI, server: Server, engine: Engine) -> None:
    token = install(server, api, TEAM_A)
    assert installed_teams(engine) == [TEAM_A]
    with read(engine) as conn:
        saved = conn.execute(select(slack_bots)).one()
    assert saved.bot_token == token and saved.client_id == api.client_id
    (exchange,) = api.calls_to("oauth.v2.access")
    assert exchange.params["code"].startswith("code-")
    # bolt asked auth.test with the new token for the bot's id
    assert [c.token for c in api.calls_to("auth.test")] == [token]
    assert saved.bot_id == f"B0BOT{TEAM_A}"


def test_a_redirect_without_its_state_installs_nothing(
        api: MockSlackAPI, server: Server, engine: Engine) -> None:
    _, _, page = server.request("GET", "/slack/install")
    link = html.unescape(re.search(r'<a href="([^"]+)"', page.decode())[1])
    state = parse_qs(urlsplit(link).query)["state"][0]
    code = api.oauth_code(TEAM_A)
    # another browser (no state cookie): refused before the code is exchanged
    status, _, _ = server.request("GET", "/slack/oauth_redirect?" + urlencode(
        {"code": code, "state": state}))
    assert status >= 400
    # a forged state with a matching cookie: not one opsbot issued
    status, _, _ = server.request("GET", "/slack/oauth_redirect?" + urlencode(
        {"code": code, "state": "forged"}), headers={"Cookie": "slack-app-oauth-state=forged"})
    assert status >= 400
    assert api.calls_to("oauth.v2.access") == [] and installed_teams(engine) == []


# ---------------------------------------------------------------------------- requests


def test_a_command_is_answered_with_its_own_workspaces_token(
        api: MockSlackAPI, server: Server, engine: Engine) -> None:
    _acme, _beta, token_a, token_b = two_workspaces(engine, server, api)
    api.add_user("U0BOSS", is_admin=True)  # a workspace admin of A: users.info says so
    status, reply = command(server, api, "config alert_min_drop 0.5", TEAM_A, "U0BOSS",
                            CHANNEL_A)
    assert status == 200 and reply["response_type"] == "in_channel"
    found = find_store(engine, "acme")
    assert found is not None and found.setting("alert_min_drop") == 0.5
    (asked,) = api.calls_to("users.info")
    assert asked.token == token_a != token_b
    # bolt's authorize looked A's installation up and checked its token once
    assert token_a in {c.token for c in api.calls_to("auth.test")}


def test_a_workspace_that_did_not_install_gets_nothing_done(
        api: MockSlackAPI, server: Server, engine: Engine) -> None:
    install(server, api, TEAM_A)
    store = add_store(engine, "gamma", "Asia/Shanghai", "en")
    bind_channel(engine, store, "C0CCC", team_id="TC", user_id="U0CAT")
    api.add_user("U0CAT", is_admin=True)
    command(server, api, "config alert_min_drop 0.5", "TC", "U0CAT", "C0CCC")
    (told,) = wait_for(lambda: api.calls_to(RESPONSE_URL))
    assert told.params["text"].splitlines() == [
        "opsbot is not installed in this workspace (or was removed from it): a workspace "
        "admin can add it again. Nothing was done.",
        "本工作区尚未安装 opsbot（或已将其移除）：工作区管理员可以重新添加。未做任何操作。"]
    found = find_store(engine, "gamma")
    assert found is not None and found.setting("alert_min_drop") != 0.5
    assert api.calls_to("users.info") == []


def test_an_upload_is_downloaded_and_answered_with_its_workspaces_token(
        api: MockSlackAPI, server: Server, engine: Engine) -> None:
    _acme, _beta, token_a, _token_b = two_workspaces(engine, server, api)
    file = api.add_file("F0A", "inquiries.csv", inquiry_export(["Ann", "Bob"]),
                        filetype="csv", mimetype="text/csv")
    event = {"type": "message", "subtype": "file_share", "channel": CHANNEL_A,
             "channel_type": "channel", "user": "U0ANNA", "text": "", "ts": "1700000100.000100",
             "files": [file], "upload": True, "event_ts": "1700000100.000100"}
    status, _ = server.post(event_body(event, "EvUPA", team_id=TEAM_A))
    assert status == 200
    wait_for(lambda: api.calls_to("chat.postMessage"))
    assert {c.token for c in api.calls_to("files.info")} == {token_a}
    assert [(c.token, c.status) for c in api.calls_to(DOWNLOAD)] == [(token_a, 200)]
    assert {c.token for c in api.calls_to("chat.postMessage")} == {token_a}


# ---------------------------------------------------------------------------- the worker


def test_the_worker_posts_to_each_workspace_with_its_token(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings) -> None:
    acme, beta, token_a, token_b = two_workspaces(engine, server, api)
    queue(engine, acme, CHANNEL_A, "to-a")
    post_b = queue(engine, beta, CHANNEL_B, "to-b")
    with write(engine) as conn:  # a chart into B's thread: jobs/uploads.py, B's token too
        outbox.enqueue_file(conn, post_b, purpose="chart", dedupe_key="chart-b",
                            filename="trend.png", title="Trend", content=b"png", now=utcnow())
    result = send(engine, settings)
    assert result.delivered == 3 and result.failed == 0
    sent = {c.params["channel"]: c.token for c in api.calls_to("chat.postMessage")}
    assert sent == {CHANNEL_A: token_a, CHANNEL_B: token_b}
    upload_calls = api.calls_to("files.getUploadURLExternal") + \
        api.calls_to("files.completeUploadExternal")
    assert len(upload_calls) == 2 and {c.token for c in upload_calls} == {token_b}
    (shared,) = api.file_shares()
    assert shared["channel"] == CHANNEL_B


def test_a_store_bound_only_from_the_cli_is_not_posted_to(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings) -> None:
    install(server, api, TEAM_A)
    lone = add_store(engine, "lone", "Asia/Shanghai", "en")
    bind_channel(engine, lone, "C0LONE")  # the CLI: no workspace
    queued = queue(engine, lone, "C0LONE", "to-lone")
    assert send(engine, settings).failed == 1
    assert row(engine, queued).status == "failed"
    assert "belongs to no workspace" in row(engine, queued).last_error
    assert api.calls_to("chat.postMessage") == []


def _uninstall_event(team_id: str, event_id: str) -> str:
    return event_body({"type": "app_uninstalled", "event_ts": "1700000300.000100"}, event_id,
                      team_id=team_id)


def test_uninstall_stops_delivery_there_and_keeps_the_data(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    acme, beta, token_a, token_b = two_workspaces(engine, server, api)
    add_inquiries(engine, beta, FIXTURE)
    queued_b = queue(engine, beta, CHANNEL_B, "before-uninstall")
    queued_a = queue(engine, acme, CHANNEL_A, "to-a")
    status, _ = server.post(_uninstall_event(TEAM_B, "EvUNB"))
    assert status == 200
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    wait_for(lambda: row(engine, queued_b).status == "failed")
    assert row(engine, queued_b).last_error == "not sent: workspace TB uninstalled opsbot"
    # logged by the server's thread just after it commits: waited for, not raced
    wait_for(lambda: "workspace TB uninstalled opsbot: 1 queued messages dropped" in caplog.text)
    api.revoke(token_b)  # what Slack does to the token

    later_b = queue(engine, beta, CHANNEL_B, "after-uninstall")
    first = send(engine, settings)
    assert first.delivered == 1 and first.failed == 1
    assert row(engine, queued_a).status == "delivered"
    assert row(engine, later_b).status == "failed"
    assert "not installed in workspace TB" in row(engine, later_b).last_error
    assert [c.params["channel"] for c in api.calls_to("chat.postMessage")] == [CHANNEL_A]
    assert {c.token for c in api.calls_to("chat.postMessage")} == {token_a}
    # never retried: a later run has nothing to send
    later = send(engine, settings)
    assert later.delivered == later.failed == later.retrying == 0
    # the store, its channel and its facts stay until someone deletes them
    kept = find_store(engine, "beta")
    assert kept is not None and kept.team_id == TEAM_B
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(facts["inquiries"])
                           .where(facts["inquiries"].c.store_id == beta.id)) == len(FIXTURE)
    # a command from the uninstalled workspace gets nothing done
    api.add_user("U0BEN", is_admin=True)
    command(server, api, "config alert_min_drop 0.5", TEAM_B, "U0BEN", CHANNEL_B)
    beta_now = find_store(engine, "beta")
    assert beta_now is not None and beta_now.setting("alert_min_drop") != 0.5


def test_a_reinstall_delivers_again(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings) -> None:
    _acme, beta, _token_a, token_b = two_workspaces(engine, server, api)
    server.post(_uninstall_event(TEAM_B, "EvUNB2"))
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    assert install(server, api, TEAM_B) == token_b
    queue(engine, beta, CHANNEL_B, "after-reinstall")
    assert send(engine, settings).delivered == 1
    assert [c.token for c in api.calls_to("chat.postMessage")] == [token_b]


def test_a_revoked_bot_token_stops_delivery_there(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings) -> None:
    acme, beta, token_a, _token_b = two_workspaces(engine, server, api)
    queued_b = queue(engine, beta, CHANNEL_B, "queued")
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [f"U0BOT{TEAM_B}"]},
             "event_ts": "1700000300.000200"}
    status, _ = server.post(event_body(event, "EvREV", team_id=TEAM_B))
    assert status == 200
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    wait_for(lambda: row(engine, queued_b).status == "failed")
    assert "revoked" in row(engine, queued_b).last_error
    queue(engine, acme, CHANNEL_A, "to-a")
    assert send(engine, settings).delivered == 1
    assert [c.token for c in api.calls_to("chat.postMessage")] == [token_a]


def test_an_uninstall_told_twice_is_handled_once(
        api: MockSlackAPI, server: Server, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    two_workspaces(engine, server, api)
    for _ in range(2):
        server.post(_uninstall_event(TEAM_B, "EvUNB3"))
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    wait_for(lambda: "uninstalled opsbot" in caplog.text)
    settle()
    assert caplog.text.count("workspace TB uninstalled opsbot") == 1
    assert json.dumps(installed_teams(engine)) == '["TA"]'


def test_an_install_state_is_good_once_and_unused_ones_are_pruned(engine: Engine) -> None:
    states = state_store(engine)
    state = states.issue()
    assert states.consume(state) and not states.consume(state)
    unused = states.issue()
    with write(engine) as conn:
        assert prune_states(conn, utcnow() + timedelta(minutes=9)) == 0
        assert prune_states(conn, utcnow() + timedelta(minutes=11)) == 1
    assert not states.consume(unused)


def test_opsbot_workspaces_shows_who_installed_and_what_was_dropped(
        api: MockSlackAPI, server: Server, engine: Engine, cli,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _acme, beta, token_a, token_b = two_workspaces(engine, server, api)
    queue(engine, beta, CHANNEL_B, "dropped")
    server.post(_uninstall_event(TEAM_B, "EvUNB4"))
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    for key, value in api.oauth_env().items():
        monkeypatch.setenv(key, value)
    code, out, _ = cli("workspaces", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["mode"] == "oauth"
    assert [(w["team_id"], w["installed"], w["stores"], w["queued"], w["failed"])
            for w in data["workspaces"]] == [(TEAM_A, True, ["acme"], 0, 0),
                                             (TEAM_B, False, ["beta"], 0, 1)]
    assert data["workspaces"][0]["team_name"] == "Team TA"
    code, out, _ = cli("workspaces")
    assert "TB: not installed; stores: beta; 0 queued, 1 failed" in out
    assert token_a not in out and token_b not in out


def test_a_tick_leaves_out_the_stores_of_an_uninstalled_workspace(
        api: MockSlackAPI, server: Server, engine: Engine, settings: Settings) -> None:
    acme, _beta, _token_a, _token_b = two_workspaces(engine, server, api)
    server.post(_uninstall_event(TEAM_B, "EvUNB3"))
    wait_for(lambda: installed_teams(engine) == [TEAM_A])
    morning = datetime.combine(utcnow().date(), time(1, 30))  # 09:30 in Shanghai
    report = run_due(engine, morning, settings=settings, drops=False, send=False)
    assert report["uninstalled"] == ["beta"]
    assert [c["store"] for c in report["checklists"]] == ["acme"]
    with read(engine) as conn:
        queued = set(conn.scalars(select(models.outbox.c.store_id)))
    assert queued == {acme.id}  # nothing made for beta, so nothing to fail later
    # Installed again, the next tick gives beta its morning.
    install(server, api, TEAM_B)
    again = run_due(engine, morning + timedelta(minutes=5), settings=settings, drops=False,
                    send=False)
    assert again["uninstalled"] == []
    assert [c["store"] for c in again["checklists"]] == ["beta"]
