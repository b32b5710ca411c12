"""`/customers`: the stalled customers worth a message today, from back-office files to the
ranked list, the marks (Contacted, Snooze, Not a lead, restore) and what they change, the
checklist's transactions item, escaping, Slack's limits, Chinese, and the CLI twins; on
SQLite and PostgreSQL. Expected figures are computed by hand from the files below
(docs/customers.md has the rules)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from bot import outbox
from bot.checklists import records
from bot.checklists.daily import build_daily
from bot.ingest.drop import ingest_file
from bot.ingest.undo import undo_drop
from bot.metrics import customer_index, customer_marks
from bot.metrics.customer_index import customer_key
from bot.metrics.customer_marks import MarkError
from bot.metrics.customers import by_class, stalled
from bot.models import customer_marks as marks_table
from bot.models import drops
from bot.models import facts as tables
from bot.storage import read, write
from bot.stores import Store, bind_channel, configure_store
from handlers.commands import CommandResult, run_command
from templates import render
from tests import facts
from tests.cli_helpers import Run
from tests.files import write as write_file
from tests.slack_limits import assert_data_escaped, assert_no_mentions, assert_within_slack_limits

# 09:00 on Friday 2026-11-13 in Shanghai (UTC+8), the store's timezone: file times are local,
# the expected moments below are UTC (8 hours earlier).
NOW = datetime(2026, 11, 13, 1, 0)
EVIL_NAME = "<!channel> & Sons"
EVIL_COMPANY = "<b>Evil</b> Ltd"

INQUIRY_HEADER = ["询盘ID", "客户名", "国家/地区", "公司名称", "邮箱", "询盘标题", "创建时间",
                  "最新回复时间", "询盘产品ID", "业务员", "垃圾询盘"]
INQUIRIES = [
    # Ann: two inquiries, none answered -> zombie since the latest (2026-11-10 10:00 UTC)
    ["Q1", "Ann Lee", "United States", "AnnCo", "ann@lee.com", "Price?", "2026/11/3 10:00:00",
     "", "P1", "Lily", "N"],
    ["Q2", "Ann Lee", "United States", "AnnCo", "ANN@lee.com ", "MOQ?", "2026/11/10 18:00:00",
     "", "P1", "Lily", "N"],
    # Bo: 2 days and 1 minute old -> zombie, the freshest
    ["Q3", "Bo Chen", "DE", "Chen GmbH", "bo@chen.de", "Sample?", "2026/11/11 08:59:00", "",
     "P2", "Wang", "N"],
    # Cy: exactly 2 days old -> not yet a zombie
    ["Q4", "Cy Exact", "FR", "ExCo", "cy@ex.com", "Hi", "2026/11/11 09:00:00", "", "P2", "Lily",
     "N"],
    # Dee: answered; the CRM's later follow-up (8 days 1 hour ago) -> hesitant, has ordered
    ["Q5", "Dee Hill", "GB", "DeeCo", "dee@h.com", "Quote", "2026/10/20 10:00:00",
     "2026/10/20 15:00:00", "P3", "Wang", "N"],
    # Eve: answered exactly 7 days ago -> not yet hesitant
    ["Q6", "Eve Seven", "United States", "EveCo", "eve@s.com", "Hi", "2026/10/25 10:00:00",
     "2026/11/6 09:00:00", "P3", "Lily", "N"],
    # Fay: answered 10 days ago, one inquiry, no order -> hesitant, no history
    ["Q7", "Fay Ten", "IN", "FayCo", "fay@t.com", "Hi", "2026/10/28 10:00:00",
     "2026/11/3 09:00:00", "P1", "Lily", "N"],
    # Ivy: ordered 30 days ago -> in no class
    ["Q8", "Ivy Recent", "US", "IvyCo", "ivy@r.com", "Hi", "2026/10/1 10:00:00", "", "P1",
     "Lily", "N"],
    # a spam suspect is no customer
    ["Q9", "Spammer", "US", "SpamCo", "spam@x.com", "Win!", "2026/11/1 10:00:00", "", "P1",
     "Lily", "Y"],
    # a buyer's name and company that must not ping or format anything -> zombie
    ["Q10", EVIL_NAME, "US", EVIL_COMPANY, "evil@x.com", "Hi", "2026/11/9 10:00:00", "",
     "P1", "Lily", "N"],
]
CRM_HEADER = ["客户", "公司名称", "国家/地区", "邮箱", "业务员", "客户阶段", "跟进状态",
              "小记时间", "建档时间", "订单总数", "最近下单时间"]
CRM = [
    ["Dee Hill", "DeeCo", "GB", "dee@h.com", "Wang", "成交客户", "跟进中", "2026-11-05 08:00",
     "2026-01-10 10:00", 1, "2026-05-01"],
    ["Gus Lost", "GusCo", "BR", "gus@l.com", "Wang", "成交客户", "暂停跟进", "", "2025-12-01 10:00",
     1, ""],
    # no e-mail: known by company + country; last contact 103 days ago -> lost
    ["Hal Quiet", "HalCo", "PL", "", "Lily", "询盘客户", "跟进中", "2026-08-01 10:00",
     "2026-07-01 10:00", 0, ""],
]
ORDER_HEADER = ["订单号", "买家", "买家公司", "国家/地区", "买家邮箱", "订单金额", "币种",
                "订单状态", "下单时间", "交货期"]
ORDERS = [
    ["9001", "Gus Lost", "GusCo", "BR", "gus@l.com", "1,200.00", "USD", "TRADE_FINISHED",
     "2026-07-01 10:00:00", "2026-07-20"],
    ["9002", "Ivy Recent", "IvyCo", "US", "ivy@r.com", "800.00", "USD", "TRADE_FINISHED",
     "2026-10-14 10:00:00", "2026-10-30"],
]


def key(identity: str) -> str:
    return customer_key(identity)


ANN, BO, DEE = key("e:ann@lee.com"), key("e:bo@chen.de"), key("e:dee@h.com")
FAY, GUS, EVIL = key("e:fay@t.com"), key("e:gus@l.com"), key("e:evil@x.com")
HAL = key("c:halco\x1fpl")  # no e-mail: company + country


def entry(k: str, name: str, company: str, country: str, owner: str, cls: str, since: str,
          inquiry: str | None, contact: str | None, order: str | None, inquiries: int,
          orders: int, days: int, new: bool) -> dict[str, Any]:
    return {"key": k, "name": name, "company": company, "country": country, "owner": owner,
            "class": cls, "since": since, "last_inquiry_at": inquiry, "last_contact_at": contact,
            "last_order_at": order, "inquiries": inquiries, "orders": orders, "days": days,
            "new": new}


# Ranked per class, then taken in turn: zombie, hesitant, lost, zombie, …
EXPECTED = [
    # the freshest inquiry first; entered (+2 days) after the last checklist: new
    entry(BO, "Bo Chen", "Chen GmbH", "DE", "Wang", "zombie", "2026-11-11T00:59:00",
          "2026-11-11T00:59:00", None, None, 1, 0, 2, True),
    # past orders first; entered 2026-11-12 00:00, an hour before the last checklist: not new
    entry(DEE, "Dee Hill", "DeeCo", "GB", "Wang", "hesitant", "2026-11-05T00:00:00",
          "2026-10-20T02:00:00", "2026-11-05T00:00:00", "2026-04-30T16:00:00", 1, 1, 8, False),
    entry(GUS, "Gus Lost", "GusCo", "BR", "Wang", "lost", "2026-07-01T02:00:00", None, None,
          "2026-07-01T02:00:00", 0, 1, 134, False),
    entry(ANN, "Ann Lee", "AnnCo", "United States", "Lily", "zombie", "2026-11-10T10:00:00",
          "2026-11-10T10:00:00", None, None, 2, 0, 2, True),
    entry(FAY, "Fay Ten", "FayCo", "IN", "Lily", "hesitant", "2026-11-03T01:00:00",
          "2026-10-28T02:00:00", "2026-11-03T01:00:00", None, 1, 0, 10, False),
    entry(HAL, "Hal Quiet", "HalCo", "PL", "Lily", "lost", "2026-08-01T02:00:00", None,
          "2026-08-01T02:00:00", None, 0, 0, 103, False),
    entry(EVIL, EVIL_NAME, EVIL_COMPANY, "US", "Lily", "zombie", "2026-11-09T02:00:00",
          "2026-11-09T02:00:00", None, None, 1, 0, 3, False),
]


def ingest_exports(engine: Engine, store: Store, folder: Path) -> None:
    """The CRM list, the inquiry list and the orders as the back office exports them."""
    files = [
        write_file(folder / "询盘列表_20261113.xlsx", [INQUIRY_HEADER, *INQUIRIES]),
        write_file(folder / "客户通-客户列表_20261113.xlsx", [CRM_HEADER, *CRM]),
        write_file(folder / "信保订单_20261113.csv", [ORDER_HEADER, *ORDERS],
                   encoding="utf-8-sig"),
    ]
    for path in files:
        result = ingest_file(engine, store, path)
        assert result.status == "ingested" and not result.quarantined, result.to_json()
    with read(engine) as conn:  # each drop rebuilt the customer index as it was ingested
        assert not customer_index.is_stale(conn, store)


@pytest.fixture
def exported(engine: Engine, store: Store, tmp_path: Path) -> Store:
    """The exports ingested, and yesterday's checklist recorded at 09:00 (01:00 UTC)."""
    ingest_exports(engine, store, tmp_path)
    with write(engine) as conn:
        assert records.create(conn, store, "daily", NOW - timedelta(days=1)) is not None
    return store


def ask(engine: Engine, text: str = "", **kw: Any) -> CommandResult:
    result = run_command(engine, "/customers", text, now=NOW, **kw)
    assert_within_slack_limits(result.message)
    assert_no_mentions(result.message)
    return result


def blocks_text(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


# ---------------------------------------------------------------- figures from the files


def test_figures_from_back_office_files(engine: Engine, exported: Store) -> None:
    result = ask(engine, store=exported)
    assert result.ok
    data = result.data
    assert data is not None
    assert data["counts"] == {"zombie": 3, "hesitant": 2, "lost": 2}
    assert (data["as_of"], data["new_since"]) == ("2026-11-13T01:00:00", "2026-11-12T01:00:00")
    assert (data["listed"], data["snoozed"], data["not_leads"]) == (7, 0, 0)
    emails = {ANN: "ann@lee.com", BO: "bo@chen.de", DEE: "dee@h.com", FAY: "fay@t.com",
              GUS: "gus@l.com", EVIL: "evil@x.com", HAL: None}
    # a terminal answer carries e-mail addresses, to write to the buyers
    assert data["customers"] == [{**e, "email": emails[e["key"]]} for e in EXPECTED]


def test_the_message_groups_by_owner_in_rank_order(engine: Engine, exported: Store) -> None:
    message = ask(engine, store=exported).message
    lines = [b["text"]["text"] if b["type"] == "section" else b["elements"][0]["text"]
             for b in message["blocks"][2:] if b["type"] in ("section", "context")]
    assert [line.split("\n")[0] for line in lines[:9]] == [
        "*Wang*",
        "*Bo Chen* · Chen GmbH (Germany) · zombie 🆕",
        "*Dee Hill* · DeeCo (United Kingdom) · hesitant",
        "*Gus Lost* · GusCo (Brazil) · lost",
        "*Lily*",
        "*Ann Lee* · AnnCo (United States) · zombie 🆕",
        "*Fay Ten* · FayCo (India) · hesitant",
        "*Hal Quiet* · HalCo (Poland) · lost",
        "*&lt;!channel&gt; &amp; Sons* · &lt;b&gt;Evil&lt;/b&gt; Ltd (United States) · zombie",
    ]
    assert lines[1].split("\n")[1] == "inquired 2 days ago, nobody followed up"
    assert lines[2].split("\n")[1] == "followed up 8 days ago, no order since, 1 order"
    assert lines[3].split("\n")[1] == "no order and no contact for 134 days, 1 order"
    assert lines[5].split("\n")[1] == "inquired 2 days ago, nobody followed up, 2 inquiries"
    assert message["text"] == "Customers to follow up · acme: 3 zombie · 2 hesitant · 2 lost"
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [a["block_id"] for a in actions] == [f"customer:{e['key']}" for e in EXPECTED]
    contacted, snooze, not_lead = actions[0]["elements"]
    assert (contacted["text"]["text"], contacted["action_id"]) == ("Contacted",
                                                                    "customer_contacted")
    assert snooze["placeholder"]["text"] == "Snooze 7 days…"
    assert [o["value"].split("|")[2] for o in snooze["options"]] == list(customer_marks.REASONS)
    assert (not_lead["text"]["text"], not_lead["action_id"]) == ("Not a lead",
                                                                  "customer_not_lead")
    assert contacted["value"].split("|")[0] == BO == not_lead["value"].split("|")[0]


def test_a_channel_answer_carries_no_email(engine: Engine, exported: Store) -> None:
    bind_channel(engine, exported, "C1")
    result = ask(engine, channel_id="C1", user_id="U1")
    assert result.data is not None
    assert result.data["customers"] == EXPECTED  # the same list, without "email"
    assert "@" not in json.dumps(result.data) + json.dumps(result.message)
    # posted by the bot (its buttons redraw it), the query kept for the redraw
    [post_id] = result.posts
    with read(engine) as conn:
        [post] = outbox.posts_of(conn, f"customers:{exported.id}", "customers")
    assert post.id == post_id and post.channel == "C1"
    assert post.payload["query"] == {"class": None, "owner": None, "country": None}
    assert post.payload["blocks"] == result.message["blocks"]


def test_escaping_of_buyer_text(engine: Engine, exported: Store) -> None:
    message = ask(engine, store=exported).message
    assert_data_escaped(message, EVIL_NAME, EVIL_COMPANY)
    assert "&lt;!channel&gt; &amp; Sons" in blocks_text(message)


@pytest.mark.parametrize(("text", "cls", "names"), [
    ("zombie", "zombie", ["Bo Chen", "Ann Lee", EVIL_NAME]),
    ("僵尸", "zombie", ["Bo Chen", "Ann Lee", EVIL_NAME]),
    ("hesitant", "hesitant", ["Dee Hill", "Fay Ten"]),
    ("犹豫客户", "hesitant", ["Dee Hill", "Fay Ten"]),
    ("流失", "lost", ["Gus Lost", "Hal Quiet"]),
    ("客户", None, [e["name"] for e in EXPECTED]),
])
def test_a_class(engine: Engine, exported: Store, text: str, cls: str | None,
                 names: list[str]) -> None:
    data = ask(engine, text, store=exported).data
    assert data is not None
    assert data["query"]["class"] == cls
    assert [c["name"] for c in data["customers"]] == names
    assert data["counts"] == {"zombie": 3, "hesitant": 2, "lost": 2}  # always all three


@pytest.mark.parametrize(("text", "counts", "names"), [
    ("owner:lily", {"zombie": 2, "hesitant": 1, "lost": 1},
     ["Ann Lee", "Fay Ten", "Hal Quiet", EVIL_NAME]),
    ("业务员：Wang", {"zombie": 1, "hesitant": 1, "lost": 1}, ["Bo Chen", "Dee Hill", "Gus Lost"]),
    # `US` also finds "United States"
    ("country:US", {"zombie": 2, "hesitant": 0, "lost": 0}, ["Ann Lee", EVIL_NAME]),
    ("zombie owner:Lily country:us", {"zombie": 2, "hesitant": 0, "lost": 0},
     ["Ann Lee", EVIL_NAME]),
])
def test_filters(engine: Engine, exported: Store, text: str, counts: dict[str, int],
                 names: list[str]) -> None:
    data = ask(engine, text, store=exported).data
    assert data is not None
    assert data["counts"] == counts
    assert [c["name"] for c in data["customers"]] == names


@pytest.mark.parametrize(("text", "says"), [
    ("maybe", "unknown word `maybe`: name a class (zombie, hesitant, lost), owner:NAME or "
              "country:XX"),
    ("zombie lost", "choose one class: zombie, hesitant or lost"),
    ("region:EU", "unknown filter `region:`: use owner:NAME or country:XX"),
    ("owner:", "`owner:` needs a value, e.g. `owner:Lily`"),
    ("restore", "name the customer: `/customers restore NAME`"),
    ("restore Nobody", "no customer named Nobody"),
])
def test_words_that_cannot_be_answered(engine: Engine, exported: Store, text: str,
                                       says: str) -> None:
    result = ask(engine, text, store=exported)
    assert not result.ok and result.ephemeral
    assert result.data == {"error": says}
    assert "/customers [zombie|hesitant|lost]" in blocks_text(result.message)


def test_without_any_list_the_counts_are_unknown(engine: Engine, store: Store) -> None:
    result = ask(engine, store=store)
    assert result.data is not None
    assert result.data["counts"] == {"zombie": None, "hesitant": None, "lost": None}
    assert result.data["customers"] == []
    assert "No customer data yet" in blocks_text(result.message)


# ------------------------------------------------------------------------------- marks


def inquiries(engine: Engine, store: Store, *rows: tuple[str, str, datetime]) -> None:
    with write(engine) as conn:
        facts.put(conn, store, "inquiries",
                  [{"inquiry_id": i, "buyer": b, "email": f"{b.lower()}@x.com", "created_at": t,
                    "owner": "Li"} for i, b, t in rows], ingested_at=NOW)


def listing(engine: Engine, store: Store, now: datetime) -> dict[str, Any]:
    with read(engine) as conn:
        data = stalled(conn, store, now, limit=100)
    data["names"] = {cls: [c["name"] for c in found]
                     for cls, found in by_class(data).items() if found}
    return data


def mark(engine: Engine, store: Store, name: str, what: str, at: datetime,
         origin: str = "o1", **kw: Any) -> dict[str, Any]:
    with write(engine) as conn:
        return customer_marks.record(conn, store, customer_key(f"e:{name.lower()}@x.com"),
                                     what, "U1", at, origin=origin, **kw)


def test_contacted_leaves_the_list_until_the_clock_runs_out(engine: Engine,
                                                              store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    assert listing(engine, store, NOW)["names"] == {"zombie": ["Zed"]}
    mark(engine, store, "Zed", "contacted", NOW)
    gone = listing(engine, store, NOW)
    assert (gone["names"], gone["counts"]["zombie"]) == ({}, 0)  # a contact: no zombie
    week = NOW + timedelta(days=7)
    assert listing(engine, store, week)["names"] == {}  # not older than 7 days yet
    later = listing(engine, store, week + timedelta(minutes=1))
    assert later["names"] == {"hesitant": ["Zed"]}
    assert later["customers"][0]["last_contact_at"] == NOW.isoformat()


def test_a_new_inquiry_after_contacted_makes_a_zombie_again(engine: Engine,
                                                              store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    mark(engine, store, "Zed", "contacted", NOW)
    inquiries(engine, store, ("2", "Zed", NOW + timedelta(days=1)))
    assert listing(engine, store, NOW + timedelta(days=3))["names"] == {}
    again = listing(engine, store, NOW + timedelta(days=3, minutes=1))
    assert again["names"] == {"zombie": ["Zed"]}


def test_snooze_hides_for_seven_days_but_still_counts(engine: Engine, store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)),
              ("2", "Yan", NOW - timedelta(days=4)))
    done = mark(engine, store, "Zed", "snooze", NOW, reason="holiday")
    assert (done["until"], done["reason"], done["recorded"]) == (
        (NOW + timedelta(days=7)).isoformat(), "holiday", True)
    during = listing(engine, store, NOW + timedelta(days=6))
    assert during["names"] == {"zombie": ["Yan"]}
    assert (during["counts"]["zombie"], during["snoozed"], during["listed"]) == (2, 1, 1)
    after = listing(engine, store, NOW + timedelta(days=7))
    assert after["names"] == {"zombie": ["Yan", "Zed"]} and after["snoozed"] == 0


def test_not_a_lead_is_out_of_every_list_until_restored(engine: Engine, store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    mark(engine, store, "Zed", "not_lead", NOW)
    out = listing(engine, store, NOW + timedelta(days=400))
    assert (out["names"], out["counts"]["lost"], out["not_leads"]) == ({}, 0, 1)
    mark(engine, store, "Zed", "restore", NOW + timedelta(hours=1))
    back = listing(engine, store, NOW + timedelta(hours=2))
    assert (back["names"], back["not_leads"]) == ({"zombie": ["Zed"]}, 0)


def test_restore_also_ends_a_snooze(engine: Engine, store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    mark(engine, store, "Zed", "snooze", NOW, days=30)
    mark(engine, store, "Zed", "restore", NOW + timedelta(hours=1))
    assert listing(engine, store, NOW + timedelta(hours=2))["names"] == {"zombie": ["Zed"]}


def test_a_double_click_records_once(engine: Engine, store: Store) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    first = mark(engine, store, "Zed", "contacted", NOW, origin="slack:C1:1.2:ab")
    second = mark(engine, store, "Zed", "contacted", NOW + timedelta(seconds=1),
                  origin="slack:C1:1.2:ab")
    assert (first["recorded"], second["recorded"]) == (True, False)
    assert second["marked_at"] == first["marked_at"]  # the first click's record
    with read(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(marks_table)) == 1


def test_marks_outlive_a_rebuild_of_the_index(engine: Engine, store: Store) -> None:
    """A new drop rebuilds the index from the facts: the marks are applied again."""
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=10)),
              ("2", "Yan", NOW - timedelta(days=4)), ("3", "Xia", NOW - timedelta(days=3)))
    mark(engine, store, "Zed", "contacted", NOW - timedelta(days=8))  # after his inquiry
    mark(engine, store, "Yan", "not_lead", NOW)
    mark(engine, store, "Xia", "snooze", NOW)
    before = listing(engine, store, NOW)
    inquiries(engine, store, ("4", "Wu", NOW - timedelta(days=3)))  # a drop: rebuilt
    after = listing(engine, store, NOW)
    assert before["names"] == {"hesitant": ["Zed"]}
    assert after["names"] == {"zombie": ["Wu"], "hesitant": ["Zed"]}
    assert (after["not_leads"], after["snoozed"]) == (1, 1)


def test_an_undone_drop_leaves_the_lists(engine: Engine, store: Store, tmp_path: Path) -> None:
    ingest_exports(engine, store, tmp_path)
    with read(engine) as conn:
        inquiry_drop = conn.scalar(select(drops.c.id).where(drops.c.kind == "inquiries"))
    with write(engine) as conn:
        undo_drop(conn, inquiry_drop, store.id)
    with read(engine) as conn:
        assert not customer_index.is_stale(conn, store)  # rebuilt in the undo's transaction
    data = ask(engine, store=store).data
    assert data is not None
    # without the inquiry list: no zombies, no hesitant buyers; Gus and Hal still lost
    assert data["counts"] == {"zombie": 0, "hesitant": 0, "lost": 2}


def test_facts_that_came_another_way_are_picked_up(engine: Engine, store: Store) -> None:
    """Facts written without the ingest writer (an import, a restore) make the index stale:
    the next question rebuilds it."""
    with write(engine) as conn:
        drop_id = conn.execute(insert(drops).values(
            store_id=store.id, file_name="import.csv", sha256="0" * 64, kind="inquiries",
            status="ingested", source="cli", rows=1, errors=[], created_at=NOW)
        ).inserted_primary_key[0]
        conn.execute(insert(tables["inquiries"]).values(
            store_id=store.id, drop_id=drop_id, key="Q1", inquiry_id="Q1", buyer="Zed",
            created_at=NOW - timedelta(days=5), updated_at=NOW))
    with read(engine) as conn:
        assert customer_index.is_stale(conn, store)
    assert ask(engine, store=store).data["counts"]["zombie"] == 1
    with read(engine) as conn:
        assert not customer_index.is_stale(conn, store)


@pytest.mark.parametrize(("what", "kw", "says"), [
    ("snooze", {"days": 0}, "a snooze lasts 1 to 365 days"),
    ("snooze", {"days": 366}, "a snooze lasts 1 to 365 days"),
    ("wave", {}, "no mark 'wave'"),
])
def test_marks_that_cannot_be_recorded(engine: Engine, store: Store, what: str,
                                       kw: dict[str, Any], says: str) -> None:
    inquiries(engine, store, ("1", "Zed", NOW - timedelta(days=5)))
    with pytest.raises(MarkError, match=says):
        mark(engine, store, "Zed", what, NOW, **kw)
    with pytest.raises(MarkError, match="no customer with key"), write(engine) as conn:
        customer_marks.record(conn, store, "0" * 12, "contacted", "U1", NOW, origin="o")


def test_restore_by_name_in_slack(engine: Engine, exported: Store) -> None:
    bind_channel(engine, exported, "C1")
    with write(engine) as conn:
        customer_marks.record(conn, exported, HAL, "not_lead", "U1", NOW, origin="o")
    assert [c["name"] for c in ask(engine, "lost", channel_id="C1").data["customers"]] == [
        "Gus Lost"]
    result = ask(engine, "restore hal quiet", channel_id="C1", user_id="U2")
    assert result.ok and not result.ephemeral
    assert result.message["text"] == "↩ *Hal Quiet* is back on the customer lists."
    assert result.data is not None and result.data["mark"]["user_id"] == "U2"
    assert [c["name"] for c in ask(engine, "lost", channel_id="C1").data["customers"]] == [
        "Gus Lost", "Hal Quiet"]
    again = ask(engine, "恢复 Hal Quiet", channel_id="C1")
    assert again.ok and again.ephemeral and "nothing to restore" in again.message["text"]


def test_a_name_that_fits_several_customers(engine: Engine, store: Store) -> None:
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", [
            {"inquiry_id": "1", "buyer": "Sam", "email": "sam@a.com", "company": "A",
             "country": "US", "created_at": NOW - timedelta(days=3)},
            {"inquiry_id": "2", "buyer": "Sam", "email": "sam@b.com", "country": "DE",
             "created_at": NOW - timedelta(days=3)}], ingested_at=NOW)
    result = ask(engine, "restore sam", store=store)
    assert not result.ok
    a, b = customer_key("e:sam@a.com"), customer_key("e:sam@b.com")
    both = sorted([(a, f"Sam (A, US, {a})"), (b, f"Sam (DE, {b})")])  # by key
    assert result.data == {"error": "sam fits several customers: "
                           + ", ".join(text for _, text in both) + "; name one by its key"}


# ----------------------------------------------------------------- limits and language


def test_ten_customers_with_buttons_fit_slack(engine: Engine, store: Store) -> None:
    """30 zombies with long names, each with their own owner: ten listed, by owner, within
    Slack's limits (50 blocks, 3000 characters a section)."""
    with write(engine) as conn:
        facts.put(conn, store, "inquiries", [
            {"inquiry_id": str(n), "buyer": f"Buyer {n:02d} " + "名" * 300,
             "company": "<Co> " * 100, "email": f"b{n}@x.com", "owner": f"Owner {n} " * 40,
             "created_at": NOW - timedelta(days=3, hours=n)} for n in range(30)],
            ingested_at=NOW)
    bind_channel(engine, store, "C1")
    result = ask(engine, channel_id="C1")
    assert result.data is not None
    assert len(result.data["customers"]) == 10 and result.data["listed"] == 30
    blocks = result.message["blocks"]
    assert len(blocks) <= 50
    assert sum(b["type"] == "actions" for b in blocks) == 10
    assert "…and 20 more" in blocks_text(result.message)
    assert_data_escaped(result.message, "<Co>")


def test_in_chinese(engine: Engine, exported: Store) -> None:
    zh = configure_store(engine, exported, language="zh")
    result = ask(engine, "僵尸 业务员:Lily", store=zh)
    assert result.data is not None
    assert [c["name"] for c in result.data["customers"]] == ["Ann Lee", EVIL_NAME]
    text = blocks_text(result.message)
    assert result.message["blocks"][0]["text"]["text"] == "待跟进客户 · acme"
    assert "僵尸客户 2 个 · 犹豫客户 1 个 · 流失客户 1 个" in text
    assert ("*Ann Lee* · AnnCo (美国) · 僵尸客户 🆕\\n"
            "2 天前询盘，无人跟进，2 条询盘") in text
    actions = next(b for b in result.message["blocks"] if b["type"] == "actions")
    assert [e.get("text", e.get("placeholder"))["text"] for e in actions["elements"]] == [
        "已联系", "暂缓 7 天…", "不是商机"]
    assert_data_escaped(result.message, EVIL_NAME, EVIL_COMPANY)
    wrong = ask(engine, "哈哈", store=zh)
    assert not wrong.ok
    assert "无法识别 `哈哈`" in blocks_text(wrong.message)


# ----------------------------------------------------------------------------- checklist


def test_the_checklist_shows_the_ranked_few(engine: Engine, exported: Store) -> None:
    """The first five of /customers, by class, with the counts; the zombies wait for a reply
    on the inquiry item's unreplied line, so they are not a second task here."""
    with read(engine) as conn:
        data = build_daily(conn, exported, NOW)
    it = next(i for i in data["items"] if i["key"] == "transactions")["facts"]
    assert it["stalled_counts"] == {"zombie": 0, "hesitant": 2, "lost": 2}

    def old_keys(e: dict[str, Any]) -> dict[str, Any]:  # the checklist's contract, kept
        return {**e, "customer": e["name"], "last_inquiry": e["last_inquiry_at"],
                "last_contact": e["last_contact_at"], "last_order": e["last_order_at"]}

    assert it["stalled"] == {"zombie": [],
                             "hesitant": [old_keys(EXPECTED[1]), old_keys(EXPECTED[4])],
                             "lost": [old_keys(EXPECTED[2]), old_keys(EXPECTED[5])]}
    assert it["stalled_listed"] == 4
    assert "email" not in json.dumps(it)
    section = render("checklist_daily.json.j2", checklist=data)["blocks"][-1]["text"]["text"]
    assert section.endswith("• Stalled customers: *0* zombie (not counting those waiting for a "
                            "reply above), *2* hesitant, *2* lost"
                            "\n      ◦ hesitant: Dee Hill (8 d), Fay Ten (10 d)"
                            "\n      ◦ lost: Gus Lost (134 d), Hal Quiet (103 d)")


def test_the_checklist_marks_the_new_and_points_to_the_rest(engine: Engine,
                                                             store: Store) -> None:
    """Old zombies (past the unreplied line's days) are listed; more than five: the rest
    are a /customers away; a zombie who entered since the previous checklist is new."""
    inquiries(engine, store, *[(str(n), f"Old{n}", NOW - timedelta(days=40 + n))
                               for n in range(7)])
    with write(engine) as conn:  # the previous checklist, yesterday at 09:00
        assert records.create(conn, store, "daily", NOW - timedelta(days=1)) is not None
    inquiries(engine, store, ("7", "Fresh", NOW - timedelta(days=2, hours=12)))
    store = configure_store(engine, store, settings={"unreplied_max_days": 2})
    with read(engine) as conn:
        data = build_daily(conn, store, NOW)
    it = next(i for i in data["items"] if i["key"] == "transactions")["facts"]
    assert [(c["name"], c["new"]) for c in it["stalled"]["zombie"]] == [
        ("Fresh", True), ("Old0", False), ("Old1", False), ("Old2", False), ("Old3", False)]
    assert (it["stalled_counts"]["zombie"], it["stalled_listed"]) == (8, 8)
    section = render("checklist_daily.json.j2", checklist=data)["blocks"][-1]["text"]["text"]
    assert section.endswith("\n      ◦ zombie: Fresh (2 d) 🆕, Old0 (40 d), Old1 (41 d), "
                            "Old2 (42 d), Old3 (43 d)"
                            "\n      …3 more to follow up: `/customers` lists them, with buttons")


# ----------------------------------------------------------------------------------- CLI


def test_the_cli_twins(cli: Run, engine: Engine, exported: Store) -> None:
    code, out, _ = cli("ask", "/customers zombie", "--store", "acme", "--now",
                       "2026-11-13T09:00", "--json")
    assert code == 0
    answer = json.loads(out)
    assert [c["key"] for c in answer["data"]["customers"]] == [BO, ANN, EVIL]
    assert answer["data"]["customers"][0]["email"] == "bo@chen.de"

    code, out, _ = cli("customers", "contacted", BO, "--store", "acme", "--now",
                       "2026-11-13T09:00", "--json")
    assert code == 0
    done = json.loads(out)
    assert done["customer"] == {"key": BO, "name": "Bo Chen", "company": "Chen GmbH",
                                "country": "DE", "owner": "Wang"}
    assert done["mark"]["mark"] == "contacted" and done["mark"]["recorded"] is True
    assert done["mark"]["user_id"].startswith("cli")
    code, out, _ = cli("customers", "contacted", BO, "--store", "acme", "--now",
                       "2026-11-13T09:00", "--json")
    assert json.loads(out)["mark"]["recorded"] is False  # the same line again: once

    code, out, _ = cli("customers", "snooze", "ann lee", "--store", "acme", "--days", "3",
                       "--reason", "fair in Canton", "--now", "2026-11-13T09:00")
    assert code == 0 and out.strip() == "💤 Ann Lee snoozed until 2026-11-16."

    code, out, _ = cli("ask", "/customers zombie", "--store", "acme", "--now",
                       "2026-11-13T09:05", "--json")
    data = json.loads(out)["data"]
    # Bo contacted, Ann snoozed; Cy's inquiry is now more than 2 days old
    assert [c["key"] for c in data["customers"]] == [key("e:cy@ex.com"), EVIL]
    assert (data["counts"]["zombie"], data["snoozed"]) == (3, 1)

    code, _, err = cli("customers", "not-lead", "Nobody", "--store", "acme")
    assert code == 2 and err == "opsbot: no customer named Nobody\n"
    code, _, err = cli("customers", "contacted", BO, "--store", "acme", "--days", "3")
    assert code == 2 and err == "opsbot: --days and --reason go with snooze\n"
