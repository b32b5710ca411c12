"""How far lists cover, end to end through `opsbot ingest`, `opsbot tick` and `opsbot alerts`:
a day with no rows in a list is a day with nothing in it, not a day the list does not cover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

import bot.freshness
import bot.ingest
from tests.cli_helpers import Run, run_cli
from tests.files import write_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO_FROM = date(2026, 11, 14)  # a Saturday: from this day on, no inquiry at all
HEADER = ["询盘ID", "创建时间", "客户名", "国家/地区"]


@pytest.fixture
def cli(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    yield from run_cli(database_url, monkeypatch, capsys)


@pytest.fixture
def arrive(monkeypatch: pytest.MonkeyPatch) -> Any:
    """arrive(day, hour): drops ingested from now on arrive at that local moment."""
    def at(day: date, hour: int = 8) -> None:
        moment = datetime.combine(day, time(hour), tzinfo=SHANGHAI)
        utc = moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        monkeypatch.setattr(bot.ingest, "utcnow", lambda: utc)
    return at


def run_json(cli: Run, *args: object) -> dict[str, Any]:
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def inquiry_rows(first: date, last: date, per_day: int = 3) -> list[list[object]]:
    """About `per_day` inquiries a day from `first` to `last`, none from ZERO_FROM on."""
    rows: list[list[object]] = []
    day = first
    while day <= last:
        if day < ZERO_FROM:
            n = per_day + (day.toordinal() % 3) - 1  # 2, 3 or 4
            rows += [[f"Q{day:%Y%m%d}{i}", f"{day.isoformat()} {9 + i}:15", f"buyer {i}", "US"]
                     for i in range(n)]
        day += timedelta(days=1)
    return rows


def inquiry_list(folder: Path, first: date, last: date) -> Path:
    """询盘列表_<first>-<last>.csv: the inquiries created in that period."""
    return write_csv(folder / f"询盘列表_{ymd(first)}-{ymd(last)}.csv",
                     [HEADER, *inquiry_rows(first, last)])


def judged(cli: Run, now: str) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """At local `now`: the tick's alert events, `opsbot alerts` and the checklist's items."""
    tick = run_json(cli, "tick", "--now", now)
    assert tick["errors"] == []
    alerts = run_json(cli, "alerts", "--now", now)
    items = run_json(cli, "checklist", "daily", "--now", now)["data"]["items"]
    return tick["alerts"], alerts, {i["key"]: i for i in items}


def test_a_week_without_inquiries_alerts_once_on_the_right_day(cli: Run, arrive: Any,
                                                               tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    arrive(ZERO_FROM)  # 12 weeks of history, exported on the morning of the first zero day
    run_json(cli, "ingest", inquiry_list(tmp_path, ZERO_FROM - timedelta(weeks=12),
                                         ZERO_FROM - timedelta(days=1)))
    fired: list[tuple[str, str, str]] = []
    for offset in range(10):
        today = ZERO_FROM + timedelta(days=offset)
        yesterday = (today - timedelta(days=1)).isoformat()
        folder = tmp_path / today.isoformat()
        folder.mkdir()
        arrive(today)  # each morning, the last 7 days' list (empty from 11-21 on)
        (drop,) = run_json(cli, "ingest", inquiry_list(folder, today - timedelta(days=7),
                                                       today - timedelta(days=1)))["drops"]
        # an empty list re-exported for a later period is the same bytes: a duplicate,
        # which still says the list arrived, for the period in its name
        assert drop["status"] == ("duplicate" if today > date(2026, 11, 21) else "ingested")
        assert drop["period"] == {"start": (today - timedelta(days=7)).isoformat(),
                                  "end": yesterday}
        events, alerts, items = judged(cli, f"{today.isoformat()}T10:00")
        fired += [(today.isoformat(), e["event"], e["day"]) for e in events]
        assert alerts["notes"] == [], today  # never "not judged: … does not cover …"
        assert items["inquiries"]["stale"] is None, today  # not "no inquiry list since …"
        assert (items["inquiries"]["facts"]["new"] == 0) == (today > ZERO_FROM), today
        # no traffic report at all: the data item's inquiries come from the fresh list
        assert items["data"]["stale"] == "no traffic report yet (inquiries from the inquiry list)"
        if today >= date(2026, 11, 17):
            (alert,) = alerts["alerts"]
            assert (alert["since"], alert["day"], alert["status"]) == (
                "2026-11-16", yesterday, "open")
        else:
            assert alerts["alerts"] == [], today
    # The 3-day sum of 11-14..11-16 (0 against about 9) is the first verdict; one incident.
    assert fired == [("2026-11-17", "fired", "2026-11-16")]


def test_a_plain_re_upload_does_not_refresh_the_list(cli: Run, arrive: Any, tmp_path: Path
                                                    ) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    rows = [HEADER, *inquiry_rows(ZERO_FROM - timedelta(weeks=12), ZERO_FROM - timedelta(days=1))]
    path = write_csv(tmp_path / "inquiries.csv", rows)  # no period in its name or title
    arrive(ZERO_FROM)
    (first,) = run_json(cli, "ingest", path)["drops"]
    assert first["status"] == "ingested"
    _, alerts, items = judged(cli, "2026-11-14T10:00")
    assert alerts["notes"] == [] and items["inquiries"]["stale"] is None
    # The same export is uploaded again on the 17th, by hand and by a sync tool's copy: it
    # says nothing about 11-14..11-16, which must not read as days without inquiries.
    arrive(date(2026, 11, 17))
    sync = tmp_path / "sync"
    sync.mkdir()
    copy = sync / "inquiries (1).csv"
    copy.write_bytes(path.read_bytes())
    for again_path in (path, copy):
        (again,) = run_json(cli, "ingest", again_path)["drops"]
        assert (again["status"], again["inserted"]) == ("duplicate", 0)
        assert again["period"] == first["period"]
    events, alerts, items = judged(cli, "2026-11-17T10:00")
    assert events == [] and alerts["alerts"] == []  # no false inquiry-drop alert
    assert alerts["notes"] == [{"store": "acme", "why":
                                "the inquiry list does not cover 2026-11-16 yet"}]
    assert items["inquiries"]["stale"] == "no inquiry list since 2026-11-13"
    # The same bytes under a name giving a period ending later than the first's: a list
    # exported for that period (nothing since 11-13), which covers up to its end.
    arrive(date(2026, 11, 17))
    renamed = sync / "询盘列表_20261110-20261116.csv"
    renamed.write_bytes(path.read_bytes())
    (named,) = run_json(cli, "ingest", renamed)["drops"]
    assert (named["status"], named["period"]) == (
        "duplicate", {"start": "2026-11-10", "end": "2026-11-16"})
    events, alerts, items = judged(cli, "2026-11-17T11:00")
    assert [(e["event"], e["day"]) for e in events] == [("fired", "2026-11-16")]
    assert alerts["notes"] == [] and items["inquiries"]["stale"] is None
    assert items["inquiries"]["facts"]["new"] == 0
    # Exactly once: the facts were written by the first drop only.
    drops = run_json(cli, "drops")["drops"]
    assert [(d["status"], d["inserted"]) for d in drops] == [
        ("duplicate", 0), ("duplicate", 0), ("duplicate", 0), ("ingested", first["inserted"])]


def test_a_re_upload_does_not_cover_more_of_its_named_period(cli: Run, arrive: Any,
                                                             tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    arrive(ZERO_FROM)  # a list for 11-08..11-14 exported on the 14th covers up to 11-13
    path = inquiry_list(tmp_path, ZERO_FROM - timedelta(days=6), ZERO_FROM)
    (first,) = run_json(cli, "ingest", path)["drops"]
    assert first["period"] == {"start": "2026-11-08", "end": "2026-11-14"}
    arrive(date(2026, 11, 17))  # the same file again: still exported on the 14th
    (again,) = run_json(cli, "ingest", path)["drops"]
    assert (again["status"], again["period"]) == ("duplicate", first["period"])
    _, alerts, items = judged(cli, "2026-11-17T10:00")
    assert items["inquiries"]["stale"] == "no inquiry list since 2026-11-13"
    assert alerts["notes"] == [{"store": "acme", "why":
                                "the inquiry list does not cover 2026-11-16 yet"}]


def test_rows_dated_after_arrival_do_not_extend_a_list(cli: Run, arrive: Any,
                                                       tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    rows = [["帖子ID", "发布时间", "标题"],  # P2: scheduled ahead (or a mistyped date)
            ["P1", "2026-11-15 10:00", "New LED strip"], ["P2", "2026-11-25 10:00", "Tour"]]
    arrive(date(2026, 11, 17))
    (drop,) = run_json(cli, "ingest", write_csv(tmp_path / "posts.csv", rows))["drops"]
    assert (drop["kind"], drop["period"]) == ("posts", {"start": "2026-11-15",
                                                        "end": "2026-11-25"})
    _, _, items = judged(cli, "2026-11-17T10:00")
    assert items["posts"]["stale"] is None  # it covers 11-16, the day before it arrived
    _, _, items = judged(cli, "2026-11-19T10:00")
    assert items["posts"]["stale"] == "no fan-post list since 2026-11-16"
    assert items["posts"]["staleness"] == [{"kind": "posts", "since": "2026-11-16"}]


def test_a_fan_post_list_with_no_posts_yesterday_says_0_posts(cli: Run, arrive: Any,
                                                              tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    rows = [["帖子ID", "发布时间", "标题"],
            ["P1", "2026-11-17 10:00", "New LED strip"], ["P2", "2026-11-18 10:00", "Tour"]]
    arrive(date(2026, 11, 20))
    (drop,) = run_json(cli, "ingest", write_csv(tmp_path / "粉丝通-内容数据_20261120.csv",
                                                rows))["drops"]
    assert drop["period"] == {"start": "2026-11-20", "end": "2026-11-20"}
    _, _, items = judged(cli, "2026-11-20T10:00")
    posts = items["posts"]
    assert posts["stale"] is None  # not "no fan-post list since 2026-11-18"
    assert (posts["facts"]["day"], posts["facts"]["count"], posts["facts"]["status"]) == (
        "2026-11-19", 0, "below_target")
    _, out, _ = cli("checklist", "daily", "--now", "2026-11-20T10:00")
    assert "0 fan posts published yesterday" in out and "below target" in out


def test_an_order_list_ingested_today_covers_yesterday(cli: Run, arrive: Any,
                                                       tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    rows = [["订单号", "买家", "订单状态", "下单时间", "交货期"],
            ["TA-1", "John", "WAIT_SELLER_SEND_GOODS", "2026-10-28 14:05", "2026-11-21"],
            ["TA-2", "Ana", "TRADE_FINISHED", "2026-11-01 09:00", "-"]]
    arrive(date(2026, 11, 20))
    (drop,) = run_json(cli, "ingest", write_csv(tmp_path / "orders.csv", rows))["drops"]
    assert drop["period"] == {"start": "2026-10-28", "end": "2026-11-01"}  # its rows' days
    _, _, items = judged(cli, "2026-11-20T10:00")
    transactions = items["transactions"]
    assert transactions["stale"] is None  # not "no order list since 2026-11-01"
    assert transactions["facts"]["orders_due"]["due_count"] == 1
    # A day later without a new list, it is stale again: since the day before it arrived.
    _, _, items = judged(cli, "2026-11-22T10:00")
    assert items["transactions"]["stale"] == "no order list since 2026-11-19"
    assert items["transactions"]["staleness"] == [{"kind": "orders", "since": "2026-11-19"}]
    assert items["posts"]["staleness"] == [{"kind": "posts", "since": None}]
    assert items["inquiries"]["staleness"] == [{"kind": "inquiries", "since": None}]


@pytest.mark.parametrize(("period_end", "source", "covered"), [
    (date(2026, 11, 25), "rows", date(2026, 11, 16)),  # rows after the arrival do not count
    (date(2026, 11, 10), "rows", date(2026, 11, 16)),
    (None, None, date(2026, 11, 16)),  # an empty list without a period
    (date(2026, 11, 25), "name", date(2026, 11, 16)),  # never the arrival day or later
    (date(2026, 11, 10), "title", date(2026, 11, 10)),
])
def test_a_list_covers_its_named_period_else_the_days_before_it_arrived(
        period_end: date | None, source: str | None, covered: date) -> None:
    assert bot.freshness._covered(period_end, source, date(2026, 11, 17)) == covered
