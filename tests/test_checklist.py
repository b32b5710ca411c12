"""The daily checklist's figures against hand-computed fixtures, its staleness notes, its
exactly-once recording and its ticks, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from bot.checklists.daily import build_daily
from bot.checklists.records import ChecklistError, create, load, public, tick
from bot.models import checklist_ticks, checklists, drops
from bot.storage import make_engine, read, write
from bot.stores import Store, add_store, configure_store
from templates import render
from tests import facts
from tests.slack_limits import assert_data_escaped, assert_no_mentions, assert_within_slack_limits

# 09:00 on Friday 2026-11-13 in Shanghai (UTC+8); yesterday is Thursday 2026-11-12.
NOW = datetime(2026, 11, 13, 1, 0)


# Facts of a drop ingested half an hour before NOW, unless a test says otherwise.
put = partial(facts.put, ingested_at=NOW - timedelta(minutes=30))


def item(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(i for i in data["items"] if i["key"] == key)


def build(engine: Engine, store: Store, now: datetime = NOW) -> dict[str, Any]:
    with read(engine) as conn:
        return build_daily(conn, store, now)


def _inquiry(iid: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {"inquiry_id": iid, "created_at": created, **extra}


INQUIRIES = [
    _inquiry("I8", datetime(2026, 11, 9, 0, 0), buyer="Ann", email="ann@x.com",
             product_id="P1", owner="Li", country="US"),
    _inquiry("I1", datetime(2026, 11, 10, 2, 0), buyer="Ann", email="ann@x.com",
             product_id="P1", owner="Li", country="US"),
    _inquiry("I2", datetime(2026, 11, 11, 3, 0), buyer="Bob", product_id="P9", owner="Wang",
             replied_at=datetime(2026, 11, 11, 5, 0)),
    _inquiry("I3", datetime(2026, 11, 12, 0, 30), buyer="Cara", company="CCo",
             product_id="P2", owner="Wang", country="DE"),
    # yesterday, Thursday 2026-11-12 local (2026-11-11 16:00 .. 2026-11-12 16:00 UTC): I3 above,
    # I4 I5 I6 I7; with no previous checklist, these are the new ones
    _inquiry("I4", datetime(2026, 11, 12, 2, 0), buyer="Ann", email="ANN@x.com",
             product_id="P1", owner="Li"),
    _inquiry("I5", datetime(2026, 11, 12, 4, 0), buyer="Spammer", is_spam=True,
             product_id="P1"),
    _inquiry("I6", datetime(2026, 11, 12, 7, 0), buyer="cara", company="CCo ",
             product_id="P2", owner="Wang"),
    _inquiry("I7", datetime(2026, 11, 12, 8, 0), buyer="Dan", email="dan@y.com",
             product_id="P1"),
    _inquiry("I9", datetime(2026, 11, 13, 0, 59), buyer="Eve", product_id="P3"),  # today
    _inquiry("I10", datetime(2026, 11, 13, 2, 0), buyer="Fay", product_id="P3"),  # after NOW
]


def test_inquiries_item(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "inquiries", INQUIRIES)
    data = build(engine, store)
    it = item(data, "inquiries")
    f = it["facts"]
    assert it["staleness"] == [] and it["title"] == "Inquiries" and it["done"] is False
    assert f["new"] == 4  # I3 I4 I6 I7: yesterday's valid inquiries; I5 is spam
    assert (f["since_checklist"], f["new_from"], f["new_to"]) == (False, "2026-11-12",
                                                                  "2026-11-12")
    # unreplied > 24 h, spam left out, newest first: I3 (1d 0h), I1 (2d 23h), I8 (4d 1h)
    assert f["unreplied_count"] == 3 and f["unreplied_older_count"] == 0
    assert [(q["inquiry_id"], q["owner"]) for q in f["unreplied"]] == [
        ("I3", "Wang"), ("I1", "Li"), ("I8", "Li")]
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][3]["text"]["text"]
    assert ("◦ Cara (Germany) · Wang · waiting 1d 0h\n"
            "      ◦ Ann (United States) · Li · waiting 2d 23h\n"
            "      ◦ Ann (United States) · Li · waiting 4d 1h") in text
    assert "not listed" not in text
    assert f["unreplied_by_owner"] == [{"owner": "Li", "count": 2}, {"owner": "Wang", "count": 1}]
    assert f["spam_count"] == 1 and f["spam"][0]["inquiry_id"] == "I5"
    # I4 repeats I1 (same e-mail, any case; I8 is over 3 days before I4); I6 repeats I3 (same
    # name + company, case and spaces aside). I1 repeats I8 but is not new.
    assert [(d["inquiry_id"], d["duplicate_of"]) for d in f["duplicates"]] == [
        ("I4", "I1"), ("I6", "I3")]
    assert f["duplicate_count"] == 2


def test_unreplied_lists_the_newest_worth_a_reply_and_counts_the_older(
        engine: Engine, store: Store) -> None:
    """Only inquiries between unreplied_hours and unreplied_max_days old are listed, newest
    first; the older ones are counted in one line, so a months-old backlog does not fill the
    list with buyers long gone."""
    ages = {"fresh": timedelta(hours=23), "d2": timedelta(days=2), "d10": timedelta(days=10),
            "d29": timedelta(days=29, hours=23), "d31": timedelta(days=31),
            "d200": timedelta(days=200)}
    with write(engine) as conn:
        put(conn, store, "inquiries", [
            _inquiry(iid, NOW - age, buyer=f"Buyer {iid}", owner="Li")
            for iid, age in ages.items()])
    f = item(build(engine, store), "inquiries")["facts"]
    assert [q["inquiry_id"] for q in f["unreplied"]] == ["d2", "d10", "d29"]
    assert (f["unreplied_count"], f["unreplied_older_count"], f["unreplied_max_days"]) == (3, 2, 30)
    assert f["unreplied_by_owner"] == [{"owner": "Li", "count": 3}]
    text = render("checklist_daily.json.j2", checklist=build(engine, store))
    section = text["blocks"][3]["text"]["text"]
    assert "*3* unreplied for more than 24 h (Li 3)" in section
    assert section.index("Buyer d2") < section.index("Buyer d10") < section.index("Buyer d29")
    assert "Buyer d31" not in section and "Buyer d200" not in section
    assert "2 more unreplied for over 30 days, not listed" in section

    configure_store(engine, store, settings={"unreplied_max_days": 7})
    store = configure_store(engine, store, language="zh")
    data = build(engine, store)
    f = item(data, "inquiries")["facts"]
    assert [q["inquiry_id"] for q in f["unreplied"]] == ["d2"]
    assert (f["unreplied_count"], f["unreplied_older_count"]) == (1, 4)
    section = render("checklist_daily.json.j2", checklist=data, lang="zh")["blocks"][3]
    assert "另有 4 条超过 7 天未回复，未列出" in section["text"]["text"]


def test_new_inquiries_count_since_the_previous_checklist(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "inquiries", INQUIRIES)
        assert create(conn, store, "daily", datetime(2026, 11, 12, 12, 0)) is not None
    f = item(build(engine, store), "inquiries")["facts"]
    assert f["since_checklist"] is True
    # the checklist of 2026-11-12 counted 2026-11-11: this one counts 2026-11-12 (I3 I4 I6 I7)
    assert (f["new"], f["new_from"], f["new_to"]) == (4, "2026-11-12", "2026-11-12")
    assert [d["inquiry_id"] for d in f["duplicates"]] == ["I4", "I6"]


def test_duplicate_window_boundary(engine: Engine, store: Store) -> None:
    first = datetime(2026, 11, 9, 1, 0)  # B, D and E are new: yesterday, 09:00-10:00 local
    with write(engine) as conn:
        put(conn, store, "inquiries", [
            _inquiry("A", first, email="a@a", product_id="P"),
            _inquiry("B", first + timedelta(days=3), email="a@a", product_id="P"),  # = 3 days
            _inquiry("C", first - timedelta(minutes=1), email="c@c", product_title="Lamp"),
            _inquiry("D", first + timedelta(days=3), email="c@c",
                     product_title="lamp"),  # 3 days 1 min after C
            _inquiry("E", first + timedelta(days=3, hours=1), email="a@a"),  # no product
        ])
    f = item(build(engine, store), "inquiries")["facts"]
    assert [(d["inquiry_id"], d["duplicate_of"]) for d in f["duplicates"]] == [("B", "A")]


def test_spam_is_neither_a_duplicate_nor_duplicated(engine: Engine, store: Store) -> None:
    first = datetime(2026, 11, 11, 1, 0)
    with write(engine) as conn:
        put(conn, store, "inquiries", [
            _inquiry("S1", first, email="s@s", product_id="P", is_spam=True),
            _inquiry("V1", first + timedelta(days=1), email="s@s", product_id="P"),  # new
            _inquiry("S2", first + timedelta(days=1, hours=1), email="s@s", product_id="P",
                     is_spam=True),  # new, spam
        ])
    data = build(engine, store)
    f = item(data, "inquiries")["facts"]
    assert [q["inquiry_id"] for q in f["spam"]] == ["S2"]
    assert (f["duplicate_count"], f["duplicates"]) == (0, [])
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][3]["text"]["text"]
    assert "duplicate" not in text and "1* spam suspect" in text


def _traffic(day: date, **values: Any) -> dict[str, Any]:
    return {"date": day, **values}


def test_data_item_against_the_same_weekday(engine: Engine, store: Store) -> None:
    thursday = date(2026, 11, 12)
    history = [(1000, 100, 10), (1100, 110, 20), (900, 90, 30), (1200, 120, 40),
                (5000, 130, 50)]
    rows = [_traffic(thursday - timedelta(weeks=k + 1), impressions=i, visitors=v, clicks=c,
                     inquiries=4)
            for k, (i, v, c) in enumerate(history)]
    rows += [
        _traffic(date(2026, 11, 11), impressions=99999, visitors=1, clicks=1),  # a Wednesday
        # yesterday: a store total plus a breakdown by source that must not be added on top
        _traffic(thursday, impressions=1320, visitors=55, clicks=36, inquiries=2),
        _traffic(thursday, source="search", impressions=1000, visitors=40, clicks=30),
        _traffic(thursday, source="p4p", impressions=320, visitors=15, clicks=6),
    ]
    with write(engine) as conn:
        put(conn, store, "traffic", rows)
    it = item(build(engine, store), "data")
    f = it["facts"]
    assert it["staleness"] == [] and f["day"] == "2026-11-12" and f["weekday"] == "Thursday"
    assert f["impressions"] == {"value": 1320, "usual": 1100.0, "change": pytest.approx(0.2),
                                "weeks": 5}
    assert f["visitors"]["value"] == 55 and f["visitors"]["usual"] == 110.0
    assert f["visitors"]["change"] == pytest.approx(-0.5)
    assert f["clicks"]["value"] == 36 and f["clicks"]["usual"] == 30.0
    # no inquiry list: inquiries come from the traffic report
    assert f["inquiries_source"] == "traffic"
    assert f["inquiries"]["value"] == 2 and f["inquiries"]["usual"] == 4.0
    assert f["alerts"] == []


def test_a_usual_level_of_a_half_is_rounded_up_in_the_message(engine: Engine,
                                                               store: Store) -> None:
    """A usual level of 12.5 reads "13", not "12" (Python's round-half-even), which would
    look like an arithmetic error next to the other figures."""
    thursday = date(2026, 11, 12)
    rows = [_traffic(thursday - timedelta(weeks=k + 1), clicks=c, visitors=v)
            for k, (c, v) in enumerate([(10, 2), (12, 3), (13, 4), (20, 5)])]
    rows.append(_traffic(thursday, clicks=12, visitors=3))
    with write(engine) as conn:
        put(conn, store, "traffic", rows)
    data = build(engine, store)
    f = item(data, "data")["facts"]
    assert (f["clicks"]["usual"], f["visitors"]["usual"]) == (12.5, 3.5)
    text = str(render("checklist_daily.json.j2", checklist=data))
    assert "Visitors *3* (usual Thursday 4, -14%)" in text
    assert "Clicks *12* (usual Thursday 13, -4%)" in text


def test_data_item_levels_and_inquiry_list(engine: Engine, store: Store) -> None:
    thursday = date(2026, 11, 12)
    rows = [
        # no total rows: the source rows are the day, not the country rows too
        _traffic(thursday, source="search", visitors=30),
        _traffic(thursday, source="p4p", visitors=12),
        _traffic(thursday, country="US", visitors=25),
        _traffic(thursday, country="DE", visitors=17),
        _traffic(thursday, source="search", country="US", visitors=20),
        # three weeks of history only: no usual level yet
        *[_traffic(thursday - timedelta(weeks=k), country="US", visitors=10)
          for k in (1, 2, 3)],
    ]
    with write(engine) as conn:
        put(conn, store, "traffic", rows)
        put(conn, store, "inquiries", INQUIRIES)
    f = item(build(engine, store), "data")["facts"]
    assert f["visitors"] == {"value": 42, "usual": None, "change": None, "weeks": 3}
    assert f["impressions"]["value"] is None  # not in the report: unknown, not 0
    # Thursday in Shanghai = 2026-11-11 16:00 .. 2026-11-12 16:00 UTC: I3, I4, I6, I7 (and I5,
    # spam, left out)
    assert f["inquiries_source"] == "inquiries"
    assert f["inquiries"]["value"] == 4
    assert f["inquiries"]["weeks"] == 0  # the list starts on 2026-11-09: earlier is no data


def _p4p(day: date, plan: str, **values: Any) -> dict[str, Any]:
    return {"date": day, "plan": plan, "currency": "CNY", **values}


P4P_ROWS = [
    # plan A: the plan-level row counts; its keyword rows would count the spend twice
    _p4p(date(2026, 11, 12), "A", impressions=1000, clicks=50, spend=300, daily_budget=500),
    _p4p(date(2026, 11, 12), "A", keyword="led strip", position=3, impressions=600,
         clicks=30, spend=180, daily_budget=500),
    _p4p(date(2026, 11, 12), "A", keyword="led bulb", position=7, impressions=400,
         clicks=20, spend=120),
    # plan B: no plan-level row, so its product rows count, not its keyword row
    _p4p(date(2026, 11, 12), "B", product_id="P1", impressions=400, clicks=10, spend=100),
    _p4p(date(2026, 11, 12), "B", product_id="P2", impressions=600, clicks=20, spend=100),
    _p4p(date(2026, 11, 12), "B", keyword="solar light", position=-1, clicks=5, spend=40,
         daily_budget=300),
    # the day before: positions, and clicks for the 7-day ranking
    _p4p(date(2026, 11, 11), "A", keyword="led bulb", position=2, clicks=40),
    _p4p(date(2026, 11, 11), "A", keyword="led strip", position=1, clicks=10),
    _p4p(date(2026, 11, 11), "B", keyword="solar light", position=4, clicks=2),
    # outside the 7 days: not a key keyword by clicks
    _p4p(date(2026, 11, 1), "A", keyword="garden lamp", position=1, clicks=999),
]


def test_p4p_item(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "p4p", P4P_ROWS)
    it = item(build(engine, store), "p4p")
    f = it["facts"]
    assert it["staleness"] == []
    assert (f["spend"], f["clicks"], f["impressions"]) == (500.0, 80, 2000)
    assert f["cpc"] == pytest.approx(6.25) and f["ctr"] == pytest.approx(0.04)
    assert (f["budget"], f["budget_source"]) == (800.0, "report")  # A 500 + B 300
    assert f["budget_share"] == pytest.approx(0.625)
    assert f["currency"] == "CNY"
    assert [k["keyword"] for k in f["key_keywords"]] == ["led bulb", "led strip", "solar light"]
    assert [(k["keyword"], k["previous"], k["position"]) for k in f["fell_out"]] == [
        ("led bulb", 2, 7), ("solar light", 4, -1)]
    assert f["positions_in_report"] is True


def test_positions_out_of_1_to_5_are_worded_without_arrows(engine: Engine, store: Store
                                                           ) -> None:
    with write(engine) as conn:
        put(conn, store, "p4p", P4P_ROWS)
    text = render("checklist_daily.json.j2", checklist=build(engine, store))["blocks"][7]
    text = text["text"]["text"]
    assert "*2* key keywords out of positions 1–5:" in text
    assert "◦ led bulb: was 2, now 7\n      ◦ solar light: was 4, now below 5" in text
    assert "→" not in text and "others" not in text


def test_a_report_without_positions_says_so(engine: Engine, store: Store) -> None:
    """A P4P file without a position column says nothing about positions: not "in positions
    1-5", and no keyword "fell out" because its position is missing."""
    no_position = [{k: v for k, v in row.items() if k != "position"} for row in P4P_ROWS
                   if row["date"] == date(2026, 11, 12)]
    with write(engine) as conn:
        put(conn, store, "p4p", [r for r in P4P_ROWS if r["date"] != date(2026, 11, 12)])
        put(conn, store, "p4p", no_position)
    data = build(engine, store)
    f = item(data, "p4p")["facts"]
    assert f["positions_in_report"] is False and f["fell_out"] == []
    assert [k["keyword"] for k in f["key_keywords"]] == ["led bulb", "led strip", "solar light"]
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][7]["text"]["text"]
    assert "Key keyword positions: not in the P4P report (3 watched)" in text
    assert "in positions 1–5" not in text and "out of positions" not in text
    zh = configure_store(engine, store, language="zh")
    text = render("checklist_daily.json.j2", checklist=build(engine, zh), lang="zh")
    assert "重点关键词排名：直通车报表中没有排名（关注 3 个）" in text["blocks"][7]["text"]["text"]


def test_a_key_keyword_out_for_days_stays_listed(engine: Engine, store: Store) -> None:
    rows = [_p4p(date(2026, 11, 9), "A", keyword="led bulb", position=3, clicks=9),
            *(_p4p(date(2026, 11, d), "A", keyword="led bulb", position=8, clicks=1)
              for d in (10, 11, 12))]
    with write(engine) as conn:
        put(conn, store, "p4p", rows)
    f = item(build(engine, store), "p4p")["facts"]
    assert [(k["keyword"], k["previous"], k["position"], k["out_since"])
            for k in f["fell_out"]] == [("led bulb", 3, 8, "2026-11-10")]


def test_p4p_item_with_store_settings(engine: Engine, store: Store) -> None:
    store = configure_store(engine, store, settings={
        "p4p_daily_budget": 1000, "key_keywords": ["led strip", "Garden Lamp"]})
    with write(engine) as conn:
        put(conn, store, "p4p", P4P_ROWS)
    f = item(build(engine, store), "p4p")["facts"]
    assert (f["budget"], f["budget_source"], f["budget_share"]) == (1000, "setting", 0.5)
    # garden lamp was at 1 on 2026-11-01 and has no position yesterday
    assert [(k["keyword"], k["previous"], k["position"]) for k in f["fell_out"]] == [
        ("Garden Lamp", 1, None)]


def test_stale_and_missing_data_say_so(engine: Engine, store: Store) -> None:
    data = build(engine, store)
    notes = {i["key"]: i["stale"] for i in public(data)["items"]}  # what --json shows
    assert notes == {
        "inquiries": "no inquiry list yet", "data": "no traffic report yet",
        "p4p": "no P4P report yet", "posts": "no fan-post list yet",
        "transactions": "no order, inquiry or CRM list yet"}
    message = render("checklist_daily.json.j2", checklist=data)
    texts = " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert all(f":warning: _{note}_" in texts for note in notes.values())
    with write(engine) as conn:
        put(conn, store, "p4p", [_p4p(date(2026, 11, 10), "A", spend=99, clicks=9)])
        put(conn, store, "traffic", [_traffic(date(2026, 11, 11), visitors=5)])
        put(conn, store, "posts", [{"published_at": datetime(2026, 11, 10), "title": "x"}],
            ingested_at=datetime(2026, 11, 11, 15, 0))  # 2026-11-11 23:00 local
    data = build(engine, store)
    p4p = item(public(data), "p4p")
    assert p4p["stale"] == "no P4P report since 2026-11-10"
    assert p4p["facts"]["spend"] is None and p4p["facts"]["clicks"] is None  # not 0
    assert item(public(data), "data")["stale"] == "no traffic report since 2026-11-11"
    assert item(data, "data")["facts"]["visitors"]["value"] is None
    # a list ingested late on 11-11 covers up to 11-10: 11-11 was not over yet
    assert item(data, "posts")["staleness"] == [{"kind": "posts", "since": "2026-11-10"}]
    assert item(data, "posts")["facts"]["count"] is None
    message = render("checklist_daily.json.j2", checklist=data)
    texts = " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert "no P4P report since 2026-11-10" in texts and "Spend" not in texts


def test_an_old_inquiry_list_ingested_today_is_stale(engine: Engine, store: Store) -> None:
    # 询盘列表_20261101-20261108.xlsx ingested this morning: nothing is known after 11-08.
    with write(engine) as conn:
        put(conn, store, "inquiries", [_inquiry("I1", datetime(2026, 11, 8, 2, 0))],
            period=(date(2026, 11, 1), date(2026, 11, 8)))
    data = build(engine, store)
    assert item(data, "inquiries")["staleness"] == [{"kind": "inquiries", "since": "2026-11-08"}]
    assert item(data, "inquiries")["facts"]["new"] is None
    assert item(data, "data")["facts"]["inquiries"]["value"] is None  # unknown, not 0
    # A list whose period runs to today covers up to yesterday only; the newest coverage
    # of all lists counts, whichever came last.
    with write(engine) as conn:
        put(conn, store, "inquiries", [_inquiry("I2", datetime(2026, 11, 12, 2, 0))],
            period=(date(2026, 11, 6), date(2026, 11, 13)))
        put(conn, store, "inquiries", [], ingested_at=NOW - timedelta(minutes=5),
            period=(date(2026, 11, 1), date(2026, 11, 3)))
    data = build(engine, store)
    assert item(data, "inquiries")["staleness"] == []
    assert item(data, "data")["facts"]["inquiries"]["value"] == 1


def test_posts_item(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        put(conn, store, "posts", [
            {"post_id": "1", "published_at": datetime(2026, 11, 11, 15, 59)},  # 11-11 23:59
            {"post_id": "2", "published_at": datetime(2026, 11, 11, 16, 0)},  # 11-12 00:00
            {"post_id": "3", "published_at": datetime(2026, 11, 12, 8, 0)},
            {"post_id": "4", "published_at": datetime(2026, 11, 12, 15, 59)},
            {"post_id": "5", "published_at": datetime(2026, 11, 12, 16, 0)},  # 11-13 00:00
        ])
    data = build(engine, store)
    f = item(data, "posts")["facts"]
    assert (f["count"], f["target"], f["max"], f["status"]) == (3, 3, 12, "on_target")
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][9]["text"]["text"]
    assert text.endswith("*3* fan posts published yesterday (target 3, at most 12): on target")
    with write(engine) as conn:
        put(conn, store, "posts", [{"post_id": f"x{i}", "published_at": datetime(2026, 11, 12, 2)}
                                   for i in range(10)])
    data = build(engine, store)
    f = item(data, "posts")["facts"]
    assert (f["count"], f["status"]) == (13, "over_max")
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][9]["text"]["text"]
    assert text.endswith("(target 3, at most 12): over the maximum")


def test_local_yesterday_in_los_angeles(engine: Engine) -> None:
    la = add_store(engine, "west", "America/Los_Angeles")
    shanghai = add_store(engine, "east", "Asia/Shanghai")
    posts = [{"post_id": "a", "published_at": datetime(2026, 11, 12, 7, 0)},  # LA 11-11 23:00
             {"post_id": "b", "published_at": datetime(2026, 11, 13, 7, 30)}]  # LA 11-12 23:30
    with write(engine) as conn:
        for s in (la, shanghai):
            put(conn, s, "posts", posts, ingested_at=datetime(2026, 11, 13, 16, 0))
    now = datetime(2026, 11, 13, 17, 0)  # 09:00 in Los Angeles, 01:00 next day in Shanghai
    west = build(engine, la, now)
    assert (west["day"], west["yesterday"]) == ("2026-11-13", "2026-11-12")
    assert item(west, "posts")["facts"]["count"] == 1  # only b
    east = build(engine, shanghai, now)
    assert (east["day"], east["yesterday"]) == ("2026-11-14", "2026-11-13")
    assert item(east, "posts")["facts"]["count"] == 1  # b is 15:30 on 11-13 in Shanghai
    assert item(build(engine, shanghai, datetime(2026, 11, 13, 1)), "posts")["facts"][
        "count"] == 1  # a is 15:00 on 11-12 in Shanghai


def test_transactions_item(engine: Engine, store: Store) -> None:
    def order(oid: str, ship_by: date, status: str = "WAIT_SELLER_SEND_GOODS",
              **extra: Any) -> dict[str, Any]:
        return {"order_id": oid, "ship_by": ship_by, "status": status, "buyer": f"B{oid}",
                "ordered_at": datetime(2026, 11, 1), **extra}

    with write(engine) as conn:
        put(conn, store, "orders", [
            order("O1", date(2026, 11, 10)),  # 3 days overdue
            order("O2", date(2026, 11, 13)),  # today
            order("O3", date(2026, 11, 16)),  # in 3 days: included
            order("O4", date(2026, 11, 17)),  # in 4 days: not yet
            order("O5", date(2026, 11, 12), "TRADE_FINISHED"),
            order("O6", date(2026, 11, 12), shipped_at=datetime(2026, 11, 11)),
            order("O7", date(2026, 11, 11), "WAIT_BUYER_CONFIRM_GOODS"),
        ])
    it = item(build(engine, store), "transactions")
    due = it["facts"]["orders_due"]
    assert it["staleness"] == []
    assert (due["due_count"], due["overdue_count"]) == (2, 1)
    assert [(o["order_id"], o["days_left"]) for o in due["orders"]] == [
        ("O1", -3), ("O2", 0), ("O3", 3)]
    # every buyer ordered 12 days ago: nobody is stalled
    assert it["facts"]["stalled_counts"] == {"zombie": 0, "hesitant": 0, "lost": 0}
    text = render("checklist_daily.json.j2", checklist=build(engine, store))["blocks"][-1]
    assert "3 days overdue" in text["text"]["text"] and "in 3 days" in text["text"]["text"]


def test_a_buyer_on_the_unreplied_line_is_not_listed_again_as_a_zombie(
        engine: Engine, store: Store) -> None:
    """Gus and Jo wait for a reply (3 and 5 days): they are on the inquiry item's unreplied
    line, so the transactions item does not list them as zombies too; Hal's inquiry is older
    than unreplied_max_days, so he is listed only as a zombie."""
    with write(engine) as conn:
        put(conn, store, "inquiries", [
            _inquiry("G1", NOW - timedelta(days=5), buyer="Gus"),
            _inquiry("J1", NOW - timedelta(days=40), buyer="Jo", email="jo@x.com"),
            _inquiry("J2", NOW - timedelta(days=3), buyer="Jo Smith", email="JO@x.com"),
            _inquiry("H1", NOW - timedelta(days=40), buyer="Hal"),
        ])
    data = build(engine, store)
    unreplied = item(data, "inquiries")["facts"]["unreplied"]
    assert [q["inquiry_id"] for q in unreplied] == ["J2", "G1"]
    facts_ = item(data, "transactions")["facts"]
    assert [c["customer"] for c in facts_["stalled"]["zombie"]] == ["Hal"]
    assert facts_["stalled_counts"]["zombie"] == 1
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][-1]["text"]["text"]
    assert "*1* zombie" in text and "zombie: Hal (40 d)" in text
    assert "Gus" not in text and "Jo" not in text


def test_unpaid_orders_are_not_to_ship(engine: Engine, store: Store) -> None:
    """An order waiting for the buyer's payment, in the API's, the back office's English or
    Chinese words, is not due to ship; one waiting only for the balance is."""
    unpaid = ["WAIT_BUYER_PAY", "待付款", "Unpaid", "Awaiting Payment", "等待买家付款"]
    rows = [{"order_id": f"U{n}", "ship_by": date(2026, 11, 12), "status": status,
             "buyer": f"Unpaid{n}", "ordered_at": datetime(2026, 11, 1)}
            for n, status in enumerate(unpaid)]
    rows += [{"order_id": "P1", "ship_by": date(2026, 11, 14), "status": "待发货",
              "buyer": "Paid", "ordered_at": datetime(2026, 11, 1)},
             {"order_id": "B1", "ship_by": date(2026, 11, 15),
              "status": "WAIT_BUYER_PAY_BALANCE", "buyer": "Deposit",
              "ordered_at": datetime(2026, 11, 1)}]
    with write(engine) as conn:
        put(conn, store, "orders", rows)
    data = build(engine, store)
    due = item(data, "transactions")["facts"]["orders_due"]
    assert (due["due_count"], due["overdue_count"]) == (2, 0)
    assert [o["order_id"] for o in due["orders"]] == ["P1", "B1"]
    text = render("checklist_daily.json.j2", checklist=data)["blocks"][-1]["text"]["text"]
    assert "*2* orders to ship within 3 days, *0* overdue" in text
    assert "P1 · Paid · ship by 2026-11-14" in text and "B1 · Deposit" in text
    assert "Unpaid" not in text


def test_create_daily_once_per_local_day(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        first = create(conn, store, "daily", NOW)
        assert first is not None
        # 23:59 the same local day: still that day's checklist
        assert create(conn, store, "daily", datetime(2026, 11, 13, 15, 59)) is None
        # the caller's transaction goes on after the refusal
        conn.execute(select(func.count()).select_from(checklists)).scalar_one()
    with write(engine) as conn:
        assert create(conn, store, "daily", datetime(2026, 11, 13, 16, 0)) not in (None, first)
        rows = conn.execute(select(checklists.c.day).order_by(checklists.c.day)).scalars().all()
    assert rows == [date(2026, 11, 13), date(2026, 11, 14)]
    with read(engine) as conn:
        stored = load(conn, first)
    assert stored["id"] == first and stored["day"] == "2026-11-13"
    assert [i["key"] for i in stored["items"]] == [
        "inquiries", "data", "p4p", "posts", "transactions"]


def test_a_caught_up_checklist_is_recorded_for_its_own_day(engine: Engine, store: Store
                                                          ) -> None:
    with write(engine) as conn:
        put(conn, store, "posts", [{"post_id": "a", "published_at": datetime(2026, 11, 11, 8)},
                                   {"post_id": "b", "published_at": datetime(2026, 11, 12, 8)}])
    after_midnight = datetime(2026, 11, 13, 16, 30)  # 00:30 on 11-14 in Shanghai
    with write(engine) as conn:
        late = create(conn, store, "daily", after_midnight, day=date(2026, 11, 13))
        assert late is not None
        data = load(conn, late)
        assert (data["day"], data["yesterday"]) == ("2026-11-13", "2026-11-12")
        assert item(data, "posts")["facts"]["count"] == 1  # b, on 11-12
        assert create(conn, store, "daily", after_midnight, day=date(2026, 11, 13)) is None
        # the next day's checklist is still to come
        assert create(conn, store, "daily", datetime(2026, 11, 14, 1, 0)) is not None
        days = conn.execute(select(checklists.c.day).order_by(checklists.c.day)).scalars().all()
    assert days == [date(2026, 11, 13), date(2026, 11, 14)]


def test_create_daily_races_between_two_connections(database_url: str, engine: Engine,
                                                   store: Store) -> None:
    """Two workers at the same moment, each in its own write transaction (as the worker's
    tick opens it): exactly one checklist. On PostgreSQL both get past the first look and
    the unique key decides; SQLite's write lock serializes them."""
    other = make_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    barrier = threading.Barrier(2)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def worker(eng: Engine) -> None:
        try:
            if sqlite:
                barrier.wait(timeout=10)
            with write(eng) as conn:
                if not sqlite:
                    barrier.wait(timeout=10)
                results.append(create(conn, store, "daily", NOW))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in (engine, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.dispose()
    assert not errors
    assert results.count(None) == 1 and len(results) == 2
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklists)) == 1


def test_create_loses_a_race_inside_the_callers_transaction(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other worker's row appears between the first look and the insert: the insert
    fails inside a savepoint, create says None, and the caller's work is kept."""
    from dataclasses import replace

    from bot.checklists import records

    real = records.CHECKLISTS["daily"]

    def build_while_another_worker_inserts(conn: Connection, s: Store, now: datetime,
                                           day: date | None = None) -> Any:
        conn.execute(insert(checklists).values(store_id=s.id, kind="daily",
                                               day=date(2026, 11, 13), data={}, created_at=now))
        return real.build(conn, s, now, day)

    racing = replace(real, build=build_while_another_worker_inserts)
    monkeypatch.setitem(records.CHECKLISTS, "daily", racing)
    with write(engine) as conn:
        put(conn, store, "posts", [])  # the caller's own work in the same transaction
        assert create(conn, store, "daily", NOW) is None
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(checklists)) == 1
        assert conn.scalar(select(func.count()).select_from(drops)) == 1


def test_ticks_record_who_and_when(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        cid = create(conn, store, "daily", NOW)
        assert cid is not None
        data = tick(conn, cid, "p4p", "U0ALICE", True, datetime(2026, 11, 13, 1, 12))
    p4p = item(data, "p4p")
    assert (p4p["done"], p4p["done_by"], p4p["done_time"]) == (True, "U0ALICE", "09:12")
    assert p4p["done_at"] == "2026-11-13T01:12:00"
    assert not item(data, "posts")["done"]
    assert data["language"] == "en"  # the store's: the message is redrawn in it
    message = render("checklist_daily.json.j2", checklist=data)
    section = next(b for b in message["blocks"] if b.get("block_id") == f"checklist:{cid}:p4p")
    assert section["accessory"]["initial_options"][0]["value"] == f"{cid}:p4p"
    assert "initial_options" not in next(
        b for b in message["blocks"] if b.get("block_id") == f"checklist:{cid}:posts")["accessory"]
    assert any(b["type"] == "context" and "done by <@U0ALICE> at 09:12" in
               b["elements"][0]["text"] for b in message["blocks"])
    with write(engine) as conn:
        data = tick(conn, cid, "p4p", "U0BOB", False, datetime(2026, 11, 13, 2))
        assert conn.scalar(select(func.count()).select_from(checklist_ticks)) == 1
        row = conn.execute(select(checklist_ticks)).one()
    assert not item(data, "p4p")["done"] and item(data, "p4p")["done_by"] is None
    assert (row.user_id, row.done) == ("U0BOB", False)
    with write(engine) as conn, pytest.raises(ChecklistError):
        tick(conn, cid, "nonsense", "U0BOB", True, NOW)
    with write(engine) as conn, pytest.raises(ChecklistError):
        tick(conn, cid + 99, "p4p", "U0BOB", True, NOW)


def test_done_by_that_is_not_a_user_id_is_not_a_mention(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        cid = create(conn, store, "daily", NOW)
        assert cid is not None
        data = tick(conn, cid, "posts", "!channel", True, NOW)
    message = render("checklist_daily.json.j2", checklist=data)
    assert_no_mentions(message)


def test_message_within_slack_limits_with_hostile_data(engine: Engine, store: Store) -> None:
    hostile = "<!channel> & <@U999|boss>"
    start = datetime(2026, 11, 1)  # within unreplied_max_days: all 300 listable
    with write(engine) as conn:
        put(conn, store, "inquiries", [
            _inquiry(f"Q{i}", start + timedelta(minutes=i), buyer=f"{hostile} {i}" * 3,
                     company=hostile, country=hostile, owner=f"{hostile}{i % 7}",
                     email=f"{i}@x", product_id="P")
            for i in range(300)])
        put(conn, store, "orders", [
            {"order_id": f"{hostile}{i}", "buyer": hostile, "ship_by": date(2026, 11, 12),
             "status": "WAIT_SELLER_SEND_GOODS"} for i in range(40)])
        put(conn, store, "p4p", [
            _p4p(date(2026, 11, d), "A", keyword=f"{hostile} kw{k}", position=1 if d == 11 else 9,
                 clicks=k) for d in (11, 12) for k in range(10)])
        cid = create(conn, store, "daily", NOW)
        assert cid is not None
        for key in ("inquiries", "data", "p4p", "posts", "transactions"):
            data = tick(conn, cid, key, "U0ALICE", True, NOW)
    f = item(data, "inquiries")["facts"]
    assert f["unreplied_count"] == 300 and len(f["unreplied"]) == 5
    message = render("checklist_daily.json.j2", checklist=data)
    assert_within_slack_limits(message)
    assert_no_mentions(message, allow=("<@U0ALICE>",))
    assert_data_escaped(message, hostile)
    texts = " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert "…and 295 more" in texts
    assert "&lt;!channel&gt;" in texts


def test_data_item_shows_firing_alerts(engine: Engine, store: Store,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.alerts.incidents

    seen: list[tuple[str, datetime, date | None]] = []

    def active(conn: Connection, s: Store, now: datetime, until: date | None = None, *,
               checklist: bool = False) -> list[dict[str, Any]]:
        seen.append((s.name, now, until))
        assert checklist  # with the rule's described figures, for its own words
        return [{"rule": "inquiry_drop", "title": "Inquiry drop", "store": s.name,
                 "day": date(2026, 11, 12), "method": "3day_sum", "span": 3, "observed": 30,
                 "expected": 55.5, "p_value": 0.001, "drop": 1 - 30 / 55.5,
                 "severity": "warning", "tier": "alert", "status": "open"},
                {"rule": "inquiry_drop", "title": "Inquiry drop", "store": s.name,
                 "day": date(2026, 11, 12), "method": "daily", "span": 1, "observed": 2,
                 "expected": 11.5, "p_value": 0.001, "drop": 1 - 2 / 11.5,
                 "severity": "critical", "tier": "alert", "status": "open"}]

    monkeypatch.setattr(bot.alerts.incidents, "active", active)
    data = build(engine, store)
    assert seen == [("acme", NOW, date(2026, 11, 12))]  # the checklist's yesterday
    listed = item(data, "data")["facts"]["alerts"]
    assert [a["severity"] for a in listed] == ["critical", "warning"]  # most pressing first
    alert = listed[1]
    assert (alert["day"], alert["observed"], alert["expected"]) == ("2026-11-12", 30, 55.5)
    text = render("checklist_daily.json.j2", checklist=data)["blocks"]
    data_text = next(b for b in text if b.get("block_id") == "checklist:0:data")["text"]["text"]
    # a 3-day sum is said to be one, in the alert message's own words
    assert ("*Inquiry drop* alert (warning, open): *30* inquiries in the 3 days to Thu 12 Nov "
            "2026, usually about *56* (-46%)") in data_text
    assert ("*Inquiry drop* alert (critical, open): *2* inquiries on Thu 12 Nov 2026, usually "
            "about *12* on that weekday (-83%)") in data_text
    assert "inquiry_drop" not in data_text


def test_the_data_item_shows_the_five_most_pressing_alerts_and_counts_the_rest(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.alerts.incidents

    def one(severity: str | None, tier: str, observed: int) -> dict[str, Any]:
        return {"rule": "inquiry_drop", "title": "Inquiry drop", "store": "acme",
                "day": date(2026, 11, 12), "method": "daily", "span": 1, "observed": observed,
                "expected": 20.0, "p_value": 0.001, "drop": 1 - observed / 20,
                "severity": severity, "tier": tier, "status": "open"}

    # newest first, as incidents.active gives them: the watches and warnings come before
    # the one critical alert
    found = [one(None, "watch", 11), one(None, "watch", 12), one("warning", "alert", 5),
             one("warning", "alert", 6), one("warning", "alert", 7), one("warning", "alert", 8),
             one("critical", "alert", 1)]
    monkeypatch.setattr(bot.alerts.incidents, "active",
                        lambda *args, **kwargs: [dict(a) for a in found])
    data = build(engine, store)
    listed = item(data, "data")["facts"]["alerts"]
    assert [a["observed"] for a in listed] == [1, 5, 6, 7, 8, 11, 12]
    for lang, more in (("en", "…and 2 more alerts and watches"), ("zh", "另有 2 条")):
        text = render("checklist_daily.json.j2", checklist=data, lang=lang)["blocks"]
        data_text = next(b for b in text
                         if b.get("block_id") == "checklist:0:data")["text"]["text"]
        assert data_text.count("\n• ") >= 6 and more in data_text
        assert "*1*" in data_text and "*8*" in data_text and "*11*" not in data_text


# ---- "new" by data day --------------------------------------------------------------------

SHANGHAI = timedelta(hours=8)


def _local(day: date, hour: int, minute: int) -> datetime:
    """Naive UTC of a Shanghai wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute) - SHANGHAI


@pytest.mark.parametrize("export", ["whole days", "so far"])
def test_each_inquiry_is_new_exactly_once_by_data_day(engine: Engine, store: Store,
                                                      export: str) -> None:
    """Inquiries at 00:30, 08:59, 09:01 and 23:59 local every day from Wednesday 2026-11-11 to
    Sunday 2026-11-15; checklists at 09:00 on Thursday, Friday and, after a weekend without
    checklists (workdays_only), Monday. The inquiry list is exported each checklist morning at
    08:59:30 with whole days up to yesterday, or ("so far") with the morning's inquiries too.
    Each inquiry is new in exactly one checklist, whatever the export."""
    days = [date(2026, 11, 11) + timedelta(days=k) for k in range(5)]
    created = [_local(d, h, m) for d in days for h, m in ((0, 30), (8, 59), (9, 1), (23, 59))]
    mornings = [date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 16)]
    exported: set[datetime] = set()
    seen: list[tuple[int, str, str, bool, str]] = []
    for morning in mornings:
        export_at = _local(morning, 8, 59) + timedelta(seconds=30)
        end = export_at if export == "so far" else _local(morning, 0, 0)
        rows = [_inquiry(f"Q{c:%m%d%H%M}", c, buyer=f"B{c:%d%H%M}", product_id=f"P{c:%H%M}")
                for c in created if c < end and c not in exported]
        exported |= {r["created_at"] for r in rows}
        checklist_at = _local(morning, 9, 0)
        with write(engine) as conn:
            facts.put(conn, store, "inquiries", rows, ingested_at=export_at,
                      period=(morning - timedelta(days=3), morning - timedelta(days=1)))
            checklist_id = create(conn, store, "daily", checklist_at)
            assert checklist_id is not None
            data = load(conn, checklist_id)
        f = item(data, "inquiries")["facts"]
        text = str(render("checklist_daily.json.j2", checklist=data))
        line = next(s for s in text.split("\\n") if " new " in s)
        seen.append((f["new"], f.get("new_from"), f.get("new_to"), f["since_checklist"], line))
        if morning != mornings[-1]:  # a normal day: "new" is the data line's count
            assert item(data, "data")["facts"]["inquiries"]["value"] == f["new"]
    assert seen == [
        (4, "2026-11-11", "2026-11-11", False, "• *4* new valid inquiries yesterday"),
        (4, "2026-11-12", "2026-11-12", True,
         "• *4* new valid inquiries since the last checklist"),
        (12, "2026-11-13", "2026-11-15", True,
         "• *12* new valid inquiries since the last checklist (2026-11-13 to 2026-11-15)"),
    ]
    assert sum(n for n, *_ in seen) == len(created) == 20


def test_new_inquiries_wait_for_a_list_that_covers_them(engine: Engine, store: Store) -> None:
    """A checklist without a fresh inquiry list counts nothing new; the next one counts its
    days too, so nothing is skipped."""
    thu, fri = date(2026, 11, 12), date(2026, 11, 13)
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", [_inquiry("W", _local(date(2026, 11, 10), 12, 0))],
                  ingested_at=_local(date(2026, 11, 11), 8, 0))
        stale_id = create(conn, store, "daily", _local(thu, 9, 0))  # the list is stale
        assert stale_id is not None
        facts.put(conn, store, "inquiries", [
            _inquiry("A", _local(date(2026, 11, 11), 8, 0)),
            _inquiry("B", _local(thu, 23, 0)),
            _inquiry("S", _local(thu, 22, 0), is_spam=True)],
            ingested_at=_local(fri, 8, 0))
        stale = load(conn, stale_id)
        data = load(conn, create(conn, store, "daily", _local(fri, 9, 0)))  # type: ignore[arg-type]
    assert item(stale, "inquiries")["facts"]["new"] is None
    f = item(data, "inquiries")["facts"]
    assert (f["new"], f["new_from"], f["new_to"], f["spam_count"]) == (
        2, "2026-11-11", "2026-11-12", 1)
    assert "*2* new valid inquiries since the last checklist (2026-11-11 to 2026-11-12)" in \
        str(render("checklist_daily.json.j2", checklist=data))


def test_among_alerts_of_one_level_the_inquiry_drop_comes_first(
        engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.alerts.incidents

    found = [{"rule": rule, "severity": "warning", "tier": "alert", "day": date(2026, 11, 12)}
             for rule in ("position_lost", "cpc_jump", "inquiry_drop")]
    monkeypatch.setattr(bot.alerts.incidents, "active", lambda *args, **kwargs: found)
    listed = item(build(engine, store), "data")["facts"]["alerts"]
    assert [a["rule"] for a in listed] == ["inquiry_drop", "cpc_jump", "position_lost"]
