"""One tick: everything due at `now`, once. `opsbot tick` and the scheduler call this.

Order, so that each step sees the previous one's result:
1. the drop folder (files saved just before 09:00 make it into the 09:00 checklist);
2. per store, in its timezone:
   a. the alert rules, when there is new data since the last evaluation (a newer drop) or a
      new local day - so a drop is judged within a minute of the data arriving, and every
      morning without new data; before the checklist, which shows active alerts. Inside the
      store's quiet hours the messages are held; the first tick after them delivers the
      state once (bot.alerts.incidents.flush);
   b. the daily checklist when due (bot/schedule.py): created and queued for every bound
      channel in one transaction;
   c. late posts: a channel bound after an alert fired (and before it was resolved), or
      after the day's checklist was created (while it is still within its catch-up window),
      gets that message now, once - reported in `late_posts`;
3. the outbox sender (without a Slack token, messages stay queued and are reported pending);
4. once a UTC day per process: delivery receipts older than bot.receipts.KEEP are pruned.

Exactly once: the checklists' unique key (store, kind, day), the outbox's unique dedupe_key,
the alerts' unique (store, rule, started_day) and the sender's compare-and-set claim make a
second worker (or a second tick) harmless. On PostgreSQL each store's work also runs under a
transaction-scoped advisory lock on the store, so two workers do not even compute it twice;
SQLite serialises writers anyway (BEGIN IMMEDIATE). A failing store is reported in `errors`
and does not stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from bot import outbox, receipts, workspaces
from bot.alerts import incidents as alerts
from bot.checklists import records
from bot.checklists.kind import ChecklistKind
from bot.checklists.registry import CHECKLISTS
from bot.config import Settings
from bot.periods import as_utc
from bot.schedule import checklist_due
from bot.storage import read, write
from bot.stores import Store, channels_of, list_stores
from jobs import alert_messages, checklist_messages
from jobs.delivery import Clients, Pacer, deliver, outbox_client
from jobs.dropfolder import DropFolder

log = logging.getLogger(__name__)

STORE_LOCK = 7_391  # advisory lock namespace for per-store worker steps (PostgreSQL)
# The UTC day each engine's receipts were last pruned in this process: a worker prunes once
# a day, a one-shot `opsbot tick` every run (one indexed DELETE, harmless to repeat).
_pruned_on: WeakKeyDictionary[Engine, date] = WeakKeyDictionary()


def _lock(conn: Connection, store: Store) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(STORE_LOCK, store.id)))


def post_checklists(engine: Engine, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Every checklist kind (bot/checklists/registry.py) the store wants and is due at `now`:
    created if not there yet, and queued (post_checklist)."""
    settings = store.all_settings
    return [posted for kind in CHECKLISTS.values() if kind.enabled(settings)
            if (posted := post_checklist(engine, store, now, kind)) is not None]


def post_checklist(engine: Engine, store: Store, now: datetime, kind: ChecklistKind
                   ) -> dict[str, Any] | None:
    """Create the store's `kind` checklist if it is due and not there yet, and queue it.

    While it is due (within the catch-up window) and already there, a channel bound since
    gets it too: that is returned with `"late": True` and only the channels it was queued
    for. A read-only check comes first: most ticks of the window find nothing to do."""
    due = checklist_due(store.tz, store.all_settings, now, kind.posts_on)
    if due is None:
        return None
    with read(engine) as conn:  # the cheap check, every tick of the window
        exists = records.find(conn, store, kind.name, due.day)
        if exists is not None and not checklist_messages.unposted(
                conn, exists, channels_of(conn, store)):
            return None
    done = {"store": store.name, "kind": kind.name, "day": due.day.isoformat()}
    with write(engine) as conn:
        _lock(conn, store)
        targets = channels_of(conn, store)
        if exists is not None:
            late = checklist_messages.post(conn, store, exists, now, targets)
            if not late:
                return None
            return {**done, "id": exists, "channels": late, "late": True}
        # Another worker may have made it since the check: create's unique key is the
        # guard (None), and the next tick posts it to any channel still missing it.
        checklist_id = records.create(conn, store, kind.name, now, due.day)
        if checklist_id is None:
            return None
        checklist_messages.post(conn, store, checklist_id, now, targets)
    return {**done, "id": checklist_id, "channels": targets, "catch_up": due.catch_up}


def post_late_alerts(engine: Engine, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Post the store's alerts that are not resolved to channels bound since they fired
    (or since they were evaluated: the one place late alert posts are queued)."""
    with read(engine) as conn:  # the cheap check, every tick
        if not alert_messages.unposted(conn, store, channels_of(conn, store), now):
            return []
    with write(engine) as conn:
        _lock(conn, store)
        queued = alert_messages.catch_up(conn, store, now, channels_of(conn, store))
    return [{"store": store.name, "kind": "alert", **q} for q in queued]


def evaluate_alerts(engine: Engine, store: Store, now: datetime, *, force: bool = False
                    ) -> list[dict[str, Any]]:
    """Evaluate the store's alerts if there is anything new to judge (or `force`). Posts to
    channels bound since an alert fired are post_late_alerts' (run_due calls it next)."""
    if not force:
        with read(engine) as conn:  # the cheap check, every tick: write only with work to do
            if not (alerts.needs_evaluation(conn, store, now)
                    or alerts.needs_waking(conn, store, now)
                    or alerts.needs_flush(conn, store, now)):
                return []
    with write(engine) as conn:
        _lock(conn, store)
        events = alerts.run(conn, store, now, force=force)
        alert_messages.queue(conn, store, events, now, channels_of(conn, store))
    return events


def prune_receipts(engine: Engine, now: datetime) -> int | None:
    """Prune old delivery receipts on the first call of each UTC day; how many went, or None
    when they were pruned already that day."""
    today = as_utc(now).date()
    if _pruned_on.get(engine) == today:
        return None
    pruned = receipts.prune(engine, now=as_utc(now))
    with write(engine) as conn:  # install links never followed (OAuth mode), once a day too
        workspaces.prune_states(conn, as_utc(now))
    _pruned_on[engine] = today
    return pruned


def _step(report: dict[str, Any], step: str, store: Store | None, run: Callable[..., Any],
          *args: Any) -> Any:
    """run(*args); a failure is logged and reported in `errors` (None is returned), and the
    tick goes on: one broken store or folder must not stop the others' work. A lost
    database stops the tick: nothing else could run (the caller says so in one line)."""
    try:
        return run(*args)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("%s failed%s", step, f" for store {store.name}" if store else "")
        report["errors"].append({**({"store": store.name} if store else {}), "step": step,
                                 "error": f"{type(exc).__name__}: {exc}"})
        return None


def run_due(
    engine: Engine,
    now: datetime,
    *,
    client: Clients | None = None,
    settings: Settings | None = None,
    folder: DropFolder | None = None,
    drops: bool = True,
    send: bool = True,
    pacer: Pacer | None = None,
) -> dict[str, Any]:
    """Run, once, everything due at `now` (aware, or naive UTC); returns what happened.

    `client` defaults to the one(s) built from `settings` (SLACK_BOT_TOKEN, or in OAuth mode each
    workspace's own bot token; OPSBOT_SLACK_API_URL);
    `folder` defaults to OPSBOT_DROP_DIR as a one-shot scan (`drops=False`: no scan);
    `send=False` leaves delivery to a separate sender (the scheduler runs it every few
    seconds).
    """
    settings = settings or Settings.from_env()
    now = as_utc(now)
    report: dict[str, Any] = {"now": now.isoformat(timespec="seconds") + "Z", "checklists": [],
                              "alerts": [], "alerts_evaluated": 0, "late_posts": [],
                              "drops": [], "errors": []}
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    if folder is None and settings.drop_dir and drops:
        folder = DropFolder(Path(settings.drop_dir))
    if folder is not None and drops:
        report["drops"] = _step(report, "drops", None, folder.scan, engine) or []
    seconds["drops"] = time.perf_counter() - started

    stores = list_stores(engine)
    if settings.oauth:
        # A workspace that uninstalled opsbot gets nothing more: its stores' alerts and
        # checklists are not made (they could not be posted), their data is kept, and an
        # install resumes them.
        with read(engine) as conn:
            teams = workspaces.installed(conn, settings.slack_client_id)
        report["uninstalled"] = sorted(s.name for s in stores if s.team_id
                                       and s.team_id not in teams)
        stores = [s for s in stores if s.name not in report["uninstalled"]]
    seconds["alerts"] = seconds["checklists"] = 0.0
    for store in stores:
        started = time.perf_counter()
        events = _step(report, "alerts", store, evaluate_alerts, engine, store, now)
        if any(e["event"] != "woke" for e in events or []):
            report["alerts_evaluated"] += 1
        report["alerts"] += [e for e in events or []
                             if e["event"] in ("fired", "worse", "reopened", "recovered",
                                               "woke")]
        report["late_posts"] += _step(report, "alerts", store, post_late_alerts, engine,
                                      store, now) or []
        seconds["alerts"] += time.perf_counter() - started
        started = time.perf_counter()
        for posted in _step(report, "checklist", store, post_checklists, engine, store,
                            now) or []:
            if posted.get("late"):
                report["late_posts"].append({
                    "store": posted["store"], "kind": "checklist", "checklist": posted["kind"],
                    "checklist_id": posted["id"], "day": posted["day"],
                    "channels": posted["channels"]})
            else:
                report["checklists"].append(posted)
        seconds["checklists"] += time.perf_counter() - started

    report["receipts_pruned"] = _step(report, "receipts", None, prune_receipts, engine, now)

    started = time.perf_counter()
    sent: dict[str, Any] = {"delivered": 0, "recovered": 0, "retrying": 0, "failed": 0,
                            "errors": []}
    client = client if client is not None else outbox_client(settings, engine)
    if not send:
        report["slack"] = "delivery left to the sender"
    elif client is None:
        report["slack"] = ("not configured (no SLACK_BOT_TOKEN nor SLACK_CLIENT_ID): messages "
                           "are queued in the outbox and will be sent by a worker that has a "
                           "token")
    else:
        sent = deliver(engine, client, now, pacer=pacer).to_json()
        report["slack"] = "sent"
    seconds["send"] = time.perf_counter() - started
    with read(engine) as conn:
        totals = outbox.counts(conn)
    report.update(delivered=sent["delivered"] + sent["recovered"], retrying=sent["retrying"],
                  failed=sent["failed"], pending=totals["pending"] + totals["sending"],
                  outbox=totals, send_errors=sent["errors"],
                  seconds={k: round(v, 3) for k, v in seconds.items()})
    return report
