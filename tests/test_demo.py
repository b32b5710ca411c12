"""The demo store: generated in the back office's formats, ingested like any drop."""

from __future__ import annotations

import functools
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from bot.ingest.drop import DropResult
from bot.ingest.kinds import KINDS
from bot.models import facts
from bot.periods import local_today
from bot.storage import read
from bot.stores import Store
from cli.demo import ingest_demo
from cli.main import main
from demo.generator import (
    DROP_DAYS,
    ESCAPE_BUYER,
    ESCAPE_COMPANY,
    FALLING_KEYWORDS,
    GONE_COUNTRY,
    demo_files,
    generate,
)

END = date(2026, 3, 10)
DAYS = 90
VOLUME = 0.4  # fewer inquiries and ad rows than the real demo, for speed
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def demo_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same demo generated twice, into two folders."""
    first, second = tmp_path_factory.mktemp("demo1"), tmp_path_factory.mktemp("demo2")
    generate(first, end=END, days=DAYS, volume=VOLUME)
    generate(second, end=END, days=DAYS, volume=VOLUME)
    return first, second


def _counts(engine: Engine) -> dict[str, int]:
    with read(engine) as conn:
        return {k: conn.scalar(select(func.count()).select_from(t)) or 0
                for k, t in facts.items()}


def _local_day(moment: datetime) -> date:
    return local_today(moment, TZ)


@pytest.fixture
def ingested(engine: Engine, store: Store, demo_dirs: tuple[Path, Path]) -> list[DropResult]:
    return ingest_demo(engine, store, demo_dirs[0])


def test_every_file_ingests_and_every_kind_is_there(ingested: list[DropResult],
                                                     engine: Engine) -> None:
    by_status = Counter(r.status for r in ingested)
    assert by_status["rejected"] == 0
    assert sum(r.quarantined for r in ingested) == 0
    # The repeated browser download is the only duplicate, and it points at its original.
    (dup,) = [r for r in ingested if r.status == "duplicate"]
    assert dup.file.endswith(" (1).xls")
    original = next(r for r in ingested if r.drop_id == dup.duplicate_of)
    assert original.file == dup.file.replace(" (1)", "")
    assert {r.kind for r in ingested} == {k.name for k in KINDS}
    formats = {r.file.rsplit(".", 1)[1] for r in ingested}
    assert formats == {"xls", "xlsx", "csv"}
    counts = _counts(engine)
    assert all(counts[k.name] > 0 for k in KINDS), counts

    # Inquiries cover the days asked for; overlapping exports store each inquiry once, and
    # the later export updates the replies given since the earlier one.
    table = facts["inquiries"]
    with read(engine) as conn:
        first, last = conn.execute(select(func.min(table.c.created_at),
                                          func.max(table.c.created_at))).one()
        stored = conn.scalar(select(func.count()).select_from(table))
    assert (_local_day(last) - _local_day(first)).days + 1 >= DAYS
    assert _local_day(last) == END
    drops = [r for r in ingested if r.kind == "inquiries"]
    # Overlapping exports: every inquiry stored once, the later export updated replies.
    assert stored == sum(r.inserted for r in drops)
    assert sum(r.rows for r in drops) > stored
    assert drops[-1].updated > 0

    # The escaping probes are stored verbatim (templates escape them on the way out).
    with read(engine) as conn:
        buyers = set(conn.scalars(select(table.c.buyer)))
        companies = set(conn.scalars(select(table.c.company)))
    assert ESCAPE_BUYER in buyers
    assert ESCAPE_COMPANY in companies


def test_running_the_demo_again_changes_nothing(ingested: list[DropResult], engine: Engine,
                                                store: Store,
                                                demo_dirs: tuple[Path, Path]) -> None:
    before = _counts(engine)
    again = ingest_demo(engine, store, demo_dirs[1])  # regenerated: byte-identical files
    assert len(again) == len(ingested)
    assert {r.status for r in again} == {"duplicate"}
    assert _counts(engine) == before


def test_the_story_is_in_the_data(ingested: list[DropResult], engine: Engine) -> None:
    """What the checklist and the alert must find: the inquiry drop, key keywords out of
    positions 1-5, orders due and overdue, long-lost customers."""
    table = facts["inquiries"]
    with read(engine) as conn:
        rows = conn.execute(select(table.c.created_at, table.c.country)
                            .where(table.c.is_spam.is_not(True))).all()
    per_day = Counter(_local_day(r.created_at) for r in rows)
    drop_days = [END - timedelta(i) for i in range(DROP_DAYS)]
    for day in drop_days:
        usual = [per_day[day - timedelta(7 * w)] for w in range(1, 5)]
        assert per_day[day] < 0.6 * sum(usual) / len(usual), (day, per_day[day], usual)
    countries = Counter(r.country for r in rows)
    assert countries.most_common(1)[0][0] == GONE_COUNTRY
    assert not any(r.country == GONE_COUNTRY for r in rows
                   if _local_day(r.created_at) in drop_days)
    p4p = facts["p4p"]
    with read(engine) as conn:
        lately = conn.execute(select(p4p.c.keyword, p4p.c.position)
                              .where(p4p.c.date == END, p4p.c.keyword.in_(FALLING_KEYWORDS))).all()
    assert lately and all(not 1 <= r.position <= 5 for r in lately)

    orders, customers = facts["orders"], facts["customers"]
    today = END + timedelta(1)
    with read(engine) as conn:
        waiting = conn.execute(select(orders.c.ship_by)
                               .where(orders.c.status == "WAIT_SELLER_SEND_GOODS")).all()
        old = datetime(today.year, today.month, today.day) - timedelta(days=90)
        lost = conn.scalar(select(func.count()).select_from(customers).where(
            customers.c.last_order_at < old, customers.c.last_contact_at < old))
        currencies = set(conn.scalars(select(orders.c.currency)))
    assert any(today <= r.ship_by <= today + timedelta(2) for r in waiting)
    assert any(r.ship_by < today for r in waiting)  # overdue
    assert lost and lost > 0
    assert currencies == {"USD"}


def test_cli_demo_prints_each_file_and_is_safe_twice(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cli.demo.generate", functools.partial(generate, volume=VOLUME))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["--database", url, "demo", "--dir", str(tmp_path / "data"), "--end", str(END),
            "--days", str(DAYS)]
    assert main(args) == 0
    text = capsys.readouterr().out
    files = demo_files(tmp_path / "data")
    assert all(f.name in text for f in files)
    assert "0 rejected" in text and "0 quarantined" in text
    # the weekly and the monthly review, with their charts next to the data
    assert "The weekly review" in text and "The monthly review" in text
    charts = sorted(p.name for p in (tmp_path / "data").glob("*-trend-*.png"))
    assert [c.split("-")[0] for c in charts] == ["monthly", "weekly"]
    # the last line says how to ask the demo store; asked so, it answers
    ask_line = text.strip().splitlines()[-1]
    assert f'--database {url} ask --store demo "/inquiries yesterday"' in ask_line
    assert main(["ask", "--store", "demo", "/inquiries yesterday", "--database", url]) == 0
    assert "Inquiries" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["store"] == "demo"
    assert [r["kind"] for r in data["reviews"]] == ["weekly", "monthly"]
    assert list(data["reviews"][1]["items"]) == ["overview", "p4p", "products", "keywords",
                                                 "transactions", "review"]
    assert {d["status"] for d in data["drops"]} == {"duplicate"}
    assert main([*args[:-1], "30"]) == 2
    assert "at least 90" in capsys.readouterr().err


def _money(cell: object) -> float:
    text = str(cell).lstrip("¥￥").replace(",", "")
    return float(text) if text not in ("", "-", "--") else 0.0


def test_keywords_wasted_lists_what_cost_money_and_brought_nothing(
        ingested: list[DropResult], engine: Engine, store: Store,
        demo_dirs: tuple[Path, Path]) -> None:
    """`/keywords wasted` on the demo store, checked the way a user would: by adding up the
    P4P plan reports' rows in the exported files."""
    from openpyxl import load_workbook

    from cli.terminal import message_text
    from demo.generator import WASTED_KEYWORDS
    from handlers.commands import run_command

    now = datetime.combine(END + timedelta(1), datetime.min.time().replace(hour=9), TZ)
    result = run_command(engine, "/keywords", "wasted", store=store, now=now)
    data = result.data
    start, end = date.fromisoformat(data["start"]), date.fromisoformat(data["end"])
    assert (end - start).days == 6 and end == END  # the latest keyword report's week
    spend: Counter[str] = Counter()
    clicks: Counter[str] = Counter()
    inquired: set[str] = set()
    for path in sorted(demo_dirs[0].glob("*.xlsx")):
        rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
        header = next((list(r) for r in rows if r and r[0] == "日期"), None)
        if header is None or "关键词" not in header:
            continue
        col = {h: i for i, h in enumerate(header)}
        for row in rows[rows.index(tuple(header)) + 1:]:
            if row[0] == "汇总":
                continue
            word, day = row[col["关键词"]], date.fromisoformat(str(row[0]))
            if str(row[col["询盘量"]]) not in ("-", "0"):
                inquired.add(word)
            if start <= day <= end:
                spend[word] += _money(row[col["花费"]])
                clicks[word] += int(row[col["点击量"]])
    by_hand = sorted((w for w in spend if clicks[w] >= 10 and spend[w] > 0 and w not in inquired),
                     key=lambda w: -spend[w])
    assert by_hand and set(by_hand) <= set(WASTED_KEYWORDS)
    assert [r["keyword"] for r in data["wasted"]] == by_hand
    for row in data["wasted"]:
        assert row["spend"] == pytest.approx(round(spend[row["keyword"]], 2))
        assert row["clicks"] == clicks[row["keyword"]]
    assert data["wasted_spend"] == pytest.approx(sum(spend[w] for w in by_hand), abs=0.01)
    text = message_text(result.message)
    assert all(f"{w} — {spend[w]:,.2f} CNY" in text for w in by_hand)


def test_the_demo_store_shows_alerts_of_several_rules(ingested: list[DropResult],
                                                      engine: Engine, store: Store) -> None:
    """`opsbot alerts` on the demo store the morning after its last day: the inquiry drop,
    impressions and visitors down with it, and the plan that ran past its budget."""
    from bot.alerts import incidents
    from bot.storage import write
    from demo.generator import RUNAWAY

    now = datetime.combine(END + timedelta(1), datetime.min.time().replace(hour=9), TZ)
    with write(engine) as conn:
        incidents.run(conn, store, now, force=True)
        shown = incidents.active(conn, store, now)
    found = {(a["rule"], a["subject"]) for a in shown}
    assert {("inquiry_drop", ""), ("exposure_drop", "impressions"),
            ("exposure_drop", "visitors"), ("p4p_spend", "全站推广-智能投放")} <= found
    (runaway,) = [a for a in shown if a["rule"] == "p4p_spend"]
    assert runaway["figures"]["spend"] == pytest.approx(RUNAWAY * 200.0, abs=0.05)
    assert (runaway["figures"]["budget"], runaway["tier"]) == (200.0, "alert")
