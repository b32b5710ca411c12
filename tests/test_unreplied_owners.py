"""The unreplied inquiries per owner: the same order on SQLite and PostgreSQL, ties included."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.metrics.inquiry_checks import inquiry_figures
from bot.storage import read, write
from bot.stores import Store
from tests import facts

NOW = datetime(2026, 11, 13, 1, 0)


def test_ties_rank_named_owners_by_name_and_no_owner_last(engine: Engine, store: Store
                                                          ) -> None:
    owners = ["Chen", "Chen", "Chen", None, "", "Wang", "Wang", "li", "li", "Zhao", "Zhao",
              "An"]
    rows = [{"inquiry_id": f"Q{i}", "created_at": NOW - timedelta(days=3, minutes=i),
             "owner": owner} for i, owner in enumerate(owners)]
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", rows, ingested_at=NOW)
    with read(engine) as conn:
        f = inquiry_figures(conn, store, NOW, NOW - timedelta(days=1), NOW)
    assert f["unreplied_count"] == len(owners)
    # count first; among the twos, named owners by name (case aside), then no owner
    assert [(o["owner"], o["count"]) for o in f["unreplied_by_owner"]] == [
        ("Chen", 3), ("li", 2), ("Wang", 2), ("Zhao", 2), (None, 2), ("An", 1)]
