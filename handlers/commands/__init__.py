"""Every slash command, without any transport: text in, `CommandResult` out.

The Bolt listeners (`handlers/slash.py`) and the CLI (`opsbot ask`) both call `run_command`,
so the terminal gives exactly the answer Slack gives. One module per command, declared in
the registry (`registry.py`). Pure Python: no slack_* import here.
"""

from handlers.commands.call import Command, CommandResult, UsageError
from handlers.commands.registry import COMMANDS, needs_store, normalize_command, run_command

__all__ = ["COMMANDS", "Command", "CommandResult", "UsageError", "needs_store",
           "normalize_command", "run_command"]
