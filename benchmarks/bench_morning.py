"""The morning run for many stores: time to build every daily checklist, and delivery pacing.

    .venv/bin/python benchmarks/bench_morning.py [--quick] [--stores N] [--database URL]

1. Seeds N stores (default 1,000; --quick: 100), all in Asia/Shanghai with one bound channel
   each, with small realistic fact tables (8 weeks of inquiries at 2-12 a day, daily traffic
   by source, 14 days of P4P for 5 keywords, a few orders and CRM customers), written with
   executemany.
2. Times one tick at 09:00 local (`jobs.tick.run_due`, without sending): alert evaluation
   and the daily checklist of every store, queued in the outbox. Target: under 60 s for
   1,000 stores on a 2-core machine.
3. Delivery pacing: the sender delivers the queued messages to the mock Slack API
   (tests/slack_mock.py) with the production Pacer settings (1 s per channel, 10 posts/s
   overall), plus one synthetic follow-up message per channel, on a VIRTUAL clock: the
   pacer's sleeps advance a simulated clock instead of waiting, while every HTTP call to the
   mock is real. It prints the simulated send rate,
   the smallest gap between two posts to one channel, and the real time the calls took.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, insert

from bot.models import channels, drops, facts, stores
from bot.periods import local_midnight
from bot.storage import make_engine, migrate
from jobs.delivery import deliver, outbox_client
from jobs.tick import run_due

NOW = datetime(2026, 11, 17, 1, 0)  # 09:00 on Tuesday in Shanghai
TODAY = date(2026, 11, 17)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def seed(engine: Engine, n_stores: int, rng: random.Random) -> dict[str, int]:
    created = NOW - timedelta(hours=1)
    store_rows = [{"id": i, "name": f"store-{i:04d}", "timezone": "Asia/Shanghai",
                   "language": "en", "settings": {}, "created_at": created}
                  for i in range(1, n_stores + 1)]
    channel_rows = [{"channel_id": f"C{i:06d}", "store_id": i, "bound_at": created}
                    for i in range(1, n_stores + 1)]
    kinds = ("inquiries", "traffic", "p4p", "orders", "customers")
    drop_rows, drop_id = [], {}
    for i in range(1, n_stores + 1):
        for kind in kinds:
            drop_id[(i, kind)] = len(drop_rows) + 1
            drop_rows.append({"id": len(drop_rows) + 1, "store_id": i, "file_name": f"{kind}.csv",
                              "sha256": uuid.uuid4().hex, "kind": kind, "status": "ingested",
                              "source": "cli", "rows": 0, "errors": [], "created_at": created})
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    blank = {k: {c.name: None for c in facts[k].columns if c.name != "id"} for k in kinds}

    def fact(kind: str, store: int, key: str, **values: Any) -> None:
        rows[kind].append({**blank[kind], "store_id": store, "drop_id": drop_id[(store, kind)],
                           "key": key, "updated_at": created, **values})

    for s in range(1, n_stores + 1):
        level = rng.randint(2, 12)
        for back in range(1, 57):
            day = TODAY - timedelta(days=back)
            midnight = local_midnight(day, SHANGHAI)
            n = max(0, int(rng.gauss(level * (0.5 if day.weekday() >= 5 else 1), 2)))
            for k in range(n):
                moment = midnight + timedelta(hours=rng.randint(8, 20),
                                              minutes=rng.randint(0, 59))
                fact("inquiries", s, f"Q{s}-{back}-{k}", inquiry_id=f"Q{s}-{back}-{k}",
                     buyer=f"buyer {rng.randint(1, 60)}", country=rng.choice(
                         ["US", "DE", "GB", "IN", "BR"]), product_id=f"P{rng.randint(1, 20)}",
                     created_at=moment, owner=rng.choice(["Li", "Wang"]),
                     replied_at=moment + timedelta(hours=rng.randint(1, 30))
                     if rng.random() < 0.8 else None)
            for source in ("search", "p4p"):
                fact("traffic", s, f"{day}|{source}|", date=day, source=source,
                     visitors=rng.randint(50, 300), impressions=rng.randint(2000, 9000),
                     clicks=rng.randint(50, 400), inquiries=n // 2)
            if back <= 14:
                for word in range(5):
                    fact("p4p", s, f"{day}|main|kw{word}|", date=day, plan="main",
                         keyword=f"keyword {word}", impressions=rng.randint(100, 900),
                         clicks=rng.randint(1, 40), spend=round(rng.uniform(5, 60), 2),
                         position=rng.randint(1, 9), daily_budget=300.0)
        for k in range(5):
            fact("orders", s, f"O{s}-{k}", order_id=f"O{s}-{k}", buyer=f"buyer {k}",
                 amount=rng.uniform(500, 9000), status="WAIT_SELLER_SEND_GOODS",
                 ordered_at=NOW - timedelta(days=rng.randint(1, 40)),
                 ship_by=TODAY + timedelta(days=rng.randint(-3, 20)))
        for k in range(10):
            fact("customers", s, f"cust-{k}", customer=f"buyer {k}", country="US",
                 last_contact_at=NOW - timedelta(days=rng.randint(1, 150)))
    with engine.begin() as conn:
        conn.execute(insert(stores), store_rows)
        conn.execute(insert(channels), channel_rows)
        conn.execute(insert(drops), drop_rows)
        for kind, batch in rows.items():
            for start in range(0, len(batch), 20_000):
                conn.execute(insert(facts[kind]), batch[start:start + 20_000])
    return {k: len(v) for k, v in rows.items()}


def bench_pacing(engine: Engine) -> None:
    from sqlalchemy import select

    from bot import outbox
    from bot.config import Settings
    from tests.pacing import recording_pacer
    from tests.slack_mock import MockSlackAPI

    # A synthetic second message per channel, so that per-channel pacing shows.
    with engine.begin() as conn:
        for store_id, channel in conn.execute(select(channels.c.store_id,
                                                     channels.c.channel_id)).all():
            outbox.enqueue(conn, store_id=store_id, channel=channel, purpose="bench",
                           dedupe_key=f"bench:{channel}", payload={"text": "follow-up"},
                           now=NOW)

    with MockSlackAPI() as api:
        client = outbox_client(Settings(slack_bot_token=api.bot_token, slack_api_url=api.base_url))
        assert client is not None
        pacer, sends = recording_pacer()
        started = time.perf_counter()
        result = deliver(engine, client, NOW, pacer=pacer)
        wall = time.perf_counter() - started
        posts = len(api.calls_to("chat.postMessage"))
    by_channel: dict[str, list[float]] = {}
    for channel, at in sends:
        by_channel.setdefault(channel, []).append(at)
    gaps = [b - a for times in by_channel.values() for a, b in itertools.pairwise(times)]
    span = (sends[-1][1] - sends[0][1]) if len(sends) > 1 else 0.0
    rate = (len(sends) - 1) / span if span else float("inf")
    print(f"delivery: {result.delivered} messages to {len(by_channel)} channels "
          f"({posts} chat.postMessage calls)")
    print(f"  virtual clock: {span:.1f} s simulated -> {rate:.2f} posts/s overall "
          f"(pace 10/s), per channel min gap "
          f"{min(gaps):.2f} s" if gaps else
          f"  virtual clock: {span:.1f} s simulated -> {rate:.2f} posts/s overall (pace 10/s); "
          "one message per channel, so no per-channel gap to show")
    print(f"  real time for the HTTP calls to the local mock: {wall:.1f} s "
          f"({posts / wall:.0f} calls/s unpaced capacity)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 stores instead of 1,000")
    parser.add_argument("--stores", type=int)
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    n_stores = args.stores or (100 if args.quick else 1000)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        migrate(engine)
        started = time.perf_counter()
        sizes = seed(engine, n_stores, random.Random(42))
        print(f"seeded {n_stores} stores in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in sizes.items()))
        started = time.perf_counter()
        report = run_due(engine, NOW, drops=False, send=False)
        elapsed = time.perf_counter() - started
        built = len(report["checklists"])
        print(f"morning tick at {NOW.replace(tzinfo=UTC).isoformat()}: {built} checklists, "
              f"{report['alerts_evaluated']} stores judged for alerts "
              f"({len(report['alerts'])} fired), {report['outbox']['pending']} messages queued,"
              f" {len(report['errors'])} errors")
        print(f"  total {elapsed:.1f} s = {n_stores / elapsed:.0f} stores/s "
              f"(checklists {report['seconds']['checklists']:.1f} s, "
              f"alerts {report['seconds']['alerts']:.1f} s); target < 60 s for 1,000 stores")
        if report["errors"]:
            print("  first error:", report["errors"][0])
        bench_pacing(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
