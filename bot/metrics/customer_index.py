"""The customer index: every customer of a store, matched from its CRM, inquiry and order
records (docs/customers.md, "Customers"), one row per customer in `customer_index`, with the
team's marks applied (bot/metrics/customer_marks.py).

Matching needs Python (text folding, ambiguity), so it runs once per data drop rather than per
question: the ingest writer rebuilds a store's index in the transaction of every CRM,
inquiry or order drop (`rebuild`), and so does undoing one; `ensure_fresh` rebuilds it when
facts arrived another way.
Questions (bot/metrics/customers.py) are then SQL over the index.

Records are matched by e-mail first; e-mail records register their company + country and
their name; a record without e-mail joins the customer its company + country (or else its
name) points to, unless that key points to several customers, in which case it stays a
customer of its own rather than being guessed into one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from bot.ingest.parsing import fold
from bot.metrics import customer_marks
from bot.metrics.inquiries import VALID
from bot.models import customer_index, customer_index_state, drops, facts
from bot.periods import utcnow
from bot.storage import read, write
from bot.stores import Store

KINDS = ("customers", "inquiries", "orders")  # the drops a customer is made of
WON_STAGES = ("成交", "复购", "won", "repeat")
INDEX_LOCK = 7_392  # advisory lock namespace: one rebuild of a store at a time (PostgreSQL)
_AMBIGUOUS = object()


@dataclass(slots=True)
class _Record:
    """One row of the CRM list, the inquiry list or the orders, as evidence about a buyer."""

    name: str | None
    company: str | None
    country: str | None
    email: str | None
    owner: str | None = None
    inquiry: datetime | None = None
    inquiry_id: str | None = None
    contact: datetime | None = None
    order: datetime | None = None
    ordered: bool = False
    order_rows: int = 0  # 1 for a Trade Assurance order
    crm_orders: int = 0  # the CRM's order count

    @property
    def email_key(self) -> str | None:
        return fold(self.email) if self.email else None

    @property
    def company_key(self) -> str | None:
        if self.company and self.country:
            return fold(self.company) + "\x1f" + fold(self.country)
        return None

    @property
    def name_key(self) -> str | None:
        name = self.name or self.company
        return fold(name) if name else None


@dataclass(slots=True)
class Customer:
    identity: str  # "e:<email>", "c:<company+country>" or "n:<name>", folded
    name: str | None = None
    company: str | None = None
    country: str | None = None
    email: str | None = None
    owner: str | None = None
    last_inquiry: datetime | None = None
    last_inquiry_id: str | None = None
    last_contact: datetime | None = None
    last_order: datetime | None = None
    ordered: bool = False
    inquiries: int = 0
    order_rows: int = 0
    crm_orders: int = 0

    def absorb(self, rec: _Record) -> None:
        if self.name is None:
            self.name = rec.name
        if self.company is None:
            self.company = rec.company
        if self.country is None:
            self.country = rec.country
        if self.email is None:
            self.email = rec.email
        if self.owner is None:
            self.owner = rec.owner
        if rec.inquiry is not None:
            self.inquiries += 1
            if self.last_inquiry is None or rec.inquiry > self.last_inquiry:
                self.last_inquiry, self.last_inquiry_id = rec.inquiry, rec.inquiry_id
        if rec.contact is not None and (self.last_contact is None
                                        or rec.contact > self.last_contact):
            self.last_contact = rec.contact
        if rec.order is not None and (self.last_order is None or rec.order > self.last_order):
            self.last_order = rec.order
        self.ordered = self.ordered or rec.ordered
        self.order_rows += rec.order_rows
        self.crm_orders = max(self.crm_orders, rec.crm_orders)

    @property
    def orders(self) -> int:
        """Orders known: the order rows matched, or the CRM's count when it knows more."""
        return max(self.order_rows, self.crm_orders)


def _records(conn: Connection, store: Store) -> list[_Record]:
    crm, inquiries, orders = facts["customers"], facts["inquiries"], facts["orders"]
    c, i, o = crm.c, inquiries.c, orders.c
    out: list[_Record] = []
    for r in conn.execute(select(c.customer, c.company, c.country, c.email, c.owner,
                                 c.last_contact_at, c.last_order_at, c.order_count, c.stage)
                          .where(c.store_id == store.id).order_by(c.id)):
        name, company, country, email, owner, contact, order, count, stage = r
        folded = fold(stage)
        out.append(_Record(name, company, country, email, owner, contact=contact, order=order,
                           ordered=(order is not None or bool(count)
                                    or any(w in folded for w in WON_STAGES)),
                           crm_orders=count or 0))
    for r in conn.execute(select(i.buyer, i.company, i.country, i.email, i.owner,
                                 i.created_at, i.inquiry_id, i.replied_at)
                          .where(i.store_id == store.id, VALID).order_by(i.id)):
        name, company, country, email, owner, created, inquiry_id, replied = r
        out.append(_Record(name, company, country, email, owner, inquiry=created,
                           inquiry_id=inquiry_id, contact=replied))
    for r in conn.execute(select(o.buyer, o.company, o.country, o.email, o.ordered_at)
                          .where(o.store_id == store.id).order_by(o.id)):
        name, company, country, email, ordered_at = r
        out.append(_Record(name, company, country, email, order=ordered_at, ordered=True,
                           order_rows=1))
    return out


def customers(conn: Connection, store: Store) -> list[Customer]:
    """Every customer of the store, its records matched as the module doc explains."""
    by_email: dict[str, Customer] = {}
    by_company: dict[str, Any] = {}  # company+country -> Customer or _AMBIGUOUS
    by_name: dict[str, Any] = {}
    own: dict[str, Customer] = {}  # no-email customers keyed by what identified them
    found: list[Customer] = []

    def register(index: dict[str, Any], key: str | None, customer: Customer) -> None:
        if key is None:
            return
        known = index.get(key)
        if known is None:
            index[key] = customer
        elif known is not customer:
            index[key] = _AMBIGUOUS

    by_company_key: list[tuple[str, _Record]] = []
    by_name_key: list[tuple[str, _Record]] = []
    for rec in _records(conn, store):
        email = rec.email_key
        if email:
            customer = by_email.get(email)
            if customer is None:
                customer = by_email[email] = Customer("e:" + email)
                found.append(customer)
            customer.absorb(rec)
            register(by_company, rec.company_key, customer)
            register(by_name, rec.name_key, customer)
        elif (company := rec.company_key) is not None:
            by_company_key.append((company, rec))
        elif (name := rec.name_key) is not None:
            by_name_key.append((name, rec))
        # else: a record that names nobody
    for index, tag, pending in ((by_company, "c:", by_company_key),
                                (by_name, "n:", by_name_key)):
        for key, rec in pending:
            customer = index.get(key)
            if customer is None or customer is _AMBIGUOUS:
                customer = own.get(tag + key)
                if customer is None:
                    customer = own[tag + key] = Customer(tag + key)
                    found.append(customer)
                    if index.get(key) is None:
                        index[key] = customer
                    if index is by_company:
                        register(by_name, rec.name_key, customer)
            customer.absorb(rec)
    return found


def customer_key(identity: str, length: int = 12) -> str:
    """A customer's key: a hash of its identity, which shows no e-mail address."""
    return hashlib.sha256(identity.encode()).hexdigest()[:length]


def _row(store: Store, key: str, c: Customer, marked: dict[str, Any] | None
         ) -> dict[str, Any]:
    name = c.name or c.company
    contact = c.last_contact
    if marked and marked["contacted_at"] and (contact is None
                                              or marked["contacted_at"] > contact):
        contact = marked["contacted_at"]
    return {
        "store_id": store.id, "key": key, "name": c.name, "company": c.company,
        "country": c.country, "email": c.email, "owner": c.owner,
        "name_key": fold(name) if name else None,
        "owner_key": fold(c.owner) if c.owner else None,
        "last_inquiry_at": c.last_inquiry, "last_inquiry_id": c.last_inquiry_id,
        "last_contact_at": contact, "last_order_at": c.last_order,
        "ordered": c.ordered, "inquiries": c.inquiries, "orders": c.orders,
        "not_lead": bool(marked and marked["not_lead"]),
        "snoozed_until": marked["snoozed_until"] if marked else None,
    }


def _drops(conn: Connection, store: Store) -> tuple[int, int]:
    """(the newest id, how many) of the store's ingested CRM, inquiry and order drops."""
    newest, count = conn.execute(select(func.coalesce(func.max(drops.c.id), 0), func.count())
                                 .where(drops.c.store_id == store.id, drops.c.kind.in_(KINDS),
                                        drops.c.status == "ingested")).one()
    return int(newest), int(count)


def is_stale(conn: Connection, store: Store) -> bool:
    """Whether a CRM, inquiry or order drop was ingested or undone since the index was
    built."""
    built = conn.execute(select(customer_index_state.c.last_drop_id,
                                customer_index_state.c.drops)
                         .where(customer_index_state.c.store_id == store.id)).first()
    return tuple(built or (0, 0)) != _drops(conn, store)


def rebuild(conn: Connection, store: Store) -> int:
    """Rebuild the store's index from its facts, in the caller's (write) transaction; the
    number of customers."""
    if conn.dialect.name == "postgresql":  # a concurrent rebuild would insert the same keys
        conn.execute(select(func.pg_advisory_xact_lock(INDEX_LOCK, store.id)))
    rows: list[dict[str, Any]] = []
    taken: set[str] = set()
    marked = customer_marks.states(conn, store)
    for c in customers(conn, store):
        key = customer_key(c.identity)
        if key in taken:  # a hash collision: the longer hash tells them apart
            key = customer_key(c.identity, 16)
        taken.add(key)
        rows.append(_row(store, key, c, marked.get(key)))
    conn.execute(delete(customer_index).where(customer_index.c.store_id == store.id))
    if rows:
        conn.execute(insert(customer_index), rows)
    newest, count = _drops(conn, store)
    state = {"last_drop_id": newest, "drops": count, "built_at": utcnow()}
    if not conn.execute(update(customer_index_state)
                        .where(customer_index_state.c.store_id == store.id)
                        .values(**state)).rowcount:
        conn.execute(insert(customer_index_state).values(store_id=store.id, **state))
    return len(rows)


def ensure_fresh(engine: Engine, store: Store) -> None:
    """Rebuild the index if facts arrived since it was built (a cheap read when not)."""
    with read(engine) as conn:
        if not is_stale(conn, store):
            return
    with write(engine) as conn:
        if is_stale(conn, store):
            rebuild(conn, store)


def has_data(conn: Connection, store: Store) -> bool:
    """Whether any CRM, inquiry or order list is ingested for the store."""
    return _drops(conn, store)[1] > 0
