"""`python -m handlers.manifest`: write the registry's slash commands into
slack-app-manifest.yml (`make manifest`), so the app Slack installs knows exactly the commands
the dispatcher answers. tests/test_command_registry.py fails when they disagree."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from handlers.commands import COMMANDS

MANIFEST = Path(__file__).resolve().parent.parent / "slack-app-manifest.yml"
# The bot scopes opsbot asks for: the manifest's oauth_config.scopes.bot and, in OAuth mode,
# what /slack/install requests (tests/test_oauth.py checks they agree).
BOT_SCOPES = ("commands", "chat:write", "files:read", "files:write", "channels:history",
              "groups:history", "im:history", "users:read", "channels:read", "groups:read")
_BLOCK = re.compile(r"(?ms)^  slash_commands:\n.*?(?=^\S)")


def slash_commands_yaml(url: str = "https://YOUR-HOST/slack/events") -> str:
    lines = ["  slash_commands:"]
    for command in COMMANDS.values():
        lines += [f"    - command: {command.name}",
                  f"      url: {url}",
                  f"      description: {json.dumps(command.summary, ensure_ascii=False)}",
                  f"      usage_hint: {json.dumps(command.usage_hint, ensure_ascii=False)}",
                  f"      should_escape: {'true' if command.escapes else 'false'}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    text = MANIFEST.read_text()
    MANIFEST.write_text(_BLOCK.sub(lambda _m: slash_commands_yaml(), text, count=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
