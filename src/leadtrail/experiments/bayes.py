"""Bayesian read-out: chance to beat the control and the expected loss of choosing a variant.

Like GrowthBook's engine, each variant's mean gets a normal posterior (flat prior) centred on
its observed mean with the variance of that mean; the difference is then normal too, so both
figures have closed forms. Checked against numerical integration in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class BayesResult:
    #: P(variant's true mean > control's)
    chance_to_beat: float
    #: E[max(control - variant, 0)]: what choosing the variant costs if it is worse, in the
    #: metric's units
    expected_loss: float


def compare(mean_a: float, var_a: float, mean_b: float, var_b: float) -> BayesResult:
    """B against the control A; ``var_*`` are variances of the means."""
    delta = mean_b - mean_a
    sigma = math.sqrt(var_a + var_b)
    if sigma == 0:
        return BayesResult(1.0 if delta > 0 else 0.0 if delta < 0 else 0.5, max(-delta, 0.0))
    z = delta / sigma
    chance = float(stats.norm.cdf(z))
    loss = sigma * float(stats.norm.pdf(z)) - delta * float(stats.norm.cdf(-z))
    return BayesResult(chance, max(loss, 0.0))
