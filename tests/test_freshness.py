"""How far lists cover, end to end through `opsbot ingest`, `opsbot tick` and `opsbot alerts`:
a day with no rows in a list is a day with nothing in it, not a day the list does not cover."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import bot.ingest.drop
import bot.metrics.freshness
from tests.cli_helpers import Run
from tests.files import write_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO_FROM = date(2026, 11, 14)  # a Saturday: from this day on, no inquiry at all
HEADER = ["询盘ID", "创建时间", "客户名", "国家/地区"]


@pytest.fixture
def arrive(monkeypatch: pytest.MonkeyPatch) -> Any:
    """arrive(day, hour): drops ingested from now on arrive at that local moment."""
    def at(day: date, hour: int = 8) -> None:
        moment = datetime.combine(day, time(hour), tzinfo=SHANGHAI)
        utc = moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        monkeypatch.setattr(bot.ingest.drop, "utcnow", lambda: utc)
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
        if today >= date(2026, 11, 16):
            (alert,) = alerts["alerts"]
            assert (alert["since"], alert["day"], alert["status"]) == (
                "2026-11-15", yesterday, "open")
            # a watch first (worth a look, no ping), an alert once the evidence is strong
            assert alert["tier"] == ("watch" if today == date(2026, 11, 16) else "alert")
        else:
            assert alerts["alerts"] == [], today
    # The 3-day sum of 11-13..11-15 (3 against about 9) is a watch; the 3-day sum of
    # 11-14..11-16 (0 against about 9) makes it an alert: one incident, worse.
    assert fired == [("2026-11-16", "fired", "2026-11-15"), ("2026-11-17", "worse", "2026-11-16")]


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
    # an unnamed list whose newest row is more than LIST_GAP_DAYS (7) before the day before
    # its arrival is an old export: it covers up to that row's day, no further
    (date(2026, 11, 9), "rows", date(2026, 11, 16)),
    (date(2026, 11, 8), "rows", date(2026, 11, 8)),
    (date(2026, 10, 21), "rows", date(2026, 10, 21)),
])
def test_a_list_covers_its_named_period_else_the_days_before_it_arrived(
        period_end: date | None, source: str | None, covered: date) -> None:
    assert bot.metrics.freshness._covered(period_end, source, date(2026, 11, 17)) == covered


def test_an_order_or_crm_list_is_not_cut_to_its_rows() -> None:
    """Their rows are current orders and customers, rightly weeks old in a fresh export."""
    assert bot.metrics.freshness._covered(date(2026, 10, 21), "rows", date(2026, 11, 17),
                                  day_counted=False) == date(2026, 11, 16)


@pytest.mark.parametrize(("name", "one_date"), [
    ("询盘列表_20261110.csv", True), ("信保订单_2026-11-10 (1).csv", True),
    ("询盘列表_20261110-20261110.csv", False), ("询盘列表_20261104-20261110.xlsx", False),
])
def test_one_date_in_a_list_name_is_the_export_day(name: str, one_date: bool) -> None:
    assert bot.metrics.freshness._one_date_named(name) is one_date
    assert bot.metrics.freshness._covered(date(2026, 11, 10), "name", date(2026, 11, 17),
                                  one_date=one_date) == date(2026, 11, 10 - one_date)


def test_an_old_unnamed_export_dropped_late_does_not_make_zero_days(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    # 12 weeks of inquiries up to 10-20, named: the store's history
    arrive(date(2026, 10, 21))
    run_json(cli, "ingest", inquiry_list(tmp_path, date(2026, 7, 29), date(2026, 10, 20)))
    # an old 4-row export (no period in its name) whose newest row is 10-21, dropped 11-22
    rows = [HEADER, *[[f"OLD{i}", f"2026-10-{18 + i} 10:00", "buyer", "US"] for i in range(4)]]
    arrive(date(2026, 11, 22))
    (drop,) = run_json(cli, "ingest", write_csv(tmp_path / "inquiries.csv", rows))["drops"]
    assert drop["period"] == {"start": "2026-10-18", "end": "2026-10-21"}
    events, alerts, items = judged(cli, "2026-11-22T10:00")
    # not a month of days without inquiries: 10-22..11-21 are unknown
    assert items["inquiries"]["stale"] == "no inquiry list since 2026-10-21"
    assert items["inquiries"]["facts"]["new"] is None
    assert items["data"]["facts"]["inquiries"]["value"] is None
    assert events == [] and alerts["alerts"] == []
    assert alerts["notes"] == [{"store": "acme", "why":
                                "the inquiry list does not cover 2026-11-21 yet"}]


def test_a_recent_unnamed_export_covers_the_days_before_it_arrived(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    # its newest row 7 days before 11-21, the day before it arrived: a quiet week, covered
    rows = [HEADER, *[[f"Q{i}", f"2026-11-{11 + i} 10:00", "buyer", "US"] for i in range(4)]]
    arrive(date(2026, 11, 22))
    run_json(cli, "ingest", write_csv(tmp_path / "inquiries.csv", rows))
    _, alerts, items = judged(cli, "2026-11-22T10:00")
    assert items["inquiries"]["stale"] is None and alerts["notes"] == [
        {"store": "acme", "why": "not enough history in the inquiry list (4 weeks of data "
                                 "needed)"}]
    assert items["inquiries"]["facts"]["new"] == 0


def test_a_list_named_with_its_export_day_does_not_cover_that_day(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    """询盘列表_20261110.csv, exported on Tuesday 11-10 at 10:00 and dropped the next morning:
    its 11-10 rows stop at 10:00, so 11-10 is not a day with 1 inquiry against usually 6."""
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    export = date(2026, 11, 10)
    rows: list[list[object]] = [HEADER]
    day = export - timedelta(weeks=9)
    while day < export:
        rows += [[f"Q{day:%Y%m%d}{i}", f"{day.isoformat()} {9 + i}:15", "buyer", "US"]
                 for i in range(6)]
        day += timedelta(days=1)
    rows.append(["Q20261110", "2026-11-10 09:05", "buyer", "US"])
    arrive(export + timedelta(days=1))
    (drop,) = run_json(cli, "ingest", write_csv(tmp_path / "询盘列表_20261110.csv",
                                                rows))["drops"]
    assert drop["period"] == {"start": "2026-11-10", "end": "2026-11-10"}
    events, alerts, items = judged(cli, "2026-11-11T10:00")
    assert items["inquiries"]["stale"] == "no inquiry list since 2026-11-09"
    assert items["data"]["facts"]["inquiries"]["value"] is None  # not 1 (usual 6, -83%)
    _, out, _ = cli("checklist", "daily", "--now", "2026-11-11T10:00")
    assert "-83%" not in out
    assert events == [] and alerts["alerts"] == []
    assert alerts["notes"] == [{"store": "acme", "why":
                                "the inquiry list does not cover 2026-11-10 yet"}]
    # Exported again the next morning under 11-11's date: 11-10 is complete now.
    arrive(export + timedelta(days=1))
    rows.append(["Q20261110b", "2026-11-10 16:00", "buyer", "US"])
    run_json(cli, "ingest", write_csv(tmp_path / "询盘列表_20261111.csv", rows))
    _, alerts, items = judged(cli, "2026-11-11T11:00")
    assert items["inquiries"]["stale"] is None
    assert items["data"]["facts"]["inquiries"]["value"] == 2


# ---- the alert judges the series the checklist's data item shows ------------------------------

TRAFFIC_HEADER = ["日期", "店铺访问人数", "搜索曝光次数", "搜索点击次数", "询盘个数"]
TUESDAY = date(2026, 11, 17)  # yesterday of 2026-11-18


def traffic_report(folder: Path, first: date, last: date, low: int) -> Path:
    """店铺数据概览_<first>-<last>.csv: 20 inquiries a day, `low` on TUESDAY."""
    rows: list[list[object]] = [TRAFFIC_HEADER]
    day = first
    while day <= last:
        rows.append([day.isoformat(), 400, 12000, 500, low if day == TUESDAY else 20])
        day += timedelta(days=1)
    return write_csv(folder / f"店铺数据概览_{ymd(first)}-{ymd(last)}.csv", rows)


def listed(folder: Path, first: date, last: date, low: int) -> Path:
    """询盘列表_<first>-<last>.csv: 20 inquiries a day, `low` on TUESDAY."""
    rows: list[list[object]] = [HEADER]
    day = first
    while day <= last:
        rows += [[f"Q{day:%Y%m%d}{i:02}", f"{day.isoformat()} {8 + i % 12}:15", f"buyer {i}",
                  "US"] for i in range(low if day == TUESDAY else 20)]
        day += timedelta(days=1)
    return write_csv(folder / f"询盘列表_{ymd(first)}-{ymd(last)}.csv", rows)


def test_a_young_inquiry_list_alerts_from_the_traffic_report_as_the_checklist_shows(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    arrive(TUESDAY + timedelta(days=1))  # 9 weeks of traffic report, 2 weeks of inquiry list
    run_json(cli, "ingest", traffic_report(tmp_path, TUESDAY - timedelta(weeks=9), TUESDAY, 2))
    run_json(cli, "ingest", listed(tmp_path, TUESDAY - timedelta(days=13), TUESDAY, 2))
    events, alerts, items = judged(cli, "2026-11-18T10:00")
    data = items["data"]["facts"]
    assert data["inquiries_source"] == "traffic"
    assert (data["inquiries"]["value"], data["inquiries"]["usual"]) == (2, 20.0)
    _, out, _ = cli("checklist", "daily", "--now", "2026-11-18T10:00")
    assert "Inquiries 2 (usual Tuesday 20, -90%) from the traffic report" in out
    # not "not enough history": the alert judges the checklist's series
    assert [(e["event"], e["day"], e["source"]) for e in events] == [
        ("fired", "2026-11-17", "traffic report")]
    assert alerts["notes"] == []
    (alert,) = alerts["alerts"]
    assert (alert["observed"], alert["source"]) == (2, "traffic report")
    assert alert["hints"][-1] == {"kind": "from_traffic_report"}  # the message says so


def test_a_checklist_for_a_past_day_shows_no_alert_of_a_later_day(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    arrive(TUESDAY + timedelta(days=1))
    run_json(cli, "ingest", traffic_report(tmp_path, TUESDAY - timedelta(weeks=9), TUESDAY, 2))
    events, _, items = judged(cli, "2026-11-18T10:00")  # fires on 11-17
    assert [(e["event"], e["day"]) for e in events] == [("fired", "2026-11-17")]
    assert [a["day"] for a in items["data"]["facts"]["alerts"]] == ["2026-11-17"]
    past = run_json(cli, "checklist", "daily", "--now", "2026-11-16T10:00")["data"]["items"]
    assert next(i for i in past if i["key"] == "data")["facts"]["alerts"] == []
    _, out, _ = cli("checklist", "daily", "--now", "2026-11-17T10:00")
    assert "Inquiry drop alert" not in out
    _, out, _ = cli("checklist", "daily", "--now", "2026-11-18T10:00")
    assert ("Inquiry drop alert (critical, open): 2 inquiries on Tue 17 Nov 2026, usually about "
            "20 on that weekday (-90%)") in out


def test_a_stale_inquiry_list_gives_way_to_a_fresh_traffic_report_in_the_alert_too(
        cli: Run, arrive: Any, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "Asia/Shanghai")
    arrive(TUESDAY - timedelta(days=2))  # a 10-week list up to Saturday, exported Sunday
    run_json(cli, "ingest", listed(tmp_path, TUESDAY - timedelta(weeks=10),
                                   TUESDAY - timedelta(days=3), 20))
    arrive(TUESDAY + timedelta(days=1))  # the traffic report, up to yesterday
    run_json(cli, "ingest", traffic_report(tmp_path, TUESDAY - timedelta(weeks=9), TUESDAY, 6))
    events, alerts, items = judged(cli, "2026-11-18T10:00")
    data = items["data"]["facts"]
    assert data["inquiries_source"] == "traffic"
    assert (data["inquiries"]["value"], data["inquiries"]["change"]) == (6, pytest.approx(-0.7))
    # not "the inquiry list does not cover 2026-11-17 yet"
    assert alerts["notes"] == []
    assert [(e["event"], e["source"]) for e in events] == [("fired", "traffic report")]
    assert alerts["alerts"][0]["source"] == "traffic report"
    # the list, the countries' source, does not cover 11-17: no "No inquiries from US"
    assert [h["kind"] for h in alerts["alerts"][0]["hints"]] == [
        "traffic_normal", "from_traffic_report"]
