"""One workspace's stores stay in it: a command, a setup or a click from another workspace
(a Slack Connect channel shared with it, say) neither reads nor changes them."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from bot.models import checklist_ticks
from bot.roles import change_admins
from bot.storage import read
from bot.stores import Store, find_store, store_for_channel
from handlers.checklist_actions import make_listener
from handlers.commands import run_command
from tests.test_checklist_actions import FakeClient, payload, posted
from tests.test_inquiries import FIXTURE, NOW, add_inquiries


def _setup_in_t1(engine: Engine, store: Store) -> None:
    change_admins(engine, store, add=["U1"])  # an existing store: its admins bind it
    result = run_command(engine, "/opsbot", f"setup {store.name}", channel_id="C1",
                         user_id="U1", team_id="T1")
    assert result.ok


def test_another_workspace_cannot_read_a_store_through_a_shared_channel(
        engine: Engine, store: Store) -> None:
    _setup_in_t1(engine, store)
    add_inquiries(engine, store, FIXTURE)
    mine = run_command(engine, "/inquiries", "week", channel_id="C1", team_id="T1", now=NOW)
    assert mine.ok and mine.data and "total" in str(mine.data)
    theirs = run_command(engine, "/inquiries", "week", channel_id="C1", team_id="T2", now=NOW)
    assert not theirs.ok and theirs.data == {
        "error": "this channel is not bound to a store: /opsbot setup STORE"}
    assert store_for_channel(engine, "C1", "T2") is None
    assert store_for_channel(engine, "C1", "T1") == find_store(engine, store.name)


def test_another_workspace_cannot_bind_a_store_it_does_not_own(
        engine: Engine, store: Store) -> None:
    _setup_in_t1(engine, store)
    hijack = run_command(engine, "/opsbot", f"setup {store.name}", channel_id="C9",
                         user_id="UEVIL", team_id="T2")
    assert not hijack.ok and "taken" in str(hijack.message)
    assert store_for_channel(engine, "C9") is None  # nothing was bound
    owned = find_store(engine, store.name)
    assert owned is not None and owned.team_id == "T1"


def test_a_click_from_another_workspace_changes_nothing(engine: Engine, store: Store) -> None:
    _setup_in_t1(engine, store)
    cid, message = posted(engine, store)
    body = payload(message, "p4p", True, cid)
    body["team"] = {"id": "T2"}
    calls: list = []
    make_listener(engine)(ack=lambda *a, **k: calls.append(("ack", None)), body=body,
                          client=FakeClient(calls))
    assert [name for name, _ in calls] == ["ack"]  # acknowledged, nothing redrawn
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklist_ticks)) == 0
    body["team"] = {"id": "T1"}
    make_listener(engine)(ack=lambda *a, **k: calls.append(("ack", None)), body=body,
                          client=FakeClient(calls))
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklist_ticks)) == 1


def test_another_workspace_cannot_move_a_shared_channel_to_its_own_store(
        engine: Engine, store: Store) -> None:
    _setup_in_t1(engine, store)
    moved = run_command(engine, "/opsbot", "setup theirs", channel_id="C1", user_id="UEVIL",
                        team_id="T2")
    assert not moved.ok and "another workspace" in str(moved.message)
    assert find_store(engine, "theirs") is None
    assert store_for_channel(engine, "C1", "T1") == find_store(engine, store.name)
