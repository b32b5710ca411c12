"""Development helper: rewrite the initial migration from bot.models.

Until opsbot has a release, the schema lives in one initial revision; after a release, new
revisions are added with `alembic revision --autogenerate` instead. Run: `make migration`.
"""

import tempfile
from pathlib import Path

from alembic import command

from bot.storage import MIGRATIONS, alembic_config, make_engine

INITIAL = MIGRATIONS / "versions" / "0001_initial.py"


def main() -> None:
    INITIAL.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        with engine.begin() as conn:
            command.revision(
                alembic_config(conn), message="initial schema", autogenerate=True, rev_id="0001"
            )
        engine.dispose()
    generated = next((MIGRATIONS / "versions").glob("0001_*.py"))
    generated.rename(INITIAL)
    print(f"wrote {INITIAL}")


if __name__ == "__main__":
    main()
