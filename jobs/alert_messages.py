"""The alert's Slack messages: rendered from templates and queued in the outbox, in the same
transaction as the lifecycle change that called for them (bot/alerts/incidents.py decides, this
module only connects it to Slack).

* fired -> one post per bound channel (dedupe key per alert, severity, channel), with the
  store's `alert_mention` in front;
* worse -> one new post per channel ("dropped further", with the mention), and every older
  post of the alert edited to show it was superseded (no buttons there any more); the post
  records that it announced an escalation (`"escalation": true` in its payload, which the
  sender does not pass to Slack), so every later edit of it keeps saying "dropped further";
* every post records the figures it was sent with (`"figures"` in its payload, not passed to
  Slack either: the alert's context but its STATE): a superseded post is redrawn with them, so
  "It got worse after this message" stands under what that message first said, not under
  the newer, worse figures (its state - acknowledged, snoozed, resolved - is the current one);
* recovered -> a "back to normal" reply in the thread of each channel's latest post, and
  every post of the alert, in every channel, edited to show it resolved;
* a button (acknowledge, snooze) -> every post edited (handlers/alert_actions.py);
* woke (a snooze ran out) -> every post edited to show the alert open again, buttons back;
* a channel bound while an alert is not resolved -> the alert posted there (catch_up), as its
  first post in that channel, exactly once (the same dedupe key as a first post);
* a watch (tier "watch") is posted only with the store's `watch_posts` on (the event's
  `post`), and never with a mention; when it becomes an alert, that post pings (an
  escalation if the watch had posts, else the alert's first post);
* reopened (down again within the cool-down) -> every post redrawn open again and one
  "down again" reply in the thread of each channel's latest post, no mention;
* held (quiet hours: the event's `held`) -> nothing now; bot.alerts.incidents.flush returns
  the events to queue once they end.

Edits are outbox rows too (`update_of`): each carries the whole current message and never a
mention, and a newer edit of a post replaces an older one still pending.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot import outbox
from bot.alerts import incidents as alerts
from bot.stores import Store
from templates import render

POST = alerts.POST
EDIT = "alert_update"
REPLY = "alert_recovered"
AGAIN = "alert_again"  # the "down again" reply of a reopened incident
ESCALATION = "escalation"  # the payload key marking a post that announced an escalation
SENT_WITH = "figures"  # the payload key holding the figures a post was sent with
# The alert's context keys (bot.alerts.incidents._context) that are its state; every other
# key is a figure of one evaluation: the rule's described figures (whatever the rule), its
# raw `figures`, the day, severity, tier and level, the hints.
STATE = ("id", "rule", "title", "subject", "store", "language", "timezone", "since", "status",
         "acknowledged_by", "snoozed_until", "snoozed_until_local", "resolved_day", "back")


def mention_for(store: Store) -> dict[str, str] | None:
    """The store's `alert_mention` as the template takes it, or None (`none`)."""
    value = str(store.setting("alert_mention") or "none")
    if value == "none":
        return None
    if value in ("here", "channel"):
        return {"kind": value, "id": ""}
    return {"kind": "subteam" if value.startswith("S") else "user", "id": value}


def queue(conn: Connection, store: Store, events: list[dict[str, Any]], now: datetime,
          channels: list[str]) -> None:
    """Queue the messages the events call for in the store's bound `channels`; each event's
    `messages` counts the posts queued (edits are not counted) and `channels` lists where
    they went (empty: no bound channel yet; catch_up posts it once one is bound)."""
    for event in events:
        if event.get("held") or event.get("post") is False:
            continue  # quiet hours (flush queues it later) or a watch that is not posted
        if event["event"] in ("fired", "worse"):
            event["channels"] = list(channels)
            # worse than a watch that was never posted: the alert's first post
            escalation = event["event"] == "worse" and bool(
                outbox.posted_channels(conn, f"alert:{event['alert_id']}", POST))
            event["messages"] = _announce(conn, store, event["alert_id"], now, channels,
                                          escalation=escalation)
        elif event["event"] == "woke":
            redraw(conn, event["alert_id"], now, f"woke-{event['until']}")
        elif event["event"] == "reopened":
            event["channels"] = list(channels)
            event["messages"] = _reopened(conn, store, event["alert_id"], now, channels)
        elif event["event"] == "recovered":
            event["channels"] = list(channels)
            event["messages"] = _recovered(conn, store, event["alert_id"], now, channels,
                                           event["back"])


def _post_key(alert_id: int, severity: str, channel: str) -> str:
    """A first post's dedupe key: one post per alert, severity and channel, whoever queues
    it (the evaluation or a channel bound later)."""
    return f"alert:{alert_id}:{severity}:{channel}"


def _announce(conn: Connection, store: Store, alert_id: int, now: datetime,
              channels: list[str], *, escalation: bool) -> int:
    context = alerts.message_context(conn, alert_id, now)
    message = render("alert.json.j2", alert=context, lang=store.language,
                     mention=_mention(store, context), escalation=escalation)
    payload = {**_with_figures(message, context), ESCALATION: True} if escalation else \
        _with_figures(message, context)
    new = [outbox.enqueue(conn, store_id=store.id, channel=channel, purpose=POST,
                          subject=f"alert:{alert_id}",
                          dedupe_key=_post_key(alert_id, context["level"], channel),
                          payload=payload, now=now)
           for channel in channels]
    if escalation:  # the older posts: superseded, without buttons
        redraw(conn, alert_id, now, f"superseded-{context['level']}", exclude=set(new))
    return len(channels)


def _mention(store: Store, context: dict[str, Any]) -> dict[str, str] | None:
    """Whom a first post or an escalation pings: nobody for a watch."""
    return None if context["tier"] == "watch" else mention_for(store)


def _reopened(conn: Connection, store: Store, alert_id: int, now: datetime,
              channels: list[str]) -> int:
    """Down again within the cool-down: one "down again" reply in the thread of each
    channel's latest post (no mention: the channel was pinged for this incident already),
    and every post redrawn open, with its buttons."""
    context = alerts.message_context(conn, alert_id, now)
    reply = render("alert_again.json.j2", alert=context, lang=store.language)
    latest = {p.channel: p.id for p in outbox.posts_of(conn, f"alert:{alert_id}", POST)}
    sent = 0
    for channel in channels:
        parent = latest.get(channel)
        if parent is None:
            continue
        outbox.enqueue(conn, store_id=store.id, channel=channel, purpose=AGAIN,
                       subject=f"alert:{alert_id}",
                       dedupe_key=f"alert:{alert_id}:again:{context['day']}:{channel}",
                       payload=reply, now=now, thread_of=parent)
        sent += 1
    redraw(conn, alert_id, now, f"reopened-{context['day']}")
    return sent


def _recovered(conn: Connection, store: Store, alert_id: int, now: datetime,
               channels: list[str], back: dict[str, Any]) -> int:
    context = alerts.message_context(conn, alert_id, now)
    reply = render("alert_recovered.json.j2", alert=context, back=back, lang=store.language)
    latest = {p.channel: p.id for p in outbox.posts_of(conn, f"alert:{alert_id}", POST)}
    sent = 0
    for channel in channels:
        parent = latest.get(channel)
        if parent is None:
            continue  # never posted there: nothing to reply under
        outbox.enqueue(conn, store_id=store.id, channel=channel, purpose=REPLY,
                       subject=f"alert:{alert_id}",
                       # a reopened incident recovers again: one reply per recovery
                       dedupe_key=f"alert:{alert_id}:recovered:{context['resolved_day']}:"
                                  f"{channel}", payload=reply,
                       now=now, thread_of=parent)
        sent += 1
    redraw(conn, alert_id, now, f"resolved-{context['resolved_day']}")
    return sent


def redraw(conn: Connection, alert_id: int, now: datetime, version: str,
           exclude: Collection[int] = ()) -> list[int]:
    """Queue an edit of every post of the alert, in every channel (but `exclude`), showing
    its current state; `version` names the change (one edit per post and version). Returns
    the edits' outbox ids. In a channel, a post followed by a newer one (an escalation) is
    drawn superseded; a post that announced an escalation stays drawn as one."""
    posts = outbox.posts_of(conn, f"alert:{alert_id}", POST)
    if not posts:
        return []
    context = alerts.message_context(conn, alert_id, now)
    last = {post.channel: post.id for post in posts}
    edits = []
    for post in posts:
        if post.id in exclude:
            continue
        superseded = post.id != last[post.channel]
        # a superseded post keeps the figures it was sent with (the module doc)
        drawn = {**context, **sent_with(post)} if superseded else context
        message = render("alert.json.j2", alert=drawn, lang=context["language"],
                         escalation=is_escalation(post), superseded=superseded)
        edits.append(outbox.enqueue_edit(
            conn, post, purpose=EDIT, dedupe_key=f"alert:{alert_id}:edit:{post.id}:{version}",
            payload=message, now=now))
    return edits


def _with_figures(message: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """A post's payload: the message, and the figures it shows (SENT_WITH)."""
    return {**message, SENT_WITH: {k: v for k, v in context.items() if k not in STATE}}


def sent_with(post: Any) -> dict[str, Any]:
    """The figures this post (an outbox row) was sent with; empty for a post that did not
    record them."""
    return dict((post.payload or {}).get(SENT_WITH) or {})


def is_escalation(post: Any) -> bool:
    """Did this post (an outbox row) announce that the alert got worse?"""
    return bool((post.payload or {}).get(ESCALATION))


def unposted(conn: Connection, store: Store, channels: list[str], now: datetime
             ) -> dict[int, list[str]]:
    """{alert id: bound channels without a post of it} for the store's alerts that are not
    resolved (empty when every channel has them all; a post that failed counts: it is not
    posted there again)."""
    found: dict[int, list[str]] = {}
    if not channels or alerts.quiet(store, now):
        return found  # quiet hours: flush posts them once they end
    for alert_id in alerts.postable_ids(conn, store):
        posted = outbox.posted_channels(conn, f"alert:{alert_id}", POST)
        missing = [c for c in channels if c not in posted]
        if missing:
            found[alert_id] = missing
    return found


def catch_up(conn: Connection, store: Store, now: datetime, channels: list[str]
             ) -> list[dict[str, Any]]:
    """Post every alert of the store that is not resolved to each bound channel that has
    no post of it yet (a channel bound after the alert fired); returns what was queued:
    [{"alert_id", "day", "channels"}], only the channels this call queued it for. Exactly
    once: the dedupe key is a first post's."""
    queued = []
    for alert_id, missing in unposted(conn, store, channels, now).items():
        context = alerts.message_context(conn, alert_id, now)
        # Someone already acknowledged or snoozed it: post it there, but ping nobody.
        mention = _mention(store, context) if context["status"] == "open" else None
        message = _with_figures(render("alert.json.j2", alert=context, lang=store.language,
                                       mention=mention), context)
        new = [channel for channel in missing
               if outbox.enqueue_new(conn, store_id=store.id, channel=channel, purpose=POST,
                                     subject=f"alert:{alert_id}",
                                     dedupe_key=_post_key(alert_id, context["level"],
                                                          channel),
                                     payload=message, now=now) is not None]
        if new:
            queued.append({"alert_id": alert_id, "day": context["day"], "channels": new})
    return queued
