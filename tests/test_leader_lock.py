"""The worker's leader lock is checked before every job run: a worker that lost it (its lock
connection was killed) runs nothing, says so once, and takes up work when it holds it again."""

from __future__ import annotations

import logging
import random
import time

import pytest
from sqlalchemy import create_engine, text

from bot.storage import normalize_url
from jobs import scheduler
from jobs.scheduler import LeaderLock, Leadership, _leader_guard
from tests.conftest import PG_URL


class FakeLock:
    """A lock whose holding the test decides: `held` now, `free` to take again."""

    where = "test lock"

    def __init__(self) -> None:
        self.holding = True
        self.free = False

    def held(self) -> bool:
        return self.holding

    def acquire(self) -> bool:
        self.holding = self.free
        return self.holding


def test_a_lost_lock_stops_the_jobs_until_it_is_held_again(
        caplog: pytest.LogCaptureFixture) -> None:
    lock = FakeLock()
    runs: list[int] = []
    job = _leader_guard(lambda: runs.append(1), Leadership(lock))  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="jobs.scheduler")

    job()
    assert runs == [1] and not caplog.records

    lock.holding = False  # killed; another worker holds it now
    for _ in range(3):
        job()
    assert runs == [1]
    lost = [r for r in caplog.records if "lost the test lock" in r.getMessage()]
    assert len(lost) == 1 and lost[0].exc_info is None  # one line, no traceback

    lock.free = True  # the other worker stopped
    job()
    job()
    assert runs == [1, 1, 1]
    assert [r.getMessage() for r in caplog.records][1:] == [
        "opsbot worker: holds the test lock again; running jobs"]


def test_a_database_away_while_taking_it_back_is_not_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    lock = FakeLock()
    lock.holding = False

    def refuse() -> bool:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    lock.acquire = refuse  # type: ignore[method-assign]
    runs: list[int] = []
    job = _leader_guard(lambda: runs.append(1), Leadership(lock))  # type: ignore[arg-type]
    job()
    job()
    assert runs == [] and all(r.exc_info is None for r in caplog.records)


@pytest.mark.skipif(not PG_URL, reason="the leader lock test needs OPSBOT_TEST_DATABASE_URL "
                                       "(a PostgreSQL server)")
def test_a_killed_lock_connection_on_postgresql(monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    assert PG_URL
    # A lock id of this test's own: other test processes share the server.
    monkeypatch.setattr(scheduler, "WORKER_LOCK", random.randrange(1 << 40, 1 << 50))
    engine = create_engine(normalize_url(PG_URL))
    other_engine = create_engine(normalize_url(PG_URL))
    first, second = LeaderLock(engine), LeaderLock(other_engine)
    runs: list[str] = []
    leadership = Leadership(first)
    job = _leader_guard(lambda: runs.append("first"), leadership)
    caplog.set_level(logging.WARNING, logger="jobs.scheduler")
    try:
        assert first.acquire() and not second.acquire()
        job()
        assert runs == ["first"] and first.held()

        assert first._conn is not None
        pid = first._conn.scalar(text("SELECT pg_backend_pid()"))
        first._conn.commit()
        with other_engine.begin() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # The lock goes with the connection, once its backend has exited (the terminate only
        # signals it): the standby leads.
        deadline = time.monotonic() + 10
        while not second.acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.held()

        job()
        job()
        assert runs == ["first"]  # the old leader schedules nothing
        lost = [r for r in caplog.records if "lost the PostgreSQL advisory lock" in r.getMessage()]
        assert len(lost) == 1 and lost[0].exc_info is None

        second.release()
        job()
        assert runs == ["first", "first"] and first.held()
    finally:
        first.release()
        second.release()
        engine.dispose()
        other_engine.dispose()
