"""Data commands: ingest, store, drops, kinds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot import audit
from bot.config import Settings
from bot.ingest.drop import DropResult, ingest_file
from bot.ingest.kinds import KIND_BY_NAME, KINDS
from bot.ingest.readers import NO_HEADER
from bot.ingest.undo import Refused, undo_drop
from bot.models import drops, quarantine, stores
from bot.roles import admins_of, change_admins
from bot.storage import get_engine, read, write
from bot.stores import (
    ChannelTaken,
    add_store,
    bind_channel,
    channels_of,
    check_channel_id,
    configure_store,
    known_settings,
    list_stores,
    resolve_store,
    unbind_channel,
)
from cli.errors import UserError
from cli.main import add_json, emit

TIMEZONE_HELP = ("an IANA region name (Area/Location) such as Asia/Shanghai or "
                 "America/New_York, or UTC; not an abbreviation like EST")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ingest", help="ingest exported reports (files or folders)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--store", metavar="NAME")
    p.add_argument("--kind", choices=[k.name for k in KINDS],
                   help="the report kind, when the columns alone cannot tell")
    add_json(p)
    p.set_defaults(handler=cmd_ingest)

    store = subparsers.add_parser("store", help="add, list, configure and bind stores")
    sub = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = sub.add_parser("add", help="add a store")
    p.add_argument("name")
    p.add_argument("--timezone", default="Asia/Shanghai",
                   help=TIMEZONE_HELP + " (default: Asia/Shanghai)")
    p.add_argument("--language", default="en", choices=["en", "zh"])
    add_json(p)
    p.set_defaults(handler=cmd_store_add)
    p = sub.add_parser("list", help="list stores")
    add_json(p)
    p.set_defaults(handler=cmd_store_list)
    p = sub.add_parser("set", help="change a store's timezone, language or settings")
    p.add_argument("name")
    p.add_argument("--timezone", help=TIMEZONE_HELP)
    p.add_argument("--language", choices=["en", "zh"])
    p.add_argument("settings", nargs="*", metavar="KEY=VALUE",
                   help="settings: " + ", ".join(sorted(known_settings())))
    add_json(p)
    p.set_defaults(handler=cmd_store_set)
    p = sub.add_parser("bind", help="bind a Slack channel to a store")
    p.add_argument("name")
    p.add_argument("--channel", required=True, metavar="CHANNEL_ID",
                   help="the channel's ID, like C0123456789 (not its #name): in Slack, click "
                        "the channel's name and copy the Channel ID at the bottom")
    p.add_argument("--move", action="store_true",
                   help="move the channel from the store it answers for now")
    add_json(p)
    p.set_defaults(handler=cmd_store_bind)
    p = sub.add_parser("unbind", help="unbind a Slack channel from its store")
    p.add_argument("--channel", required=True, metavar="CHANNEL_ID",
                   help="the channel's ID, like C0123456789")
    add_json(p)
    p.set_defaults(handler=cmd_store_unbind)
    p = sub.add_parser(
        "admins", help="a store's admins (who may bind, unbind and configure it in Slack)",
        description="List a store's admins, or add or remove one (a Slack user ID like "
                    "U0123456789: in Slack, the person's profile → ⋮ → Copy member ID). "
                    "Workspace admins and owners are admins of every store of their "
                    "workspace without being listed here.")
    p.add_argument("name")
    p.add_argument("--add", metavar="USER_ID", action="append", default=[])
    p.add_argument("--remove", metavar="USER_ID", action="append", default=[])
    add_json(p)
    p.set_defaults(handler=cmd_store_admins)

    p = subparsers.add_parser(
        "drops", help="the drop history; `drops show ID` for one drop, `drops delete ID` to "
        "undo one",
        description="The drop history, newest first. `drops show ID`: one drop with its "
        "quarantined rows. `drops delete ID`: undo a drop: the facts it added are removed and "
        "those it changed get their earlier values back; refused (exit 1) while a later drop "
        "holds the same facts.")
    p.add_argument("action", nargs="?", choices=["show", "delete"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--store", metavar="NAME")
    p.add_argument("--limit", type=_limit, default=50, metavar="N",
                   help="how many drops to list (default 50; 0 shows all)")
    add_json(p)
    p.set_defaults(handler=cmd_drops)

    p = subparsers.add_parser("kinds", help="the report kinds and the columns each needs")
    add_json(p)
    p.set_defaults(handler=cmd_kinds)


# ---- ingest -------------------------------------------------------------------------------


def expand(paths: list[str]) -> list[Path]:
    """The files to ingest: each file named, and the files in each folder named (hidden ones
    left out). UserError, before anything is ingested, for a path that does not exist or a
    folder with no files in it."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and not p.name.startswith("."))
            if not found:
                raise UserError(f"no files found in {raw}")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"no such file or folder: {raw}")
    return files


def describe(result: DropResult) -> str:
    period = f" {result.period[0]}..{result.period[1]}" if result.period else ""
    if result.status == "duplicate":
        return f"= {result.file}: duplicate, {result.errors[0]}"
    if result.status == "rejected":
        return f"✗ {result.file}: rejected: {'; '.join(result.errors)}"
    line = (f"✓ {result.file}: {result.kind}{period} → store {result.store}: {result.rows} rows, "
            f"{result.inserted} new, {result.updated} updated, {result.unchanged} unchanged")
    if result.quarantined:
        line += f", {result.quarantined} quarantined (opsbot drops show {result.drop_id})"
    if len(result.sheets) > 1 or result.skipped_sheets:
        line += f"\n  sheets read: {', '.join(result.sheets)}"
        if result.skipped_sheets:
            line += "; not read: " + ", ".join(
                f"{sheet} ({'no header row' if why == NO_HEADER else 'other columns'})"
                for sheet, why in result.skipped_sheets)
    for note in result.errors:
        line += f"\n  note: {note}"
    return line


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    files = expand(args.paths)  # a missing path or an empty folder: exit 2, nothing done
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store)
    results = [ingest_file(engine, store, path, kind=args.kind) for path in files]
    emit(args, {"drops": [r.to_json() for r in results]},
         lambda: "\n".join(describe(r) for r in results))
    return 1 if any(r.status == "rejected" for r in results) else 0


# ---- stores -------------------------------------------------------------------------------


def _bound(engine: Any, store: Any) -> list[str]:
    with read(engine) as conn:
        return channels_of(conn, store)


def _store_json(engine: Any, store: Any) -> dict[str, Any]:
    return {"name": store.name, "timezone": store.timezone, "language": store.language,
            "channels": _bound(engine, store),
            "settings": store.all_settings}


def cmd_store_add(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = add_store(engine, args.name, args.timezone, args.language)
    emit(args, {"store": _store_json(engine, store)},
         f"added store {store.name} ({store.timezone}, {store.language})")
    return 0


def cmd_store_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    found = list_stores(engine)
    emit(args, {"stores": [_store_json(engine, s) for s in found]},
         lambda: "\n".join(f"{s.name}\t{s.timezone}\t{s.language}" for s in found)
         or "no stores yet: `opsbot store add NAME`")
    return 0


def cmd_store_set(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.name)
    changes = {}
    for pair in args.settings:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"expected KEY=VALUE, got {pair!r}")
        changes[key.strip()] = value  # configure_store parses and checks every value
    store = configure_store(engine, store, timezone=args.timezone, language=args.language,
                            settings=changes)
    emit(args, {"store": _store_json(engine, store)}, f"updated store {store.name}")
    return 0


def cmd_store_bind(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.name)
    channel = check_channel_id(args.channel)  # as pasted: surrounding spaces are dropped
    try:
        previous = bind_channel(engine, store, channel, move=args.move)
    except ChannelTaken as exc:  # a channel answers for one store: never moved silently
        raise UserError(f"{exc}: add --move to move it to store {store.name}") from None
    moved = f" (moved from store {previous})" if previous else ""
    emit(args, {"store": _store_json(engine, store), "moved_from": previous},
         f"channel {channel} now answers for store {store.name}{moved}")
    return 0


def cmd_store_unbind(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    channel = check_channel_id(args.channel)
    store = unbind_channel(engine, channel)
    if store is None:
        raise UserError(f"channel {channel} is not bound to a store")
    emit(args, {"store": _store_json(engine, store), "channel": channel},
         f"channel {channel} no longer answers for store {store.name}")
    return 0


def cmd_store_admins(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.name)
    if args.add or args.remove:
        change = change_admins(engine, store, add=args.add, remove=args.remove)
    else:
        with read(engine) as conn:
            change = {"admins": admins_of(conn, store), "added": [], "removed": []}

    def text() -> str:
        lines = [f"added {u}" for u in change["added"]]
        lines += [f"removed {u}" for u in change["removed"]]
        admins = ", ".join(change["admins"]) or "none of its own (workspace admins only)"
        return "\n".join([*lines, f"admins of store {store.name}: {admins}"])

    emit(args, {"store": store.name, **change}, text)
    return 0


# ---- drops --------------------------------------------------------------------------------


def drop_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "store": row.store, "file": row.file_name, "kind": row.kind,
        "status": row.status, "source": row.source,
        "period": ({"start": row.period_start.isoformat(), "end": row.period_end.isoformat()}
                   if row.period_start else None),
        "rows": row.rows, "inserted": row.inserted, "updated": row.updated,
        "unchanged": row.unchanged, "quarantined": row.quarantined, "errors": row.errors,
        "created_at": row.created_at.isoformat(timespec="seconds") + "Z",
        "deleted_at": (row.deleted_at.isoformat(timespec="seconds") + "Z"
                       if row.deleted_at else None),
    }


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count, 0 for all, got {text!r}")
    return value


def cmd_drops(args: argparse.Namespace, settings: Settings) -> int:
    engine = get_engine(settings.database_url)
    query = select(drops, stores.c.name.label("store")).join(stores)
    if args.action == "delete":
        return _delete(args, engine, query)
    if args.action == "show":
        if args.id is None:
            raise UserError("usage: opsbot drops show ID")
        with read(engine) as conn:
            row = conn.execute(query.where(drops.c.id == args.id)).first()
            if row is None:
                raise UserError(f"no drop with id {args.id}")
            bad = conn.execute(select(quarantine).where(quarantine.c.drop_id == args.id)
                               .order_by(quarantine.c.row_number)).all()
        data = {"drop": drop_json(row),
                "quarantine": [{"row": q.row_number, "reason": q.reason, "raw": q.raw}
                               for q in bad]}
        lines = [_drop_line(data["drop"])]
        lines += [f"  row {q['row']}: {q['reason']}" for q in data["quarantine"]]
        emit(args, data, "\n".join(lines))
        return 0
    if args.store:
        store = resolve_store(engine, args.store)
        query = query.where(drops.c.store_id == store.id)
    query = query.order_by(drops.c.id.desc())
    with read(engine) as conn:
        rows = conn.execute(query.limit(args.limit) if args.limit else query).all()
    listed = [drop_json(r) for r in rows]
    emit(args, {"drops": listed},
         lambda: "\n".join(_drop_line(d) for d in listed) or "no drops yet")
    return 0


def _delete(args: argparse.Namespace, engine: Any, query: Any) -> int:
    if args.id is None:
        raise UserError("usage: opsbot drops delete ID")
    store = resolve_store(engine, args.store) if args.store else None
    try:
        with write(engine) as conn:
            done = undo_drop(conn, args.id, store.id if store else None)
            owner = conn.scalar(select(drops.c.store_id).where(drops.c.id == args.id))
            audit.record(conn, owner, None, audit.DROP_DELETE, done.to_json())
    except Refused as exc:  # not a usage error: the drop stays as it is, exit 1
        if args.json:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        print(f"opsbot: {exc}", file=sys.stderr)
        return 1
    with read(engine) as conn:
        row = conn.execute(query.where(drops.c.id == args.id)).one()
    noun = KIND_BY_NAME[done.kind].noun if done.kind in KIND_BY_NAME else "a drop"
    line = f"deleted drop {done.drop_id} ({done.file}, {noun}): {done.counts}"
    if done.duplicates:
        line += f"; its later duplicates are deleted too ({done.duplicates})"
    emit(args, {"drop": drop_json(row), "deleted": done.to_json()}, line)
    return 0


def _drop_line(d: dict[str, Any]) -> str:
    period = f" {d['period']['start']}..{d['period']['end']}" if d["period"] else ""
    counts = (f"{d['rows']} rows, {d['inserted']} new, {d['updated']} updated, "
              f"{d['quarantined']} quarantined")
    tail = counts if d["status"] == "ingested" else "; ".join(d["errors"])
    if d["status"] == "deleted":
        tail = f"undone {d['deleted_at']}" + (f"; it had {counts}" if d["rows"] else "")
    return (f"#{d['id']} {d['created_at']} [{d['store']}] {d['status']:<9} "
            f"{d['kind'] or '?':<9} {d['file']}{period}: {tail}")


def cmd_kinds(args: argparse.Namespace, settings: Settings) -> int:
    data = {"kinds": [
        {"name": k.name, "title": k.title, "periodic": k.periodic,
         "key": [list(alt) for alt in k.keys],
         "fields": [{"name": f.name, "type": str(f.type), "required": f.required,
                     "aliases": list(f.aliases)} for f in k.fields]}
        for k in KINDS]}

    def text() -> str:
        out = []
        for k in KINDS:
            out.append(f"{k.name}: {k.title}" + (" (needs a report period)" if k.periodic else ""))
            for f in k.fields:
                mark = "*" if f.required else " "
                out.append(f"  {mark} {f.name:<22} {f.type!s:<8} {', '.join(f.aliases)}")
        return "\n".join(out)

    emit(args, data, text)
    return 0
