"""Ticking a checklist checkbox in Slack: the listener acks, records who and when, and
updates the message for everyone (called directly with a Slack-shaped payload)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, func, select

from bot import outbox
from bot.checklists.daily import build_daily
from bot.checklists.records import create, load
from bot.models import checklist_ticks
from bot.storage import read, write
from bot.stores import Store
from handlers.checklist_actions import make_listener
from jobs import checklist_messages
from templates import render
from tests.slack_app_env import Server, wait_for
from tests.slack_limits import assert_within_slack_limits
from tests.slack_mock import MockSlackAPI, json_field
from tests.test_checklist import NOW, put

TS = "1763000000.000100"


class FakeClient:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat_update", kwargs))
        return {"ok": True, "ts": kwargs["ts"]}


def payload(message: dict[str, Any], key: str, selected: bool, checklist_id: int,
            user: str = "U0ALICE") -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a click on one item's checkbox."""
    block = next(b for b in message["blocks"]
                 if b.get("block_id") == f"checklist:{checklist_id}:{key}")
    option = block["accessory"]["options"][0]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": "T1"},
        "team": {"id": "T1"},
        "container": {"type": "message", "message_ts": TS, "channel_id": "C1",
                      "is_ephemeral": False},
        "channel": {"id": "C1", "name": "ops"},
        "message": {"type": "message", "ts": TS, "text": message["text"],
                    "blocks": message["blocks"]},
        "actions": [{"type": "checkboxes", "action_id": "checklist_tick",
                     "block_id": block["block_id"],
                     "selected_options": [option] if selected else [],
                     "action_ts": "1763000100.000200"}],
    }


def click(engine: Engine, body: dict[str, Any]) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    make_listener(engine)(ack=lambda *a, **k: calls.append(("ack", None)), body=body,
                          client=FakeClient(calls))
    return calls


def posted(engine: Engine, store: Store, channels: tuple[str, ...] = ("C1",)
           ) -> tuple[int, dict[str, Any]]:
    """A recorded checklist, posted by the worker to `channels` (C1 at TS, the next ones at
    TS2, TS3 …); its message."""
    with write(engine) as conn:
        put(conn, store, "posts", [{"post_id": "1", "published_at": NOW.replace(hour=0)}])
        cid = create(conn, store, "daily", NOW)
        assert cid is not None
        checklist_messages.post(conn, store, cid, NOW, list(channels))
        for n, row in enumerate(outbox.posts_of(conn, f"checklist:{cid}", "checklist")):
            outbox.delivered(conn, row.id, TS if n == 0 else f"{TS[:-1]}{n + 1}", NOW)
        return cid, render("checklist_daily.json.j2", checklist=load(conn, cid))


def p4p_block(message: dict[str, Any], cid: int) -> dict[str, Any]:
    return next(b for b in message["blocks"] if b.get("block_id") == f"checklist:{cid}:p4p")


def test_tick_records_and_updates_the_message(engine: Engine, store: Store) -> None:
    cid, message = posted(engine, store)
    assert "initial_options" not in p4p_block(message, cid)["accessory"]
    calls = click(engine, payload(message, "p4p", True, cid))
    assert [name for name, _ in calls] == ["ack", "chat_update"]
    update = calls[1][1]
    assert (update["channel"], update["ts"]) == ("C1", TS)
    assert_within_slack_limits(update)
    assert p4p_block(update, cid)["accessory"]["initial_options"][0]["value"] == f"{cid}:p4p"
    done = [b["elements"][0]["text"] for b in update["blocks"] if b["type"] == "context"
            and "done by" in b["elements"][0]["text"]]
    assert len(done) == 1 and done[0].startswith("✓ done by <@U0ALICE> at ")
    with read(engine) as conn:
        row = conn.execute(select(checklist_ticks)).one()
        item = next(i for i in load(conn, cid)["items"] if i["key"] == "p4p")
    assert (row.checklist_id, row.item_key, row.done, row.user_id) == (cid, "p4p", True,
                                                                        "U0ALICE")
    assert item["done"] and item["done_by"] == "U0ALICE"
    assert date.fromisoformat(item["done_at"][:10]) >= date(2026, 1, 1)


def test_untick_by_someone_else(engine: Engine, store: Store) -> None:
    cid, message = posted(engine, store)
    click(engine, payload(message, "posts", True, cid))
    calls = click(engine, payload(message, "posts", False, cid, user="U0BOB"))
    update = calls[-1][1]
    posts = next(b for b in update["blocks"] if b.get("block_id") == f"checklist:{cid}:posts")
    assert "initial_options" not in posts["accessory"]
    assert not any("done by" in b["elements"][0]["text"] for b in update["blocks"]
                   if b["type"] == "context")
    with read(engine) as conn:
        row = conn.execute(select(checklist_ticks)).one()
    assert (row.item_key, row.done, row.user_id) == ("posts", False, "U0BOB")


def test_ticks_of_two_items_both_show(engine: Engine, store: Store) -> None:
    cid, message = posted(engine, store)
    click(engine, payload(message, "posts", True, cid))
    calls = click(engine, payload(message, "inquiries", True, cid, user="U0BOB"))
    update = calls[-1][1]
    ticked = [b["block_id"] for b in update["blocks"]
              if b.get("accessory", {}).get("initial_options")]
    assert ticked == [f"checklist:{cid}:inquiries", f"checklist:{cid}:posts"]


def test_a_preview_checkbox_records_nothing(engine: Engine, store: Store) -> None:
    with read(engine) as conn:
        preview = render("checklist_daily.json.j2", checklist=build_daily(conn, store, NOW))
    calls = click(engine, payload(preview, "p4p", True, 0))
    assert [name for name, _ in calls] == ["ack"]
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklist_ticks)) == 0


def test_other_actions_are_left_alone(engine: Engine, store: Store) -> None:
    cid, message = posted(engine, store)
    body = payload(message, "p4p", True, cid)
    body["actions"][0]["action_id"] = "alert_ack"
    assert [name for name, _ in click(engine, body)] == ["ack"]


def test_through_the_real_app_over_http(server: Server, api: MockSlackAPI,
                                        engine: Engine, store: Store) -> None:
    """The same click, signed and POSTed to `opsbot serve`'s app: acked with 200, the tick
    recorded, and chat.update sent to the mock Slack API."""
    cid, message = posted(engine, store)
    body = urlencode({"payload": json.dumps(payload(message, "data", True, cid))})
    status, _ = server.post(body)
    assert status == 200
    [update] = wait_for(lambda: api.calls_to("chat.update"))
    assert (update.params["channel"], update.params["ts"]) == ("C1", TS)
    blocks = json_field(update.params["blocks"])
    data = next(b for b in blocks if b.get("block_id") == f"checklist:{cid}:data")
    assert data["accessory"]["initial_options"][0]["value"] == f"{cid}:data"
    with read(engine) as conn:
        assert conn.execute(select(checklist_ticks.c.item_key, checklist_ticks.c.user_id)
                            ).all() == [("data", "U0ALICE")]


def test_a_tick_updates_the_checklist_in_every_channel(engine: Engine, store: Store) -> None:
    """Posted to two channels: a tick in C1 redraws both, so C2 sees who did what too."""
    cid, message = posted(engine, store, ("C1", "C2"))
    calls = click(engine, payload(message, "p4p", True, cid))
    updates = {(kw["channel"], kw["ts"]): kw for name, kw in calls if name == "chat_update"}
    assert set(updates) == {("C1", TS), ("C2", TS[:-1] + "2")}
    for update in updates.values():
        assert p4p_block(update, cid)["accessory"]["initial_options"][0]["value"] == f"{cid}:p4p"
        assert any(b["type"] == "context" and b["elements"][0]["text"].startswith(
            "✓ done by <@U0ALICE> at ") for b in update["blocks"])
