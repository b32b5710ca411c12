"""`/customers [zombie|hesitant|lost] [owner:NAME] [country:XX]`: the stalled customers worth
a message today, ranked, grouped by owner, with buttons (docs/customers.md);
`/customers restore NAME`: a customer marked not a lead (or snoozed) back on the lists.

In a channel the list is posted by the bot through the outbox (jobs/customer_messages.py
says why), and the Slack listener delivers it right after the ack; in a terminal it is
printed, with each customer's key for `opsbot customers …` (and e-mail in its --json
data)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from bot.metrics import customer_index, customer_marks
from bot.metrics.customers import Query
from bot.storage import read, write
from bot.stores import Store
from handlers.commands.call import Call, Command, CommandResult, UsageError, read_words, words
from jobs import customer_messages
from templates.i18n import N_, Text

CLASS_WORDS = {
    "zombie": "zombie", "zombies": "zombie", "僵尸": "zombie", "僵尸客户": "zombie",
    "hesitant": "hesitant", "犹豫": "hesitant", "犹豫客户": "hesitant",
    "lost": "lost", "流失": "lost", "流失客户": "lost",
}
ALL_WORDS = ("all", "customers", "全部", "所有", "客户")  # the default: every class
FILTER_KEYS = {"owner": "owner", "业务员": "owner", "负责人": "owner",
               "country": "country", "国家": "country", "地区": "country",
               "国家/地区": "country"}
EXAMPLES = {"owner": "owner:Lily", "country": "country:US"}
RESTORE_WORDS = ("restore", "恢复")


def parse(text: str) -> Query:
    """The query the words ask for; UsageError for words that cannot be answered."""
    found = read_words(words(text), modes=CLASS_WORDS, filters=FILTER_KEYS, examples=EXAMPLES,
                       clash=Text("choose one class: zombie, hesitant or lost"),
                       unknown_filter=lambda key: Text(
                           "unknown filter `%(key)s:`: use owner:NAME or country:XX", key=key))
    for word in found.rest:
        if word.lower() not in ALL_WORDS:
            raise UsageError(Text("unknown word `%(word)s`: name a class (zombie, hesitant, "
                                  "lost), owner:NAME or country:XX", word=word))
    return Query(cls=found.mode, **found.filters)


def run(call: Call, text: str) -> CommandResult:
    said = words(text)
    if said and said[0].lower() in RESTORE_WORDS:
        return _restore(call, " ".join(said[1:]).strip())
    query = parse(text)
    store = call.store
    if store is None:
        return call.unbound()
    customer_index.ensure_fresh(call.engine, store)
    posts: list[int] = []
    if call.channel_id:
        with write(call.engine) as conn:
            data, message = customer_messages.draw(conn, store, query, call.now,
                                                   channel=call.channel_id)
            posts.append(customer_messages.post(conn, store, call.channel_id, query, message,
                                                call.now))
    else:
        with read(call.engine) as conn:
            data, message = customer_messages.draw(conn, store, query, call.now, channel=None)
    return CommandResult(call.command, call.text, True, data, message, False, posts)


def _restore(call: Call, name: str) -> CommandResult:
    if not name:
        raise UsageError(Text("name the customer: `/customers restore NAME`"))
    store = call.store
    if store is None:
        return call.unbound()
    customer_index.ensure_fresh(call.engine, store)
    with write(call.engine) as conn:
        customer = one_customer(conn, store, name)
        was = customer_marks.hidden(conn, store, customer["key"], call.now)
        mark = None
        if was["not_lead"] or was["snoozed_until"]:
            mark = customer_marks.record(conn, store, customer["key"], "restore",
                                        call.user_id or "unknown", call.now,
                                        origin=f"restore:{call.now.isoformat()}")
    data = {"store": store.name, "customer": customer, "was": was, "mark": mark}
    return call.result("customer_mark.json.j2", data, ephemeral=mark is None,
                       customer=customer, mark=mark, until=None)


def one_customer(conn: Connection, store: Store, name: str) -> dict[str, Any]:
    """The one customer `name` (a key, a name or a company) means; UsageError otherwise."""
    found = customer_marks.find(conn, store, name)
    if not found:
        raise UsageError(Text("no customer named %(name)s", name=name))
    if len(found) > 1:
        which = ", ".join(
            f"{c['name'] or '?'} ({', '.join(filter(None, (c['company'], c['country'])))}"
            f"{', ' if c['company'] or c['country'] else ''}{c['key']})"
            for c in found[:customer_marks.MAX_MATCHES])
        raise UsageError(Text("%(name)s fits several customers: %(which)s; name one by its key",
                              name=name, which=which))
    return found[0]


COMMAND = Command(
    name="/customers",
    run=run,
    summary=N_("Stalled customers to follow up: zombie, hesitant, lost"),
    usage=(
        ("/customers [zombie|hesitant|lost] [owner:NAME] [country:XX]",
         N_("the ten buyers worth a message today, by owner, with buttons: Contacted, "
            "Snooze, Not a lead")),
        ("/customers restore NAME",
         N_("put a customer marked not a lead (or snoozed) back on the lists")),
    ),
    usage_hint="[zombie|hesitant|lost] [owner:NAME] [country:US] | restore NAME",
    examples=("/customers", "/customers zombie owner:Lily", "/customers 僵尸 country:US"),
)
