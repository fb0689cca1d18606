"""Sufficient statistics of one metric in one variant: what SQL aggregates, all the tests need.

No per-visitor rows reach Python: a variant is described by its count, sum and sum of
squares (and, for CUPED, the covariate's sums and the cross products).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """A metric over ``n`` units (visitors) of one variant."""

    #: units (visitors) exposed
    n: int
    #: sum of the metric over the units
    total: float
    #: sum of its squares
    total_sq: float
    #: pre-period covariate sums for CUPED (zero when there is none)
    pre: float = 0.0
    pre_sq: float = 0.0
    cross: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0 below two units."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    @property
    def mean_variance(self) -> float:
        """Variance of the mean."""
        return self.variance / self.n if self.n else 0.0

    @classmethod
    def binary(cls, n: int, conversions: int) -> Summary:
        """A 0/1 metric: the sum of squares equals the sum."""
        return cls(n=n, total=float(conversions), total_sq=float(conversions))

    @classmethod
    def of(cls, values: list[float], pre: list[float] | None = None) -> Summary:
        """From raw values (tests, simulations)."""
        xs = pre or [0.0] * len(values)
        return cls(
            n=len(values),
            total=float(sum(values)),
            total_sq=float(sum(v * v for v in values)),
            pre=float(sum(xs)),
            pre_sq=float(sum(x * x for x in xs)),
            cross=float(sum(v * x for v, x in zip(values, xs, strict=True))),
        )
