"""`opsbot worker`: the one clock process (never inside the web processes).

One APScheduler 3.x BlockingScheduler with four jobs, each coalesced (a backlog of missed
runs runs once), max_instances=1 (a slow run is never overlapped by the next) and a
misfire grace:
* tick, every minute: alerts and checklists due at that moment (jobs/tick.run_due without
  sending); catch-up after downtime is the schedule's grace period, not APScheduler's;
* send, every 5 s: the outbox sender, paced (one shared Pacer);
* drops, every 10 s: the drop folder, with state kept between scans (a file is taken when
  its size and mtime are the same in two scans);
* uploads, every 30 s: Slack uploads whose processing died, taken up again once their lease
  ran out (jobs/upload_sweep.py).

Two workers started by mistake: the SQL unique keys already make double posting impossible.
On top, the worker takes a leader lock and a second one stands by until the first stops:
PostgreSQL: a session advisory lock held on a dedicated connection (released by the server if
the process dies); SQLite: an exclusive flock on `<database>.worker.lock` (released by the OS
if the process dies). Other cases (in-memory SQLite): no lock.

The lock is checked before every job run (Leadership): a worker whose lock connection was
killed (a database restart, pg_terminate_backend) no longer holds it, and another worker may
have taken over. It runs nothing until it holds the lock again (it tries at each run), and
says so in one line when it loses it and one when it is back.

SIGTERM/SIGINT: no new runs start, a running job finishes its current message (the sender
checks a stop flag between messages), the lock is released, exit code 0.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.config import BadSetting, Settings
from bot.periods import utcnow
from bot.storage import get_engine, problem, shown_url
from jobs.delivery import Pacer, deliver, outbox_client
from jobs.dropfolder import DropFolder
from jobs.tick import run_due
from jobs.upload_sweep import sweep as sweep_uploads

log = logging.getLogger(__name__)

WORKER_LOCK = 7_392_001  # PostgreSQL advisory lock id of the worker leader
STANDBY_POLL = 15.0  # seconds between a standby worker's attempts to become leader
UPLOAD_SWEEP = 30  # seconds between sweeps for uploads whose process died (leases run 10 min)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class LeaderLock:
    """At most one active worker per database (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._fd: int | None = None
        url = make_url(str(engine.url))
        database = url.database if url.get_backend_name() == "sqlite" else None
        self.path = (Path(f"{database}.worker.lock")
                     if database and database != ":memory:" else None)

    @property
    def where(self) -> str:
        if self.engine.dialect.name == "postgresql":
            return f"PostgreSQL advisory lock {WORKER_LOCK}"
        return f"lock file {self.path}" if self.path else "no lock (in-memory database)"

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = bool(conn.scalar(select(text(f"pg_try_advisory_lock({WORKER_LOCK})"))))
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        if self.path is None:
            return True
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        """Whether this worker still holds the lock. PostgreSQL: asked on the lock's own
        connection (a killed connection took the lock with it); a flock or no lock at all
        cannot be lost while the process lives."""
        if self.engine.dialect.name != "postgresql":
            return self._fd is not None or self.path is None
        if self._conn is None:
            return False
        try:
            held = bool(self._conn.scalar(text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND "
                "pid = pg_backend_pid() AND granted AND "
                f"((classid::bigint << 32) | objid::bigint) = {WORKER_LOCK})")))
            self._conn.commit()
        except (OperationalError, InterfaceError):
            held = False
        if not held:
            self._forget()
        return held

    def _forget(self) -> None:
        """Drop a lock connection that no longer holds the lock (it may be dead)."""
        if self._conn is not None:
            self._conn.invalidate()  # never back to the pool: its session state is gone
            self._conn.close()
            self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text(f"SELECT pg_advisory_unlock({WORKER_LOCK})"))
                self._conn.close()
                self._conn = None
            except (OperationalError, InterfaceError):
                self._forget()  # the connection died, and the lock with it
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class Leadership:
    """Checks the leader lock before each job run (see the module doc). Jobs run in
    APScheduler's threads, so the check is serialised."""

    def __init__(self, lock: LeaderLock) -> None:
        self.lock = lock
        self.leading = True
        self._mutex = threading.Lock()

    def check(self) -> bool:
        """True when this worker holds the lock (held still, or taken again just now)."""
        with self._mutex:
            if self.lock.held():
                return True
            try:
                regained = self.lock.acquire()
            except (OperationalError, InterfaceError):
                regained = False  # the database is away: still not leading
            if regained:
                log.warning("opsbot worker: holds the %s again; running jobs", self.lock.where)
            elif self.leading:
                log.warning("opsbot worker: lost the %s (its database connection was closed); "
                            "no jobs run until it holds it again", self.lock.where)
            self.leading = regained
            return regained


def _leader_guard(job: Callable[[], None], leadership: Leadership | None
                  ) -> Callable[[], None]:
    """The job, run only while this worker holds the leader lock."""
    if leadership is None:
        return job

    @functools.wraps(job)
    def run() -> None:
        if leadership.check():
            job()
    return run


def _database_guard(job: Callable[[], None], url: str) -> Callable[[], None]:
    """The job, with a database that went away (a restart, a network cut) logged in one
    line instead of a traceback on every run; the next run tries again."""
    @functools.wraps(job)
    def run() -> None:
        try:
            job()
        except (OperationalError, InterfaceError) as exc:
            log.error("%s: OPSBOT_DATABASE_URL=%s: %s (trying again at the next run)",
                      job.__name__, shown_url(url), problem(exc))
    return run


def build_scheduler(engine: Engine, settings: Settings, stop: threading.Event,
                    leadership: Leadership | None = None
                    ) -> tuple[BlockingScheduler, dict[str, Any]]:
    """The scheduler with its jobs, and a description of them for the start-up line; each
    job runs only while `leadership` holds the leader lock (when given)."""
    scheduler = BlockingScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)

    def guard(job: Callable[[], None]) -> Callable[[], None]:
        return _database_guard(_leader_guard(job, leadership), settings.database_url)

    client = outbox_client(settings, engine)
    pacer = Pacer()
    jobs: dict[str, Any] = {}

    def tick() -> None:
        report = run_due(engine, utcnow(), client=client, settings=settings, drops=False,
                         send=False)
        for posted in report["checklists"]:
            log.info("checklist %s for %s %s queued for %s", posted["id"], posted["store"],
                     posted["day"], ", ".join(posted["channels"]) or "no channel")
        for event in report["alerts"]:
            log.info("alert %s: %s %s", event["store"], event["event"], event["day"])
        if report["receipts_pruned"]:
            log.info("pruned %d old delivery receipts", report["receipts_pruned"])
        for error in report["errors"]:
            log.error("tick: %s", error)

    now = utcnow().replace(tzinfo=UTC)  # APScheduler wants an aware start
    scheduler.add_job(guard(tick), "interval", minutes=1, id="tick", next_run_time=now)
    jobs["tick"] = "every 60 s"
    if client is not None:
        def send() -> None:
            result = deliver(engine, client, pacer=pacer, stop=stop)
            if result.delivered or result.recovered or result.errors:
                log.info("sent %d (recovered %d), %d to retry, %d failed", result.delivered,
                         result.recovered, result.retrying, result.failed)

        scheduler.add_job(guard(send), "interval", seconds=5, id="send", next_run_time=now)
        jobs["send"] = "every 5 s" + (", each workspace's own token" if settings.oauth else "")

        def uploads() -> None:
            for taken in sweep_uploads(engine, settings, client):
                log.info("upload %s taken up again (attempt %d): %s", taken["file"],
                         taken["attempt"], taken.get("status") or taken.get("error"))

        scheduler.add_job(guard(uploads), "interval", seconds=UPLOAD_SWEEP, id="uploads",
                          next_run_time=now)
        jobs["uploads"] = f"unfinished uploads every {UPLOAD_SWEEP} s"
    else:
        jobs["send"] = "off (no SLACK_BOT_TOKEN nor SLACK_CLIENT_ID: messages stay queued)"
    if settings.drop_dir:
        folder = DropFolder(Path(settings.drop_dir))
        waiting: set[str] = set()  # said once per file, not every 10 s

        def drops() -> None:
            still: set[str] = set()
            for result in folder.scan(engine):
                if result["status"] == "waiting":
                    still.add(result["file"])
                    if result["file"] not in waiting:
                        log.info("drop folder: %s waiting: %s", result["file"], result["why"])
                    continue
                log.info("drop folder: %s -> %s (%s)", result["file"], result["status"],
                         result["moved_to"])
            waiting.clear()
            waiting.update(still)

        scheduler.add_job(guard(drops), "interval", seconds=10, id="drops", next_run_time=now)
        jobs["drops"] = f"every 10 s in {settings.drop_dir}"
    else:
        jobs["drops"] = "off (no OPSBOT_DROP_DIR)"
    return scheduler, jobs


def quiet_apscheduler() -> None:
    """APScheduler logs every run of every job at INFO ("Running job ...", "... executed
    successfully": hundreds of lines an hour) and would bury the worker's own lines (a
    checklist queued, an alert, a drop); its warnings (a missed run) and errors still show."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_worker(settings: Settings, *, announce: Any = None) -> int:
    """Run until SIGTERM/SIGINT; a second worker on the same database stands by.
    BadSetting for a drop folder that is not there (a typo would otherwise watch nothing,
    silently), DatabaseError for a database it cannot use: both before anything runs."""
    announce = announce or (lambda line: print(line, flush=True))
    if settings.drop_dir and not Path(settings.drop_dir).is_dir():
        why = "not a folder" if Path(settings.drop_dir).exists() else "no such folder"
        raise BadSetting("OPSBOT_DROP_DIR", settings.drop_dir,
                         f"{why}: create it, or unset OPSBOT_DROP_DIR to watch no folder")
    quiet_apscheduler()
    engine = get_engine(settings.database_url)
    lock = LeaderLock(engine)
    stop = threading.Event()
    scheduler: BlockingScheduler | None = None

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not lock.acquire():
            announce(f"opsbot worker: another worker holds the {lock.where}; standing by")
            if stop.wait(STANDBY_POLL):
                return 0
        scheduler, jobs = build_scheduler(engine, settings, stop, Leadership(lock))
        announce("opsbot worker: running (" + lock.where + "); "
                 + "; ".join(f"{name} {how}" for name, how in jobs.items()))
        if not stop.is_set():
            scheduler.start()
        announce("opsbot worker: stopped")
        return 0
    finally:
        lock.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
