"""CUPED: variance reduction with a pre-period covariate (Deng et al., 2013).

Each unit's metric Y is replaced by Y - theta (X - mean(X)), where X is the same unit's
pre-period value and theta = cov(Y, X) / var(X) over all units (the slope of an ordinary
least-squares fit of Y on X). The means keep their expectation, their variance shrinks by
the squared correlation. All from sums: no per-unit rows.
"""

from __future__ import annotations

from leadtrail.experiments.summary import Summary


def theta(groups: list[Summary]) -> float:
    """The pooled slope cov(Y, X) / var(X); 0 when X does not vary."""
    n = sum(g.n for g in groups)
    sy = sum(g.total for g in groups)
    sx = sum(g.pre for g in groups)
    sxx = sum(g.pre_sq for g in groups)
    sxy = sum(g.cross for g in groups)
    if n < 2:
        return 0.0
    var_x = sxx - sx * sx / n
    if var_x <= 0:
        return 0.0
    return (sxy - sx * sy / n) / var_x


def adjust(groups: list[Summary]) -> list[Summary]:
    """The groups' summaries of Y - theta (X - mean X): same n, adjusted sums."""
    n = sum(g.n for g in groups)
    if n == 0:
        return groups
    t = theta(groups)
    mx = sum(g.pre for g in groups) / n
    out = []
    for g in groups:
        # sum of (y - t(x - mx)) and of its square, expanded into the stored sums
        total = g.total - t * (g.pre - g.n * mx)
        total_sq = (
            g.total_sq
            + t * t * (g.pre_sq - 2 * mx * g.pre + g.n * mx * mx)
            - 2 * t * (g.cross - mx * g.total)
        )
        out.append(Summary(g.n, total, total_sq))
    return out
