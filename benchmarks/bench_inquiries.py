"""Benchmark `/inquiries` over HTTP against the bare SQL aggregate it runs.

Run: python benchmarks/bench_inquiries.py [--quick] [--requests N] [--inquiries N]

Builds a database with 50 stores; one has two years of inquiries (200,000 by default), the
others 1,000 each, bulk-inserted with executemany. Then, for the periods an operator asks
most (`yesterday`, `week`, `month`, `last 30d`):

* request: time from sending a signed `/inquiries …` POST to the full ack, through the real
  WSGI app (`handlers.wsgi`) on a threaded local server and a real HTTP client; the ack
  carries the answer, so this includes parsing, the query, templates and bolt;
* bare: `bot.metrics.inquiries.summarize` for the same period on an open connection.

Runs on SQLite, and on PostgreSQL too when OPSBOT_TEST_DATABASE_URL is set (a scratch schema
is created and dropped). Targets: p99 request < 300 ms (Slack's ack window is 3 s) and
median overhead (request / bare) < 2x; the verdict lines are computed, not asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ack_harness as harness
from sqlalchemy import Engine, insert

from bot.models import facts
from bot.periods import local_today, parse_period, utcnow
from bot.storage import read, write
from bot.stores import Store, add_store, bind_channel

PERIODS = ("yesterday", "week", "month", "last 30d")
COUNTRIES = ("US", "DE", "GB", "FR", "IN", "BR", "AU", "CA", "MX", "AE", "SA", "NG", "PL", "TR")
OWNERS = ("Lily", "Tom", "Amy", "Jack", "Zoe")
CHANNEL = "C0BIG"


def _fill(engine: Engine, stores: list[Store], big: int, small: int, seed: int) -> None:
    rng = random.Random(seed)
    now = utcnow()
    table = facts["inquiries"]
    for i, store in enumerate(stores):
        count = big if i == 0 else small
        with write(engine) as conn:
            drop_id = harness.bench_drop(conn, store, "inquiries", count)
            batch = []
            for n in range(count):
                created = now - timedelta(seconds=rng.uniform(0, 730 * 86400))
                replied = (created + timedelta(hours=rng.expovariate(1 / 10))
                           if rng.random() < 0.8 else None)
                inquiry_id = f"{store.id}-{n}"
                batch.append({
                    "store_id": store.id, "drop_id": drop_id, "key": inquiry_id,
                    "inquiry_id": inquiry_id, "buyer": f"Buyer {rng.randrange(20000)}",
                    "country": rng.choice(COUNTRIES), "company": None, "email": None,
                    "product_id": f"P{rng.randrange(300)}", "product_title": "LED strip",
                    "subject": "Price?", "created_at": created,
                    "replied_at": replied if replied and replied < now else None,
                    "owner": rng.choice(OWNERS), "is_spam": rng.random() < 0.08,
                    "updated_at": now,
                })
                if len(batch) == 10_000:
                    conn.execute(insert(table), batch)
                    batch = []
            if batch:
                conn.execute(insert(table), batch)
    harness.analyze(engine)


def run(backend: str, big: int, small: int, requests: int, seed: int) -> tuple[float, float]:
    from bot.metrics import inquiries
    from tests.slack_mock import MockSlackAPI

    with tempfile.TemporaryDirectory() as tmp, harness.database(backend, Path(tmp)) as engine, \
            MockSlackAPI() as api:
        started = time.perf_counter()
        stores = [add_store(engine, f"store-{i:02d}") for i in range(50)]
        bind_channel(engine, stores[0], CHANNEL)
        _fill(engine, stores, big, small, seed)
        print(f"[{backend}] 50 stores, {big:,} + 49 x {small:,} inquiries loaded in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        store = stores[0]

        def bare(words: str) -> None:
            now = utcnow()
            period = parse_period(words, local_today(now, store.tz))
            with read(engine) as conn:
                inquiries.summarize(conn, store, period.start, period.end, now=now,
                                    name=period.name)

        per = max(1, requests // len(PERIODS))
        request_ms: list[float] = []
        bare_ms: list[float] = []
        with harness.slack_app(engine, api) as post:
            def request(words: str) -> None:
                answer = post("/inquiries", words, CHANNEL)
                if answer.status != 200 or b"Total" not in answer.body:
                    raise SystemExit(f"unexpected answer {answer.status}: {answer.body[:300]!r}")

            for words in PERIODS:
                harness.timed(lambda w=words: request(w), 3)  # warm caches and bolt's auth.test
                harness.timed(lambda w=words: bare(w), 3)
                req, _ = harness.timed(lambda w=words: request(w), per)
                raw, _ = harness.timed(lambda w=words: bare(w), per)
                print(f"[{backend}]   {words:<10} request {harness.spread(req)} | bare "
                      f"{harness.spread(raw)}", flush=True)
                request_ms += req
                bare_ms += raw

    req_p99, ratio = harness.summary(backend, request_ms, bare_ms, "bare summarize()",
                             note=f" over {', '.join(PERIODS)}")
    print(f"[{backend}] overhead {'meets' if ratio < 2 else 'MISSES'} the 2x target", flush=True)
    return req_p99, ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 inquiries, 40 requests: a smoke run")
    parser.add_argument("--inquiries", type=int, default=200_000,
                        help="inquiries of the big store (default 200,000)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    big, requests = (20_000, 40) if args.quick else (args.inquiries, args.requests)
    for backend in harness.backends():
        run(backend, big, 1_000, requests, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
