"""When a request reached this process: Slack's 3 s ack window counts from there.

The edge that first sees a request stamps it: the gunicorn worker when it accepts the
connection (handlers/gunicorn_worker.py, before the request waits for a free thread), else
the WSGI app when it is called, else the Socket Mode handler. The stamp travels to the
listeners as a request header that the edge always overwrites, so a client cannot set it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

HEADER = "x-opsbot-arrival"  # time.monotonic() of this process, as text
ENVIRON_KEY = "HTTP_X_OPSBOT_ARRIVAL"

_accepted = threading.local()  # set by the gunicorn worker around one request


def accepted_at(moment: float | None) -> None:
    """The server accepted the request this thread is about to serve at `moment`."""
    _accepted.moment = moment


def stamp_environ(environ: dict) -> float:
    """Record the request's arrival in its WSGI environ (replacing any client value)."""
    moment = getattr(_accepted, "moment", None)
    arrival = moment if moment is not None else time.monotonic()
    environ[ENVIRON_KEY] = repr(arrival)
    return arrival


def arrival_of(headers: Mapping[str, Sequence[str] | str] | None) -> float:
    """The arrival a bolt request's headers carry; now when none (a request built in-process)."""
    value = (headers or {}).get(HEADER)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        arrival = float(value) if value is not None else None
    except ValueError:
        arrival = None
    now = time.monotonic()
    # Never later than now: a stamp from the future would stretch the deadline.
    return now if arrival is None or arrival > now else arrival

