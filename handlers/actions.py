"""Interactive listeners (buttons, checkboxes): each feature registers its own."""

from __future__ import annotations

import importlib

from slack_bolt import App
from sqlalchemy import Engine

from bot.config import Settings

# Modules with `register(app, engine, settings)`: checklist ticks, alert acknowledge/snooze.
ACTION_MODULES = ("handlers.checklist_actions", "handlers.alert_actions")


def register(app: App, engine: Engine, settings: Settings) -> None:
    for name in ACTION_MODULES:
        importlib.import_module(name).register(app, engine, settings)
