"""Tests for the inquiry-drop detector (bot.alerts.detector): pure statistics, no DB or Slack."""

from __future__ import annotations

import math
from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.detector import (
    DetectorSettings,
    Verdict,
    evaluate,
    lower_tail,
    negbin_cdf,
    poisson_cdf,
)

DAY = date(2024, 9, 25)  # a Wednesday; the evaluated day in most tests
RHYTHM = (1.15, 1.15, 1.1, 1.1, 1.05, 0.6, 0.5)  # Mon..Sun: weekends lower


def series(
    seed: int,
    level: float,
    weeks: int = 10,
    shape: float | None = None,
    end: date = DAY,
) -> dict[date, int]:
    """Seeded daily counts with a weekly rhythm, ending on ``end``.

    Poisson around ``level * rhythm``; with ``shape`` gamma-Poisson (overdispersed,
    day-to-day CV 1/sqrt(shape)).
    """
    rng = np.random.default_rng(seed)
    days = [end - timedelta(days=i) for i in range(7 * weeks)][::-1]
    rate = np.array([level * RHYTHM[d.weekday()] for d in days])
    if shape is not None:
        rate = rate * rng.gamma(shape, 1.0 / shape, len(days))
    return {d: int(c) for d, c in zip(days, rng.poisson(rate), strict=True)}


def expected_today(level: float, day: date = DAY) -> float:
    return level * RHYTHM[day.weekday()]


# --- distributions: checked against independent formulas ------------------------------


def poisson_cdf_reference(k: int, mean: float) -> float:
    """Plain recurrence p(i) = p(i-1) * mean / i, no lgamma."""
    term = total = math.exp(-mean)
    for i in range(1, k + 1):
        term *= mean / i
        total += term
    return total


def negbin_cdf_reference(k: int, r: int, p: Fraction) -> Fraction:
    """Exact: at most k failures before the r-th success == at least r successes in
    k + r trials, a binomial tail in rational arithmetic."""
    n = k + r
    return sum((math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(r, n + 1)), Fraction(0))


def test_poisson_cdf_hand_checked() -> None:
    # P(X <= 2 | 10) = e^-10 (1 + 10 + 100/2) = 61 e^-10
    assert poisson_cdf(2, 10.0) == pytest.approx(0.0027693957155115762, rel=1e-12)
    assert poisson_cdf(2, 10.0) == pytest.approx(61 * math.exp(-10), rel=1e-12)
    assert poisson_cdf(0, 3.0) == pytest.approx(math.exp(-3), rel=1e-12)
    assert poisson_cdf(-1, 3.0) == 0.0
    assert poisson_cdf(4, 0.0) == 1.0


@pytest.mark.parametrize(("k", "mean"), [(0, 0.5), (3, 4.2), (12, 30.0), (80, 120.0)])
def test_poisson_cdf_matches_recurrence(k: int, mean: float) -> None:
    assert poisson_cdf(k, mean) == pytest.approx(poisson_cdf_reference(k, mean), rel=1e-10)


@pytest.mark.parametrize(
    ("k", "r", "p"),
    [
        (3, 10, Fraction(1, 2)),
        (0, 2, Fraction(1, 3)),
        (7, 3, Fraction(1, 5)),
        (40, 6, Fraction(1, 9)),
    ],
)
def test_negbin_cdf_matches_binomial_identity(k: int, r: int, p: Fraction) -> None:
    assert negbin_cdf(k, r, float(p)) == pytest.approx(float(negbin_cdf_reference(k, r, p)))


def test_negbin_hand_checked() -> None:
    # NegBin(r=10, p=1/2): P(X <= 3) = P(Bin(13, 1/2) >= 10) = (286 + 78 + 13 + 1) / 2^13
    assert negbin_cdf(3, 10, 0.5) == pytest.approx(378 / 8192, rel=1e-12)


def test_lower_tail_picks_model_by_moments() -> None:
    # var <= mean: Poisson.
    assert lower_tail(5, 12.0, 12.0) == poisson_cdf(5, 12.0)
    assert lower_tail(5, 12.0, 9.0) == poisson_cdf(5, 12.0)
    # var > mean: negative binomial with r = mean^2/(var - mean), p = mean/var.
    mean, r = 12.0, 4.0
    var = mean + mean * mean / r
    assert lower_tail(5, mean, var) == pytest.approx(negbin_cdf(5, r, mean / var), rel=1e-12)
    # Overdispersion fattens the lower tail.
    assert lower_tail(5, mean, var) > poisson_cdf(5, mean)


# --- the detector on generated series ------------------------------------------------


@pytest.mark.parametrize(
    ("level", "shape", "windows"),
    [
        (30.0, None, {3}),
        (30.0, 15.0, {3}),
        (2.0, None, {2}),
        (3.0, 15.0, {2}),
        (1.2, None, {1, 2}),  # the 3-day sum expects about 4-5: tested on some seeds
    ],
    ids=["busy-poisson", "busy-overdispersed", "2/day", "3/day-overdispersed", "1.2/day"],
)
def test_normal_days_rarely_fire(level: float, shape: float | None, windows: set[int]) -> None:
    # Up to three windows are tested: Bonferroni keeps the false-alarm rate.
    verdicts = [evaluate(series(seed, level, shape=shape), DAY) for seed in range(60)]
    assert {v.windows for v in verdicts} <= windows
    assert sum(v.fired for v in verdicts) <= 2


@pytest.mark.parametrize(
    ("shape", "min_hits"),
    # Day-to-day CV 0.26 (shape 15) makes a 70 % drop only about 2.5 SD: less power, and
    # the daily test runs at level / 3 (Bonferroni over 3 windows): about half fire.
    [(None, 57), (15.0, 25)],
    ids=["poisson", "overdispersed"],
)
def test_injected_drop_fires(shape: float | None, min_hits: int) -> None:
    hits = 0
    for seed in range(60):
        counts = series(seed, 30.0, shape=shape)
        counts[DAY] = round(0.3 * expected_today(30.0))  # a day at 30 % of normal
        v = evaluate(counts, DAY)
        assert v.enough_history and v.windows == 3
        if v.fired:
            assert v.drop >= 0.4 and v.p_value < 0.01 / 3
        hits += v.fired
    assert hits >= min_hits


def test_verdict_names_day_observed_and_expected() -> None:
    counts = series(1, 40.0)
    counts[DAY] = 5
    v = evaluate(counts, DAY)
    assert isinstance(v, Verdict)
    assert (v.day, v.method, v.observed) == (DAY, "daily", 5)
    assert v.expected == pytest.approx(expected_today(40.0), rel=0.15)
    assert v.fired and v.severity == "critical"
    assert v.p_value < 0.001
    assert v.drop == pytest.approx(1 - 5 / v.expected)


def test_past_anomalies_do_not_poison_baseline() -> None:
    clean = series(2, 30.0)
    poisoned = dict(clean)
    # An outage, a promo spike and a holiday on earlier Wednesdays.
    poisoned[DAY - timedelta(weeks=2)] = 0
    poisoned[DAY - timedelta(weeks=4)] = 250
    poisoned[DAY - timedelta(weeks=6)] = 6
    normal = evaluate(poisoned, DAY)
    assert not normal.fired
    assert normal.expected == pytest.approx(evaluate(clean, DAY).expected, rel=0.1)
    # The spike must not mask a real drop, nor the outage make it look normal.
    poisoned[DAY] = 10
    clean[DAY] = 10
    assert evaluate(clean, DAY).fired
    assert evaluate(poisoned, DAY).fired


def test_low_volume_store_uses_weekly_sum() -> None:
    counts = series(3, 1.0)  # about 1 a day: neither the day nor 3 days expect 5
    normal = evaluate(counts, DAY)
    assert normal.method == "weekly_sum" and normal.enough_history and normal.windows == 1
    assert normal.day == DAY
    assert normal.observed == sum(counts[DAY - timedelta(days=i)] for i in range(7))
    assert normal.expected == pytest.approx(7 * 1.0, rel=0.3)
    assert not normal.fired
    # A silent week (a broken listing) fires on the 7-day sum.
    for i in range(7):
        counts[DAY - timedelta(days=i)] = 0
    silent = evaluate(counts, DAY)
    assert silent.method == "weekly_sum"
    assert (silent.observed, silent.fired, silent.drop) == (0, True, 1.0)


def test_two_a_day_store_tests_three_day_and_weekly_sums() -> None:
    counts = series(3, 2.0)
    normal = evaluate(counts, DAY)
    # Mon-Wed expect about 6.6 inquiries together: the 3-day sum is tested, the day is not.
    assert (normal.windows, normal.method, normal.fired) == (2, "3day_sum", False)
    assert normal.observed == sum(counts[DAY - timedelta(days=i)] for i in range(3))
    assert normal.expected == pytest.approx(2.0 * sum(RHYTHM[:3]), rel=0.3)


def drop_days(counts: dict[date, int], level: float, last: date, n: int, share: float) -> None:
    """Set the ``n`` days ending on ``last`` to ``share`` of their normal count."""
    for i in range(n):
        d = last - timedelta(days=i)
        counts[d] = round(share * expected_today(level, d))


def test_four_day_drop_on_small_store_fires_on_a_window_sum_only() -> None:
    # 3 inquiries a day, then 4 days without any (a listing offline): a zero day alone
    # is common on such a store, so no single day fires, even when the daily test is
    # allowed (min_expected=0), but the days together do.
    any_daily = DetectorSettings(min_expected=0.0)
    fired_on_sum = 0
    for seed in range(30):
        counts = series(seed, 3.0)
        drop_days(counts, 3.0, DAY, 4, 0.0)
        for i in range(4):
            d = DAY - timedelta(days=i)
            for settings_ in (DetectorSettings(), any_daily):
                v = evaluate(counts, d, settings_)
                assert not (v.fired and v.method == "daily")
        v = evaluate(counts, DAY)
        if v.fired:
            assert v.method in ("3day_sum", "weekly_sum")
            span = 3 if v.method == "3day_sum" else 7
            assert v.observed == sum(counts[DAY - timedelta(days=i)] for i in range(span))
            assert v.drop >= 0.4 and v.p_value < 0.01 / v.windows
        fired_on_sum += v.fired
    assert fired_on_sum >= 27


def test_method_names_the_window_that_shows_the_drop() -> None:
    counts = series(8, 30.0)
    drop_days(counts, 30.0, DAY, 3, 0.45)
    three = evaluate(counts, DAY)
    # Three low days are stronger evidence together than the last one alone.
    assert (three.fired, three.method, three.windows) == (True, "3day_sum", 3)
    assert three.observed == sum(counts[DAY - timedelta(days=i)] for i in range(3))
    assert three.expected == pytest.approx(30.0 * sum(RHYTHM[:3]), rel=0.15)
    counts = series(8, 30.0)
    drop_days(counts, 30.0, DAY, 7, 0.45)
    week = evaluate(counts, DAY)
    assert (week.fired, week.method) == (True, "weekly_sum")
    assert week.observed == sum(counts[DAY - timedelta(days=i)] for i in range(7))


def test_window_needs_its_own_min_drop() -> None:
    # A one-day outage on a busy store fires as a day; the 3-day sum, only 1/3 down,
    # must not fire on the next days just because it is significant.
    counts = {DAY - timedelta(days=i): 300 for i in range(1, 9 * 7)}
    counts[DAY - timedelta(days=1)] = 0
    counts[DAY] = 300
    v = evaluate(counts, DAY)
    assert not v.fired and v.method == "daily"
    assert evaluate(counts, DAY - timedelta(days=1)).fired


def test_low_volume_single_zero_day_does_not_fire() -> None:
    counts = series(4, 3.0)
    counts[DAY] = 0
    assert not evaluate(counts, DAY).fired


def test_insufficient_history_never_fires() -> None:
    counts = series(5, 30.0, weeks=3)  # only 2 earlier Wednesdays
    counts[DAY] = 0
    v = evaluate(counts, DAY)
    assert not v.enough_history and not v.fired
    assert (v.p_value, v.severity) == (1.0, "none")
    assert not evaluate({}, DAY).enough_history
    assert not evaluate(counts, min(counts) - timedelta(days=1)).enough_history


def test_days_before_first_date_are_no_data_not_zero() -> None:
    # Five weeks of data with weeks=8: only the 4 earlier Wednesdays count, not 8 with zeros.
    counts = {DAY - timedelta(days=i): 20 for i in range(5 * 7)}
    v = evaluate(counts, DAY)
    assert v.enough_history and v.method == "daily"
    assert v.expected == pytest.approx(20.0)
    assert not v.fired
    # Four weeks and two days: the day has 4 past Wednesdays, the 7-day sum only 3 full
    # past windows, so it is not tested.
    counts = {DAY - timedelta(days=i): 20 for i in range(4 * 7 + 6)}
    assert evaluate(counts, DAY).windows == 2
    counts[DAY - timedelta(days=4 * 7 + 6)] = 20
    assert evaluate(counts, DAY).windows == 3


def test_missing_date_inside_range_counts_as_zero() -> None:
    counts = series(6, 30.0)
    del counts[DAY]
    v = evaluate(counts, DAY)
    assert v.observed == 0 and v.fired
    # Dates after the evaluated day are ignored.
    counts[DAY + timedelta(days=1)] = 1000
    assert evaluate(counts, DAY) == v


def test_min_drop_guard_on_huge_store() -> None:
    counts = {DAY - timedelta(days=i): 1000 for i in range(1, 9 * 7)}
    counts[DAY] = 880  # 12 % down: statistically significant, not worth an alert
    v = evaluate(counts, DAY)
    assert v.p_value < 0.01
    assert v.drop == pytest.approx(0.12)
    assert not v.fired and v.severity == "none"
    counts[DAY] = 500
    assert evaluate(counts, DAY).fired


def test_severity_rule() -> None:
    counts = {DAY - timedelta(days=i): 30 for i in range(1, 9 * 7)}
    counts[DAY] = 15  # drop 50 %: fired but below the critical 60 %
    warning = evaluate(counts, DAY)
    assert warning.fired and warning.severity == "warning"
    counts[DAY] = 3  # drop 90 %, p far below level / 10
    assert evaluate(counts, DAY).severity == "critical"
    counts[DAY] = 10  # critical drop size, but p >= level / 10 under a stricter level
    strict = evaluate(counts, DAY, DetectorSettings(level=1e-4))
    assert strict.windows == 3 and strict.method == "daily"
    assert strict.fired == (strict.p_value < 1e-4 / 3)


def test_dead_store_has_no_drop() -> None:
    counts = {DAY - timedelta(days=i): 0 for i in range(9 * 7)}
    v = evaluate(counts, DAY)
    assert (v.expected, v.drop, v.p_value, v.fired) == (0.0, 0.0, 1.0, False)


def test_settings_are_honoured() -> None:
    counts = series(7, 30.0)
    counts[DAY] = 14  # roughly 55 % down
    assert evaluate(counts, DAY).fired
    assert not evaluate(counts, DAY, DetectorSettings(min_drop=0.7)).fired
    assert not evaluate(counts, DAY, DetectorSettings(level=1e-9)).fired
    # The day (about 33) is no longer tested, the 3- and 7-day sums (100, 210) still are.
    assert evaluate(counts, DAY, DetectorSettings(min_expected=50.0)).windows == 2
    assert evaluate(counts, DAY, DetectorSettings(min_expected=50.0)).method != "daily"
    assert not evaluate(counts, DAY, DetectorSettings(weeks=3)).enough_history


# --- properties ------------------------------------------------------------------------

history = st.lists(st.integers(0, 120), min_size=8 * 7, max_size=8 * 7)


@settings(max_examples=150, deadline=None)
@given(history, st.integers(0, 400), st.integers(0, 400))
def test_fewer_inquiries_never_clear_an_alert(past: list[int], a: int, b: int) -> None:
    counts = {DAY - timedelta(days=i + 1): c for i, c in enumerate(past)}
    lo, hi = sorted((a, b))
    counts[DAY] = lo
    v_lo = evaluate(counts, DAY)
    counts[DAY] = hi
    v_hi = evaluate(counts, DAY)
    assert v_lo.windows == v_hi.windows  # which windows are tested depends on the past only
    for v in (v_lo, v_hi):
        assert 0.0 <= v.p_value <= 1.0
        assert v.enough_history and 0 <= v.windows <= 3
        if v.fired:
            assert v.p_value < 0.01 / v.windows and v.drop >= 0.4 and v.expected >= 5.0
        else:
            assert v.severity == "none"
    # Every window sum includes today, so a lower count can only add evidence.
    assert v_lo.fired or not v_hi.fired
    if v_lo.method == v_hi.method:
        assert v_lo.p_value <= v_hi.p_value
        assert v_lo.drop >= v_hi.drop


@given(st.integers(0, 300), st.floats(0.1, 200.0), st.floats(1.0, 5.0))
def test_lower_tail_is_a_monotone_cdf(k: int, mean: float, ratio: float) -> None:
    var = mean * ratio
    p_k, p_next = lower_tail(k, mean, var), lower_tail(k + 1, mean, var)
    assert 0.0 <= p_k <= p_next <= 1.0
