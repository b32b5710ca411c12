"""Running the `opsbot` CLI in-process, as a user would from a shell; the `cli` fixture
(registered as a plugin by conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.storage import dispose_all
from cli.main import main

Run = Callable[..., tuple[int, str, str]]


def run_cli(database_url: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """For a fixture to `yield from`: run `opsbot ARGS...` against `database_url`, giving
    (exit code, stdout, stderr); the cached engines are disposed afterwards."""
    monkeypatch.setenv("OPSBOT_DATABASE_URL", database_url)

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    dispose_all()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """Run `opsbot ARGS...` against the test's database: (exit code, stdout, stderr)."""
    yield from run_cli(database_url, monkeypatch, capsys)
