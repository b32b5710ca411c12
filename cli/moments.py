"""`--now`: one reading of a pinned moment for every command."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from cli.main import UserError

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
END_OF_DAY = time(23, 59, 59)


def parse_now(text: str, tz: ZoneInfo, bare_date_at: time = END_OF_DAY) -> datetime:
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
