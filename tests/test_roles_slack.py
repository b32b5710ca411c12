"""Who may do what, through the real app over HTTP: signed slash commands and events, the mock
Web API answering users.info (workspace admins and owners) and conversations.members (who may
DM a store a file), each answer cached."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import Engine

from bot.audit import entries
from bot.roles import change_admins
from bot.storage import read
from bot.stores import Store, find_store, store_for_channel
from tests.slack_app_env import (
    CHANNEL,
    decoded,
    file_share_event,
    inquiry_export,
    posted,
    settle,
    slack_drops,
    wait_for,
)
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import DOWNLOAD, MockSlackAPI
from tests.slack_signing import slash_command_body


def command(server, api: MockSlackAPI, text: str, user: str, channel: str = CHANNEL) -> dict:
    body = slash_command_body("/opsbot", text, channel_id=channel, user_id=user,
                              response_url=api.response_url("cmd"))
    status, data = server.post(body)
    assert status == 200
    reply = decoded(data)
    assert_within_slack_limits(reply)
    return reply


def setting(engine: Engine, key: str) -> object:
    store = find_store(engine, "acme")
    assert store is not None
    return store.setting(key)


def test_a_workspace_admin_is_admin_and_slack_is_asked_once(
        api: MockSlackAPI, server, engine: Engine) -> None:
    api.add_user("U0BOSS", is_admin=True)
    command(server, api, "setup acme", "U0ANNA")  # the creator
    first = command(server, api, "config alert_min_drop 0.5", "U0BOSS")
    second = command(server, api, "config alert_min_drop 0.6", "U0BOSS")
    assert first["response_type"] == second["response_type"] == "in_channel"
    assert setting(engine, "alert_min_drop") == 0.6
    calls = api.calls_to("users.info")
    assert [c.params["user"] for c in calls] == ["U0BOSS"]  # cached: one call, two commands
    with read(engine) as conn:
        assert [(e.user, e.action) for e in entries(conn)][:2] == [
            ("U0BOSS", "configure"), ("U0BOSS", "configure")]


def test_a_workspace_owner_is_admin_too(api: MockSlackAPI, server, engine: Engine) -> None:
    api.add_user("U0OWNER", is_owner=True)
    command(server, api, "setup acme", "U0ANNA")
    command(server, api, "config posts_per_day 4", "U0OWNER")
    assert setting(engine, "posts_per_day") == 4


def test_a_member_is_refused_over_http_and_nothing_changes(
        api: MockSlackAPI, server, engine: Engine) -> None:
    command(server, api, "setup acme", "U0ANNA")
    reply = command(server, api, "config alert_min_drop 0.99", "U0EVE")
    assert reply["response_type"] == "ephemeral"
    assert_no_mentions(reply, allow=("<@U0ANNA>",))
    assert "Only an admin may change the settings of store *acme*: <@U0ANNA> or a workspace " \
           "admin." in reply["text"]
    assert setting(engine, "alert_min_drop") == 0.40
    refused = command(server, api, "setup acme", "U0EVE", channel="C0EVE")
    assert refused["response_type"] == "ephemeral" and "<@U0ANNA>" in refused["text"]
    assert store_for_channel(engine, "C0EVE") is None
    # Slack said U0EVE is not a workspace admin, once: the answer is cached too.
    assert [c.params["user"] for c in api.calls_to("users.info")] == ["U0EVE"]


def test_when_slack_cannot_tell_the_answer_is_no(api: MockSlackAPI, server,
                                                  engine: Engine) -> None:
    command(server, api, "setup acme", "U0ANNA")
    api.error_next("users.info", "missing_scope")
    reply = command(server, api, "config alert_min_drop 0.99", "U0BOSS")
    assert reply["response_type"] == "ephemeral" and "Only an admin" in reply["text"]
    assert setting(engine, "alert_min_drop") == 0.40


# ---- files sent in a DM naming a store ----------------------------------------------------


def _dm(api: MockSlackAPI, server, file_id: str, user: str, event_id: str) -> None:
    file = api.add_file(file_id, f"inquiries-{file_id}.csv", inquiry_export(["Ann", "Bob"]),
                        filetype="csv", mimetype="text/csv")
    server.post(file_share_event([file], channel="D0DM", channel_type="im", text="store: acme",
                                 event_id=event_id, ts=f"1700000200.{file_id[-3:]}", user=user))


def test_a_dm_upload_from_a_stranger_is_refused_politely(
        api: MockSlackAPI, server, engine: Engine, bound: Store) -> None:
    api.set_members(CHANNEL, ["U0ANNA"])
    _dm(api, server, "F001", "U0EVE", "EvDM1")
    (reply,) = wait_for(lambda: posted(api))
    assert reply["channel"] == "D0DM"
    assert "Sorry, I can take files for store *acme* only from its admins and from members " \
           "of its channels" in reply["text"]
    assert_no_mentions(reply)
    settle()
    assert slack_drops(engine) == [] and api.downloads == []
    assert api.calls_to("files.info") == [] and api.calls_to(DOWNLOAD) == []
    # A second file from the same stranger: Slack is not asked again.
    _dm(api, server, "F002", "U0EVE", "EvDM2")
    wait_for(lambda: len(posted(api)) == 2)
    assert len(api.calls_to("conversations.members")) == 1
    assert len(api.calls_to("users.info")) == 1
    assert slack_drops(engine) == []


def test_a_dm_upload_from_a_channel_member_or_an_admin_is_ingested(
        api: MockSlackAPI, server, engine: Engine, bound: Store) -> None:
    api.set_members(CHANNEL, ["U0MEMBER"])
    change_admins(engine, bound, add=["U0ANNA"])
    _dm(api, server, "F003", "U0MEMBER", "EvDM3")
    wait_for(lambda: len(slack_drops(engine)) == 1)
    _dm(api, server, "F004", "U0ANNA", "EvDM4")  # an admin, not in the channel
    wait_for(lambda: len(slack_drops(engine)) == 2)
    assert [d.status for d in slack_drops(engine)] == ["ingested", "duplicate"]
    assert api.calls_to("users.info") == []  # the store's own admins need no Slack answer


def test_the_manifest_asks_for_the_scopes_roles_need() -> None:
    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent
                               / "slack-app-manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"users:read", "channels:read", "groups:read"} <= scopes
    opsbot = next(c for c in manifest["features"]["slash_commands"]
                  if c["command"] == "/opsbot")
    assert opsbot["should_escape"] is True  # mentions arrive as <@U…|name>
