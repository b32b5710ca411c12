"""`opsbot demo`: generate a realistic store's exports and ingest them like any drop."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.alerts import incidents as alerts
from bot.checklists.records import public as public_checklist
from bot.checklists.registry import CHECKLISTS
from bot.config import Settings
from bot.ingest.drop import DropResult, ingest_file
from bot.periods import local_today, utcnow
from bot.schedule import parse_time, scheduled_at
from bot.storage import get_engine, read, shown_url, write
from bot.stores import Store, configure_store, ensure_store
from cli.data import describe
from cli.errors import UserError
from cli.main import add_json, emit
from cli.terminal import message_text
from demo.generator import KEY_KEYWORDS, MIN_DAYS, default_end, demo_files, generate
from jobs.charts import chart
from templates import render


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-03, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="generate a realistic demo store's exports and ingest them")
    p.add_argument("--dir", default="demo-data", metavar="DIR",
                   help="where to write the files (default: ./demo-data)")
    p.add_argument("--store", default="demo", metavar="NAME", help="store name (default: demo)")
    p.add_argument("--end", type=_day, metavar="DATE",
                   help="the last day of data (default: yesterday in the store's timezone)")
    p.add_argument("--days", type=int, default=120, metavar="N",
                   help=f"days of history, at least {MIN_DAYS} (default: 120)")
    p.add_argument("--seed", type=int, default=7, metavar="N")
    add_json(p)
    p.set_defaults(handler=cmd_demo)


def demo_store(engine: Engine, name: str) -> Store:
    """The demo store, with the demo's key keywords unless someone already chose some."""
    store = ensure_store(engine, name)
    if not store.setting("key_keywords"):
        store = configure_store(engine, store, settings={"key_keywords": list(KEY_KEYWORDS)})
    return store


def ingest_demo(engine: Engine, store: Store, folder: Path) -> list[DropResult]:
    """Ingest the demo files in `folder`, in order, through the same path as any drop."""
    return [ingest_file(engine, store, path, source="demo") for path in demo_files(folder)]


def summary(results: list[DropResult]) -> str:
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "duplicate",
                                                               "rejected")}
    return (f"{len(results)} files: {counts['ingested']} ingested, {counts['duplicate']} "
            f"duplicate, {counts['rejected']} rejected; {sum(r.rows for r in results):,} rows, "
            f"{sum(r.inserted for r in results):,} new, {sum(r.updated for r in results):,} "
            f"updated, {sum(r.quarantined for r in results):,} quarantined")


def morning(engine: Engine, store: Store) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the worker does at the store's checklist time today: judge yesterday's inquiries
    (recording any alert, as the worker would) and build the daily checklist."""
    today = local_today(utcnow(), store.tz)
    now = scheduled_at(today, parse_time(store.setting("checklist_time")), store.tz)
    with write(engine) as conn:
        alerts.run(conn, store, now, force=True)
        checklist = CHECKLISTS["daily"].build(conn, store, now, None)
        found = alerts.unresolved(conn, store, now)
    return checklist, found


def reviews(engine: Engine, store: Store, end: date, folder: Path
            ) -> list[tuple[dict[str, Any], Path]]:
    """The weekly review of the last whole week of data and the monthly review of the last
    whole month, as the worker builds them on the Monday and the 1st after, with their
    charts written into `folder` (the chart file's own name)."""
    week_end = end - timedelta(days=(end.weekday() + 1) % 7)  # the last Sunday up to `end`
    month_end = end if (end + timedelta(days=1)).day == 1 else end.replace(day=1) - timedelta(1)
    out = []
    for kind, posted in (("weekly", week_end + timedelta(days=1)),
                         ("monthly", month_end + timedelta(days=1))):
        now = scheduled_at(posted, parse_time(store.setting("checklist_time")), store.tz)
        with read(engine) as conn:
            review = CHECKLISTS[kind].build(conn, store, now, posted)
            picture = chart(conn, store, kind, date.fromisoformat(review["period"]["end"]))
        path = folder / picture.filename
        path.write_bytes(picture.png)
        out.append((review, path))
    return out


def _morning_text(checklist: dict[str, Any], found: list[dict[str, Any]], lang: str,
                  done_reviews: list[tuple[dict[str, Any], Path]]) -> str:
    parts = ["", "The morning checklist, as the worker posts it at "
             f"{checklist['generated_at']} UTC:", "",
             message_text(render("checklist_daily.json.j2", checklist=checklist, lang=lang))]
    parts += ["", "Alerts:" if found else "Alerts: none"]
    parts += [message_text(render("alert.json.j2", alert=a, lang=lang)) for a in found]
    for review, path in done_reviews:
        parts += ["", f"The {review['kind']} review, as the worker posts it on {review['day']} "
                  f"(its chart: {path}):", "",
                  message_text(render("checklist_review.json.j2", checklist=review, lang=lang))]
    return "\n".join(parts)


def _program() -> str:
    """This command as it was run (`.venv/bin/opsbot` from `make demo`), else `opsbot`."""
    return sys.argv[0] if Path(sys.argv[0]).name == "opsbot" else "opsbot"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < MIN_DAYS:
        raise UserError(f"--days must be at least {MIN_DAYS}, got {args.days}")
    engine = get_engine(settings.database_url)
    store = demo_store(engine, args.store)
    folder = Path(args.dir)
    end = args.end or default_end(store.timezone)
    try:
        generate(folder, end=end, days=args.days, seed=args.seed, timezone=store.timezone)
    except OSError as exc:
        raise UserError(f"cannot write the demo files into {folder}: {exc}") from None
    results = ingest_demo(engine, store, folder)
    checklist, found = morning(engine, store)
    try:
        done_reviews = reviews(engine, store, end, folder)
    except OSError as exc:
        raise UserError(f"cannot write the review charts into {folder}: {exc}") from None
    emit(args, {"store": store.name, "dir": str(folder), "drops": [r.to_json() for r in results],
                "checklist": public_checklist(checklist),
                "alerts": [alerts.public(a) for a in found],
                "reviews": [{**public_checklist(r), "chart": str(p)} for r, p in done_reviews]},
         lambda: "\n".join([
             f"demo store {store.name}: {args.days} days ending {end}, files in {folder}/",
             *(describe(r) for r in results), summary(results),
             _morning_text(checklist, found, store.language, done_reviews), "",
             f"Ask it as Slack would: {_program()} --database "
             f"{shown_url(settings.database_url)} "
             f'ask --store {store.name} "/inquiries yesterday" (or /keywords, /customers)']))
    return 1 if any(r.status == "rejected" for r in results) else 0
