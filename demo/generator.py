"""A demo storefront: seeded, realistic report files in the back office's real formats.

`generate(folder)` writes what an operator of a solar-lighting exporter would have downloaded
over the last months: Data Manager product and keyword exports (BIFF8 `.xls`, title rows,
header on row 6), P4P plan reports (`.xlsx`, 3 title rows, a 汇总 row, `¥1,234.50`, `1.23%`),
a GBK traffic overview CSV, inquiry lists, a CRM customer list, Trade Assurance orders (CSV
with BOM) and fan posts. The story the data tells is built in: inquiries with a weekly rhythm,
spam and duplicates, late and missing replies, a real inquiry drop in the last days (traffic
down, the top country gone, key keywords out of positions 1-5), orders due to ship, and
customers in every stalled class. Two buyers probe escaping (`<!channel>`, `<@U123>`).

Every file is byte-identical for the same arguments, so running the demo twice ingests
nothing twice. The writers `write_p4p_csv` / `write_p4p_xlsx` stream any number of rows and are
reused by the ingest benchmark.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import shutil
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.periods import local_today, utcnow

MIN_DAYS = 90
DROP_DAYS = 3  # the last days, where inquiries fall to DROP_SHARE of normal
DROP_SHARE = 0.35
GONE_COUNTRY = "United States"  # the top country that disappears during the drop
KEY_KEYWORDS = ("solar street light", "all in one solar street light", "solar flood light",
                "solar garden light")
FALLING_KEYWORDS = ("solar street light", "solar flood light")  # out of positions 1-5 lately
# P4P words that get clicks and spend but never an inquiry: `/keywords wasted` lists them.
WASTED_KEYWORDS = ("led flood light", "lampara solar exterior")
# A search term new in the last keyword report, not in P4P: `/keywords rising` and candidates.
RISING_KEYWORD = ("solar street light 300w", 1350, 41)  # word, impressions, clicks
ESCAPE_BUYER = "<!channel>"
ESCAPE_COMPANY = "<@U123> Lighting Co."
MANIFEST = ".opsbot-demo.json"  # the ingestion order (dotfiles are skipped by `opsbot ingest`)
OWNERS = ("张伟", "Lily Chen", "王芳")
WEEKDAY = (1.05, 1.12, 1.08, 1.0, 0.9, 0.5, 0.42)  # B2B buyers: weekends are quiet

COUNTRIES: dict[str, float] = {
    "United States": 22, "Germany": 8, "United Kingdom": 8, "India": 7, "Australia": 6,
    "Brazil": 6, "Canada": 5, "France": 4, "Mexico": 4, "Saudi Arabia": 4,
    "United Arab Emirates": 4, "Netherlands": 3, "Poland": 3, "Spain": 3, "Italy": 3,
    "South Africa": 3, "Philippines": 3, "Malaysia": 2, "Chile": 2, "Nigeria": 2,
}
TRAFFIC_COUNTRIES = ("United States", "Germany", "United Kingdom", "India", "Australia",
                     "Brazil", "Canada", "France")
TRAFFIC_SOURCES = {"搜索": 0.55, "外贸直通车": 0.25, "推荐": 0.12, "其他": 0.08}

_REGION = {
    "anglo": (("James", "Michael", "Sarah", "Emily", "David", "Jessica", "Robert", "Jennifer",
               "Daniel", "Laura", "Chris", "Megan"),
              ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Clark",
               "Walker", "Young", "Harris", "Lewis")),
    "north": (("Lukas", "Anna", "Jonas", "Katrin", "Piotr", "Agnieszka", "Daan", "Sanne"),
              ("Müller", "Schmidt", "Fischer", "Weber", "Kowalski", "Nowak", "de Vries",
               "Jansen")),
    "latin": (("Pierre", "Camille", "Javier", "Lucía", "Marco", "Giulia", "João", "Ana",
               "Carlos", "Valentina"),
              ("Dubois", "Martin", "García", "López", "Rossi", "Bianchi", "Silva", "Santos",
               "Hernández", "Muñoz")),
    "india": (("Rahul", "Priya", "Amit", "Sneha", "Vikram"),
              ("Sharma", "Patel", "Singh", "Gupta", "Reddy")),
    "gulf": (("Mohammed", "Ahmed", "Fatima", "Omar", "Khalid"),
             ("Al-Harbi", "Al-Mansouri", "Khan", "Haddad", "Al-Qahtani")),
    "africa": (("Thabo", "Chinedu", "Ngozi", "Sipho", "Amara"),
               ("Nkosi", "Okafor", "Adeyemi", "Dlamini", "Mensah")),
    "asia": (("Jose", "Maria", "Ahmad", "Siti", "Mark"),
             ("Reyes", "Cruz", "Abdullah", "Tan", "Lim")),
}
_COUNTRY_STYLE = {
    "United States": ("anglo", "LLC", "com"), "United Kingdom": ("anglo", "Ltd", "co.uk"),
    "Canada": ("anglo", "Inc.", "ca"), "Australia": ("anglo", "Pty Ltd", "com.au"),
    "Germany": ("north", "GmbH", "de"), "Netherlands": ("north", "B.V.", "nl"),
    "Poland": ("north", "Sp. z o.o.", "pl"), "France": ("latin", "SARL", "fr"),
    "Spain": ("latin", "S.L.", "es"), "Italy": ("latin", "S.r.l.", "it"),
    "Brazil": ("latin", "Ltda", "com.br"), "Mexico": ("latin", "S.A. de C.V.", "mx"),
    "Chile": ("latin", "SpA", "cl"), "India": ("india", "Pvt Ltd", "in"),
    "Saudi Arabia": ("gulf", "Trading Est.", "sa"),
    "United Arab Emirates": ("gulf", "Trading LLC", "ae"),
    "South Africa": ("africa", "(Pty) Ltd", "co.za"), "Nigeria": ("africa", "Ltd", "ng"),
    "Philippines": ("asia", "Corp.", "ph"), "Malaysia": ("asia", "Sdn Bhd", "my"),
}
_PREFIXES = ("Global", "Bright", "Sun", "Nova", "Prime", "Blue Sky", "Apex", "Unity", "Crown",
             "Delta", "Summit", "Horizon", "Metro", "Pacific", "Atlas", "Vertex")
_TRADES = ("Solar", "Lighting", "Energy", "Electric", "Power Systems", "Outdoor", "Green Tech",
           "Illumination", "Infrastructure", "Engineering", "Supplies", "Projects")

_PRODUCT_LINES = (
    ("All in One Solar Street Light", "IP65 Outdoor Integrated Road Lamp", (60, 100, 150, 200)),
    ("Split Solar Street Light", "with Lithium Battery and Pole", (40, 80, 120)),
    ("LED Street Light", "AC Highway Road Lighting IP66", (100, 150, 200)),
    ("Solar Flood Light", "with Remote Control Waterproof", (100, 200, 300, 500)),
    ("LED Flood Light", "Stadium Outdoor Projector", (50, 100, 200)),
    ("Solar Garden Light", "Decorative Lawn Pathway Lamp", (10, 20, 30)),
    ("Solar Wall Light", "Motion Sensor Fence Lamp", (5, 10, 20)),
    ("Solar Bollard Light", "Landscape Park Lighting", (12, 18)),
    ("LED High Bay Light", "UFO Warehouse Industrial Lamp", (100, 150, 200)),
    ("Solar Camping Lantern", "Rechargeable Portable Light", (3, 5)),
    ("Solar Post Top Light", "Villa Gate Pillar Lamp", (15, 25)),
)

_KEYWORDS = (
    "solar street light", "all in one solar street light", "solar street light 100w",
    "led street light", "solar street lamp outdoor", "integrated solar street light",
    "solar flood light", "led flood light", "solar garden light", "solar wall light",
    "solar lights outdoor", "solar bollard light", "high bay light", "ufo led high bay",
    "solar lantern", "solar post light", "street light pole", "solar panel light",
    "motion sensor solar light", "outdoor lighting", "lampara solar exterior",
    "farola solar", "reflector solar led", "luminária solar", "poste solar",
    "solarleuchte garten", "solar straßenlaterne", "lampe solaire exterieur",
    "lampadaire solaire", "lampione stradale solare", "faro solare led",
    "solarlamp buiten", "lampa solarna", "солнечный фонарь", "уличный светильник",
    "ضوء شمسي", "إنارة شوارع", "ソーラーライト", "태양광 가로등", "lampu jalan tenaga surya",
    "đèn năng lượng mặt trời", "ไฟโซล่าเซลล์", "güneş enerjili sokak lambası",
    "solar light price", "solar street light manufacturer",
)

_PLANS = (
    # name, daily budget (CNY), keywords (keyword plans) or None (product plan)
    ("太阳能路灯-核心词", 300.0, ("solar street light", "all in one solar street light",
                           "solar street light 100w", "led street light",
                           "solar street lamp outdoor", "integrated solar street light")),
    ("庭院灯-拓展词", 150.0, ("solar flood light", "solar garden light", "led flood light",
                         "solar wall light", "solar lights outdoor", "lampara solar exterior",
                         "solarleuchte garten", "lampe solaire exterieur")),
    ("全站推广-智能投放", 200.0, None),
)
_PAUSED_KEYWORD = "lampe solaire exterieur"  # paused: no position (--) and no impressions
# A runaway plan on the last day (the p4p_spend alert): it spends RUNAWAY x its daily budget,
# on as many more clicks (its CPC stays as it was).
_RUNAWAY_PLAN, RUNAWAY = "全站推广-智能投放", 2.4

_SUBJECTS = (
    "Inquiry about {p}", "Price for {q} pcs {p}", "Quotation for {p} - {c} project",
    "Need samples of {p}", "{p}: MOQ and delivery time?", "Request for catalogue: {p}",
    "Cotización de {p}", "Anfrage: {p}", "Demande de prix {p}", "Tender project {p} {q} units",
)
_SPAM_COUNTRIES = ("Nigeria", "India", "United States")
_SPAM_SUBJECTS = ("Business cooperation", "Dear manager", "Hello", "Urgent reply needed",
                  "Partnership proposal", "Check attached order list")
_POST_TITLES = ("New arrival: {p}", "Factory tour: {p} production line",
                "Buyer show: {p} installed in {c}", "Video: {p} waterproof test",
                "How to choose the right {p}", "IP65 vs IP66 for {p}", "Packing of {p} orders",
                "Certificates: CE RoHS for {p}")
_POST_TYPES = ("新品", "工厂实拍", "买家秀", "视频", "行业资讯")


# ---- the world behind the files -----------------------------------------------------------


@dataclass
class Product:
    id: str
    name: str
    short: str
    weight: float  # share of buyer interest; 0 = zero-effect product
    owner: str
    score: float
    showcase: bool
    top_display: bool
    p4p: bool


@dataclass
class Buyer:
    name: str
    company: str
    country: str
    email: str
    owner: str
    spam: bool = False
    legacy: bool = False  # a customer from before the demo window
    note_at: datetime | None = None  # latest follow-up note in the CRM (小记时间)
    created_at: datetime | None = None
    orders: list[Order] = field(default_factory=list)


@dataclass
class Inquiry:
    id: str
    buyer: Buyer
    product: Product
    subject: str
    created: datetime  # store-local
    replied: datetime | None  # store-local; None = never (as of the last export)


@dataclass
class Order:
    id: str
    buyer: Buyer
    amount: float
    status: str
    ordered: datetime
    ship_by: date | None
    shipped: datetime | None


@dataclass
class World:
    start: date
    end: date
    export_at: datetime  # the morning after `end`, when the last files were downloaded
    products: list[Product]
    buyers: list[Buyer]
    inquiries: list[Inquiry]
    orders: list[Order]
    traffic_factor: dict[date, float]  # the day's traffic relative to a normal weekday
    volume: float = 1.0  # share of the default data volume

    def days(self) -> list[date]:
        return [self.start + timedelta(i) for i in range((self.end - self.start).days + 1)]

    def is_drop(self, day: date) -> bool:
        return (self.end - day).days < DROP_DAYS


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


def _products(rng: random.Random) -> list[Product]:
    products: list[Product] = []
    for line, tail, watts in _PRODUCT_LINES:
        for w in watts:
            pid = f"16{rng.randrange(10**10, 10**11)}"
            products.append(Product(pid, f"{line} {w}W {tail}", f"{w}W {line.lower()}", 0.0,
                                    rng.choice(OWNERS), 0.0, False, False, False))
    order = list(range(len(products)))
    rng.shuffle(order)
    for rank, i in enumerate(order):
        p = products[i]
        p.weight = 0.0 if rank >= len(products) - 3 else 1 / (rank + 1) ** 0.8
        p.score = round(rng.uniform(78, 93) if rank < 8 else rng.uniform(55, 80), 1)
        p.showcase, p.top_display, p.p4p = rank < 10, rank < 2, rank < 14
    return products


class _Buyers:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[tuple[str, str]] = set()
        self.all: list[Buyer] = []

    def new(self, country: str | None = None, *, spam: bool = False) -> Buyer:
        rng = self.rng
        if spam:
            first = rng.choice(("Mr. Frank", "Purchase Dept", "John", "Manager", "Alex"))
            company, email = "-", f"{_ascii(first)}{rng.randrange(100, 999)}@gmail.com"
            buyer = Buyer(first, company, country or rng.choice(_SPAM_COUNTRIES), email,
                          rng.choice(OWNERS), spam=True)
            self.all.append(buyer)
            return buyer
        country = country or rng.choices(list(COUNTRIES), list(COUNTRIES.values()))[0]
        region, suffix, tld = _COUNTRY_STYLE[country]
        firsts, lasts = _REGION[region]
        first, last = rng.choice(firsts), rng.choice(lasts)
        company = f"{rng.choice(lasts)} {rng.choice(_TRADES)} {suffix}"
        while (company, country) in self.taken:  # CRM lists tell customers by company
            company = f"{rng.choice(_PREFIXES)} {rng.choice(_TRADES)} {suffix}"
            if (company, country) in self.taken:
                company = f"{rng.choice(lasts)} & {rng.choice(lasts)} {rng.choice(_TRADES)} " \
                          f"{rng.randrange(2, 99)} {suffix}"
        self.taken.add((company, country))
        domain = _ascii(company.rsplit(" ", 1)[0])[:18] + "." + tld
        email = f"{_ascii(first)}.{_ascii(last)}@{domain}"
        if rng.random() < 0.04:
            email = "-1"  # the buyer hid the field
        buyer = Buyer(f"{first} {last}", company, country, email, rng.choice(OWNERS))
        self.all.append(buyer)
        return buyer


def _local_moment(rng: random.Random, day: date) -> datetime:
    # Buyers write from Europe and the Americas: China's afternoon and night are busiest.
    hour = rng.choices(range(24), [2, 2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 5, 6, 7, 8, 8, 8, 7,
                                   6, 5, 4, 3])[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))


def _reply(rng: random.Random, created: datetime, spam: bool) -> datetime | None:
    roll = rng.random()
    if spam and roll < 0.8:
        return None
    if roll < 0.06:
        return None  # forgotten: these buyers become zombies
    # Some replies come late: they hurt the timely-reply rate.
    delay = rng.uniform(26, 70) if roll < 0.16 else rng.uniform(0.3, 20)
    return created + timedelta(hours=delay, seconds=rng.randrange(60))


def build_world(end: date, days: int, seed: int, volume: float = 1.0) -> World:
    """The seeded facts behind every demo file; `volume` scales the daily inquiry count."""
    if days < MIN_DAYS:
        raise ValueError(f"the demo needs at least {MIN_DAYS} days, got {days}")
    rng = random.Random(seed)
    start = end - timedelta(days=days - 1)
    export_at = datetime.combine(end + timedelta(1), time(8, 40, 12))
    products = _products(rng)
    pool = _Buyers(rng)
    live = [p for p in products if p.weight > 0]
    weights = [p.weight for p in live]
    inquiries: list[Inquiry] = []
    next_id = 21_000_000_000 + rng.randrange(10**6)

    def add(buyer: Buyer, product: Product, created: datetime, subject: str | None = None,
            replied: datetime | bool | None = True) -> None:
        nonlocal next_id
        next_id += rng.randrange(3, 400)
        if subject is None:
            template = rng.choice(_SPAM_SUBJECTS if buyer.spam else _SUBJECTS)
            subject = template.format(p=product.short, q=rng.choice((50, 100, 200, 500, 1000)),
                                      c=buyer.country)
        reply = _reply(rng, created, buyer.spam) if replied is True else replied or None
        if (reply is None and replied is True and not buyer.spam
                and created < export_at - timedelta(days=30) and rng.random() < 0.85):
            # Forgotten inquiries get answered in the end, mostly: old ones are rarely open.
            reply = created + timedelta(days=rng.uniform(2, 9))
        if reply and reply > export_at:
            reply = None
        inquiries.append(Inquiry(str(next_id), buyer, product, subject, created, reply))

    traffic: dict[date, float] = {}
    days_list = [start + timedelta(i) for i in range(days)]
    for i, day in enumerate(days_list):
        trend = 1 + 0.12 * math.sin(i / 17) + 0.002 * i
        rate = 19.0 * volume * WEEKDAY[day.weekday()] * trend
        drop = (end - day).days < DROP_DAYS
        traffic[day] = WEEKDAY[day.weekday()] * trend * (0.6 if drop else 1.0)
        # A fixed count in the drop days keeps the story deterministic whatever the seed.
        count = round(rate * DROP_SHARE) if drop else _poisson(rng, rate)
        for _ in range(count):
            country = None
            if drop:
                while (country := rng.choices(list(COUNTRIES),
                                              list(COUNTRIES.values()))[0]) == GONE_COUNTRY:
                    pass
            returning = [b for b in pool.all[-400:] if not b.spam and
                         (country is None or b.country == country)]
            buyer = (rng.choice(returning) if returning and rng.random() < 0.2
                     else pool.new(country))
            product = rng.choices(live, weights)[0]
            created = _local_moment(rng, day)
            add(buyer, product, created)
            if rng.random() < 0.04:  # the same buyer asks again about the same product
                again = created + timedelta(hours=rng.uniform(2, 60))
                gone = buyer.country == GONE_COUNTRY and (end - again.date()).days < DROP_DAYS
                if again < datetime.combine(end, time(23, 59)) and not gone:
                    add(buyer, product, again)
        for _ in range(_poisson(rng, 1.1 * volume)):
            spammer = rng.choice(("Nigeria", "India") if drop else _SPAM_COUNTRIES)
            add(pool.new(spammer, spam=True), rng.choice(live), _local_moment(rng, day))

    # The escaping probes: both unanswered, so they show up in the lists a checklist prints.
    probe = pool.new("United States")
    probe.name = ESCAPE_BUYER
    add(probe, live[0], datetime.combine(end - timedelta(4), time(16, 5, 0)), replied=None)
    probe = pool.new("United Kingdom")
    probe.company = ESCAPE_COMPANY
    add(probe, live[1], datetime.combine(end - timedelta(1), time(15, 30, 0)), replied=None)
    inquiries.sort(key=lambda q: q.created)

    orders = _orders(rng, pool, inquiries, end, export_at)
    _crm_notes(rng, pool, inquiries, export_at)
    return World(start, end, export_at, products, pool.all, inquiries, orders, traffic,
                 volume)


def _orders(rng: random.Random, pool: _Buyers, inquiries: list[Inquiry], end: date,
            export_at: datetime) -> list[Order]:
    orders: list[Order] = []
    serial = 1_000_000 + rng.randrange(10**6)
    today = end + timedelta(1)

    def order(buyer: Buyer, ordered: datetime, status: str, ship_by: date | None) -> Order:
        nonlocal serial
        serial += rng.randrange(11, 999)
        shipped = None
        if status in ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_FINISHED") and ship_by:
            shipped = datetime.combine(ship_by - timedelta(rng.randrange(0, 4)),
                                       time(rng.randrange(9, 18), rng.randrange(60)))
        amount = round(rng.choice((1, 2, 5, 10, 20, 40)) * rng.uniform(480, 2400), 2)
        made = Order(f"{serial}{rng.randrange(1000, 9999)}", buyer, amount, status, ordered,
                     ship_by, shipped)
        buyer.orders.append(made)
        orders.append(made)
        return made

    # Long-standing customers: some still buying, some silent for months (lost).
    for i in range(36):
        buyer = pool.new()
        buyer.legacy = True
        recent = i < 10
        first = end - timedelta(days=rng.randrange(200, 700))
        buyer.created_at = datetime.combine(first, time(10, 0))
        for _ in range(rng.randrange(1, 4)):
            ago = rng.randrange(25, 85) if recent else rng.randrange(100, 400)
            when = datetime.combine(end - timedelta(ago), time(rng.randrange(8, 22),
                                                                rng.randrange(60)))
            ship_by = when.date() + timedelta(rng.randrange(10, 18))  # shipped by now
            status = "TRADE_FINISHED" if ship_by < end - timedelta(15) else (
                "WAIT_BUYER_CONFIRM_GOODS")
            order(buyer, when, status, ship_by)
        last = max(o.ordered for o in buyer.orders)
        buyer.note_at = last + timedelta(days=rng.randrange(1, 10), hours=rng.randrange(8))

    # Some inquiring buyers ordered after a reply.
    seen: set[int] = set()
    for q in inquiries:
        b = q.buyer
        if b.spam or q.replied is None or id(b) in seen or b.name == ESCAPE_BUYER:
            continue
        if rng.random() < 0.05:
            seen.add(id(b))
            when = q.replied + timedelta(days=rng.uniform(2, 20))
            if when > export_at - timedelta(days=1):
                continue
            age = (end - when.date()).days
            ship_by = when.date() + timedelta(rng.randrange(12, 30))
            if age > 45:
                status = "TRADE_FINISHED"
            elif ship_by <= end:
                status = "WAIT_BUYER_CONFIRM_GOODS"
            elif age < 3:
                status = "WAIT_BUYER_PAY"
            else:
                status = "WAIT_SELLER_SEND_GOODS"
                # Only the orders placed below are due within 3 days (and one overdue).
                ship_by = max(ship_by, today + timedelta(rng.randrange(4, 15)))
            order(b, when, status, ship_by)

    # The transactions checklist: three orders due within 3 days, one already overdue.
    candidates = {id(q.buyer): q.buyer for q in inquiries if not q.buyer.spam and q.replied
                  and not q.buyer.orders and q.created.date() < end - timedelta(25)}
    fresh = list(candidates.values())
    for due, buyer in zip((0, 1, 2, -2), rng.sample(fresh, 4), strict=True):
        when = datetime.combine(end - timedelta(rng.randrange(12, 20)), time(21, 14))
        order(buyer, when, "WAIT_SELLER_SEND_GOODS", today + timedelta(due))
    for buyer in rng.sample(fresh, 3):
        if not buyer.orders:
            order(buyer, datetime.combine(end, time(rng.randrange(9, 20), 3)),
                  "WAIT_BUYER_PAY", None)
    orders.sort(key=lambda o: o.ordered)
    return orders


def _crm_notes(rng: random.Random, pool: _Buyers, inquiries: list[Inquiry],
               export_at: datetime) -> None:
    """Follow-up notes (小记时间): after a reply, sometimes; never after an ignored inquiry."""
    latest: dict[int, Inquiry] = {}
    for q in inquiries:
        b = q.buyer
        latest[id(b)] = q
        if b.created_at is None or q.created < b.created_at:
            b.created_at = q.created
    for q in latest.values():
        b = q.buyer
        if b.legacy or b.spam or q.replied is None:
            continue
        if rng.random() < 0.6:
            note = q.replied + timedelta(days=rng.uniform(0, 6), hours=rng.uniform(1, 5))
            if note < export_at:
                b.note_at = note


# ---- formatting as the back office does ---------------------------------------------------


def _int(value: int) -> str:
    return f"{value:,}"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def _cny(value: float, sign: str = "¥") -> str:
    return f"{sign}{value:,.2f}"


def _clock(moment: datetime | None, style: int) -> str:
    """`2026/11/3 14:05:00`, or the Chinese-locale `2026/11/3 下午2:05:00` for some rows."""
    if moment is None:
        return ""
    day = f"{moment.year}/{moment.month}/{moment.day}"
    if style % 6 == 0:
        half = "上午" if moment.hour < 12 else "下午"
        hour = moment.hour % 12 or 12
        return f"{day} {half}{hour}:{moment:%M:%S}"
    return f"{day} {moment:%H:%M:%S}"


def _freeze_xlsx(path: Path, moment: datetime) -> None:
    """openpyxl stamps the save time into the zip and docProps/core.xml; pin both so the same
    demo is byte-identical (a second `opsbot demo` is then a duplicate, not a re-ingest)."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              lambda m: m.group(1) + stamp, data)
            info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


def _write_xlsx(path: Path, rows: Iterator[list[object]] | list[list[object]],
                moment: datetime | None, sheet: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    for row in rows:
        ws.append(row)
    book.save(path)
    if moment is not None:
        _freeze_xlsx(path, moment)
    return path


def _write_xls(path: Path, rows: list[list[object]]) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and value != "":
                ws.write(r, c, value)
    book.save(str(path))
    return path


def _write_csv(path: Path, rows: list[list[object]], encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


# ---- the files ----------------------------------------------------------------------------


def _weeks(world: World) -> list[tuple[date, date]]:
    count = ((world.end - world.start).days + 1) // 7
    return [(world.end - timedelta(7 * k + 6), world.end - timedelta(7 * k))
            for k in reversed(range(count))]


def _chunks(world: World, size: int = 30) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    last = world.end
    while last >= world.start:
        first = max(world.start, last - timedelta(size - 1))
        out.append((first, last))
        last = first - timedelta(1)
    return out[::-1]


_PRODUCT_HEADER = ["产品ID", "产品名称", "是否橱窗", "是否顶展", "是否P4P", "搜索曝光次数",
                   "搜索点击次数", "搜索点击率", "访问人数", "询盘个数", "询盘人数", "询盘率",
                   "TM咨询人数", "提交订单个数", "产品负责人", "全店曝光次数", "全店点击次数",
                   "P4P曝光次数", "P4P点击次数", "产品分"]


def _product_files(world: World, folder: Path, rng: random.Random) -> list[Path]:
    by_week: dict[tuple[date, date], dict[str, list[Inquiry]]] = {}
    weeks = _weeks(world)
    for week in weeks:
        by_week[week] = defaultdict(list)
    for q in world.inquiries:
        if q.buyer.spam:
            continue
        for week in weeks:
            if week[0] <= q.created.date() <= week[1]:
                by_week[week][q.product.id].append(q)
    files = []
    falling = max((p for p in world.products if p.score >= 80), key=lambda p: p.weight)
    for n, week in enumerate(weeks):
        flow = sum(world.traffic_factor.get(week[0] + timedelta(i), 0.0) for i in range(7))
        rows: list[list[object]] = [["产品效果分析"], [f"时间周期{week[0]}~{week[1]}"], [], [],
                                    [], list(_PRODUCT_HEADER)]
        for p in world.products:
            asked = by_week[week][p.id]
            inquiries, inquirers = len(asked), len({id(q.buyer) for q in asked})
            base = p.weight * 260 * flow / 7
            visitors = 0 if p.weight == 0 else round(base * rng.uniform(0.8, 1.2)) + inquiries
            clicks = round(visitors * rng.uniform(1.1, 1.4))
            impressions = round(clicks / rng.uniform(0.015, 0.04)) if clicks else 0
            p4p_imp = round(impressions * rng.uniform(0.2, 0.4)) if p.p4p else 0
            p4p_clk = round(clicks * rng.uniform(0.2, 0.4)) if p.p4p else 0
            score = p.score + rng.uniform(-0.6, 0.6)
            if p is falling and n >= len(weeks) - 2:
                score = 71.5 + n - len(weeks)  # an excellent product losing its score
            rows.append([
                p.id, p.name, "Y" if p.showcase else "N", "Y" if p.top_display else "N",
                "Y" if p.p4p else "N", impressions, clicks, _pct(clicks, impressions) if
                impressions else "0.00%", visitors, inquiries, inquirers,
                _pct(inquirers, visitors) if visitors else "0.00%",
                round(inquiries * rng.uniform(0.1, 0.4)),
                rng.choice((0, 0, 0, 1)) if inquiries > 3 else 0, p.owner,
                round(impressions * rng.uniform(1.2, 1.5)), round(clicks * rng.uniform(1.2, 1.5)),
                p4p_imp, p4p_clk, round(score, 1),
            ])
        files.append(_write_xls(folder / f"Products-{week[1] + timedelta(1)}.xls", rows))
    return files


_KEYWORD_HEADER = ["词", "曝光量", "点击量", "点击率", "外贸直通车曝光", "外贸直通车点击",
                   "推广时长", "Top10平均曝光", "Top10平均点击", "关键词指数", "卖家规模指数"]


def _keyword_files(world: World, folder: Path, rng: random.Random) -> list[Path]:
    promoted = {k for _, _, words in _PLANS if words for k in words}
    base = {k: 9000 / (i + 1) ** 0.7 for i, k in enumerate(_KEYWORDS)}
    files = []
    for week in _weeks(world):
        flow = sum(world.traffic_factor.get(week[0] + timedelta(i), 0.0) for i in range(7)) / 7
        rows: list[list[object]] = [["关键词分析"], [f"时间周期{week[0]}~{week[1]}"], [], [],
                                    [], list(_KEYWORD_HEADER)]
        for k in _KEYWORDS:
            impressions = round(base[k] * flow * rng.uniform(0.85, 1.15))
            if k in FALLING_KEYWORDS and week[1] == world.end:
                impressions = round(impressions * 0.55)
            clicks = round(impressions * rng.uniform(0.008, 0.03))
            on_p4p = k in promoted and k != _PAUSED_KEYWORD
            rows.append([
                k, impressions, clicks, _pct(clicks, impressions),
                round(impressions * 0.35) if on_p4p else 0, round(clicks * 0.4) if on_p4p else 0,
                168 if on_p4p else "-", round(base[k] * 2.4), round(base[k] * 0.06, 1),
                round(base[k] * rng.uniform(0.3, 0.5)), rng.randrange(40, 400),
            ])
        if week[1] == world.end:
            word, impressions, clicks = RISING_KEYWORD
            rows.append([word, impressions, clicks, _pct(clicks, impressions), 0, 0, "-",
                         round(impressions * 2.4), round(clicks * 0.06, 1), 310, 120])
        files.append(_write_xls(folder / f"getKeywords-{week[1] + timedelta(1)}.xls", rows))
    return files


_POS_REACH = {1: 1.0, 2: 0.85, 3: 0.7, 4: 0.55, 5: 0.45}


def _position(world: World, keyword: str, day: date, rng: random.Random) -> int | None:
    if keyword == _PAUSED_KEYWORD:
        return None
    if keyword in FALLING_KEYWORDS and world.is_drop(day):
        return (7, 9, -1)[min(2, DROP_DAYS - 1 - (world.end - day).days)]
    if keyword in KEY_KEYWORDS:
        return rng.choice((1, 2, 2, 3, 3, 4))
    return rng.choice((3, 5, 6, 8, 11, -1))


def _p4p_rows(world: World, plan: str, budget: float, words: tuple[str, ...] | None,
              span: tuple[date, date], rng: random.Random) -> list[list[object]]:
    out: list[list[object]] = []
    keep = max(3, round(8 * world.volume))
    live = [p for p in world.products if p.p4p and p.weight > 0][:keep]
    words = words[:keep] if words else None
    day = span[0]
    while day <= span[1]:
        factor = WEEKDAY[day.weekday()]
        rows: list[dict[str, object]] = []
        for target in words or [p.id for p in live]:
            pos = _position(world, target, day, rng) if words else None
            if words and pos is None:
                rows.append({"target": target, "pos": None, "imp": 0, "clk": 0, "spend": 0.0,
                             "bid": 4.2, "inq": 0})
                continue
            reach = _POS_REACH.get(pos or 0, 0.08 if pos == -1 else 0.2) if words else 0.6
            imp = round(rng.uniform(900, 2600) * reach * factor)
            clk = round(imp * rng.uniform(0.008, 0.025))
            bid = round(rng.uniform(3.5, 9.8), 1)
            spend = round(clk * bid * rng.uniform(0.55, 0.95), 2)
            inq = _poisson(rng, clk * 0.04)
            rows.append({"target": target, "pos": pos, "imp": imp, "clk": clk, "spend": spend,
                         "bid": bid, "inq": 0 if target in WASTED_KEYWORDS else inq})
        total = sum(float(r["spend"]) for r in rows)  # type: ignore[arg-type]
        scale = min(1.0, budget * rng.uniform(0.9, 1.0) / total) if total else 1.0
        runaway = (budget * RUNAWAY / (total * scale)
                   if plan == _RUNAWAY_PLAN and day == world.end and total else 1.0)
        for r in rows:
            # the random draws below take the plan's ordinary clicks: the other files stay
            # byte-identical with or without the runaway day
            spend, drawn = float(r["spend"]) * scale * runaway, int(r["clk"])
            clk, imp = round(drawn * runaway), round(int(r["imp"]) * runaway)
            ctr = _pct(clk, imp)
            cpc = _cny(spend / clk) if clk else "--"
            money = _cny(spend, "￥" if day.day % 5 == 0 else "¥")
            inq = r["inq"] or "-"
            if words:
                pos = r["pos"]
                out.append([str(day), plan, r["target"], _cny(float(r["bid"])),
                            rng.randrange(3, 6) if pos is not None else "--",
                            "--" if pos is None else pos, imp, clk, ctr, money, cpc, inq,
                            _cny(budget)])
            else:
                out.append([str(day), plan, r["target"], imp, clk, ctr, money, cpc, inq,
                            _poisson(rng, drawn * 0.03) or "-", "-",
                            _poisson(rng, drawn * 0.08), _cny(budget)])
        day += timedelta(1)
    return out


_P4P_WORD_HEADER = ["日期", "计划名称", "关键词", "出价", "推广评分", "排名", "曝光量", "点击量",
                    "点击率", "花费", "点击成本", "询盘量", "日预算"]
_P4P_PRODUCT_HEADER = ["日期", "计划名称", "产品ID", "曝光量", "点击量", "点击率", "花费",
                       "点击成本", "询盘量", "TM咨询量", "订单量", "全站商机量", "日预算"]


def _totals(header: list[str], rows: list[list[object]]) -> list[object]:
    def num(v: object) -> float:
        text = str(v).lstrip("¥￥").replace(",", "")
        return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else 0.0

    col = {h: i for i, h in enumerate(header)}
    total: list[object] = ["汇总"] + [""] * (len(header) - 1)
    imp = sum(num(r[col["曝光量"]]) for r in rows)
    clk = sum(num(r[col["点击量"]]) for r in rows)
    spend = sum(num(r[col["花费"]]) for r in rows)
    total[col["曝光量"]], total[col["点击量"]] = int(imp), int(clk)
    total[col["点击率"]], total[col["花费"]] = _pct(clk, imp), _cny(spend)
    total[col["点击成本"]] = _cny(spend / clk) if clk else "--"
    total[col["询盘量"]] = int(sum(num(r[col["询盘量"]]) for r in rows))
    return total


def _p4p_files(world: World, folder: Path, rng: random.Random) -> list[Path]:
    files = []
    for span in _chunks(world):
        for plan, budget, words in _PLANS:
            header = _P4P_WORD_HEADER if words else _P4P_PRODUCT_HEADER
            rows = _p4p_rows(world, plan, budget, words, span, rng)
            exported = datetime.combine(span[1] + timedelta(1),
                                        time(9, rng.randrange(60), rng.randrange(60)))
            title = [["外贸直通车 推广报告"], [f"计划名称：{plan}"],
                     [f"统计时间：{span[0]} 至 {span[1]}"]]
            name = f"{plan} {span[1]:%Y%m%d}({exported:%Y-%m-%d %H_%M_%S}).xlsx"
            files.append(_write_xlsx(folder / name, [*title, header, *rows,
                                                     _totals(header, rows)], exported))
    return files


_TRAFFIC_HEADER = ["日期", "流量来源", "国家/地区", "店铺访问人数", "浏览量", "搜索曝光次数",
                   "搜索点击次数", "询盘个数", "TM咨询人数", "及时回复率"]


def _traffic_files(world: World, folder: Path, rng: random.Random) -> list[Path]:
    asked: dict[date, Counter[str]] = defaultdict(Counter)
    timely: dict[date, list[bool]] = defaultdict(list)
    for q in world.inquiries:
        if q.buyer.spam:
            continue
        day = q.created.date()
        country = q.buyer.country if q.buyer.country in TRAFFIC_COUNTRIES else "其他"
        asked[day][country] += 1
        timely[day].append(q.replied is not None and q.replied - q.created <= timedelta(1))
    shares = {c: COUNTRIES[c] for c in TRAFFIC_COUNTRIES}
    shares["其他"] = sum(COUNTRIES.values()) - sum(shares.values())
    whole = sum(shares.values())
    files = []
    for span in _chunks(world):
        rows: list[list[object]] = [[f"店铺数据概览 {span[0]:%Y%m%d}-{span[1]:%Y%m%d}"],
                                    list(_TRAFFIC_HEADER)]
        day = span[0]
        while day <= span[1]:
            visitors = 620 * world.traffic_factor[day]
            flags = timely[day]
            rate = _pct(sum(flags), len(flags)) if flags else "--"
            # Spread the day's inquiries over the sources, each country's total kept exact.
            split = {c: Counter(rng.choices(list(TRAFFIC_SOURCES), list(TRAFFIC_SOURCES.values()),
                                            k=asked[day][c])) for c in shares}
            for source, s_share in TRAFFIC_SOURCES.items():
                for country, c_share in shares.items():
                    gone = country == GONE_COUNTRY and world.is_drop(day)
                    v = round(visitors * s_share * c_share / whole * rng.uniform(0.8, 1.2)
                              * (0.1 if gone else 1.0))
                    impressions = round(v * rng.uniform(25, 40)) if source != "其他" else 0
                    clicks = round(v * rng.uniform(0.8, 1.1)) if source != "其他" else 0
                    inq = split[country][source]
                    rows.append([str(day), source, country, _int(v), _int(round(v * 2.6)),
                                 _int(impressions), _int(clicks), inq,
                                 round(inq * rng.uniform(0.2, 0.5)), rate])
            day += timedelta(1)
        name = f"店铺数据概览_{span[0]:%Y%m%d}-{span[1]:%Y%m%d}.csv"
        files.append(_write_csv(folder / name, rows, "gbk"))
    return files


_INQUIRY_HEADER = ["询盘ID", "询盘标题", "客户名", "国家/地区", "公司名称", "邮箱", "询盘产品ID",
                   "询盘产品标题", "创建时间", "最新回复时间", "业务员", "垃圾询盘"]


def _inquiry_rows(world: World, span: tuple[date, date], as_of: datetime) -> list[list[object]]:
    rows: list[list[object]] = [list(_INQUIRY_HEADER)]
    for q in world.inquiries:
        if not span[0] <= q.created.date() <= span[1] or q.created > as_of:
            continue
        replied = q.replied if q.replied and q.replied <= as_of else None
        style = int(q.id)
        rows.append([q.id, q.subject, q.buyer.name, q.buyer.country, q.buyer.company,
                     q.buyer.email, q.product.id, q.product.name, _clock(q.created, style),
                     _clock(replied, style), q.buyer.owner, "是" if q.buyer.spam else "否"])
    return rows


def _inquiry_files(world: World, folder: Path) -> list[Path]:
    files = []
    chunks = _chunks(world)
    for span in chunks[:-1]:
        # Exported a few days after the period, when late replies had been given.
        as_of = min(world.export_at, datetime.combine(span[1] + timedelta(15), time(9, 5)))
        name = f"询盘列表_{span[0]:%Y%m%d}-{span[1]:%Y%m%d}.xlsx"
        files.append(_write_xlsx(folder / name, _inquiry_rows(world, span, as_of), as_of))
    # An export taken a few days ago, overlapping the last one: replies given since then
    # arrive as updates of the same inquiries, never as new ones.
    early = (world.end - timedelta(13), world.end - timedelta(4))
    as_of = datetime.combine(early[1], time(18, 30))
    name = f"询盘列表_{early[0]:%Y%m%d}-{early[1]:%Y%m%d}.xlsx"
    files.append(_write_xlsx(folder / name, _inquiry_rows(world, early, as_of), as_of))
    span = chunks[-1]
    name = f"询盘列表_{span[0]:%Y%m%d}-{span[1]:%Y%m%d}.xlsx"
    files.append(_write_xlsx(folder / name, _inquiry_rows(world, span, world.export_at),
                             world.export_at))
    return files


_CRM_HEADER = ["客户", "公司名称", "国家/地区", "邮箱", "业务员", "客户阶段", "跟进状态",
               "小记时间", "建档时间", "订单总数", "最近下单时间"]


def _crm_file(world: World, folder: Path) -> Path:
    rows: list[list[object]] = [list(_CRM_HEADER)]
    asked = {id(q.buyer) for q in world.inquiries}
    for b in world.buyers:
        if b.spam or (id(b) not in asked and not b.legacy):
            continue
        count = len(b.orders)
        stage = ("询盘客户", "样单客户", "成交客户")[min(count, 2)] if count < 3 else "复购客户"
        last_order = max((o.ordered for o in b.orders), default=None)
        status = ("已成交" if count else "跟进中" if b.note_at else "待跟进")
        if b.legacy and last_order and last_order < world.export_at - timedelta(90):
            status = "暂停跟进"
        rows.append([b.name, b.company, b.country, b.email, b.owner, stage, status,
                     f"{b.note_at:%Y-%m-%d %H:%M}" if b.note_at else "",
                     f"{b.created_at:%Y-%m-%d %H:%M}" if b.created_at else "", count,
                     f"{last_order:%Y-%m-%d}" if last_order else ""])
    name = f"客户通-客户列表_{world.export_at:%Y%m%d}.xlsx"
    return _write_xlsx(folder / name, rows, world.export_at)


_ORDER_HEADER = ["订单号", "买家", "买家公司", "国家/地区", "买家邮箱", "订单金额", "币种",
                 "订单状态", "下单时间", "交货期", "发货时间"]


def _order_file(world: World, folder: Path) -> Path:
    rows: list[list[object]] = [list(_ORDER_HEADER)]
    for o in world.orders:
        rows.append([o.id, o.buyer.name, o.buyer.company, o.buyer.country, o.buyer.email,
                     f"{o.amount:,.2f}", "USD", o.status, f"{o.ordered:%Y-%m-%d %H:%M:%S}",
                     str(o.ship_by) if o.ship_by else "",
                     f"{o.shipped:%Y-%m-%d %H:%M:%S}" if o.shipped else ""])
    return _write_csv(folder / f"信保订单_{world.export_at:%Y%m%d}.csv", rows, "utf-8-sig")


def _posts_file(world: World, folder: Path, rng: random.Random) -> Path:
    rows: list[list[object]] = [["帖子ID", "发布时间", "标题", "类型", "浏览量", "点赞数"]]
    serial = 880_000 + rng.randrange(10_000)
    live = [p for p in world.products if p.weight > 0]
    for day in world.days():
        count = 1 if day == world.end else rng.choice((2, 3, 3, 3, 4))
        for n in range(count):
            serial += rng.randrange(1, 40)
            p = rng.choice(live)
            title = rng.choice(_POST_TITLES).format(p=p.short,
                                                    c=rng.choice(TRAFFIC_COUNTRIES))
            moment = datetime.combine(day, time(9 + 3 * n, rng.randrange(60)))
            views = round(rng.uniform(80, 900) * (1 + (world.end - day).days / 60))
            rows.append([f"FP{serial}", f"{moment:%Y-%m-%d %H:%M}", title,
                         rng.choice(_POST_TYPES), views, round(views * rng.uniform(0.01, 0.05))])
    return _write_xlsx(folder / f"粉丝通-内容数据_{world.export_at:%Y%m%d}.xlsx", rows,
                       world.export_at)


def default_end(timezone: str) -> date:
    """Yesterday in the store's timezone, so the demo always looks current."""
    return local_today(utcnow(), ZoneInfo(timezone)) - timedelta(days=1)


def generate(folder: Path, *, end: date | None = None, days: int = 120, seed: int = 7,
             timezone: str = "Asia/Shanghai", volume: float = 1.0) -> list[Path]:
    """Write the demo store's files into `folder`; returns them in ingestion order.
    `volume` (default 1) scales inquiries and ad rows down for quick tests."""
    end = end or default_end(timezone)
    world = build_world(end, days, seed, volume)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed * 7919 + 1)
    products = _product_files(world, folder, rng)
    # The same export downloaded twice: the browser adds " (1)".
    repeat = products[-1].with_name(products[-1].stem + " (1).xls")
    shutil.copyfile(products[-1], repeat)
    files = [
        *products, repeat,
        *_keyword_files(world, folder, rng),
        *_p4p_files(world, folder, rng),
        *_traffic_files(world, folder, rng),
        *_inquiry_files(world, folder),
        _crm_file(world, folder),
        _order_file(world, folder),
        _posts_file(world, folder, rng),
    ]
    manifest = {"end": str(end), "days": days, "seed": seed, "timezone": timezone, "volume": volume,
                "files": [f.name for f in files]}
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                   encoding="utf-8")
    return files


def demo_files(folder: Path) -> list[Path]:
    """The files of the last demo generated into `folder`, in ingestion order."""
    manifest = Path(folder) / MANIFEST
    if not manifest.exists():
        return []
    names = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    return [Path(folder) / n for n in names]


# ---- big files for the benchmark ----------------------------------------------------------

_BULK_WORDS = ("solar", "led", "street", "flood", "garden", "wall", "lamp", "light", "outdoor",
               "waterproof", "100w", "200w", "motion", "sensor", "pole")


def bulk_p4p_rows(rows: int, seed: int) -> Iterator[list[object]]:
    """`rows` P4P keyword rows with distinct keys (1,000 keywords a day), formatted as the
    back office exports them; generated lazily so memory stays flat."""
    rng = random.Random(seed)
    keywords = [f"{a} {b} {c}" for a in _BULK_WORDS for b in _BULK_WORDS for c in _BULK_WORDS
                if len({a, b, c}) == 3][:1000]
    plans = [p for p, _, _ in _PLANS]
    first = date(2022, 1, 1)
    for i in range(rows):
        day = first + timedelta(days=i // len(keywords))
        word = keywords[i % len(keywords)]
        imp = rng.randrange(0, 5000)
        clk = int(imp * rng.uniform(0.0, 0.03))
        spend = clk * rng.uniform(1.5, 9.0)
        pos = rng.choice((1, 2, 3, 4, 5, 6, 8, 11, -1))
        yield [str(day), plans[i % 3], word, _cny(rng.uniform(2, 12)), rng.randrange(0, 6), pos,
               imp, clk, _pct(clk, imp), _cny(spend), _cny(spend / clk) if clk else "--",
               rng.randrange(0, 3) or "-", _cny(300.0)]


def write_p4p_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A P4P report CSV of `rows` data rows (UTF-8 with BOM, title row, totals row)."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["外贸直通车 推广报告"])
        out.writerow(_P4P_WORD_HEADER)
        out.writerows(bulk_p4p_rows(rows, seed))
        out.writerow(["汇总"])
    return Path(path)


def write_p4p_xlsx(path: Path, rows: int, seed: int = 7) -> Path:
    """The same as an `.xlsx`, streamed row by row (openpyxl write-only)."""
    head: list[list[object]] = [["外贸直通车 推广报告"], ["计划名称：全部"], [""],
                                list(_P4P_WORD_HEADER)]

    def stream() -> Iterator[list[object]]:
        yield from head
        yield from bulk_p4p_rows(rows, seed)
        yield ["汇总"]

    return _write_xlsx(Path(path), stream(), None)
