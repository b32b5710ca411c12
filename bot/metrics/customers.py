"""Stalled customers: zombie, hesitant, lost (definitions in DOMAIN.md; thresholds per store).

A customer is a buyer known from the CRM list, the inquiry list (spam suspects left out) or
the orders. Records of the three kinds are matched into one customer by e-mail; a record
without e-mail by company + country; a record with neither by name (buyer / customer name,
else company). Concretely, e-mail records are grouped first and register their company +
country and their name; a record without e-mail joins the customer its company + country (or
else its name) points to, unless that key points to several customers, in which case it
stays a customer of its own rather than being guessed into one.

Per customer, as moments in naive UTC:
- last_inquiry = the latest inquiry's creation time;
- last_contact = the latest of the CRM follow-up time (小记时间) and any inquiry's reply time;
- last_order = the latest of the orders' times and the CRM's last-order time. A CRM order
  count above 0 or a won stage (成交客户, 复购客户) also means "has ordered", at an unknown time.

As of `now`, at most one class, tried in this order (every "older than" is strict):
- zombie: has inquired, has never ordered, no contact after the latest inquiry, and that
  inquiry is older than `zombie_days`;
- hesitant: has inquired, was contacted after the latest inquiry, has not ordered since it,
  and the last contact is older than `hesitant_days` but not than `lost_days`;
- lost: neither an order nor a contact in the last `lost_days`, though there was one before
  (so a hesitant buyer left without contact for `lost_days` is lost: a list of every
  follow-up that ever went quiet would not be a list to act on).
A customer whose last order is within `lost_days` is in no class.

The checklist passes the inquiry IDs its unreplied line already lists (`unreplied`): a zombie
with one of them is left out, so one buyer is not two tasks the same morning.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from bot.ingest.parsing import fold
from bot.metrics.inquiries import VALID
from bot.models import facts
from bot.periods import as_utc
from bot.stores import Store

CLASSES = ("zombie", "hesitant", "lost")
WON_STAGES = ("成交", "复购", "won", "repeat")
_AMBIGUOUS = object()


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


@dataclass(slots=True)
class Customer:
    name: str | None = None
    company: str | None = None
    country: str | None = None
    email: str | None = None
    owner: str | None = None
    last_inquiry: datetime | None = None
    last_contact: datetime | None = None
    last_order: datetime | None = None
    ordered: bool = False
    inquiry_ids: list[str] = field(default_factory=list)

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
        if rec.inquiry is not None and (self.last_inquiry is None
                                        or rec.inquiry > self.last_inquiry):
            self.last_inquiry = rec.inquiry
        if rec.contact is not None and (self.last_contact is None
                                        or rec.contact > self.last_contact):
            self.last_contact = rec.contact
        if rec.order is not None and (self.last_order is None or rec.order > self.last_order):
            self.last_order = rec.order
        self.ordered = self.ordered or rec.ordered
        if rec.inquiry_id is not None:
            self.inquiry_ids.append(rec.inquiry_id)


@dataclass(slots=True)
class _Record:
    """One row of the CRM list, the inquiry list or the orders, as evidence about a buyer."""

    name: str | None
    company: str | None
    country: str | None
    email: str | None
    owner: str | None = None
    inquiry: datetime | None = None
    contact: datetime | None = None
    order: datetime | None = None
    ordered: bool = False
    inquiry_id: str | None = None

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
                                    or any(w in folded for w in WON_STAGES))))
    for r in conn.execute(select(i.buyer, i.company, i.country, i.email, i.owner,
                                 i.created_at, i.replied_at, i.inquiry_id)
                          .where(i.store_id == store.id, VALID).order_by(i.id)):
        name, company, country, email, owner, created, replied, inquiry_id = r
        out.append(_Record(name, company, country, email, owner, inquiry=created,
                           contact=replied, inquiry_id=inquiry_id))
    for r in conn.execute(select(o.buyer, o.company, o.country, o.email, o.ordered_at)
                          .where(o.store_id == store.id).order_by(o.id)):
        name, company, country, email, ordered_at = r
        out.append(_Record(name, company, country, email, order=ordered_at, ordered=True))
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
                customer = by_email[email] = Customer()
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
                    customer = own[tag + key] = Customer()
                    found.append(customer)
                    if index.get(key) is None:
                        index[key] = customer
                    if index is by_company:
                        register(by_name, rec.name_key, customer)
            customer.absorb(rec)
    return found


def _brief(customer: Customer, cls: str, since: datetime | None, now: datetime
           ) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "class": cls,
        "customer": customer.name or customer.company or customer.email,
        "company": customer.company,
        "country": customer.country,
        "email": customer.email,
        "owner": customer.owner,
        "last_inquiry": iso(customer.last_inquiry),
        "last_contact": iso(customer.last_contact),
        "last_order": iso(customer.last_order),
        "since": iso(since),
        "days": (now - since).days if since else None,
    }


def classify_one(c: Customer, store: Store, now: datetime) -> tuple[str, datetime | None] | None:
    """The customer's class and the moment it counts from, or None."""
    lost = timedelta(days=store.setting("lost_days"))
    if c.last_order is not None and now - c.last_order <= lost:
        return None
    if c.last_inquiry is not None:
        followed_up = c.last_contact is not None and c.last_contact > c.last_inquiry
        if (not followed_up and not c.ordered
                and now - c.last_inquiry > timedelta(days=store.setting("zombie_days"))):
            return "zombie", c.last_inquiry
        if (followed_up and (c.last_order is None or c.last_order < c.last_inquiry)
                and timedelta(days=store.setting("hesitant_days")) < now - c.last_contact
                <= lost):
            return "hesitant", c.last_contact
    quiet_contact = c.last_contact is None or now - c.last_contact > lost
    if quiet_contact and (c.ordered or c.last_contact is not None):
        return "lost", _latest(c.last_order, c.last_contact)
    return None


def classify(conn: Connection, store: Store, now: datetime, *,
             unreplied: Collection[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """Stalled customers by class, each list oldest first; zombies with an inquiry in
    `unreplied` (IDs listed elsewhere) left out."""
    now = as_utc(now)
    keyed: dict[str, list[tuple[datetime, dict[str, Any]]]] = {cls: [] for cls in CLASSES}
    for customer in customers(conn, store):
        verdict = classify_one(customer, store, now)
        if verdict:
            cls, since = verdict
            if cls == "zombie" and any(i in unreplied for i in customer.inquiry_ids):
                continue
            keyed[cls].append((since or datetime.min, _brief(customer, cls, since, now)))
    return {cls: [brief for _, brief in sorted(
        keyed[cls], key=lambda pair: (pair[0], pair[1]["customer"] or ""))] for cls in CLASSES}
