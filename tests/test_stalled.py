"""Stalled customers (zombie, hesitant, lost) exactly as docs/customers.md defines them: each
class's boundaries, the matching of records into customers, and the ranking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bot.metrics.customers import by_class, stalled
from bot.storage import read, write
from bot.stores import Store, configure_store
from tests.facts import put

NOW = datetime(2026, 11, 13, 1, 0)
DAY = timedelta(days=1)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def inquiry(iid: str, days: float, **extra: Any) -> dict[str, Any]:
    return {"inquiry_id": iid, "created_at": ago(days), **extra}


def crm(name: str, **extra: Any) -> dict[str, Any]:
    return {"customer": name, **extra}


def order(oid: str, days: float, **extra: Any) -> dict[str, Any]:
    return {"order_id": oid, "ordered_at": ago(days), **extra}


def classes(engine: Engine, store: Store, *, inquiries: list[dict[str, Any]] = (),  # type: ignore[assignment]
            customers: list[dict[str, Any]] = (), orders: list[dict[str, Any]] = (),  # type: ignore[assignment]
            ) -> dict[str, list[str]]:
    with write(engine) as conn:
        for kind, rows in (("inquiries", inquiries), ("customers", customers),
                           ("orders", orders)):
            if rows:
                put(conn, store, kind, list(rows), ingested_at=NOW)
    with read(engine) as conn:
        found = by_class(stalled(conn, store, NOW, limit=1000))
    return {cls: [c["name"] for c in found[cls]] for cls in found}


def test_zombie_boundary_and_order(engine: Engine, store: Store) -> None:
    got = classes(engine, store, inquiries=[
        inquiry("1", 2, buyer="Exactly2"),  # not older than 2 days
        inquiry("2", 2 + 1 / 1440, buyer="Just over"),
        inquiry("3", 30, buyer="Old", email="old@x"),
        inquiry("4", 5, buyer="Spam", is_spam=True),  # spam suspects are no customers
    ])
    # the freshest inquiry first: the warmest lead
    assert got == {"zombie": ["Just over", "Old"], "hesitant": [], "lost": []}


def test_contact_after_inquiry_is_hesitant_not_zombie(engine: Engine, store: Store) -> None:
    got = classes(engine, store, inquiries=[
        inquiry("1", 20, buyer="Replied8", replied_at=ago(8)),
        inquiry("2", 20, buyer="Replied7", replied_at=ago(7)),  # not older than 7 days
        inquiry("3", 20, buyer="Replied1", replied_at=ago(1)),  # followed up: not a zombie
    ])
    assert got == {"zombie": [], "hesitant": ["Replied8"], "lost": []}


def test_hesitant_left_quiet_for_lost_days_is_lost(engine: Engine, store: Store) -> None:
    got = classes(engine, store, inquiries=[
        inquiry("1", 200, buyer="Quiet90", replied_at=ago(90)),  # not older than 90 days
        inquiry("2", 200, buyer="Quiet91", replied_at=ago(91)),
    ])
    assert got == {"zombie": [], "hesitant": ["Quiet90"], "lost": ["Quiet91"]}


def test_crm_follow_up_matched_by_email(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        inquiries=[inquiry("1", 20, buyer="Ann", email="Ann@X.com")],
        customers=[crm("Ann Lee", email="ann@x.com", last_contact_at=ago(10))],
    )
    # one customer, named as the CRM knows her
    assert got == {"zombie": [], "hesitant": ["Ann Lee"], "lost": []}


def test_matching_by_company_and_country_then_by_name(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        inquiries=[inquiry("1", 20, buyer="Bo", company="ACo", country="US"),
                   inquiry("2", 20, buyer="Zed")],
        customers=[crm("Bo Chen", company="aco", country="us", last_contact_at=ago(9))],
        orders=[order("O1", 5, buyer="zed")],
    )
    # Bo: the CRM follow-up after the inquiry makes him hesitant; Zed ordered 5 days ago.
    assert got == {"zombie": [], "hesitant": ["Bo Chen"], "lost": []}


def test_company_shared_by_two_emails_is_not_guessed(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        inquiries=[inquiry("1", 20, buyer="A", email="a@co", company="Co", country="US"),
                   inquiry("2", 20, buyer="B", email="b@co", company="Co", country="US")],
        customers=[crm("Co buyer", company="Co", country="US", last_contact_at=ago(100))],
    )
    # the CRM record could be either: it stays its own (lost) customer, A and B stay zombies
    assert got == {"zombie": ["A", "B"], "hesitant": [], "lost": ["Co buyer"]}


def test_recent_order_means_no_class(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        inquiries=[inquiry("1", 10, buyer="Cy", email="cy@x"),
                   inquiry("2", 95, buyer="Di", email="di@x")],
        orders=[order("O1", 30, email="cy@x"), order("O2", 90, email="di@x")],
    )
    assert got == {"zombie": [], "hesitant": [], "lost": []}


def test_lost(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        customers=[crm("Quiet", last_contact_at=ago(91)),
                   crm("Talked", last_contact_at=ago(89)),
                   crm("Never", created_at=ago(400)),  # no order, no contact ever: none
                   crm("Won", stage="成交客户")],  # ordered once, when unknown
        orders=[order("O1", 100, buyer="Buyer100"), order("O2", 90 + 1 / 1440,
                                                           buyer="Buyer90")],
    )
    # buyers who ordered first (the most orders, then the most recently quiet), then the rest
    assert got == {"zombie": [], "hesitant": [],
                   "lost": ["Buyer90", "Buyer100", "Won", "Quiet"]}


def test_at_most_one_class(engine: Engine, store: Store) -> None:
    got = classes(
        engine, store,
        # contacted 100 days ago, inquired again 95 days ago, never answered: zombie, not lost
        inquiries=[inquiry("1", 95, buyer="Eli", email="eli@x", replied_at=ago(100)),
                   # followed up, then ordered after the inquiry long ago: lost, not hesitant
                   inquiry("2", 120, buyer="Fu", email="fu@x", replied_at=ago(110))],
        orders=[order("O1", 100, email="fu@x")],
    )
    assert got == {"zombie": ["Eli"], "hesitant": [], "lost": ["Fu"]}


def test_thresholds_are_per_store(engine: Engine, store: Store) -> None:
    store = configure_store(engine, store, settings={"zombie_days": 5, "hesitant_days": 3})
    got = classes(engine, store, inquiries=[
        inquiry("1", 4, buyer="Young"), inquiry("2", 6, buyer="Older"),
        inquiry("3", 10, buyer="Answered", replied_at=ago(4))])
    assert got == {"zombie": ["Older"], "hesitant": ["Answered"], "lost": []}


def test_entries_carry_the_moments(engine: Engine, store: Store) -> None:
    classes(engine, store, inquiries=[inquiry("1", 20, buyer="Gi", owner="Li", country="FR",
                                              replied_at=ago(8))])
    with read(engine) as conn:
        entry = stalled(conn, store, NOW)["customers"][0]
    assert entry["class"] == "hesitant"
    assert entry["last_inquiry_at"] == ago(20).isoformat()
    assert entry["last_contact_at"] == ago(8).isoformat() == entry["since"]
    assert (entry["days"], entry["owner"], entry["country"]) == (8, "Li", "FR")
    assert (entry["inquiries"], entry["orders"], entry["last_order_at"]) == (1, 0, None)
