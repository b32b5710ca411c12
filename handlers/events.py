"""Events API plumbing: one effect per event, and a quiet ack for events nobody acts on.

Slack redelivers an event when our ack seems late (`X-Slack-Retry-Num`, same `event_id`);
the retry is acked like any other and then dropped by `first_delivery`, which records event
ids in SQL. The check runs inside the listener, after bolt has acked, so a busy database
never delays an ack into yet another retry.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from sqlalchemy import Engine

from bot import receipts
from bot.config import Settings

log = logging.getLogger(__name__)


def first_delivery(engine: Engine, body: dict[str, Any]) -> bool:
    """True the first time an event id is seen (events without one always count)."""
    event_id = body.get("event_id")
    if not event_id or receipts.claim(engine, receipts.EVENT, str(event_id)):
        return True
    log.info("event %s was delivered again: already handled", event_id)
    return False


def register(app: App, engine: Engine, settings: Settings) -> None:
    # Listeners match in order, so these come after the feature listeners. Without them bolt
    # answers unmatched events with 404, and Slack retries and finally disables the app.
    @app.event("message")
    def other_messages() -> None:
        """Plain chatter in a channel the bot is in: nothing to do."""
