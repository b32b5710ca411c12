"""The CLI's one error type, in its own module so every entry point (`opsbot`,
`python -m cli`, `python -m cli.main`) catches the same class: under `python -m cli.main`
the running module is `__main__`, and a class defined there would differ from the
`cli.main.UserError` the subcommand modules raise."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; printed as one line, never as a traceback."""
