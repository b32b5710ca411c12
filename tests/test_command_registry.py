"""One table of slash commands: the manifest, the help and the usage replies follow it."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import Engine

from handlers.commands import COMMANDS, run_command
from templates.i18n import gettext

MANIFEST = Path(__file__).resolve().parent.parent / "slack-app-manifest.yml"


def test_the_manifest_declares_exactly_the_registered_commands() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    declared = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(declared) == set(COMMANDS)
    for name, command in COMMANDS.items():
        assert declared[name]["description"] == command.summary, name
        assert declared[name]["usage_hint"] == command.usage_hint, name
        assert declared[name]["should_escape"] is command.escapes, name
        assert len(command.summary) <= 100  # Slack's limit for a description


def test_help_lists_every_command_and_its_usage(engine: Engine) -> None:
    for lang in ("en", "zh"):
        result = run_command(engine, "/opsbot", "help", channel_id=None)
        if lang == "zh":
            from bot.stores import add_store
            store = add_store(engine, "zh-store", "Asia/Shanghai", "zh")
            result = run_command(engine, "/opsbot", "help", store=store)
        text = str(result.message)
        for command in COMMANDS.values():
            for syntax, what in command.usage:
                assert syntax in text
                assert gettext(lang, what) in text


def test_an_unknown_command_gets_every_usage(engine: Engine) -> None:
    result = run_command(engine, "/nonsense", "")
    assert not result.ok and result.ephemeral
    text = str(result.message)
    assert all(name in text for name in COMMANDS)
