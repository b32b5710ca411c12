"""Load: signed slash commands against the production process layout, on PostgreSQL.

Run: python benchmarks/bench_load.py [--quick] [--seconds S] [--concurrency 10,25,50]
     [--inquiries N] [--lock-seconds S]

Starts the Procfile's processes: gunicorn (2 workers x 4 threads, handlers.gunicorn_worker's
gthread worker) serving `handlers.wsgi:application`, and `opsbot worker`, both on PostgreSQL
(a fresh schema, dropped afterwards, in OPSBOT_BENCH_DATABASE_URL or in
postgresql://postgres@127.0.0.1:5432/opsbot_bench) and the mock Web API (tests/slack_mock.py),
with one store of 50,000 inquiries. Closed-loop clients send `/inquiries today|yesterday|
week|month`, signed with Slack's v0 scheme, each with its own response_url, at each
concurrency for S seconds:

* plain: nothing else happens;
* lock: another connection holds LOCK TABLE inquiries IN ACCESS EXCLUSIVE MODE for 6 s;
* kill: pg_terminate_backend on every other connection of the run, twice mid-run.

Per run: requests per second, ack p50/p95/p99/max (send to full response), acks over 3 s,
answers lost (neither in the ack nor through the response_url within 30 s of the end),
answers posted twice, how many acks said "working on it" (the answer followed) or "busy"
(more commands waiting than the pool lets wait: answered at once, not run), error answers
(an apology instead of figures), and the longest wait for a command thread (gunicorn's
log). The floor is the same summarize() query run directly on one connection. Targets:
zero acks over 3 s and zero lost answers (computed verdict lines; the exit code is 0 when
the benchmark ran).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test harness (mock Slack, request signing) lives in tests/

from ack_harness import percentile  # noqa: E402
from bench_inquiries import _fill  # noqa: E402
from sqlalchemy import Engine, create_engine, make_url, text  # noqa: E402

from bot.models import facts  # noqa: E402
from bot.periods import local_today, parse_period  # noqa: E402
from bot.storage import make_engine, migrate, normalize_url, read  # noqa: E402
from bot.stores import add_store, bind_channel, utcnow  # noqa: E402
from tests.slack_mock import RESPONSE_URL, MockSlackAPI, response_key  # noqa: E402
from tests.slack_signing import signed_headers, slash_command_body  # noqa: E402

CHANNEL = "C0LOAD"
TEAM = "T1"
PERIODS = ("today", "yesterday", "week", "month")
LATE = 3.0  # Slack's ack window, seconds
GRACE = 30.0  # how long a "working on it" answer may take to follow after the run
BENCH_DB = "postgresql://postgres@127.0.0.1:5432/opsbot_bench"


# ---------------------------------------------------------------------------- database
@contextmanager
def _database() -> Iterator[str]:
    """A fresh schema, dropped afterwards, in OPSBOT_BENCH_DATABASE_URL or in the local
    `opsbot_bench` database (created when missing). A schema, not a database: DROP DATABASE
    waits for a checkpoint, minutes on a busy disk. Every connection of the run carries
    the run's application_name, which is how the kill runs find theirs and no one else's."""
    base = normalize_url(os.environ.get("OPSBOT_BENCH_DATABASE_URL") or BENCH_DB)
    name = make_url(base).database
    server = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    run = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {run}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{run}&application_name=opsbot-{run}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {run} CASCADE"))
        admin.dispose()


def _hold_lock(url: str, seconds: float, held: threading.Event) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text(f"LOCK TABLE {facts['inquiries'].name} IN ACCESS EXCLUSIVE MODE"))
            held.set()
            time.sleep(seconds)
    finally:
        engine.dispose()


def _terminate_others(url: str) -> int:
    """Kill every other connection of this run (the web processes', the worker's)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = current_setting('application_name') "
                "AND pid <> pg_backend_pid()")).all())
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _processes(url: str, api: MockSlackAPI, logs: Path) -> Iterator[int]:
    """gunicorn (the Procfile's web line) and the worker; yields the web port."""
    port = _free_port()
    env = {**os.environ, **api.env(), "OPSBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    web_log = (logs / "web.log").open("wb")
    worker_log = (logs / "worker.log").open("wb")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class",
         "handlers.gunicorn_worker.ArrivalWorker", "--workers", "2", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "--log-level", "info", "handlers.wsgi:application"],
        cwd=ROOT, env=env, stdout=web_log, stderr=web_log)
    worker = subprocess.Popen([sys.executable, "-m", "cli", "worker"], cwd=ROOT, env=env,
                              stdout=worker_log, stderr=worker_log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with suppress(OSError):
                conn = HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit(f"gunicorn did not start; see {logs / 'web.log'}")
            time.sleep(0.2)
        yield port
    finally:
        for proc in (web, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (web, worker):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        web_log.close()
        worker_log.close()


# ---------------------------------------------------------------------------- load
@dataclass
class Sent:
    key: str
    seconds: float  # send to full response; inf when no response came
    kind: str  # answer | working | busy | empty | error-answer | http-NNN | failed


@dataclass
class Run:
    name: str
    concurrency: int
    seconds: float
    sent: list[Sent] = field(default_factory=list)
    extra: str = ""


def _classify(status: int, data: bytes) -> str:
    if status != 200:
        return f"http-{status}"
    if not data:
        return "empty"
    reply = json.loads(data)
    if "Working on" in reply.get("text", ""):
        return "working"
    if "Too many questions" in reply.get("text", ""):
        return "busy"
    if "went wrong" in reply.get("text", "") or "failed on my side" in reply.get("text", ""):
        return "error-answer"
    return "answer"


def _send(port: int, api: MockSlackAPI, key: str, words: str) -> Sent:
    body = slash_command_body("/inquiries", words, channel_id=CHANNEL, team_id=TEAM,
                              response_url=api.response_url(key))
    started = time.perf_counter()
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body.encode(),
                     headers=signed_headers(body, api.signing_secret))
        resp = conn.getresponse()
        data = resp.read()
    except OSError:
        return Sent(key, float("inf"), "failed")
    finally:
        conn.close()
    return Sent(key, time.perf_counter() - started, _classify(resp.status, data))


def _load(port: int, api: MockSlackAPI, run: Run,
          during: Callable[[], None] | None = None) -> None:
    stop = time.monotonic() + run.seconds
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            sent = _send(port, api, f"{run.name}-{run.concurrency}-{n}-{i}",
                         PERIODS[(n + i) % len(PERIODS)])
            with lock:
                run.sent.append(sent)
            i += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(run.concurrency)]
    for t in threads:
        t.start()
    if during is not None:
        during()
    for t in threads:
        t.join()


def _answers(api: MockSlackAPI) -> Counter[str]:
    return Counter(response_key(c) for c in api.calls_to(RESPONSE_URL))


@dataclass
class Logged:
    """What the web processes logged: each ack's time after arrival (their own clock, from
    the stamp taken when gunicorn accepted the connection) and each command-thread wait."""

    acks: list[float]
    waits: list[float]
    size: int  # bytes read


def _logged(log: Path, start: int) -> Logged:
    """The web processes' log lines since byte `start`."""
    with log.open("rb") as f:
        f.seek(start)
        chunk = f.read()
    lines = chunk.decode(errors="replace")
    return Logged([float(m) for m in re.findall(r"ack=\w+ ([0-9.]+) s after arrival", lines)],
                  [float(m) for m in re.findall(r"pool_wait=([0-9.]+)", lines)], len(chunk))


def _settle(run: Run, api: MockSlackAPI) -> None:
    """Wait for the answers that follow "working on it" acks (at most GRACE seconds)."""
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        answered = _answers(api)
        if all(answered[s.key] for s in run.sent if s.kind == "working"):
            time.sleep(0.5)  # anything posted twice has its chance to show
            return
        time.sleep(0.5)


def _report(run: Run, api: MockSlackAPI, logged: Logged) -> dict[str, float]:
    waits = logged.waits
    answered = _answers(api)
    acks = [s.seconds for s in run.sent if s.seconds != float("inf")]
    kinds = Counter(s.kind for s in run.sent)
    in_ack = {"answer", "error-answer", "busy"}
    lost = sum(1 for s in run.sent if s.kind not in in_ack and not answered[s.key])
    twice = sum(1 for s in run.sent
                if answered[s.key] + (1 if s.kind in in_ack else 0) > 1)
    late_errors = sum(1 for c in api.calls_to(RESPONSE_URL)
                      if response_key(c).startswith(f"{run.name}-{run.concurrency}-")
                      and ("went wrong" in str(c.params.get("text"))
                           or "failed on my side" in str(c.params.get("text"))))
    row = {
        "requests": len(run.sent), "rps": len(run.sent) / run.seconds,
        **{f"p{q}": percentile(acks, q / 100) if acks else 0.0 for q in (50, 95, 99)},
        "max": max(acks, default=0.0),
        "late": sum(1 for s in run.sent if s.seconds > LATE), "lost": lost, "twice": twice,
        "working": kinds["working"], "busy": kinds["busy"],
        "errors": kinds["error-answer"] + late_errors,
        "failed": sum(v for k, v in kinds.items() if k.startswith(("http-", "failed", "empty"))),
        "pool_wait_max": max(waits, default=0.0),
        "pool_wait_p95": percentile(waits, 0.95) if waits else 0.0,
        "server_p99": percentile(logged.acks, 0.99) if logged.acks else 0.0,
        "server_max": max(logged.acks, default=0.0),
    }
    print(f"  {run.name:<6} {run.concurrency:>4} {row['requests']:>6} {row['rps']:>7.1f} "
          f"{row['p50'] * 1000:>8.0f} {row['p95'] * 1000:>8.0f} {row['p99'] * 1000:>8.0f} "
          f"{row['max'] * 1000:>8.0f} {row['late']:>5} {row['lost']:>5} {row['twice']:>5} "
          f"{row['working']:>7} {row['busy']:>5} {row['errors']:>6} {row['failed']:>6} "
          f"{row['pool_wait_p95'] * 1000:>8.0f} {row['pool_wait_max'] * 1000:>8.0f} "
          f"{row['server_p99'] * 1000:>8.0f} {row['server_max'] * 1000:>8.0f}"
          f"{'  ' + run.extra if run.extra else ''}", flush=True)
    return row


def _floor(engine: Engine, runs: int) -> list[float]:
    """The bare query: summarize() for the same periods, on one open connection."""
    from bot.metrics import inquiries
    from bot.stores import store_for_channel

    store = store_for_channel(engine, CHANNEL, TEAM)
    assert store is not None
    out = []
    for i in range(runs):
        now = utcnow()
        period = parse_period(PERIODS[i % len(PERIODS)], local_today(now, store.tz))
        started = time.perf_counter()
        with read(engine) as conn:
            inquiries.summarize(conn, store, period.start, period.end, now=now,
                                name=period.name)
        out.append(time.perf_counter() - started)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--concurrency")
    parser.add_argument("--inquiries", type=int)
    parser.add_argument("--lock-seconds", type=float)
    args = parser.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    levels = [int(c) for c in (args.concurrency or ("10,50" if args.quick else "10,25,50"))
              .split(",")]
    count = args.inquiries or (5_000 if args.quick else 50_000)
    lock_seconds = args.lock_seconds or (3.0 if args.quick else 6.0)

    try:
        with _database() as url, tempfile.TemporaryDirectory() as tmp, MockSlackAPI() as api:
            return _bench(url, api, Path(tmp), seconds, levels, count, lock_seconds)
    except Exception as exc:
        if "connection" in str(exc).lower() and "refused" in str(exc).lower():
            print(f"skipped: PostgreSQL is not reachable ({type(exc).__name__})")
            return 0
        raise


def _bench(url: str, api: MockSlackAPI, tmp: Path, seconds: float, levels: list[int],
           count: int, lock_seconds: float) -> int:
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    store = add_store(engine, "load", "Asia/Shanghai", "en")
    bind_channel(engine, store, CHANNEL, team_id=TEAM, user_id="U1")
    _fill(engine, [store], count, 0, seed=12)
    print(f"one store, {count:,} inquiries loaded in {time.perf_counter() - started:.1f} s",
          flush=True)

    floor = _floor(engine, 40)
    with _processes(url, api, tmp) as port:
        for i in range(8):  # bolt's auth.test in each worker, first connections
            _send(port, api, f"warm-{i}", PERIODS[i % len(PERIODS)])
        log = tmp / "web.log"
        offset = log.stat().st_size
        print(f"gunicorn 2 workers x 4 threads + worker, {seconds:.0f} s per run; times in ms; "
              f"ack = the client's send to full response; wait = a command's wait for one of "
              f"the 8 command threads; srv = the ack's time after arrival, by the web process")
        print(f"  {'run':<6} {'conc':>4} {'reqs':>6} {'req/s':>7} {'ack p50':>8} {'p95':>8} "
              f"{'p99':>8} {'max':>8} {'>3s':>5} {'lost':>5} {'twice':>5} {'working':>7} "
              f"{'busy':>5} {'errors':>6} {'failed':>6} {'wait p95':>8} {'wait max':>8} "
              f"{'srv p99':>8} {'srv max':>8}", flush=True)
        rows = []

        def lock_during() -> None:
            time.sleep(min(1.0, seconds / 4))
            held = threading.Event()
            holder = threading.Thread(target=_hold_lock, args=(url, lock_seconds, held))
            holder.start()
            holder.join()

        for name, during in (("plain", None), ("lock", lock_during), ("kill", None)):
            for level in levels:
                run = Run(name, level, seconds)
                if name == "kill":
                    killed: list[int] = []

                    def kill_during(run: Run = run, killed: list[int] = killed) -> None:
                        for _ in range(2):  # a quarter and half-way into the run
                            time.sleep(seconds / 4)
                            killed.append(_terminate_others(url))
                        run.extra = f"killed {'+'.join(map(str, killed))} connections"

                    during = kill_during
                if name == "lock":
                    run.extra = f"table locked {lock_seconds:.0f} s"
                _load(port, api, run, during)
                _settle(run, api)
                logged = _logged(log, offset)
                offset += logged.size
                rows.append(_report(run, api, logged))

    floor_ms = sorted(f * 1000 for f in floor)
    print(f"  floor: the same query directly, one connection: p50 "
          f"{statistics.median(floor_ms):.1f} ms, p95 {percentile(floor_ms, 0.95):.1f} ms, "
          f"p99 {percentile(floor_ms, 0.99):.1f} ms ({1000 / statistics.median(floor_ms):.0f}"
          f" queries/s sequential)")
    late = sum(r["late"] for r in rows)
    lost = sum(r["lost"] for r in rows)
    twice = sum(r["twice"] for r in rows)
    print(f"verdict: acks over 3 s: {late} ({'OK' if late == 0 else 'MISSED'}, target 0); "
          f"answers lost: {lost} ({'OK' if lost == 0 else 'MISSED'}, target 0); "
          f"posted twice: {twice} ({'OK' if twice == 0 else 'MISSED'}, target 0)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
