"""The periods a review looks at: the ISO week (Monday to Sunday) or the calendar month before
the local posting day, and the periods before it, as pandas Periods of local days (the store's
timezone decides the posting day; a period is whole local days, so a DST change never moves a
day into another period)."""

from __future__ import annotations

from datetime import date

import pandas as pd

# Weeks end on Sunday (W-SUN): a period is Monday to Sunday, the ISO week.
FREQ = {"weekly": "W-SUN", "monthly": "M"}


def under_review(kind: str, posting_day: date) -> pd.Period:
    """The period a `kind` review posted on local `posting_day` is about: the one before the
    period holding that day."""
    return pd.Period(posting_day, freq=FREQ[kind]) - 1


def bounds(period: pd.Period) -> dict[str, str]:
    """{"start", "end"}: the period's first and last local day (ISO)."""
    return {"start": first_day(period).isoformat(), "end": last_day(period).isoformat()}


def first_day(period: pd.Period) -> date:
    return period.start_time.date()


def last_day(period: pd.Period) -> date:
    return period.end_time.date()


def per_period(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Sums of a frame of local days (a DatetimeIndex) per period; a period without any known
    day stays NaN (missing, not zero)."""
    if frame.empty:
        return frame
    return frame.groupby(frame.index.to_period(FREQ[kind])).sum(min_count=1)
