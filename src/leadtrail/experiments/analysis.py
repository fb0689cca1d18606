"""From per-variant sufficient statistics to a read-out: every challenger against the control
with fixed-horizon, Bayesian and always-valid sequential figures, CUPED when a pre-period
covariate exists, Holm's correction when there are several challengers, the SRM check, and the
decision rule for a winner.

Decision rule (documented in docs/experiments.md): a variant wins only when every variant has
reached the test's sample size AND its always-valid sequential p-value, Holm-adjusted over the
challengers, is below 1 - confidence_threshold, with the effect in the good direction. The
sequential test is the one that decides, because results may be looked at any time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from leadtrail.experiments import bayes, cuped, frequentist, sequential
from leadtrail.experiments.summary import Summary


@dataclass(frozen=True)
class Arm:
    name: str
    summary: Summary


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _variance_of_mean(s: Summary, binary: bool) -> float:
    if binary:
        return s.mean * (1 - s.mean) / s.n if s.n else 0.0
    return s.mean_variance


def _per_unit_variance(s: Summary, binary: bool) -> float:
    return s.mean * (1 - s.mean) if binary else s.variance


def compare_arms(
    arms: list[Arm],
    *,
    binary: bool,
    confidence: float,
    planned_n: int,
    lower_is_better: bool = False,
    use_cuped: bool = True,
) -> dict[str, Any]:
    """The read-out of one metric; ``arms[0]`` is the control."""
    alpha = 1 - confidence
    summaries = [a.summary for a in arms]
    theta = cuped.theta(summaries) if use_cuped else 0.0
    adjusted = cuped.adjust(summaries) if use_cuped and theta != 0 else None
    control = summaries[0]
    rows: list[dict[str, Any]] = [
        {"variant": arms[0].name, "control": True, "n": control.n, "mean": control.mean}
    ]
    for arm, summary in zip(arms[1:], summaries[1:], strict=True):
        row: dict[str, Any] = {
            "variant": arm.name,
            "control": False,
            "n": summary.n,
            "mean": summary.mean,
        }
        if control.n < 2 or summary.n < 2:
            rows.append(row)
            continue
        fixed = (
            frequentist.proportions_ztest(control, summary, confidence)
            if binary
            else frequentist.welch_ttest(control, summary, confidence)
        )
        va, vb = _variance_of_mean(control, binary), _variance_of_mean(summary, binary)
        post = bayes.compare(control.mean, va, summary.mean, vb)
        # the sequential test runs on the CUPED-adjusted means when there is a covariate
        a_adj, b_adj = (adjusted[0], adjusted[arms.index(arm)]) if adjusted else (None, None)
        if a_adj is not None and b_adj is not None:
            diff, v = b_adj.mean - a_adj.mean, a_adj.mean_variance + b_adj.mean_variance
            unit_var = a_adj.variance + b_adj.variance
        else:
            diff, v = fixed.diff, va + vb
            unit_var = _per_unit_variance(control, binary) + _per_unit_variance(summary, binary)
        tau2 = sequential.mixture_variance(unit_var / 2, unit_var / 2, planned_n, alpha)
        seq = sequential.test(diff, v, tau2, alpha)
        row.update(
            {
                "diff": fixed.diff,
                "ci_low": fixed.ci_low,
                "ci_high": fixed.ci_high,
                "lift": _finite(fixed.lift),
                "lift_low": _finite(fixed.lift_low),
                "lift_high": _finite(fixed.lift_high),
                "p_value": fixed.p_value,
                "chance_to_beat": (1 - post.chance_to_beat)
                if lower_is_better
                else post.chance_to_beat,
                "expected_loss": post.expected_loss,
                "sequential_p_value": seq.p_value,
                "sequential_ci_low": seq.ci_low,
                "sequential_ci_high": seq.ci_high,
            }
        )
        if a_adj is not None and b_adj is not None:
            adj = frequentist.welch_ttest(a_adj, b_adj, confidence)
            row["cuped"] = {
                "theta": theta,
                "diff": adj.diff,
                "ci_low": adj.ci_low,
                "ci_high": adj.ci_high,
                "p_value": adj.p_value,
                "variance_reduction": 1 - (adj.se / fixed.se) ** 2 if fixed.se else 0.0,
            }
        rows.append(row)
    tested = [r for r in rows[1:] if "p_value" in r]
    if tested:
        for key in ("p_value", "sequential_p_value"):
            for r, p in zip(tested, frequentist.holm([r[key] for r in tested]), strict=True):
                r[key + "_adjusted"] = p
    return {"variants": rows, "alpha": alpha, "corrected": len(tested) > 1}


def winner(readout: dict[str, Any], sample_size: int, lower_is_better: bool = False) -> str | None:
    """The winning variant's name, or None while there is none (see the module docstring)."""
    rows = readout["variants"]
    if any(r["n"] < sample_size for r in rows):
        return None
    alpha = readout["alpha"]
    good = [
        r
        for r in rows[1:]
        if r.get("sequential_p_value_adjusted", 1.0) < alpha
        and (r["diff"] < 0 if lower_is_better else r["diff"] > 0)
    ]
    if good:
        best = (
            min(good, key=lambda r: r["diff"])
            if lower_is_better
            else max(good, key=lambda r: r["diff"])
        )
        return str(best["variant"])
    challengers = rows[1:]
    worse = [
        r
        for r in challengers
        if r.get("sequential_p_value_adjusted", 1.0) < alpha
        and (r["diff"] > 0 if lower_is_better else r["diff"] < 0)
    ]
    if challengers and len(worse) == len(challengers):
        return str(rows[0]["variant"])
    return None


def srm(counts: list[int], weights: list[float]) -> dict[str, Any]:
    chi2, p = frequentist.srm_check(counts, weights)
    return {
        "chi2": chi2,
        "p_value": p,
        "mismatch": p < frequentist.SRM_THRESHOLD,
        "observed": counts,
        "expected_share": [w / sum(weights) for w in weights],
    }


def guardrail_flag(readout: dict[str, Any], alpha: float = 0.05) -> list[str]:
    """Challengers whose guardrail metric got significantly worse (fixed-horizon, unadjusted:
    a guardrail should rather warn too often than too late)."""
    return [
        str(r["variant"])
        for r in readout["variants"][1:]
        if r.get("p_value", 1.0) < alpha and r.get("diff", 0.0) > 0
    ]
