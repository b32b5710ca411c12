"""Who may do what (issue 12, point 1), without a transport: a store's admins bind, unbind,
configure and change admins; anyone else gets an ephemeral refusal naming who may and changes
nothing; reading stays open; every change is in the audit trail, written with the change."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from bot.audit import entries
from bot.models import audit, channels, store_admins
from bot.roles import LastAdmin, admins_of, change_admins, user_id_of
from bot.storage import read
from bot.stores import Store, StoreError, configure_store, find_store, store_for_channel
from handlers.checklist_actions import make_listener
from handlers.commands import CommandResult, run_command
from tests.cli_helpers import Run
from tests.files import sample, write_csv
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.test_checklist_actions import FakeClient, payload, posted


def ask(engine: Engine, line: str, user: str | None, channel: str | None = "C1",
        workspace_admin: Callable[[str], bool] | None = None,
        mentions: tuple[str, ...] = ()) -> CommandResult:
    """`line` as Slack user `user` (None: the CLI operator) in `channel` of workspace T1."""
    command, _, text = line.partition(" ")
    result = run_command(engine, command, text, channel_id=channel, user_id=user,
                         team_id="T1" if user else None, workspace_admin=workspace_admin)
    assert_within_slack_limits(result.message)
    assert_no_mentions(result.message, allow=mentions)  # only the people named on purpose
    assert "Traceback" not in str(result.message)
    return result


def text_of(result: CommandResult) -> str:
    return json.dumps(result.message, ensure_ascii=False)


def trail(engine: Engine, store: Store | None = None) -> list[tuple[str, str, dict]]:
    """(user, action, detail) of the audit trail, oldest first."""
    with read(engine) as conn:
        return [(e.user, e.action, e.detail) for e in reversed(entries(conn, store))]


def audit_count(engine: Engine) -> int:
    with read(engine) as conn:
        return conn.scalar(select(func.count()).select_from(audit)) or 0


@pytest.fixture
def acme(engine: Engine) -> Store:
    """Store acme, created in Slack by U0ANNA with `/opsbot setup acme` in C1."""
    result = ask(engine, "/opsbot setup acme", "U0ANNA")
    assert result.ok and result.data and result.data["created"]
    store = find_store(engine, "acme")
    assert store is not None
    return store


def assert_refused(result: CommandResult, store: str, admins: list[str]) -> None:
    assert not result.ok and result.ephemeral
    assert result.data == {"error": "forbidden", "store": store, "action": result.data["action"],
                           "admins": admins}
    shown = result.message["blocks"][0]["text"]["text"]
    assert f"*{store}*" in shown and "a workspace admin" in shown
    for admin in admins:
        assert f"<@{admin}>" in shown


# ---- the creator --------------------------------------------------------------------------


def test_the_creator_of_a_new_store_is_its_first_admin(engine: Engine, acme: Store) -> None:
    with read(engine) as conn:
        assert admins_of(conn, acme) == ["U0ANNA"]
    assert acme.team_id == "T1"
    assert trail(engine) == [
        ("U0ANNA", "create", {"name": "acme"}),
        ("U0ANNA", "admin_add", {"admin": "U0ANNA"}),
        ("U0ANNA", "bind", {"channel": "C1", "moved_from": None}),
    ]
    shown = ask(engine, "/opsbot admins", "U0EVE", mentions=("<@U0ANNA>",))
    assert shown.ok and shown.ephemeral and shown.data is not None
    assert shown.data["admins"] == ["U0ANNA"] and "<@U0ANNA>" in text_of(shown)


def test_a_store_made_at_the_cli_has_no_admin_and_cannot_be_claimed_in_slack(
        engine: Engine, store: Store) -> None:
    result = ask(engine, f"/opsbot setup {store.name}", "U0EVE", "C9")
    assert_refused(result, store.name, [])
    assert store_for_channel(engine, "C9") is None


# ---- a member who is not an admin ---------------------------------------------------------


def test_a_forbidden_bind_changes_nothing_and_names_who_may(engine: Engine, acme: Store) -> None:
    before = audit_count(engine)
    result = ask(engine, "/opsbot setup acme", "U0EVE", "C9", mentions=("<@U0ANNA>",))
    assert_refused(result, "acme", ["U0ANNA"])
    assert result.data and result.data["action"] == "bind"
    assert "Only an admin may bind a channel to store *acme*: <@U0ANNA> or a workspace admin." \
        in text_of(result)
    assert store_for_channel(engine, "C9") is None
    assert audit_count(engine) == before


def test_a_member_cannot_move_a_bound_channel_to_another_store(
        engine: Engine, acme: Store) -> None:
    result = ask(engine, "/opsbot setup mine", "U0EVE", "C1", mentions=("<@U0ANNA>",))
    assert_refused(result, "acme", ["U0ANNA"])
    assert result.data and result.data["action"] == "unbind"
    assert find_store(engine, "mine") is None  # not even created
    assert store_for_channel(engine, "C1", "T1") == find_store(engine, "acme")


def test_a_forbidden_config_changes_nothing(engine: Engine, acme: Store) -> None:
    before = audit_count(engine)
    result = ask(engine, "/opsbot config alert_min_drop 0.99", "U0EVE", mentions=("<@U0ANNA>",))
    assert_refused(result, "acme", ["U0ANNA"])
    assert result.data and result.data["action"] == "config"
    for words in ("timezone UTC", "language zh"):
        assert not ask(engine, f"/opsbot config {words}", "U0EVE",
                       mentions=("<@U0ANNA>",)).ok
    store = find_store(engine, "acme")
    assert store is not None and store.setting("alert_min_drop") == 0.40
    assert (store.timezone, store.language) == ("Asia/Shanghai", "en")
    assert audit_count(engine) == before


def test_a_forbidden_unbind_and_admin_change_change_nothing(engine: Engine, acme: Store) -> None:
    before = audit_count(engine)
    assert_refused(ask(engine, "/opsbot unbind", "U0EVE", mentions=("<@U0ANNA>",)), "acme",
                   ["U0ANNA"])
    assert_refused(ask(engine, "/opsbot admins add <@U0EVE|eve>", "U0EVE",
                       mentions=("<@U0ANNA>",)), "acme", ["U0ANNA"])
    assert_refused(ask(engine, "/opsbot admins remove <@U0ANNA>", "U0EVE",
                       mentions=("<@U0ANNA>",)), "acme", ["U0ANNA"])
    assert store_for_channel(engine, "C1", "T1") is not None
    with read(engine) as conn:
        assert admins_of(conn, acme) == ["U0ANNA"]
    assert audit_count(engine) == before


def test_reading_stays_open_to_the_channel(engine: Engine, acme: Store) -> None:
    for line in ("/inquiries yesterday", "/opsbot status", "/opsbot config", "/opsbot help"):
        result = ask(engine, line, "U0EVE")
        assert result.ok, line
    assert ask(engine, "/opsbot admins", "U0EVE", mentions=("<@U0ANNA>",)).ok


def test_the_refusal_is_in_the_stores_language(engine: Engine) -> None:
    ask(engine, "/opsbot setup 店铺", "U0ANNA")
    assert ask(engine, "/opsbot config language zh", "U0ANNA").ok
    both = ("<@U0ANNA>", "<@U0BOB>")
    assert ask(engine, "/opsbot admins add <@U0BOB>", "U0ANNA", mentions=both).ok
    result = ask(engine, "/opsbot config alert_min_drop 0.99", "U0EVE", mentions=both)
    assert not result.ok
    assert "只有管理员可以修改店铺 *店铺* 的设置：<@U0ANNA>、<@U0BOB> 或工作区管理员。" \
        in text_of(result)
    listing = ask(engine, "/opsbot admins", "U0EVE", mentions=both)
    assert "店铺 *店铺* 的管理员：<@U0ANNA>、<@U0BOB>。" in text_of(listing)
    last = ask(engine, "/opsbot admins remove U0EVE", "U0ANNA", mentions=("<@U0EVE>",))
    assert "<@U0EVE> 不是店铺 店铺 的管理员" in text_of(last)


# ---- admins -------------------------------------------------------------------------------


def test_an_admin_configures_and_the_change_is_audited(engine: Engine, acme: Store) -> None:
    result = ask(engine, "/opsbot config alert_min_drop 0.5", "U0ANNA")
    assert result.ok and not result.ephemeral
    store = find_store(engine, "acme")
    assert store is not None and store.setting("alert_min_drop") == 0.5
    assert ask(engine, "/opsbot config timezone UTC", "U0ANNA").ok
    assert trail(engine)[-2:] == [
        ("U0ANNA", "configure", {"alert_min_drop": {"from": 0.4, "to": 0.5}}),
        ("U0ANNA", "configure", {"timezone": {"from": "Asia/Shanghai", "to": "UTC"}}),
    ]


def test_an_admin_binds_another_channel_and_unbinds(engine: Engine, acme: Store) -> None:
    result = ask(engine, "/opsbot setup acme", "U0ANNA", "C2")
    assert result.ok and result.data and result.data["created"] is False
    assert store_for_channel(engine, "C2", "T1") == find_store(engine, "acme")
    gone = ask(engine, "/opsbot unbind", "U0ANNA", "C2")
    assert gone.ok and not gone.ephemeral
    assert "This channel no longer answers for store *acme*." in text_of(gone)
    assert store_for_channel(engine, "C2", "T1") is None
    assert store_for_channel(engine, "C1", "T1") is not None  # the other binding stays
    assert trail(engine)[-2:] == [("U0ANNA", "bind", {"channel": "C2", "moved_from": None}),
                                  ("U0ANNA", "unbind", {"channel": "C2"})]
    assert not ask(engine, "/opsbot unbind", "U0ANNA", "C2").ok  # unbound: nothing to do


def test_moving_a_channel_is_audited_in_both_stores(engine: Engine, acme: Store) -> None:
    assert ask(engine, "/opsbot setup other", "U0ANNA", "C1").ok
    other = find_store(engine, "other")
    assert other is not None
    assert trail(engine, acme)[-1] == ("U0ANNA", "unbind", {"channel": "C1", "moved_to": "other"})
    assert trail(engine, other)[-1] == ("U0ANNA", "bind",
                                        {"channel": "C1", "moved_from": "acme"})


def test_admins_add_and_remove_people(engine: Engine, acme: Store) -> None:
    added = ask(engine, "/opsbot admins add <@U0BOB|bob smith> <@U0CY>", "U0ANNA",
                mentions=("<@U0ANNA>", "<@U0BOB>", "<@U0CY>"))
    assert added.ok and not added.ephemeral  # news for the channel
    assert added.data == {"store": "acme", "admins": ["U0ANNA", "U0BOB", "U0CY"],
                          "added": ["U0BOB", "U0CY"], "removed": []}
    # The new admin may change the store now.
    assert ask(engine, "/opsbot config posts_per_day 4", "U0BOB").ok
    removed = ask(engine, "/opsbot admins remove U0ANNA", "U0BOB",
                  mentions=("<@U0ANNA>", "<@U0BOB>", "<@U0CY>"))
    assert removed.data and removed.data["removed"] == ["U0ANNA"]
    assert not ask(engine, "/opsbot config posts_per_day 5", "U0ANNA",
                   mentions=("<@U0BOB>", "<@U0CY>")).ok
    assert ("U0BOB", "admin_remove", {"admin": "U0ANNA"}) in trail(engine)
    assert ("U0ANNA", "admin_add", {"admin": "U0CY"}) in trail(engine)


def test_the_last_admin_cannot_be_removed(engine: Engine, acme: Store) -> None:
    before = audit_count(engine)
    result = ask(engine, "/opsbot admins remove <@U0ANNA>", "U0ANNA", mentions=("<@U0ANNA>",))
    assert not result.ok and result.ephemeral
    assert "<@U0ANNA> is the last admin of store acme: add another admin first" \
        in text_of(result)
    with read(engine) as conn:
        assert admins_of(conn, acme) == ["U0ANNA"]
    assert audit_count(engine) == before


@pytest.mark.parametrize(("typed", "user"), [
    ("<@U0BOB|bob>", "U0BOB"), ("<@U0BOB>", "U0BOB"), ("U0BOB", "U0BOB"), ("W0BOB", "W0BOB"),
    ("<@U0BOB|bob smith>", "U0BOB"), ("@bob", None), ("bob", None), ("<#C1|ops>", None),
])
def test_a_person_is_named_by_a_mention_or_an_id(typed: str, user: str | None) -> None:
    assert user_id_of(typed) == user


def test_a_slack_escaped_mention_is_read(engine: Engine, acme: Store) -> None:
    result = ask(engine, "/opsbot admins add &lt;@U0BOB|bob&gt;", "U0ANNA",
                 mentions=("<@U0ANNA>", "<@U0BOB>"))
    assert result.ok and result.data and result.data["added"] == ["U0BOB"]


def test_a_name_without_an_id_gets_a_usage_reply(engine: Engine, acme: Store) -> None:
    result = ask(engine, "/opsbot admins add @bob", "U0ANNA")
    assert not result.ok and "mention the people" in text_of(result)
    with read(engine) as conn:
        assert admins_of(conn, acme) == ["U0ANNA"]


def test_a_store_name_slack_turned_into_a_link_is_read_as_typed(engine: Engine) -> None:
    result = ask(engine, "/opsbot setup <http://acme.com|acme.com>", "U0ANNA")
    assert result.ok and find_store(engine, "acme.com") is not None


# ---- workspace admins and the operator ----------------------------------------------------


def test_a_workspace_admin_is_admin_of_every_store_of_the_workspace(
        engine: Engine, acme: Store) -> None:
    asked: list[str] = []

    def workspace_admin(user: str) -> bool:
        asked.append(user)
        return user == "U0BOSS"

    # Reading never asks Slack; a store admin's change does not either.
    assert ask(engine, "/opsbot config", "U0BOSS", workspace_admin=workspace_admin).ok
    assert ask(engine, "/opsbot config posts_per_day 4", "U0ANNA",
               workspace_admin=workspace_admin).ok
    assert asked == []
    assert ask(engine, "/opsbot config posts_per_day 5", "U0BOSS",
               workspace_admin=workspace_admin).ok
    assert ask(engine, "/opsbot setup acme", "U0BOSS", "C7", workspace_admin=workspace_admin).ok
    assert not ask(engine, "/opsbot config posts_per_day 6", "U0EVE",
                   workspace_admin=workspace_admin, mentions=("<@U0ANNA>",)).ok
    assert asked == ["U0BOSS", "U0BOSS", "U0EVE"]
    assert trail(engine)[-2:] == [
        ("U0BOSS", "configure", {"posts_per_day": {"from": 4, "to": 5}}),
        ("U0BOSS", "bind", {"channel": "C7", "moved_from": None}),
    ]


def test_the_cli_operator_may_do_everything(engine: Engine, acme: Store) -> None:
    result = run_command(engine, "/opsbot", "config alert_min_drop 0.3", store=acme)
    assert result.ok
    assert trail(engine)[-1] == ("cli", "configure",
                                 {"alert_min_drop": {"from": 0.4, "to": 0.3}})


# ---- the audit trail ----------------------------------------------------------------------


def test_an_audit_row_is_written_in_the_changes_transaction(engine: Engine, acme: Store) -> None:
    before = audit_count(engine)
    with pytest.raises(LastAdmin):  # adds U0BOB, then fails: the whole change rolls back
        change_admins(engine, acme, add=["U0BOB"], remove=["U0ANNA", "U0BOB"])
    with pytest.raises(StoreError):  # a value that does not fit: nothing written
        configure_store(engine, acme, settings={"alert_min_drop": 2}, user_id="U0ANNA")
    with read(engine) as conn:
        assert admins_of(conn, acme) == ["U0ANNA"]
        assert conn.scalar(select(func.count()).select_from(store_admins)) == 1
    assert audit_count(engine) == before


def test_a_checklist_tick_is_audited(engine: Engine, acme: Store) -> None:
    cid, message = posted(engine, acme)
    calls: list = []
    make_listener(engine)(ack=lambda *a, **k: None, body=payload(message, "p4p", True, cid),
                          client=FakeClient(calls))
    assert trail(engine)[-1] == ("U0ALICE", "checklist_tick",
                                 {"checklist": cid, "item": "p4p", "done": True})


def test_opsbot_audit_lists_the_trail(engine: Engine, acme: Store, cli: Run) -> None:
    ask(engine, "/opsbot setup globex", "U0BOB", "C2")
    ask(engine, "/opsbot config alert_min_drop 0.5", "U0ANNA")
    code, out, _ = cli("audit", "--json")
    assert code == 0
    rows = json.loads(out)["audit"]
    assert all(set(r) == {"at", "store", "user", "action", "detail"} for r in rows)
    assert rows[0]["store"] == "acme" and rows[0]["action"] == "configure"
    assert rows[0]["user"] == "U0ANNA" and rows[0]["at"].endswith("Z")
    assert rows[0]["detail"] == {"alert_min_drop": {"from": 0.4, "to": 0.5}}
    assert {r["store"] for r in rows} == {"acme", "globex"}
    code, out, _ = cli("audit", "--store", "globex", "--json")
    assert {r["store"] for r in json.loads(out)["audit"]} == {"globex"}
    code, out, _ = cli("audit", "--store", "acme")
    assert code == 0 and "[acme] U0ANNA configure" in out and "globex" not in out


def test_a_deleted_drop_is_audited(engine: Engine, acme: Store, cli: Run, tmp_path) -> None:
    _, out, _ = cli("ingest", write_csv(tmp_path / "orders.csv", sample("orders")),
                       "--store", "acme", "--json")
    drop_id = json.loads(out)["drops"][0]["drop_id"]
    before = audit_count(engine)
    assert cli("drops", "delete", drop_id + 1)[0] == 1  # no such drop: refused, no row
    assert audit_count(engine) == before
    assert cli("drops", "delete", drop_id)[0] == 0
    assert trail(engine, acme)[-1] == ("cli", "drop_delete", {
        "drop_id": drop_id, "kind": "orders", "file": "orders.csv", "removed": 2,
        "restored": 0, "duplicates": 0})


# ---- the CLI ------------------------------------------------------------------------------


def test_store_admins_on_the_command_line(engine: Engine, acme: Store, cli: Run) -> None:
    code, out, _ = cli("store", "admins", "acme", "--add", "U0BOB", "--json")
    assert code == 0
    assert json.loads(out) == {"store": "acme", "admins": ["U0ANNA", "U0BOB"],
                               "added": ["U0BOB"], "removed": []}
    code, out, _ = cli("store", "admins", "acme", "--remove", "<@U0ANNA>", "--json")
    assert json.loads(out)["admins"] == ["U0BOB"]
    code, out, err = cli("store", "admins", "acme", "--remove", "U0BOB")
    assert code == 2 and "last admin" in err
    code, out, err = cli("store", "admins", "acme", "--add", "bob")
    assert code == 2 and "not a Slack user ID" in err
    code, out, _ = cli("store", "admins", "acme")
    assert code == 0 and "U0BOB" in out
    assert ("cli", "admin_add", {"admin": "U0BOB"}) in trail(engine)
    assert ("cli", "admin_remove", {"admin": "U0ANNA"}) in trail(engine)


def test_store_unbind_on_the_command_line(engine: Engine, acme: Store, cli: Run) -> None:
    code, out, _ = cli("store", "unbind", "--channel", "C1", "--json")
    assert code == 0 and json.loads(out)["channel"] == "C1"
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(channels)) == 0
    assert trail(engine)[-1] == ("cli", "unbind", {"channel": "C1"})
    code, _, err = cli("store", "unbind", "--channel", "C1")
    assert code == 2 and "not bound" in err
