"""`opsbot customers contacted|snooze|not-lead|restore CUSTOMER`: the /customers buttons (and
`/customers restore NAME`) from a terminal.

CUSTOMER is a key as `opsbot ask "/customers"` shows it, or a name or company. The mark is
recorded as the CLI's user (`cli:NAME`) at `--now` (default: now), once per moment: running
the same line again with the same `--now` records nothing new.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime

from bot.config import Settings
from bot.metrics import customer_index, customer_marks
from bot.periods import local_time, utcnow
from bot.storage import get_engine, write
from bot.stores import resolve_store
from cli.errors import UserError
from cli.main import add_json, emit
from cli.moments import now_for, now_help
from cli.terminal import message_text
from handlers.commands import UsageError
from handlers.commands.customers import one_customer
from templates import render
from templates.i18n import say

VERBS = {"contacted": "contacted", "snooze": "snooze", "not-lead": "not_lead",
         "restore": "restore"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "customers", help="mark a stalled customer: contacted, snooze, not-lead, restore",
        description="What the /customers buttons do, from a terminal.")
    p.add_argument("verb", choices=sorted(VERBS), help="what to record")
    p.add_argument("customer", nargs="+", metavar="CUSTOMER",
                   help="the customer's key (opsbot ask \"/customers\" shows it), name or "
                        "company")
    p.add_argument("--store", metavar="NAME")
    p.add_argument("--days", type=int, metavar="N",
                   help=f"snooze: how long (default {customer_marks.SNOOZE_DAYS} days)")
    p.add_argument("--reason", metavar="TEXT",
                   help="snooze: why (" + ", ".join(customer_marks.REASONS) + " or any text)")
    p.add_argument("--now", metavar="ISO", help=now_help("the moment to record"))
    add_json(p)
    p.set_defaults(handler=cmd_customers)


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (a container): still say where it came from
        return "cli"


def cmd_customers(args: argparse.Namespace, settings: Settings) -> int:
    mark = VERBS[args.verb]
    if mark != "snooze" and (args.days is not None or args.reason is not None):
        raise UserError("--days and --reason go with snooze")
    engine = get_engine(settings.database_url)
    store = resolve_store(engine, args.store)
    now = now_for(args.now, [store]) if args.now else utcnow()
    customer_index.ensure_fresh(engine, store)
    try:
        with write(engine) as conn:
            customer = one_customer(conn, store, " ".join(args.customer))
            was = customer_marks.hidden(conn, store, customer["key"], now)
            recorded = None
            if mark != "restore" or was["not_lead"] or was["snoozed_until"]:
                recorded = customer_marks.record(
                    conn, store, customer["key"], mark, _user(), now,
                    origin=f"cli:{now.isoformat()}", days=args.days, reason=args.reason)
    except UsageError as exc:
        raise UserError(say(exc.text, store.language)) from None
    except customer_marks.MarkError as exc:
        raise UserError(str(exc)) from None
    until = None
    if recorded and recorded["until"]:
        until = local_time(datetime.fromisoformat(recorded["until"]), store.tz).date().isoformat()
    message = render("customer_mark.json.j2", customer=customer, mark=recorded, until=until,
                     lang=store.language)
    emit(args, {"store": store.name, "customer": customer, "was": was, "mark": recorded},
         lambda: message_text(message))
    return 0
