"""The /customers buttons in Slack, end to end: `/customers` signed and POSTed to the real app
posts the list as the bot, each click (signed, as Slack sends it) records who and when once
and redraws that post with chat.update; the mock Web API plays Slack."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select

from bot.metrics.customer_index import customer_key
from bot.models import customer_marks, outbox
from bot.storage import read, write
from bot.stores import Store
from handlers.customer_actions import handle
from tests import facts
from tests.slack_app_env import CHANNEL, Server, decoded, settle, wait_for
from tests.slack_limits import assert_no_mentions, assert_within_slack_limits
from tests.slack_mock import RESPONSE_URL, MockSlackAPI, json_field
from tests.slack_signing import block_action_payload, slash_command_body

EVIL = "<@U0BOSS> & co"


def customers(engine: Engine, store: Store) -> None:
    """Three zombies (inquiries 3, 4 and 5 days old, never answered) and one lost buyer."""
    now = datetime.utcnow()
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", [
            {"inquiry_id": str(n), "buyer": name, "email": f"{n}@x.com", "owner": "Lily",
             "created_at": now - timedelta(days=days)}
            for n, (name, days) in enumerate([("Ann", 3), ("Bo", 4), (EVIL, 5)])],
            ingested_at=now)
        facts.put(conn, store, "orders", [{"order_id": "O1", "buyer": "Gus", "email": "g@x.com",
                                           "ordered_at": now - timedelta(days=200)}],
                  ingested_at=now)


def key(n: int) -> str:
    return customer_key(f"e:{n}@x.com")


def ask(server: Server, api: MockSlackAPI, text: str = "") -> tuple[int, dict[str, Any]]:
    body = slash_command_body("/customers", text, channel_id=CHANNEL,
                              response_url=api.response_url("cmd"))
    status, data = server.post(body)
    return status, decoded(data)


def delivered(engine: Engine, api: MockSlackAPI) -> dict[str, Any]:
    """The list the bot posted, once its post is recorded as delivered (a person's click
    comes later than that)."""
    [post] = wait_for(lambda: api.calls_to("chat.postMessage"))
    assert post.params["channel"] == CHANNEL
    [ts] = list(api.messages)  # the one message in the channel, as Slack keeps it

    def recorded() -> bool:
        with read(engine) as conn:
            return conn.scalar(select(outbox.c.ts).where(outbox.c.purpose == "customers")) == ts

    wait_for(recorded)
    return {"ts": ts, "text": post.params["text"], "blocks": json_field(post.params["blocks"])}


def posted_list(server: Server, api: MockSlackAPI, engine: Engine) -> dict[str, Any]:
    """`/customers` in the channel: acked empty, then posted by the bot."""
    status, ack = ask(server, api)
    assert status == 200 and ack == {}
    message = delivered(engine, api)
    assert_within_slack_limits(message)
    assert_no_mentions(message)
    return message


def click(server: Server, message: dict[str, Any], customer: str, action_id: str,
          user: str = "U0ALICE", reason: str | None = None) -> None:
    """A click on one customer's button (or a pick in its snooze menu), signed and POSTed."""
    block = next(b for b in message["blocks"] if b.get("block_id") == f"customer:{customer}")
    element = next(e for e in block["elements"] if e["action_id"] == action_id)
    kind = element["type"]
    payload = block_action_payload(
        action_id, element.get("value"), block_id=block["block_id"], user_id=user,
        channel_id=CHANNEL, action_type=kind,
        message={"type": "message", "ts": message["ts"], "text": message["text"],
                 "blocks": message["blocks"]})
    if kind == "static_select":
        option = next(o for o in element["options"] if o["value"].endswith("|" + str(reason)))
        payload["actions"][0]["selected_option"] = option
    status, _ = server.post(urlencode({"payload": json.dumps(payload)}))
    assert status == 200


def marks(engine: Engine) -> list[tuple[str, str, str, str | None]]:
    with read(engine) as conn:
        return [tuple(r) for r in conn.execute(
            select(customer_marks.c.customer_key, customer_marks.c.mark,
                   customer_marks.c.user_id, customer_marks.c.reason)
            .order_by(customer_marks.c.id))]


def listed(message: dict[str, Any]) -> list[str]:
    return [b["block_id"].split(":")[1] for b in message["blocks"] if b["type"] == "actions"]


def updates(api: MockSlackAPI, n: int) -> list[dict[str, Any]]:
    calls = wait_for(lambda: (api.calls_to("chat.update")
                              if len(api.calls_to("chat.update")) >= n else None))
    out = []
    for call in calls:
        message = {"ts": call.params["ts"], "text": call.params["text"],
                   "blocks": json_field(call.params["blocks"])}
        assert call.params["channel"] == CHANNEL
        assert_within_slack_limits(message)
        assert_no_mentions(message, allow=("<@U0ALICE>", "<@U0BOB>"))  # who clicked
        out.append(message)
    return out


def test_contacted_records_who_and_redraws_the_post(server: Server, api: MockSlackAPI,
                                                    engine: Engine, bound: Store) -> None:
    customers(engine, bound)
    message = posted_list(server, api, engine)
    gus = customer_key("e:g@x.com")
    # ranked Ann, Gus, Bo, the third zombie; grouped by owner: Lily's, then Gus (no owner)
    assert listed(message) == [key(0), key(1), key(2), gus]
    click(server, message, key(0), "customer_contacted")
    [update] = updates(api, 1)
    assert update["ts"] == message["ts"]
    assert listed(update) == [key(1), key(2), gus]  # Ann left the list
    last = update["blocks"][-1]["elements"][0]["text"]
    assert last.startswith("✓ <@U0ALICE> contacted *Ann* at ")
    assert marks(engine) == [(key(0), "contacted", "U0ALICE", None)]


def test_a_double_click_records_once(server: Server, api: MockSlackAPI, engine: Engine,
                                     bound: Store) -> None:
    customers(engine, bound)
    message = posted_list(server, api, engine)
    click(server, message, key(1), "customer_not_lead")
    click(server, message, key(1), "customer_not_lead", user="U0BOB")  # the same drawing
    [update] = updates(api, 1)
    settle(0.3)
    assert len(api.calls_to("chat.update")) == 1  # nothing changed: nothing to redraw
    # both clicks race to the database: whichever came first is the one record
    [(customer, what, who, _)] = marks(engine)
    assert (customer, what) == (key(1), "not_lead") and who in ("U0ALICE", "U0BOB")
    assert key(1) not in listed(update)
    assert "Not listed: 0 snoozed, 1 not a lead" in json.dumps(update["blocks"])


def test_snooze_with_a_reason(server: Server, api: MockSlackAPI, engine: Engine,
                              bound: Store) -> None:
    customers(engine, bound)
    message = posted_list(server, api, engine)
    click(server, message, key(2), "customer_snooze", reason="holiday")
    [update] = updates(api, 1)
    assert key(2) not in listed(update)
    assert marks(engine) == [(key(2), "snooze", "U0ALICE", "holiday")]
    with read(engine) as conn:
        mark = conn.execute(select(customer_marks)).one()
    assert mark.until - mark.marked_at == timedelta(days=7)
    text = update["blocks"][-1]["elements"][0]["text"]
    assert text.startswith("💤 <@U0ALICE> snoozed *&lt;@U0BOSS&gt; &amp; co* until ")
    assert text.endswith(" (holiday or trade fair)")


def test_the_query_survives_the_redraw(server: Server, api: MockSlackAPI, engine: Engine,
                                       bound: Store) -> None:
    customers(engine, bound)
    status, _ = ask(server, api, "zombie")
    assert status == 200
    message = delivered(engine, api)
    assert listed(message) == [key(0), key(1), key(2)]
    click(server, message, key(0), "customer_contacted")
    [update] = updates(api, 1)
    assert listed(update) == [key(1), key(2)]  # still zombies only: Gus stays out


def test_a_post_slack_refuses_goes_through_the_response_url(
        server: Server, api: MockSlackAPI, engine: Engine, bound: Store) -> None:
    """The bot is not in the channel: the list comes through the command's response_url
    (as any slash answer), and a click redraws it there."""
    customers(engine, bound)
    api.error_next("chat.postMessage", "not_in_channel")
    status, ack = ask(server, api)
    assert status == 200 and ack == {}
    [answer] = wait_for(lambda: api.calls_to(RESPONSE_URL))
    assert answer.params["response_type"] == "in_channel"
    blocks = json_field(answer.params["blocks"])
    message = {"ts": "1700000999.000100", "text": answer.params["text"], "blocks": blocks}
    assert key(0) in listed(message)

    redrawn: list[dict[str, Any]] = []
    block = next(b for b in blocks if b.get("block_id") == f"customer:{key(0)}")
    payload = block_action_payload("customer_contacted", block["elements"][0]["value"],
                                   block_id=block["block_id"], channel_id=CHANNEL,
                                   message=message)
    mark = handle(engine, "customer_contacted", payload, payload["actions"][0], client=None,
                  respond=lambda **kw: redrawn.append(kw))
    assert mark is not None and mark["recorded"]
    [again] = redrawn
    assert again["replace_original"] is True and key(0) not in listed(again)


def test_a_click_naming_no_customer_changes_nothing(engine: Engine, bound: Store) -> None:
    customers(engine, bound)
    for value in ("", "nonsense", "abc|def|not-a-reason", f"{'0' * 12}|tok"):
        payload = block_action_payload("customer_snooze", value, channel_id=CHANNEL)
        assert handle(engine, "customer_snooze", payload, payload["actions"][0],
                      client=None, respond=lambda **kw: None) is None
    assert marks(engine) == []


def test_a_click_from_another_workspace_changes_nothing(server: Server, api: MockSlackAPI,
                                                        engine: Engine, bound: Store) -> None:
    """The list in a channel shared with another workspace (Slack Connect): a click from
    there neither records nor redraws."""
    customers(engine, bound)
    message = posted_list(server, api, engine)
    block = next(b for b in message["blocks"] if b.get("block_id") == f"customer:{key(0)}")
    payload = block_action_payload("customer_contacted", block["elements"][0]["value"],
                                   block_id=block["block_id"], channel_id=CHANNEL,
                                   team_id="T0OTHER", message=message)
    assert handle(engine, "customer_contacted", payload, payload["actions"][0],
                  client=None) is None
    assert marks(engine) == [] and api.calls_to("chat.update") == []
