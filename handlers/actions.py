"""Interactive listeners (buttons, checkboxes): each feature registers its own."""

from __future__ import annotations

from slack_bolt import App
from sqlalchemy import Engine

from bot.config import Settings
from handlers import alert_actions, checklist_actions, customer_actions


def register(app: App, engine: Engine, settings: Settings) -> None:
    """Checklist ticks, alert acknowledge/snooze, the /customers buttons."""
    for feature in (checklist_actions, alert_actions, customer_actions):
        feature.register(app, engine, settings)
