"""Always-valid inference: the mixture sequential probability ratio test (mSPRT).

Results may be looked at after every visitor without inflating false positives: with a normal
mixture N(0, tau^2) over the true difference, the likelihood ratio Lambda_n is a
non-negative martingale under the null, so P(Lambda_n >= 1/alpha at any look) <= alpha
(Ville's inequality). The always-valid p-value is min(1, 1/Lambda_n) and the matching
confidence sequence is the set of differences that test would not reject (Johari et al.,
"Always valid inference", the method behind Optimizely's Stats Engine; the same normal
mixture boundary GrowthBook uses for its sequential intervals).

tau^2 is tuned so the interval is tightest at the planned sample size (GrowthBook's choice):
tau^2 = c * v*, where v* is the variance of the difference at the planned size and
c = -2 ln(alpha) + ln(1 - 2 ln(alpha)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SequentialResult:
    #: always-valid two-sided p-value
    p_value: float
    #: always-valid confidence interval of the difference
    ci_low: float
    ci_high: float
    #: the mixture likelihood ratio
    likelihood_ratio: float


def mixture_variance(var_a: float, var_b: float, planned_n: int, alpha: float) -> float:
    """tau^2 for per-unit variances ``var_a``/``var_b`` and ``planned_n`` units per variant."""
    c = -2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))
    return c * (var_a + var_b) / max(planned_n, 1)


def likelihood_ratio(diff: float, v: float, tau2: float) -> float:
    """Lambda for an observed difference ``diff`` whose estimate has variance ``v``."""
    return math.sqrt(v / (v + tau2)) * math.exp(diff * diff * tau2 / (2 * v * (v + tau2)))


def test(diff: float, v: float, tau2: float, alpha: float) -> SequentialResult:
    """The mSPRT at this look: p-value and the (1 - alpha) confidence sequence."""
    if v <= 0 or tau2 <= 0:
        return SequentialResult(1.0, diff, diff, 1.0)
    exponent = diff * diff * tau2 / (2 * v * (v + tau2))
    # 1/Lambda in log space: large differences must not overflow exp()
    log_inv = -0.5 * math.log(v / (v + tau2)) - exponent
    p = 1.0 if log_inv >= 0 else math.exp(log_inv)
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    lr = math.exp(min(-log_inv, 700.0))
    return SequentialResult(p, diff - half, diff + half, lr)
