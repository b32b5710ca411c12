"""Benchmark `/keywords` over HTTP against the bare SQL it runs.

Run: python benchmarks/bench_keywords.py [--quick] [--requests N] [--days N]

Builds a store with two years of P4P rows (one plan, 200 keywords, 5 products: 730,000 rows,
a few of the keywords never bringing an inquiry) and a weekly Data Manager keyword report
for every week (300 search terms each), bulk-inserted with executemany. Then, for what an
operator asks in the weekly review (`/keywords`, `wasted`, `candidates`, one keyword):

* request: time from sending a signed `/keywords …` POST to the full ack, through the real
  WSGI app (`handlers.wsgi`) on a threaded local server and a real HTTP client; the ack
  carries the answer, so this includes parsing, the queries, templates and bolt;
* bare SQL: the statements that answer runs (recorded once from the engine), executed and
  fetched on an open connection: the floor any implementation of the same queries pays.

Runs on SQLite, and on PostgreSQL too when OPSBOT_TEST_DATABASE_URL is set (a scratch schema
is created and dropped). Target: p99 request < 300 ms (Slack's ack window is 3 s); the
verdict line is computed, not asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ack_harness as harness
from sqlalchemy import Engine, event, insert

from bot.models import facts
from bot.periods import local_today, utcnow
from bot.stores import Store, add_store, bind_channel

KEYWORDS = 200
PRODUCTS = 5
SEARCH_TERMS = 300  # per weekly keyword report: the P4P words and organic ones
NEVER_INQUIRED = 12  # P4P keywords that never bring an inquiry: the wasted list
WORD = "solar street light 017"
ASKED = ("", "wasted", "candidates", WORD)
CHANNEL = "C0KEYWORDS"
BATCH = 10_000


def _fill(engine: Engine, store: Store, days: int, seed: int) -> int:
    """P4P rows for `days` days up to yesterday and the weekly keyword reports; returns the
    number of P4P rows."""
    rng = random.Random(seed)
    now = utcnow()
    yesterday = local_today(now, store.tz) - timedelta(days=1)
    first = yesterday - timedelta(days=days - 1)
    words = [f"solar street light {i:03d}" for i in range(KEYWORDS)]
    products = [f"16001234{i:02d}" for i in range(PRODUCTS)]
    reach = [rng.uniform(0.2, 1.0) for _ in words]
    p4p, keywords = facts["p4p"], facts["keywords"]
    count = days * KEYWORDS * PRODUCTS
    with engine.begin() as conn:
        drop_id = harness.bench_drop(conn, store, "p4p", count)
        batch: list[dict[str, Any]] = []
        for d in range(days):
            day = first + timedelta(days=d)
            for w, word in enumerate(words):
                for product in products:
                    impressions = int(rng.uniform(50, 400) * reach[w])
                    clicks = int(impressions * rng.uniform(0.005, 0.03))
                    inquiries = 0 if w < NEVER_INQUIRED else int(rng.random() < clicks * 0.004)
                    batch.append({
                        "store_id": store.id, "drop_id": drop_id,
                        "key": f"{day}\x1fcore\x1f{word}\x1f{product}", "date": day,
                        "plan": "Core", "keyword": word, "product_id": product,
                        "impressions": impressions, "clicks": clicks,
                        "spend": round(clicks * rng.uniform(2.5, 6.0), 2),
                        "inquiries": inquiries, "position": rng.choice((1, 2, 3, 5, 8, -1)),
                        "currency": "CNY", "updated_at": now,
                    })
                    if len(batch) == BATCH:
                        conn.execute(insert(p4p), batch)
                        batch = []
        if batch:
            conn.execute(insert(p4p), batch)
        terms = words + [f"organic term {i:03d}" for i in range(SEARCH_TERMS - KEYWORDS)]
        weeks = days // 7
        drop_id = harness.bench_drop(conn, store, "keywords", weeks * len(terms))
        batch = []
        for k in range(weeks):
            end = yesterday - timedelta(days=7 * k)
            start = end - timedelta(days=6)
            for t, term in enumerate(terms):
                impressions = int(rng.uniform(100, 3000) / (1 + t / 50))
                batch.append({
                    "store_id": store.id, "drop_id": drop_id,
                    "key": f"{start}\x1f{end}\x1f{term}", "period_start": start,
                    "period_end": end, "keyword": term, "impressions": impressions,
                    "clicks": int(impressions * 0.02), "p4p_impressions":
                    int(impressions * 0.3) if t < KEYWORDS else None,
                    "p4p_clicks": int(impressions * 0.006) if t < KEYWORDS else None,
                    "updated_at": now,
                })
                if len(batch) == BATCH:
                    conn.execute(insert(keywords), batch)
                    batch = []
        if batch:
            conn.execute(insert(keywords), batch)
    harness.analyze(engine, vacuum=True)  # index-only scans need PostgreSQL's visibility map
    return count


def _recorded(engine: Engine, answer: Any) -> list[tuple[str, Any]]:
    """The statements (with their parameters) one answer runs on the fact tables."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if " p4p" in statement or " keywords" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def run(backend: str, days: int, requests: int, seed: int) -> float:
    from handlers.commands import run_command
    from tests.slack_mock import MockSlackAPI

    with tempfile.TemporaryDirectory() as tmp, harness.database(backend, Path(tmp)) as engine, \
            MockSlackAPI() as api:
        started = time.perf_counter()
        store = add_store(engine, "big-store")
        bind_channel(engine, store, CHANNEL)
        rows = _fill(engine, store, days, seed)
        print(f"[{backend}] {rows:,} P4P rows ({days} days x {KEYWORDS} keywords x {PRODUCTS} "
              f"products), {days // 7} weekly keyword reports loaded in "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        def bare(statements: list[tuple[str, Any]]) -> None:
            with engine.connect() as conn:
                for statement, parameters in statements:
                    conn.exec_driver_sql(statement, parameters).fetchall()

        per = max(1, requests // len(ASKED))
        request_ms: list[float] = []
        request_cpu: list[float] = []
        bare_ms: list[float] = []
        with harness.slack_app(engine, api) as post:
            def request(words: str) -> None:
                answer = post("/keywords", words, CHANNEL)
                if (answer.status != 200 or b"Keyword" not in answer.body
                        or b"ephemeral" in answer.body):
                    raise SystemExit(f"unexpected answer {answer.status}: {answer.body[:300]!r}")

            for words in ASKED:
                statements = _recorded(engine, lambda w=words: run_command(
                    engine, "/keywords", w, channel_id=CHANNEL))
                harness.timed(lambda w=words: request(w), 3)  # warm caches and bolt's auth.test
                harness.timed(lambda s=statements: bare(s), 3)
                req, cpu = harness.timed(lambda w=words: request(w), per)
                raw, _ = harness.timed(lambda s=statements: bare(s), per)
                shown = f'"{words}"'
                print(f"[{backend}]   {shown:<26} request {harness.spread(req)} "
                      f"(CPU {statistics.median(cpu):5.1f} ms) | bare SQL ({len(statements)} "
                      f"queries) {harness.spread(raw)}", flush=True)
                request_ms += req
                request_cpu += cpu
                bare_ms += raw

    req_p99, _ = harness.summary(backend, request_ms, bare_ms, "bare SQL",
                         note=f"; CPU median {statistics.median(request_cpu):.1f} ms")
    return req_p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="8 weeks of P4P rows (56,000), 20 requests: a smoke run")
    parser.add_argument("--days", type=int, default=730,
                        help="days of P4P rows (default 730: two years, 730,000 rows)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    days, requests = (56, 20) if args.quick else (args.days, args.requests)
    for backend in harness.backends():
        run(backend, days, requests, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
