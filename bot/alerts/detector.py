"""Inquiry-drop detector: is a day's inquiry count suspiciously low?

Pure statistics, no DB and no Slack. Inquiries are small daily counts with a weekly
rhythm, so a flat threshold or a z-score misfires; instead:

* The expected count comes from the same weekday in the previous ``weeks`` weeks, so
  the weekly rhythm is built in. Past anomalies (holidays, promo spikes, earlier drops)
  are left out of that baseline (a median rule scaled first by the MAD, then by the
  fitted model's SD), so they neither mask nor fake a drop.
* The count is modelled as Poisson, or negative binomial (method of moments) when the
  baseline varies more than Poisson would. The overdispersion is estimated from all
  weekdays of the same weeks (a store property; 6-8 points alone are too noisy), and
  the spread also includes the error of a mean estimated from a handful of weeks.
  That second term makes the predictive variance exceed the mean whenever the mean is
  positive, so in practice the tail is negative binomial; for Poisson-like stores it
  is the Gamma-Poisson posterior predictive, which tends to Poisson as weeks grow.
* Three windows ending on the day are tested: the day itself (``daily``), the 3-day sum
  (``3day_sum``) and the 7-day sum (``weekly_sum``), each against the same window in
  previous weeks (same weekdays). A one-day dip on a small store is noise, but a drop
  that lasts is what operators must explain, and a sum over several days has enough
  inquiries to show it.
* A window is tested only when its expected count (daily count or window sum) is at
  least ``min_expected``; on low-volume stores that leaves the weekly sum, on busy
  stores all three. Each tested window fires when its lower-tail probability
  P(X <= observed) is below ``level / windows tested`` (Bonferroni: at most ``level``
  false alarms on a normal day, whichever window fires) and its drop is at least
  ``min_drop``. The verdict reports the firing window with the smallest p-value, or,
  when none fires, the shortest tested window (the weekly sum when none is tested);
  ``p_value`` is that window's own, unadjusted probability.

The watch tier (``watch_level``, ``watch_min_drop``): a window that does not fire but whose
own lower-tail probability is below ``watch_level`` and whose drop is at least
``watch_min_drop`` makes the verdict a ``watch``: worth a look, never a ping. No Bonferroni
there: a false watch costs a glance in the checklist, and a -58 % Wednesday (5 where 12 is
usual, p ~ 0.02 at 8 noisy weeks) must show. The alert tier is unchanged by it.

Severity rule: ``critical`` when fired with p < level / (10 * windows tested) and drop
>= 60 %, ``warning`` for any other firing, ``none`` when not fired.

Data convention: ``counts`` covers the range the caller has data for. A date missing
from ``counts`` between its first date and the evaluated day counts as 0 inquiries;
days before the first date in ``counts`` are "no data" and are never used as zeros.
Dates after the evaluated day are ignored (no look-ahead). Counts are non-negative.
At least ``MIN_WEEKS`` usable past weeks are required (for the daily window, else
``enough_history=False`` and no alert; a longer window that reaches before the first
date in more weeks is simply not tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from bot.metrics.usual import MIN_WEEKS as USUAL_MIN_WEEKS

# fewer usable baseline weeks than this: no verdict (enough_history=False); the usual level's
# own minimum (bot/metrics/usual.py), so the checklist and the alert agree on "enough history"
MIN_WEEKS = USUAL_MIN_WEEKS
OUTLIER_K = 3.0  # baseline values more than this many robust SDs from the median are left out
SPANS = (1, 3, 7)  # days in each tested window, ending on the evaluated day
METHODS = ("daily", "3day_sum", "weekly_sum")  # Verdict.method for each span
CRITICAL_DROP = 0.60  # with p < level / (10 * windows tested): severity critical


@dataclass(frozen=True)
class DetectorSettings:
    level: float = 0.01  # lower-tail probability threshold
    min_drop: float = 0.40  # observed must be at least this share below expected
    min_expected: float = 5.0  # a window (day, 3- or 7-day sum) expecting less is not tested
    weeks: int = 8  # same-weekday history to use; at least MIN_WEEKS must be usable
    watch_level: float = 0.05  # the watch tier: lower-tail probability threshold, per window
    watch_min_drop: float = 0.50  # and the least drop for a watch


@dataclass(frozen=True)
class Verdict:
    day: date  # the day evaluated (window sums: the last day of the window)
    method: str  # the window reported: "daily", "3day_sum" or "weekly_sum"
    observed: int
    expected: float
    p_value: float  # lower-tail P(X <= observed) under the fitted model (not adjusted)
    drop: float  # 1 - observed/expected (0 when expected is 0; negative for a rise)
    fired: bool
    severity: str  # "none", "warning", "critical"
    enough_history: bool
    windows: int = 1  # windows tested; each fires at p < level / windows (Bonferroni)
    weeks: int = 0  # past weeks with data behind `expected` (0: not known)
    watched: bool = False  # not fired, but a window is below the watch tier's thresholds

    @property
    def tier(self) -> str | None:
        """"alert" when fired, "watch" when only watched, else None."""
        return "alert" if self.fired else ("watch" if self.watched else None)


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed term by term in log space."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    terms = (math.exp(i * log_mean - mean - math.lgamma(i + 1)) for i in range(k + 1))
    return min(1.0, math.fsum(terms))


def negbin_cdf(k: int, r: float, p: float) -> float:
    """P(X <= k) for X ~ NegBin(r, p): failures before the r-th success, success prob p."""
    if k < 0:
        return 0.0
    base = r * math.log(p) - math.lgamma(r)
    log_q = math.log1p(-p)
    terms = (
        math.exp(base + math.lgamma(i + r) - math.lgamma(i + 1) + i * log_q) for i in range(k + 1)
    )
    return min(1.0, math.fsum(terms))


def lower_tail(k: int, mean: float, var: float) -> float:
    """P(X <= k): negative binomial (method of moments) if var > mean, else Poisson."""
    # Method of moments: r = mean^2 / (var - mean), p = mean / var. A huge r is Poisson
    # for all purposes, and lgamma(i + r) - lgamma(r) would lose its precision.
    if mean <= 0 or var <= mean or mean * mean > 1e8 * (var - mean):
        return poisson_cdf(k, mean)
    return negbin_cdf(k, mean * mean / (var - mean), mean / var)


def _robust(values: list[int], alpha: float | None = None) -> list[int]:
    """Leave out values far from the median (holidays, promo spikes, earlier outages).

    Without ``alpha`` the scale is the MAD; with it, the SD the fitted model expects at
    the median, sqrt(med + alpha * med^2).
    """
    # Why median/MAD: one anomaly must not drag the baseline. The Poisson SD
    # sqrt(median) floors the scale: with small counts the MAD is often 0 and would
    # throw away perfectly ordinary values. Why the model SD for the final cut: with
    # 8 points and two or three anomalies (holiday + outage + promo) the MAD itself is
    # inflated and lets them through; the store-wide dispersion is not.
    med = median(values)
    if alpha is None:
        spread = 1.4826 * median(abs(v - med) for v in values)
    else:
        spread = math.sqrt(med + alpha * med * med)
    scale = max(spread, math.sqrt(med), 1.0)
    return [v for v in values if abs(v - med) <= OUTLIER_K * scale]


def _dispersion(groups: list[list[int]]) -> float:
    """Pooled negative-binomial dispersion a (var = mean + a * mean^2), method of moments."""
    # Weighted by n * mean^2: busy weekdays measure the dispersion best.
    num = den = 0.0
    for kept in groups:
        n = len(kept)
        if n < 2:
            continue
        m = sum(kept) / n
        s2 = sum((v - m) ** 2 for v in kept) / (n - 1)
        num += (n - 1) * (s2 - m)
        den += (n - 1) * m * m
    return max(num / den, 0.0) if den > 0 else 0.0


def _fit(groups: list[list[int]]) -> tuple[float, float]:
    """(mean, predictive variance) for groups[0]; all groups share the dispersion.

    groups[0] holds the comparable past values of the tested quantity; the other groups
    hold the same kind of values at other weekdays of the same weeks.
    """
    # Why pool: a variance from 6-8 points is very noisy, and an underestimate means
    # false alarms; the dispersion is a property of the store, so all weekdays share it.
    # Why two passes: anomalies that slip through the loose MAD cut inflate the first
    # estimate; re-cutting on the model's own scale removes them.
    alpha = _dispersion([_robust(values) for values in groups])
    alpha = _dispersion([_robust(values, alpha) for values in groups])
    kept = _robust(groups[0], alpha)
    mean = sum(kept) / len(kept)
    # Why (1 + 1/n): the mean is itself estimated from n points, so a new value varies
    # by var * (1 + 1/n) around it; without it a few quiet weeks make the model
    # overconfident (benchmark: ~30 % more false alarms).
    return mean, (mean + alpha * mean * mean) * (1.0 + 1.0 / len(kept))


class _History:
    """Daily counts up to ``day`` as prefix sums, so any trailing window sum is O(1)."""

    def __init__(self, counts: Mapping[date, int], day: date, weeks: int) -> None:
        first = min(counts) if counts else day + timedelta(days=1)
        # Far enough back for the longest window, on every weekday, ``weeks`` weeks ago.
        self.lo = day - timedelta(days=7 * weeks + 6 + max(SPANS) - 1)
        n_days = (day - self.lo).days + 1
        # prefix[i] = sum of the first i days from lo; days before `first` are no data.
        prefix = [0]
        for i in range(n_days):
            d = self.lo + timedelta(days=i)
            prefix.append(prefix[-1] + (counts.get(d, 0) if d >= first else 0))
        self.prefix = prefix
        self.offset = (first - self.lo).days  # first index with data
        self.last = n_days - 1
        self.weeks = weeks

    def window(self, span: int, end: int) -> int | None:
        start = end - span + 1
        return None if start < self.offset else self.prefix[end + 1] - self.prefix[start]

    def sums(self, span: int) -> tuple[int | None, list[list[int]]]:
        """Sum of ``span`` days ending on the evaluated day, and the past sums to compare.

        groups[j] lists the sums of the windows ending on day - j - 7k for k = 1..weeks
        (j = 0 is the comparable series; j = 1..6 only feed the dispersion estimate).
        Windows reaching before the first date with data are left out; the current sum
        is None if it does.
        """
        groups = [
            [
                v
                for k in range(1, self.weeks + 1)
                if (v := self.window(span, self.last - j - 7 * k)) is not None
            ]
            for j in range(7)
        ]
        return self.window(span, self.last), groups


@dataclass(frozen=True)
class _Test:
    method: str
    observed: int
    expected: float
    p_value: float
    drop: float
    tested: bool  # expected >= min_expected: counts towards the Bonferroni divisor
    weeks: int = 0  # past windows compared (one per week)


def evaluate(
    counts: Mapping[date, int], day: date, settings: DetectorSettings = DetectorSettings()
) -> Verdict:
    """Decide whether the inquiries up to ``day`` show an alert-worthy drop.

    Tests the day itself and the 3- and 7-day sums ending on it; see the module notes.
    """
    history = _History(counts, day, settings.weeks)
    tests: list[_Test] = []
    for span, method in zip(SPANS, METHODS, strict=True):
        observed, groups = history.sums(span)
        if observed is None or len(groups[0]) < MIN_WEEKS:
            if span == 1:  # the shortest window needs the least history: no verdict at all
                past = groups[0]
                expected = sum(past) / len(past) if past else 0.0
                obs = observed or 0
                return Verdict(
                    day=day,
                    method=method,
                    observed=obs,
                    expected=expected,
                    p_value=1.0,
                    drop=_drop(obs, expected),
                    fired=False,
                    severity="none",
                    enough_history=False,
                    windows=0,
                )
            continue  # enough history for shorter windows only
        expected, var = _fit(groups)
        tests.append(
            _Test(
                method=method,
                observed=observed,
                expected=expected,
                p_value=lower_tail(observed, expected, var),
                drop=_drop(observed, expected),
                # Why per window: the daily test needs a busy store; the weekly sum of
                # the same store may have enough inquiries to be tested on its own.
                tested=expected >= settings.min_expected,
                weeks=len(groups[0]),
            )
        )

    tested = [t for t in tests if t.tested]
    # Bonferroni over the windows actually tested: which ones are is decided by the past
    # alone, so the chance of a false alarm on a normal day stays below ``level``.
    level = settings.level / max(len(tested), 1)
    fired = [t for t in tested if t.p_value < level and t.drop >= settings.min_drop]
    watched = [] if fired else [t for t in tested if t.p_value < settings.watch_level
                                and t.drop >= settings.watch_min_drop]
    if fired:
        chosen = min(fired, key=lambda t: t.p_value)
    elif watched:
        chosen = min(watched, key=lambda t: t.p_value)
    elif tested:
        # The shortest tested window: the same one every quiet day for a given store.
        chosen = tested[0]
    else:
        chosen = tests[-1]  # nothing testable: show the longest window, the most informative
    if not fired:
        severity = "none"
    elif chosen.p_value < level / 10 and chosen.drop >= CRITICAL_DROP:
        severity = "critical"
    else:
        severity = "warning"
    return Verdict(
        day=day,
        method=chosen.method,
        observed=chosen.observed,
        expected=chosen.expected,
        p_value=chosen.p_value,
        drop=chosen.drop,
        fired=bool(fired),
        severity=severity,
        enough_history=True,
        windows=len(tested),
        weeks=chosen.weeks,
        watched=bool(watched),
    )


def _drop(observed: int, expected: float) -> float:
    return 1.0 - observed / expected if expected > 0 else 0.0
