"""The outbox and its sender against the mock Slack API: delivered once, retried on 429 (after
Retry-After), 5xx and timeouts, never posted twice after a crash, paced per channel.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, func, select, update

from bot import outbox
from bot.config import Settings
from bot.models import outbox as outbox_table
from bot.storage import make_engine, read, write
from bot.stores import Store
from jobs.delivery import Delivery, Pacer, deliver, outbox_client
from tests.pacing import recording_pacer
from tests.slack_mock import Call, MockSlackAPI

NOW = datetime(2026, 11, 17, 1, 0)


def client_for(api: MockSlackAPI, timeout: float = 5) -> WebClient:
    client = outbox_client(Settings(slack_bot_token=api.bot_token, slack_api_url=api.base_url),
                           timeout=timeout)
    assert client is not None
    return client


def put(engine: Engine, store: Store, channel: str, key: str, **extra: Any) -> int:
    with write(engine) as conn:
        return outbox.enqueue(conn, store_id=store.id, channel=channel, purpose="test",
                              dedupe_key=key, payload={"text": f"message {key}"}, now=NOW,
                              **extra)


def send(engine: Engine, client: WebClient, now: datetime) -> Delivery:
    """One sender run without pacing waits."""
    return deliver(engine, client, now, pacer=Pacer(0, 0))


def row(engine: Engine, outbox_id: int) -> Any:
    with read(engine) as conn:
        return conn.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one()


def posts(api: MockSlackAPI) -> list[Call]:
    return api.calls_to("chat.postMessage")


def at_once(database_url: str, work: Callable[[Engine], Any], workers: int = 2) -> list[Any]:
    """work(engine) in `workers` threads released together, each with its own engine as a
    separate worker process would have; their results (a failure in any fails the test)."""
    barrier = threading.Barrier(workers, timeout=30)  # one failing to start fails, not hangs
    results: list[Any] = []
    failures: list[BaseException] = []

    def worker() -> None:
        own = make_engine(database_url)
        try:
            barrier.wait()
            results.append(work(own))
        except BaseException as exc:  # re-raised in the test's thread below
            failures.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return results


def test_enqueue_is_idempotent_on_the_dedupe_key(engine: Engine, store: Store) -> None:
    first = put(engine, store, "C1", "checklist:1:C1")
    again = put(engine, store, "C1", "checklist:1:C1")
    assert first == again
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(outbox_table)) == 1


def test_delivers_once_with_metadata_and_records_the_ts(engine: Engine, store: Store,
                                                        api: MockSlackAPI) -> None:
    oid = put(engine, store, "C1", "k1")
    result = send(engine, client_for(api), NOW)
    assert result.delivered == 1
    (call,) = posts(api)
    assert call.params["channel"] == "C1" and call.params["text"] == "message k1"
    assert call.params["metadata"] == {"event_type": "opsbot_outbox",
                                       "event_payload": {"outbox_id": oid}}
    (posted_ts,) = api.messages  # the ts chat.postMessage returned for the only post
    assert api.messages[posted_ts]["channel"] == "C1"
    stored = row(engine, oid)
    assert stored.status == "delivered" and stored.ts == posted_ts
    assert send(engine, client_for(api), NOW + timedelta(hours=1)).delivered == 0
    assert len(posts(api)) == 1


def test_429_waits_retry_after_without_holding_up_other_channels(
        engine: Engine, store: Store, api: MockSlackAPI) -> None:
    slow, other = put(engine, store, "C1", "a"), put(engine, store, "C2", "b")
    api.fail_next("chat.postMessage", status=429, retry_after=7)
    result = send(engine, client_for(api), NOW)
    assert (result.delivered, result.retrying) == (1, 1)
    assert row(engine, other).status == "delivered"
    waiting = row(engine, slow)
    assert waiting.status == "pending" and waiting.last_error == "ratelimited"
    assert waiting.next_attempt_at == NOW + timedelta(seconds=7)
    assert not waiting.maybe_sent  # a 429 was refused: no history check needed
    assert send(engine, client_for(api), NOW + timedelta(seconds=6)).delivered == 0
    assert send(engine, client_for(api), NOW + timedelta(seconds=7)).delivered == 1
    assert row(engine, slow).status == "delivered"
    assert [c.status for c in posts(api)] == [429, 200, 200]
    assert api.calls_to("conversations.history") == []


def test_500_backs_off_checks_history_then_posts_once(engine: Engine, store: Store,
                                                      api: MockSlackAPI) -> None:
    oid = put(engine, store, "C1", "a")
    api.fail_next("chat.postMessage", status=500)
    assert send(engine, client_for(api), NOW).retrying == 1
    waiting = row(engine, oid)
    assert waiting.status == "pending" and waiting.maybe_sent
    assert waiting.next_attempt_at == NOW + timedelta(seconds=5)
    assert "internal_error" in waiting.last_error
    assert send(engine, client_for(api), NOW + timedelta(seconds=5)).delivered == 1
    assert len(api.calls_to("conversations.history")) == 1
    assert len(api.messages) == 1 and row(engine, oid).status == "delivered"


def test_timeout_that_did_post_is_recovered_not_posted_again(engine: Engine, store: Store,
                                                              api: MockSlackAPI) -> None:
    """The client gives up after 0.3 s; the mock answers after 0.8 s and keeps the post, as
    Slack may. The retry finds it in the history by its metadata."""
    oid = put(engine, store, "C1", "a")
    api.delay_next("chat.postMessage", 0.8)
    result = send(engine, client_for(api, timeout=0.3), NOW)
    assert result.retrying == 1 and "network" in result.errors[0]["error"]
    for _ in range(200):  # wait for the mock's delayed answer to land (bounded)
        if api.messages:
            break
        time.sleep(0.01)
    assert len(api.messages) == 1
    later = send(engine, client_for(api), NOW + timedelta(seconds=5))
    assert (later.delivered, later.recovered) == (0, 1)
    assert len(posts(api)) == 1
    assert row(engine, oid).ts == next(iter(api.messages))


def test_worker_killed_mid_send_sends_nothing_twice(engine: Engine, store: Store,
                                                    api: MockSlackAPI) -> None:
    posted, not_posted = put(engine, store, "C1", "a"), put(engine, store, "C2", "b")
    # A worker claimed both, posted the first and died before recording anything.
    claimed_at = NOW - timedelta(minutes=3)
    with write(engine) as conn:
        conn.execute(update(outbox_table).values(status="sending", claimed_at=claimed_at,
                                                 first_claimed_at=claimed_at, attempts=1))
    client = client_for(api)
    ts = client.chat_postMessage(channel="C1", text="message a",
                                 metadata=outbox.metadata_for(posted))["ts"]
    # Still within the claim: a live worker may be sending; nothing happens yet.
    assert send(engine, client, claimed_at + timedelta(minutes=1)).delivered == 0
    result = send(engine, client, NOW)
    assert (result.recovered, result.delivered) == (1, 1)
    assert row(engine, posted).ts == ts and row(engine, posted).status == "delivered"
    assert row(engine, not_posted).status == "delivered"
    assert sorted(c.params["channel"] for c in posts(api)) == ["C1", "C2"]  # C1 once only


def test_permanent_errors_fail_with_the_reason_and_fail_their_replies(
        engine: Engine, store: Store, api: MockSlackAPI) -> None:
    parent = put(engine, store, "C404", "a")
    reply = put(engine, store, "C404", "b", thread_of=parent)
    api.error_next("chat.postMessage", "channel_not_found")
    result = send(engine, client_for(api), NOW)
    assert result.failed == 1
    assert (row(engine, parent).status, row(engine, parent).last_error) == (
        "failed", "channel_not_found")
    send(engine, client_for(api), NOW)
    assert row(engine, reply).status == "failed"
    assert len(posts(api)) == 1


def test_thread_reply_and_edit_wait_for_their_message(engine: Engine, store: Store,
                                                      api: MockSlackAPI) -> None:
    parent = put(engine, store, "C1", "alert")
    reply = put(engine, store, "C1", "alert:recovered", thread_of=parent)
    edit = put(engine, store, "C1", "alert:edit", update_of=parent)
    result = send(engine, client_for(api), NOW)
    assert result.delivered == 3
    parent_ts = row(engine, parent).ts
    assert posts(api)[1].params["thread_ts"] == parent_ts
    (update_call,) = api.calls_to("chat.update")
    assert update_call.params["ts"] == parent_ts
    assert api.messages[parent_ts]["text"] == "message alert:edit"
    assert row(engine, reply).status == row(engine, edit).status == "delivered"


def test_an_hour_long_outage_delays_and_loses_nothing(engine: Engine, store: Store,
                                                      api: MockSlackAPI) -> None:
    oid = put(engine, store, "C1", "a")
    api.fail_next("chat.postMessage", status=503, times=10_000)
    client, now = client_for(api), NOW
    attempts = 0
    while now < NOW + timedelta(hours=1):
        attempts += send(engine, client, now).retrying
        now = row(engine, oid).next_attempt_at
    assert 5 <= attempts <= 20 and row(engine, oid).status == "pending"
    assert row(engine, oid).next_attempt_at - NOW <= timedelta(hours=1, minutes=10)
    api.reset()  # Slack is back
    assert send(engine, client, now).delivered == 1
    assert len(posts(api)) == 1 and row(engine, oid).status == "delivered"


def test_gives_up_after_two_days(engine: Engine, store: Store, api: MockSlackAPI) -> None:
    oid = put(engine, store, "C1", "a")
    api.fail_next("chat.postMessage", status=500)
    send(engine, client_for(api), NOW + timedelta(days=2))
    assert row(engine, oid).status == "failed"
    assert "gave up after 1 attempts" in row(engine, oid).last_error


def test_pacing_one_message_per_second_per_channel(engine: Engine, store: Store,
                                                   api: MockSlackAPI) -> None:
    for channel in ("C1", "C2", "C3"):
        for n in range(3):
            put(engine, store, channel, f"{channel}:{n}")
    pacer, sent = recording_pacer()
    assert deliver(engine, client_for(api), NOW, pacer=pacer).delivered == 9
    assert Counter(c for c, _ in sent) == {"C1": 3, "C2": 3, "C3": 3}
    for channel in ("C1", "C2", "C3"):
        times = [t for c, t in sent if c == channel]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    moments = [t for _, t in sent]
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(moments))
    assert max(moments) < 3.0  # round-robin: three channels in parallel, not nine seconds


def test_two_senders_at_once_post_each_message_once(database_url: str, engine: Engine,
                                                    store: Store, api: MockSlackAPI) -> None:
    for n in range(12):
        put(engine, store, f"C{n % 4}", f"k{n}")
    at_once(database_url, lambda own: deliver(own, client_for(api), NOW, pacer=Pacer(0, 0)))
    assert len(posts(api)) == 12
    with read(engine) as conn:
        assert outbox.counts(conn)["delivered"] == 12


# ---- edits of one post, posted channels, deliver_rows ----------------------------------------


def claim_now(engine: Engine, outbox_id: int, now: datetime = NOW) -> None:
    """Another sender (e.g. a handler's deliver_rows) has claimed the row and is sending it."""
    with write(engine) as conn:
        pending = conn.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one()
        assert outbox.claim(conn, pending, now) is not None


def due_ids(engine: Engine, now: datetime = NOW, ids: list[int] | None = None) -> list[int]:
    with write(engine) as conn:
        outbox.settle(conn, now)
    with read(engine) as conn:
        return [r.id for r in outbox.due(conn, now, ids=ids)]


def edit(engine: Engine, store: Store, post_id: int, version: str) -> int:
    with write(engine) as conn:
        post = conn.execute(select(outbox_table).where(outbox_table.c.id == post_id)).one()
        return outbox.enqueue_edit(conn, post, purpose="test_update", now=NOW,
                                   dedupe_key=f"edit:{post_id}:{version}",
                                   payload={"text": f"state {version}"})


def test_an_edit_waits_while_an_older_edit_of_its_post_is_being_sent(
        engine: Engine, store: Store, api: MockSlackAPI) -> None:
    post = put(engine, store, "C1", "post")
    send(engine, client_for(api), NOW)
    older = edit(engine, store, post, "acked")
    claim_now(engine, older)  # in flight: its chat.update may land at any moment
    newer = edit(engine, store, post, "snoozed")
    assert due_ids(engine) == []  # the newer one waits: it must land last
    assert send(engine, client_for(api), NOW).delivered == 0
    with write(engine) as conn:
        outbox.delivered(conn, older, row(engine, post).ts, NOW)
    assert due_ids(engine) == [newer]
    assert send(engine, client_for(api), NOW).delivered == 1
    assert api.messages[row(engine, post).ts]["text"] == "state snoozed"


def test_only_the_newest_edit_of_a_post_is_ever_sent(engine: Engine, store: Store,
                                                      api: MockSlackAPI) -> None:
    post = put(engine, store, "C1", "post")
    send(engine, client_for(api), NOW)
    older = edit(engine, store, post, "acked")
    claim_now(engine, older)
    newer = edit(engine, store, post, "snoozed")
    with write(engine) as conn:  # the older one's call failed: back to pending, retry due
        outbox.retry_later(conn, older, NOW, error="internal_error", maybe_sent=True,
                           retry_after=timedelta(0))
    assert due_ids(engine) == [newer]
    with read(engine) as conn:  # the superseded edit is dropped, never to be retried
        assert conn.scalar(select(func.count()).where(outbox_table.c.id == older)) == 0
    assert send(engine, client_for(api), NOW).delivered == 1
    (update_call,) = api.calls_to("chat.update")
    assert update_call.params["text"] == "state snoozed"


def test_an_edit_left_sending_by_a_dead_sender_does_not_hold_up_a_newer_one(
        engine: Engine, store: Store) -> None:
    post = put(engine, store, "C1", "post")
    with write(engine) as conn:
        outbox.delivered(conn, post, "1.0", NOW)
    older = edit(engine, store, post, "acked")
    claim_now(engine, older, NOW - outbox.STALE_SENDING - timedelta(seconds=1))
    newer = edit(engine, store, post, "snoozed")
    assert due_ids(engine) == [newer]


def test_due_takes_only_the_rows_asked_for(engine: Engine, store: Store) -> None:
    first, second = put(engine, store, "C1", "a"), put(engine, store, "C2", "b")
    assert due_ids(engine) == [first, second]
    assert due_ids(engine, ids=[second]) == [second]
    assert due_ids(engine, ids=[]) == []


def test_posted_channels_count_every_status_but_not_replies_or_edits(
        engine: Engine, store: Store) -> None:
    delivered = put(engine, store, "C1", "p1", subject="s:1")
    failed = put(engine, store, "C2", "p2", subject="s:1")
    put(engine, store, "C3", "p3", subject="s:2")
    put(engine, store, "C4", "reply", subject="s:1", thread_of=delivered)
    put(engine, store, "C5", "edit", subject="s:1", update_of=delivered)
    with write(engine) as conn:
        outbox.delivered(conn, delivered, "1.0", NOW)
        outbox.fail(conn, failed, NOW, error="not_in_channel")
        assert outbox.posted_channels(conn, "s:1", "test") == {"C1", "C2"}
        assert outbox.posted_channels(conn, "s:1", "other") == set()


def test_enqueue_new_says_whether_it_queued(engine: Engine, store: Store) -> None:
    def enqueue_new() -> int | None:
        with write(engine) as conn:
            return outbox.enqueue_new(conn, store_id=store.id, channel="C1", purpose="test",
                                      dedupe_key="k", payload={"text": "x"}, now=NOW)

    first = enqueue_new()
    assert first is not None and enqueue_new() is None


def test_deliver_rows_pauses_a_rate_limited_channel_for_the_rest_of_the_call(
        engine: Engine, store: Store, api: MockSlackAPI) -> None:
    from jobs.delivery import deliver_rows

    one, two = put(engine, store, "C1", "one"), put(engine, store, "C1", "two")
    other = put(engine, store, "C2", "other")
    send(engine, client_for(api), NOW)
    edits = [edit(engine, store, p, "v1") for p in (one, two, other)]
    api.fail_next("chat.update", status=429, retry_after=7)
    result = deliver_rows(engine, client_for(api), edits, NOW)
    assert (result.delivered, result.retrying) == (1, 1)
    assert [c.params["channel"] for c in api.calls_to("chat.update")] == ["C1", "C2"]
    assert row(engine, edits[1]).status == "pending"  # left to the worker, not tried now
