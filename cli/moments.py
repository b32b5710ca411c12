"""`--now`: one reading of a pinned moment for every command (`ask`, `checklist daily`,
`alerts`, `tick`).

* With an offset or `Z` (`2026-11-13T09:00+08:00`, `2026-11-13T01:00Z`): that moment.
* Without one (`2026-11-13T09:30`): the store's local time when the command is for one store
  (the one named with `--store`, the channel's with `--channel`, or the only store), else UTC.
* A bare date (`2026-11-13`): the morning of that day, as the daily checklist sees it: the
  store's `checklist_time` (09:00 by default) in its timezone. So `opsbot tick --now
  2026-11-13` posts that day's checklist, and `alerts` judges the day before. With several
  stores it is their common checklist moment; when their clocks differ there is no single
  "morning", and the command asks for a moment with an offset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.schedule import DEFAULT_TIME, parse_time
from bot.stores import Store
from cli.errors import UserError

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHECKLIST_TIME = parse_time(DEFAULT_TIME)
NOW_RULES = ("with an offset or Z it is that moment; without one it is the store's local time "
             "when the command is for one store, else UTC; a bare date means the store's "
             "checklist time that day (09:00 local by default)")


def now_help(what: str, example: str = "2026-11-13T09:00+08:00") -> str:
    """The --help text of a command's --now: `what` the moment is for, then the rules."""
    return f"{what}, e.g. {example} or 2026-11-13: {NOW_RULES}"


def parse_now(text: str, tz: ZoneInfo, bare_date_at: time = CHECKLIST_TIME) -> datetime:
    """`--now` as naive UTC. A datetime with an offset (or Z) is taken as given; one without
    is local to `tz`; a bare date means `bare_date_at` local time that day."""
    raw = text.strip()
    try:
        if _BARE_DATE.match(raw):
            moment = datetime.combine(date.fromisoformat(raw), bare_date_at)
        else:
            moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise UserError(f"--now {text!r} is not an ISO date or date-time "
                        "(e.g. 2026-11-20, 2026-11-20T09:30 or 2026-11-20T09:30+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _morning(text: str, store: Store) -> datetime:
    return parse_now(text, store.tz, parse_time(store.setting("checklist_time")))


def now_for(text: str, stores: Sequence[Store], *, choose: str = "") -> datetime:
    """`--now` for a command about `stores` (one store, or all of them), by the rules of the
    module doc. `choose` says how the user can name one store (e.g. "or pick one with
    --store") for the error when several stores read a bare date differently."""
    if len(stores) == 1:
        return _morning(text, stores[0])
    utc = ZoneInfo("UTC")
    if not _BARE_DATE.match(text.strip()) or not stores:
        return parse_now(text, utc)
    mornings = {_morning(text, s) for s in stores}
    if len(mornings) == 1:
        return mornings.pop()
    clocks = ", ".join(f"{s.name} {s.setting('checklist_time')} {s.timezone}" for s in stores)
    first = stores[0]
    example = (_morning(text, first).replace(tzinfo=UTC).astimezone(first.tz)
               .isoformat(timespec="minutes"))
    raise UserError(f"--now {text.strip()} is a date, but the stores' mornings differ "
                    f"({clocks}): give a moment with an offset, e.g. {example}"
                    + (f", {choose}" if choose else ""))
