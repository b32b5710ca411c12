"""The inquiry query layer against hand-computed fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, insert

from bot.countries import code_of
from bot.metrics.inquiries import Filters, spam, summarize, unreplied
from bot.models import drops, facts
from bot.periods import as_utc, utcnow
from bot.storage import read, write
from bot.stores import Store, configure_store

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0)  # 10:00 on the 20th in Shanghai


def local(moment: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    """A store-local 'YYYY-MM-DD HH:MM' as the naive UTC the database holds."""
    return as_utc(datetime.fromisoformat(moment).replace(tzinfo=tz))


def add_inquiries(engine: Engine, store: Store, rows: list[dict[str, Any]],
                  arrived: datetime | None = None) -> None:
    """Insert facts the way ingestion leaves them: one drop, one row per inquiry. The drop
    arrives `arrived` (naive UTC; now by default), which decides the days its list covers
    (bot/metrics/freshness.py)."""
    with write(engine) as conn:
        drop_id = conn.execute(insert(drops).values(
            store_id=store.id, file_name="inquiries.xlsx", sha256=uuid.uuid4().hex,
            kind="inquiries", status="ingested", source="cli", rows=len(rows),
            inserted=len(rows), errors=[], created_at=arrived or utcnow(),
        ).returning(drops.c.id)).scalar_one()
        defaults = dict.fromkeys(("buyer", "country", "company", "email", "product_id",
                                  "product_title", "subject", "replied_at", "owner", "is_spam"))
        conn.execute(insert(facts["inquiries"]), [
            {**defaults, **row, "store_id": store.id, "drop_id": drop_id,
             "key": f"{store.id}-{row['inquiry_id']}", "updated_at": utcnow()}
            for row in rows
        ])


def inquiry(iid: str, created: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"inquiry_id": iid, "created_at": local(created)}
    if "replied" in values:
        row["replied_at"] = local(values.pop("replied"))
    return {**row, **values}


FIXTURE = [
    # the 18th (the day before yesterday); i0 is one minute before Shanghai midnight
    inquiry("i0", "2026-11-18 23:59", country="US", product_id="P1", replied="2026-11-19 08:00"),
    inquiry("i6", "2026-11-18 10:00", country="US", is_spam=True),
    # yesterday, the 19th; i1 is ten minutes after midnight (still the 18th in UTC)
    inquiry("i1", "2026-11-19 00:10", buyer="Ann", country="US", product_id="P1",
            product_title="LED lamp", owner="Tom", replied="2026-11-19 02:00"),
    inquiry("i2", "2026-11-19 09:00", buyer="Bob", country="US", product_id="P1",
            product_title="LED lamp", owner="Tom", subject="5000 pcs?"),
    inquiry("i3", "2026-11-19 12:00", buyer="Cem", country="Germany", product_id="P2",
            product_title="Solar light", owner="Amy", replied="2026-11-19 13:00"),
    inquiry("i4", "2026-11-19 23:59", buyer="Spammer", country="DE", product_id="P2",
            product_title="Solar light", owner="Amy", is_spam=True),
    inquiry("i5", "2026-11-19 15:00", buyer="Dee", product_id="P3", is_spam=False),
    # today, the 20th: i7 is answered only after "now", i8 arrives after "now"
    inquiry("i7", "2026-11-20 08:00", buyer="Eve", country="US", product_id="P1",
            owner="Tom", replied="2026-11-20 11:00"),
    inquiry("i8", "2026-11-20 11:00", buyer="Fay", country="US", product_id="P1"),
]

YESTERDAY = (date(2026, 11, 19), date(2026, 11, 19))
TODAY = (date(2026, 11, 20), date(2026, 11, 20))


@pytest.fixture
def seeded(engine: Engine, store: Store) -> Store:
    add_inquiries(engine, store, FIXTURE)
    return store


def test_summary_of_yesterday(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        data = summarize(conn, seeded, *YESTERDAY, now=NOW, name="yesterday")
    assert (data["start"], data["end"]) == ("2026-11-19", "2026-11-19")
    assert (data["total"], data["spam"], data["valid"]) == (5, 1, 4)
    assert (data["replied"], data["unreplied"]) == (2, 2)
    assert data["by_country"] == [  # DE and Germany: one country
        {"country": "DE", "count": 2, "valid": 1, "spam": 1},
        {"country": "US", "count": 2, "valid": 2, "spam": 0},
        {"country": None, "count": 1, "valid": 1, "spam": 0},
    ]
    assert data["coverage"]["complete"] is True
    assert [(p["product_id"], p["product"], p["count"]) for p in data["by_product"]] == [
        ("P1", "LED lamp", 2), ("P2", "Solar light", 2), ("P3", None, 1)]
    assert data["previous"]["start"] == data["previous"]["end"] == "2026-11-18"
    assert data["previous"]["total"] == 2  # i0 (23:59 local) and i6, not i1 (00:10 local)
    assert data["change"] == pytest.approx(1.5)
    assert data["partial"] is False and data["previous"]["until"] is None


def test_today_is_compared_with_yesterday_up_to_the_same_time(
    engine: Engine, seeded: Store,
) -> None:
    with read(engine) as conn:
        data = summarize(conn, seeded, *TODAY, now=NOW, name="today")
    assert data["partial"] is True
    assert data["total"] == 1  # i7; i8 arrives after now
    assert (data["replied"], data["unreplied"]) == (0, 1)  # i7's reply comes after now
    assert data["previous"]["total"] == 2  # i1 and i2, before 10:00 yesterday; not i3..i5
    assert data["previous"]["until"] == "2026-11-19T02:00:00Z"
    assert data["change"] == pytest.approx(-0.5)


def test_without_now_everything_stored_counts(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        data = summarize(conn, seeded, *TODAY)
    assert (data["total"], data["replied"], data["previous"]["total"]) == (2, 1, 5)


@pytest.mark.parametrize(("filters", "total"), [
    (Filters(country="US"), 2),
    (Filters(country="us"), 2),
    (Filters(country="united states"), 2),
    (Filters(country="germany"), 2),  # "Germany" and "DE"
    (Filters(country="DE"), 2),
    (Filters(owner="tom"), 2),
    (Filters(owner="TOM", country="US"), 2),
    (Filters(owner="Amy", country="US"), 0),
    (Filters(product="p2"), 2),
    (Filters(product="P2", country="Germany", owner="amy"), 2),
    (Filters(product="P3"), 1),
])
def test_filters_are_case_insensitive_and_combine(
    engine: Engine, seeded: Store, filters: Filters, total: int,
) -> None:
    with read(engine) as conn:
        data = summarize(conn, seeded, *YESTERDAY, filters, now=NOW)
    assert data["total"] == total
    assert sum(c["count"] for c in data["by_country"]) == total
    assert data["filters"] == filters.to_json()


def test_filters_apply_to_the_previous_period_too(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        data = summarize(conn, seeded, *YESTERDAY, Filters(product="P1"), now=NOW)
    assert (data["total"], data["previous"]["total"]) == (2, 1)  # i1, i2 vs i0
    assert data["change"] == pytest.approx(1.0)


def test_a_store_sees_only_its_own_inquiries(engine: Engine, seeded: Store) -> None:
    from bot.stores import add_store

    other = add_store(engine, "other", "UTC")
    add_inquiries(engine, other, [inquiry("i2", "2026-11-19 09:00", country="US")])
    with read(engine) as conn:
        assert summarize(conn, seeded, *YESTERDAY, now=NOW)["total"] == 5
        assert summarize(conn, other, *YESTERDAY, now=NOW)["total"] == 1


def test_unreplied_oldest_first_with_ages(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        data = unreplied(conn, seeded, NOW)
    assert data["count"] == 3 and data["shown"] == 3
    items = data["items"]
    assert [i["inquiry_id"] for i in items] == ["i2", "i5", "i7"]
    assert [i["age"] for i in items] == ["1d 1h", "19h 0m", "2h 0m"]
    assert [i["age_hours"] for i in items] == [25.0, 19.0, 2.0]
    assert [i["overdue"] for i in items] == [True, False, False]
    assert data["overdue"] == 1 and data["overdue_hours"] == 24
    first = items[0]
    assert (first["buyer"], first["country"], first["product_id"], first["product"],
            first["owner"], first["subject"]) == ("Bob", "US", "P1", "LED lamp", "Tom", "5000 pcs?")
    assert first["created_at"] == "2026-11-19T01:00:00Z"


def test_unreplied_limit_period_filters_and_threshold(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        limited = unreplied(conn, seeded, NOW, limit=2)
        in_period = unreplied(conn, seeded, NOW, start=YESTERDAY[0], end=YESTERDAY[1])
        by_owner = unreplied(conn, seeded, NOW, Filters(owner="tom"))
    assert (limited["count"], limited["shown"]) == (3, 2)
    assert [i["inquiry_id"] for i in in_period["items"]] == ["i2", "i5"]
    assert in_period["start"] == "2026-11-19"
    assert [i["inquiry_id"] for i in by_owner["items"]] == ["i2", "i7"]
    stricter = configure_store(engine, seeded, settings={"unreplied_hours": 12})
    with read(engine) as conn:
        assert unreplied(conn, stricter, NOW)["overdue"] == 2


def test_spam_suspects_of_a_period(engine: Engine, seeded: Store) -> None:
    with read(engine) as conn:
        week = spam(conn, seeded, date(2026, 11, 14), date(2026, 11, 20), NOW, name="week")
        yesterday = spam(conn, seeded, *YESTERDAY, NOW)
    assert [i["inquiry_id"] for i in week["items"]] == ["i6", "i4"]
    assert week["count"] == 2 and week["overdue"] is None
    assert [i["inquiry_id"] for i in yesterday["items"]] == ["i4"]


def test_matches_a_row_by_row_count_on_random_data(engine: Engine, store: Store) -> None:
    rng = random.Random(7)
    rows = []
    for n in range(300):
        created = datetime(2026, 11, 1) + timedelta(minutes=rng.randrange(20 * 24 * 60))
        replied = created + timedelta(hours=rng.randrange(1, 60)) if rng.random() < .6 else None
        rows.append({"inquiry_id": f"r{n}", "created_at": created, "replied_at": replied,
                     "country": rng.choice(["US", "DE", "IN", None, "Germany", "德国",
                                            "United States"]),
                     "product_id": rng.choice(["A", "B", "C"]),
                     "is_spam": rng.choice([True, False, None])})
    add_inquiries(engine, store, rows)
    now = datetime(2026, 11, 21)
    lo, hi = datetime(2026, 11, 9, 16), datetime(2026, 11, 16, 16)  # 10th..16th in Shanghai
    inside = [r for r in rows if lo <= r["created_at"] < hi]
    valid = [r for r in inside if r["is_spam"] is not True]
    with read(engine) as conn:
        data = summarize(conn, store, date(2026, 11, 10), date(2026, 11, 16), now=now)
        open_ = unreplied(conn, store, now, limit=1000)
    assert data["total"] == len(inside)
    assert data["valid"] == len(valid)
    assert data["replied"] == sum(1 for r in valid if r["replied_at"] and r["replied_at"] <= now)
    counts = Counter(code_of(r["country"]) for r in inside)  # spellings of one country: one
    assert {code_of(c["country"]): c["count"] for c in data["by_country"]} == counts
    assert [c["count"] for c in data["by_country"]] == sorted(counts.values(), reverse=True)
    expected_open = sorted((r for r in rows if r["is_spam"] is not True and r["created_at"] <= now
                            and (r["replied_at"] is None or r["replied_at"] > now)),
                           key=lambda r: r["created_at"])
    assert [i["inquiry_id"] for i in open_["items"]] == [r["inquiry_id"] for r in expected_open]


def test_every_query_uses_the_store_and_time_index(engine: Engine, seeded: Store) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("plans are checked on SQLite; PostgreSQL picks by table statistics")
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with read(engine) as conn:
            summarize(conn, seeded, *YESTERDAY, Filters(country="US"), now=NOW)
            spam(conn, seeded, *YESTERDAY, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) >= 4
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
            if re.search(r"\bFROM inquiries\b", statement):
                assert re.search(r"SEARCH inquiries USING (COVERING )?INDEX "
                                 r"ix_inquiries_store_id_created_at", plan), (statement, plan)
            else:  # the coverage of the inquiry lists: one store's drops
                assert re.search(r"SEARCH drops USING INDEX ix_drops_store_id", plan), (
                    statement, plan)
            assert "SCAN" not in plan.replace("SCAN first", ""), (statement, plan)
