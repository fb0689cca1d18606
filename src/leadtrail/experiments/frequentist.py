"""Fixed-horizon tests on sufficient statistics: two-proportion z, Welch's t, intervals on
the lift, the sample-ratio-mismatch check and Holm's correction.

Each function matches the textbook definition that scipy/statsmodels implement
(tests/unit/test_experiment_stats.py checks them to 1e-6 on the same inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from leadtrail.experiments.summary import Summary


@dataclass(frozen=True)
class Comparison:
    """A variant against the control on one metric."""

    #: difference of means (variant - control)
    diff: float
    #: its standard error (unpooled)
    se: float
    #: two-sided p-value of the test
    p_value: float
    #: confidence interval of the difference
    ci_low: float
    ci_high: float
    #: relative lift (variant / control - 1) and its interval (delta method); None when the
    #: control's mean is 0
    lift: float | None
    lift_low: float | None
    lift_high: float | None
    #: the test statistic (z or t) and degrees of freedom (inf for z)
    statistic: float
    df: float


def _lift(
    ma: float, va: float, mb: float, vb: float, crit: float
) -> tuple[float | None, float | None, float | None]:
    """Relative lift mb/ma - 1 with a delta-method interval (va, vb: variances of the means)."""
    if ma == 0:
        return None, None, None
    lift = mb / ma - 1
    half = crit * math.sqrt(vb / ma**2 + mb**2 * va / ma**4)
    return lift, lift - half, lift + half


def proportions_ztest(a: Summary, b: Summary, confidence: float = 0.95) -> Comparison:
    """Two-proportion z test (pooled variance for the p-value, as statsmodels'
    ``proportions_ztest``); Wald interval of the difference (``confint_proportions_2indep``
    with ``method="wald"``)."""
    pa, pb = a.mean, b.mean
    diff = pb - pa
    pooled = (a.total + b.total) / (a.n + b.n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n))
    z = diff / se_pooled if se_pooled > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(pa * (1 - pa) / a.n + pb * (1 - pb) / b.n)
    crit = float(stats.norm.ppf(0.5 + confidence / 2))
    lift, lo, hi = _lift(pa, pa * (1 - pa) / a.n, pb, pb * (1 - pb) / b.n, crit)
    return Comparison(diff, se, p, diff - crit * se, diff + crit * se, lift, lo, hi, z, math.inf)


def welch_ttest(a: Summary, b: Summary, confidence: float = 0.95) -> Comparison:
    """Welch's unequal-variance t test (scipy's ``ttest_ind(equal_var=False)``) with the
    Welch-Satterthwaite degrees of freedom."""
    va, vb = a.mean_variance, b.mean_variance
    diff = b.mean - a.mean
    se = math.sqrt(va + vb)
    if se == 0:
        return Comparison(
            diff, 0.0, 1.0, diff, diff, *_lift(a.mean, 0, b.mean, 0, 0), 0.0, math.inf
        )
    df = (va + vb) ** 2 / (
        (va**2 / (a.n - 1) if a.n > 1 else 0.0) + (vb**2 / (b.n - 1) if b.n > 1 else 0.0)
    )
    t = diff / se
    p = float(2 * stats.t.sf(abs(t), df))
    crit = float(stats.t.ppf(0.5 + confidence / 2, df))
    lift = _lift(a.mean, va, b.mean, vb, crit)
    return Comparison(diff, se, p, diff - crit * se, diff + crit * se, *lift, t, df)


def srm_check(observed: list[int], weights: list[float]) -> tuple[float, float]:
    """Sample-ratio mismatch: Pearson's chi-square of the units per variant against the
    configured split. Returns (statistic, p-value); a p-value below 0.001 means the
    assignment or the exposure logging is broken, and results should not be trusted."""
    total = sum(observed)
    if total == 0:
        return 0.0, 1.0
    wsum = sum(weights)
    expected = [total * w / wsum for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    return chi2, float(stats.chi2.sf(chi2, len(observed) - 1))


#: below this SRM p-value the page warns (the common choice of GrowthBook and others)
SRM_THRESHOLD = 0.001


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
