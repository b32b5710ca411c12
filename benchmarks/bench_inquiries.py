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
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test harness (mock Slack, request signing) lives in tests/

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.models import drops, facts  # noqa: E402
from bot.periods import local_today, parse_period  # noqa: E402
from bot.storage import make_engine, migrate, normalize_url, read, write  # noqa: E402
from bot.stores import Store, add_store, bind_channel, utcnow  # noqa: E402

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
            drop_id = conn.execute(insert(drops).values(
                store_id=store.id, file_name="bench.csv", sha256=uuid.uuid4().hex * 2,
                kind="inquiries", status="ingested", source="cli", rows=count,
                inserted=count, errors=[], created_at=now)).inserted_primary_key[0]
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
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


@contextmanager
def _database(backend: str, tmp: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    base = normalize_url(os.environ["OPSBOT_TEST_DATABASE_URL"])
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{sep}options=-csearch_path%3D{schema}")
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run(backend: str, big: int, small: int, requests: int, seed: int) -> tuple[float, float]:
    from bot.metrics import inquiries
    from handlers.app import create_app, make_client
    from handlers.wsgi import make_server, make_wsgi_app
    from tests.slack_mock import MockSlackAPI
    from tests.slack_signing import signed_headers, slash_command_body

    with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp)) as engine, \
            MockSlackAPI() as api:
        started = time.perf_counter()
        stores = [add_store(engine, f"store-{i:02d}") for i in range(50)]
        bind_channel(engine, stores[0], CHANNEL)
        _fill(engine, stores, big, small, seed)
        print(f"[{backend}] 50 stores, {big:,} + 49 x {small:,} inquiries loaded in "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        settings = Settings.from_env({**api.env(), "OPSBOT_DATABASE_URL": "unused"})
        app = create_app(settings, engine, client=make_client(settings))
        server = make_server(make_wsgi_app(app, engine), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_port

        def request(words: str) -> None:
            body = slash_command_body("/inquiries", words, channel_id=CHANNEL,
                                      response_url=api.response_url())
            conn = HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", "/slack/events", body=body.encode(),
                             headers=signed_headers(body, api.signing_secret))
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            if resp.status != 200 or b"Total" not in data:
                raise SystemExit(f"unexpected answer {resp.status}: {data[:300]!r}")

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
        try:
            for words in PERIODS:
                _time(lambda w=words: request(w), 3)  # warm caches and bolt's auth.test
                _time(lambda w=words: bare(w), 3)
                req = _time(lambda w=words: request(w), per)
                raw = _time(lambda w=words: bare(w), per)
                print(f"[{backend}]   {words:<10} request median {statistics.median(req):7.1f} ms"
                      f" p99 {_percentile(req, 0.99):7.1f} ms | bare median "
                      f"{statistics.median(raw):7.1f} ms p99 {_percentile(raw, 0.99):7.1f} ms",
                      flush=True)
                request_ms += req
                bare_ms += raw
        finally:
            server.shutdown()
            server.server_close()

    req_med, req_p99 = statistics.median(request_ms), _percentile(request_ms, 0.99)
    bare_med, bare_p99 = statistics.median(bare_ms), _percentile(bare_ms, 0.99)
    print(f"[{backend}] signed request -> ack: median {req_med:7.1f} ms   p99 {req_p99:7.1f} ms"
          f"   ({len(request_ms)} requests over {', '.join(PERIODS)})")
    print(f"[{backend}] bare summarize():      median {bare_med:7.1f} ms   p99 {bare_p99:7.1f} ms")
    ratio = req_med / bare_med
    print(f"[{backend}] overhead (median request / median bare): {ratio:.2f}x")
    verdict_p99 = "meets" if req_p99 < 300 else "MISSES"
    verdict_ratio = "meets" if ratio < 2 else "MISSES"
    print(f"[{backend}] p99 {verdict_p99} the 300 ms target; overhead {verdict_ratio} the 2x "
          "target", flush=True)
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
    backends = ["sqlite"]
    if os.environ.get("OPSBOT_TEST_DATABASE_URL"):
        backends.append("postgresql")
    else:
        print("(set OPSBOT_TEST_DATABASE_URL to measure PostgreSQL too)")
    for backend in backends:
        run(backend, big, 1_000, requests, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
