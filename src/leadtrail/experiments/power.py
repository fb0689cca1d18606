"""Sample size and minimum detectable effect for a two-sided test at level alpha.

The power of a two-sided z test with standardized effect d and n units per variant is
Phi(d sqrt(n/2) - z) + Phi(-d sqrt(n/2) - z), z = Phi^-1(1 - alpha/2) (statsmodels'
``NormalIndPower`` with ratio 1). Proportions use Cohen's h = 2 asin(sqrt p2) - 2 asin(sqrt p1)
as the standardized effect, continuous metrics delta / sigma.
"""

from __future__ import annotations

import math

from scipy import optimize, stats


def power(effect: float, n: float, alpha: float = 0.05) -> float:
    """Power for standardized ``effect`` with ``n`` units per variant."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    shift = abs(effect) * math.sqrt(n / 2)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def sample_size(effect: float, alpha: float = 0.05, target: float = 0.8) -> float:
    """Units per variant for ``target`` power (not rounded: callers take the ceiling)."""
    if effect == 0:
        raise ValueError("the effect must not be zero")
    z = float(stats.norm.ppf(1 - alpha / 2))
    guess = 2 * ((z + float(stats.norm.ppf(target))) / effect) ** 2
    # the closed form ignores the far tail; solve the exact equation around it
    return float(
        optimize.brentq(
            lambda n: power(effect, n, alpha) - target, guess * 0.5, guess * 1.5 + 1, xtol=1e-10
        )
    )


def detectable_effect(n: float, alpha: float = 0.05, target: float = 0.8) -> float:
    """The smallest standardized effect ``n`` units per variant detect with ``target`` power."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    guess = (z + float(stats.norm.ppf(target))) * math.sqrt(2 / n)
    return float(
        optimize.brentq(lambda d: power(d, n, alpha) - target, guess * 0.5, guess * 1.5, xtol=1e-12)
    )


def cohens_h(p1: float, p2: float) -> float:
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


#: more visitors per variant than this is no answer (and no longer fits a JSON integer)
MAX_SAMPLE = 10**15


def proportion_sample_size(
    baseline: float, relative_mde: float, alpha: float = 0.05, target: float = 0.8
) -> int:
    """Visitors per variant to detect a relative lift ``relative_mde`` on a conversion rate."""
    p2 = baseline * (1 + relative_mde)
    if not 0 < baseline < 1 or not 0 < p2 < 1:
        raise ValueError("rates must lie strictly between 0 and 1")
    n = sample_size(cohens_h(baseline, p2), alpha, target)
    if not math.isfinite(n) or n > MAX_SAMPLE:  # found by schemathesis: a 190-digit integer
        raise ValueError("the effect is too small to detect with any realistic sample")
    return math.ceil(n)


def proportion_mde(baseline: float, n: float, alpha: float = 0.05, target: float = 0.8) -> float:
    """The relative lift on ``baseline`` that ``n`` visitors per variant detect."""
    if not 0 < baseline < 1:
        raise ValueError("the baseline rate must lie strictly between 0 and 1")
    h = detectable_effect(n, alpha, target)
    angle = math.asin(math.sqrt(baseline)) + h / 2
    p2 = math.sin(min(angle, math.pi / 2)) ** 2
    return p2 / baseline - 1
