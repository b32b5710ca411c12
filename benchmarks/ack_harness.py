"""What the request-to-ack benchmarks share (bench_inquiries, bench_keywords, bench_customers).

A scratch database per backend (SQLite in a temporary folder; a schema of its own on
PostgreSQL when OPSBOT_TEST_DATABASE_URL is set), a drop to hang bulk-inserted rows on, the
real WSGI app (`handlers.wsgi`) on a threaded local server answering signed slash commands
through a real HTTP client, the timing of calls, and the summary lines with their verdict.
Not a benchmark itself: `benchmarks/run.py` runs the `bench_*.py` files only.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test harness (mock Slack, request signing) is in tests/

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.models import drops  # noqa: E402
from bot.periods import utcnow  # noqa: E402
from bot.storage import make_engine, migrate, normalize_url  # noqa: E402
from bot.stores import Store  # noqa: E402

TARGET_P99_MS = 300  # Slack's ack window is 3 s


def backends() -> list[str]:
    """SQLite, and PostgreSQL when OPSBOT_TEST_DATABASE_URL names one."""
    if os.environ.get("OPSBOT_TEST_DATABASE_URL"):
        return ["sqlite", "postgresql"]
    print("(set OPSBOT_TEST_DATABASE_URL to measure PostgreSQL too)")
    return ["sqlite"]


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[Engine]:
    """A migrated, empty database; on PostgreSQL a scratch schema, dropped afterwards."""
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


def bench_drop(conn: Any, store: Store, kind: str, rows: int) -> int:
    """A drop record for bulk-inserted rows of `kind` (fact rows point at their drop)."""
    return conn.execute(insert(drops).values(
        store_id=store.id, file_name=f"bench-{kind}.csv", sha256=uuid.uuid4().hex * 2,
        kind=kind, status="ingested", source="cli", rows=rows, inserted=rows, errors=[],
        created_at=utcnow())).inserted_primary_key[0]


def analyze(engine: Engine, vacuum: bool = False) -> None:
    """Planner statistics after a bulk load, as autovacuum would gather them; `vacuum` also
    sets PostgreSQL's visibility map, which index-only scans need."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if vacuum else "ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each of `runs` calls. CPU is the whole process's (the
    server's threads and the client are in it): what a call costs whatever else the machine
    is doing, where wall time also counts waiting for a busy CPU."""
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@contextmanager
def slack_app(engine: Engine, api: Any) -> Iterator[Callable[[str, str, str], Answer]]:
    """The real app behind a local HTTP server, talking to the mock Slack API `api`; yields
    `post(command, words, channel)`: a signed slash command sent, its ack read."""
    from handlers.app import create_app, make_client
    from handlers.wsgi import make_server, make_wsgi_app
    from tests.slack_signing import signed_headers, slash_command_body

    settings = Settings.from_env({**api.env(), "OPSBOT_DATABASE_URL": "unused"})
    app = create_app(settings, engine, client=make_client(settings))
    server = make_server(make_wsgi_app(app, engine), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def post(command: str, words: str, channel: str) -> Answer:
        body = slash_command_body(command, words, channel_id=channel,
                                  response_url=api.response_url())
        conn = HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        try:
            conn.request("POST", "/slack/events", body=body.encode(),
                         headers=signed_headers(body, api.signing_secret))
            resp = conn.getresponse()
            return Answer(resp.status, resp.read())
        finally:
            conn.close()

    try:
        yield post
    finally:
        server.shutdown()
        server.server_close()


def summary(backend: str, request_ms: list[float], bare_ms: list[float], bare: str,
            note: str = "") -> tuple[float, float]:
    """The closing lines of a run: request and bare medians and p99s, the overhead and the
    p99 verdict (computed, not asserted); returns (p99 request, overhead)."""
    req_med, req_p99 = statistics.median(request_ms), percentile(request_ms, 0.99)
    bare_med, bare_p99 = statistics.median(bare_ms), percentile(bare_ms, 0.99)
    print(f"[{backend}] signed request -> ack: median {req_med:7.1f} ms   p99 {req_p99:7.1f} ms"
          f"   ({len(request_ms)} requests{note}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    print(f"[{backend}] {bare + ':':<22} median {bare_med:7.1f} ms   p99 {bare_p99:7.1f} ms")
    ratio = req_med / bare_med
    print(f"[{backend}] overhead (median request / median {bare}): {ratio:.2f}x")
    verdict = "meets" if req_p99 < TARGET_P99_MS else "MISSES"
    print(f"[{backend}] p99 {verdict} the {TARGET_P99_MS} ms target", flush=True)
    return req_p99, ratio


def spread(ms: list[float]) -> str:
    """Median and p99 of timings, as the per-question lines show them."""
    return f"median {statistics.median(ms):6.1f} ms p99 {percentile(ms, 0.99):6.1f} ms"
