"""Every module of ours imports on its own, whichever is imported first: an import cycle
(bot/countries.py <-> templates/) only shows when the wrong module comes first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "templates", "handlers", "jobs", "cli")

# Run in a child process: each module is imported with none of ours loaded yet (third-party
# ones stay loaded, so this takes seconds).
SCRIPT = """
import importlib, pkgutil, sys
names = []
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    names.append(package)
    names += [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
              # what runs on import: the command line's entry, Alembic's environment
              if not m.name.endswith("__main__") and not m.name.startswith("bot.migrations")]
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] in sys.argv[1:]]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *PACKAGES], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    count, *failed = done.stdout.strip().split("\n")
    assert int(count) > 100  # every module was tried
    assert [f for f in failed if f] == []
