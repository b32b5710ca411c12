"""The usual level of a daily figure, one definition for the checklist, the alerts and their
hints: the median of the same weekday over the previous WEEKS weeks, of those weeks that
have data; with fewer than MIN_WEEKS such weeks there is no usual level (None), as a median
of two or three days says little."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from statistics import median

WEEKS = 8
MIN_WEEKS = 4


def same_weekdays(day: date, weeks: int = WEEKS) -> list[date]:
    """The same weekday in the `weeks` weeks before `day`, newest first."""
    return [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]


def usual_level(history: Iterable[float | int | None]) -> float | None:
    """The median of the known values, or None with fewer than MIN_WEEKS of them."""
    known = [h for h in history if h is not None]
    return float(median(known)) if len(known) >= MIN_WEEKS else None
