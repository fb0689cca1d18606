"""Every statistic of the experiments engine against scipy/statsmodels on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from leadtrail.experiments import bayes, cuped, frequentist, power, sequential
from leadtrail.experiments.summary import Summary

TOL = 1e-6
rng = np.random.default_rng(20261204)


@pytest.mark.parametrize(("na", "ca", "nb", "cb"), [(1000, 100, 1000, 130), (5230, 412, 4987, 380)])
def test_two_proportion_z_test_matches_statsmodels(na: int, ca: int, nb: int, cb: int) -> None:
    got = frequentist.proportions_ztest(Summary.binary(na, ca), Summary.binary(nb, cb))
    z, p = proportions_ztest([cb, ca], [nb, na])
    lo, hi = confint_proportions_2indep(cb, nb, ca, na, method="wald", compare="diff")
    assert got.statistic == pytest.approx(z, abs=TOL)
    assert got.p_value == pytest.approx(p, abs=TOL)
    assert (got.ci_low, got.ci_high) == (pytest.approx(lo, abs=TOL), pytest.approx(hi, abs=TOL))


def test_welch_t_test_and_interval_match_scipy_and_statsmodels() -> None:
    a = rng.lognormal(3, 1, 800)
    b = rng.lognormal(3.1, 1.1, 650)
    got = frequentist.welch_ttest(Summary.of(list(a)), Summary.of(list(b)))
    ref = stats.ttest_ind(b, a, equal_var=False)
    lo, hi = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(usevar="unequal")
    assert got.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert got.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert got.df == pytest.approx(ref.df, abs=TOL)
    assert (got.ci_low, got.ci_high) == (pytest.approx(lo, abs=TOL), pytest.approx(hi, abs=TOL))
    # the lift's delta-method interval contains the point estimate and is centred on it
    assert got.lift == pytest.approx(b.mean() / a.mean() - 1, abs=TOL)
    assert got.lift_low is not None and got.lift_high is not None
    assert got.lift_low < got.lift < got.lift_high


def test_srm_chi_square_matches_scipy() -> None:
    observed, weights = [50_310, 49_690], [0.5, 0.5]
    chi2, p = frequentist.srm_check(observed, weights)
    ref = stats.chisquare(observed, [50_000, 50_000])
    assert (chi2, p) == (pytest.approx(ref.statistic, abs=TOL), pytest.approx(ref.pvalue, abs=TOL))
    three = [3400, 3300, 3000]
    chi2, p = frequentist.srm_check(three, [1, 1, 1])
    ref = stats.chisquare(three)
    assert (chi2, p) == (pytest.approx(ref.statistic, abs=TOL), pytest.approx(ref.pvalue, abs=TOL))
    assert p < frequentist.SRM_THRESHOLD


def test_holm_matches_statsmodels() -> None:
    ps = [0.01, 0.04, 0.03, 0.005, 0.2]
    _, ref, _, _ = multipletests(ps, method="holm")
    assert frequentist.holm(ps) == pytest.approx(list(ref), abs=TOL)


def test_bayes_chance_to_beat_and_expected_loss_match_integration() -> None:
    ma, va, mb, vb = 0.10, 0.0001, 0.112, 0.00012
    got = bayes.compare(ma, va, mb, vb)
    sd = math.sqrt(va + vb)
    chance, _ = integrate.quad(lambda d: stats.norm.pdf(d, mb - ma, sd), 0, np.inf)
    loss, _ = integrate.quad(lambda d: -d * stats.norm.pdf(d, mb - ma, sd), -np.inf, 0)
    assert got.chance_to_beat == pytest.approx(chance, abs=TOL)
    assert got.expected_loss == pytest.approx(loss, abs=TOL)


def test_msprt_likelihood_ratio_is_the_normal_mixture_integral() -> None:
    diff, v, tau2 = 0.012, 0.00004, 0.0001
    lr = sequential.likelihood_ratio(diff, v, tau2)
    sd = math.sqrt(v)

    def integrand(theta: float) -> float:
        ratio = stats.norm.pdf(diff, theta, sd) / stats.norm.pdf(diff, 0, sd)
        return float(ratio * stats.norm.pdf(theta, 0, math.sqrt(tau2)))

    ref, _ = integrate.quad(integrand, -0.2, 0.2, points=[diff], limit=200)
    assert lr == pytest.approx(ref, rel=TOL)
    res = sequential.test(diff, v, tau2, alpha=0.05)
    assert res.p_value == pytest.approx(min(1, 1 / ref), rel=TOL)


def test_confidence_sequence_ends_where_the_test_stops_rejecting() -> None:
    diff, v, tau2, alpha = 0.012, 0.00004, 0.0001, 0.05
    res = sequential.test(diff, v, tau2, alpha)
    # the bound is the theta0 where Lambda(diff - theta0) = 1/alpha
    edge = optimize.brentq(
        lambda t: math.log(sequential.likelihood_ratio(diff - t, v, tau2) * alpha), diff, diff + 0.1
    )
    assert res.ci_high == pytest.approx(edge, abs=TOL)
    assert res.ci_low == pytest.approx(2 * diff - edge, abs=TOL)


def test_cuped_theta_and_adjusted_welch_match_ols_and_scipy() -> None:
    x_a = rng.poisson(4, 1200).astype(float)
    x_b = rng.poisson(4, 1100).astype(float)
    y_a = 2 + 0.8 * x_a + rng.normal(0, 1, x_a.size)
    y_b = 2.1 + 0.8 * x_b + rng.normal(0, 1, x_b.size)
    groups = [Summary.of(list(y_a), list(x_a)), Summary.of(list(y_b), list(x_b))]
    x, y = np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    slope = sm.OLS(y, sm.add_constant(x)).fit().params[1]
    assert cuped.theta(groups) == pytest.approx(slope, abs=TOL)
    adj_a, adj_b = cuped.adjust(groups)
    row_a = y_a - slope * (x_a - x.mean())
    row_b = y_b - slope * (x_b - x.mean())
    assert adj_a.mean == pytest.approx(row_a.mean(), abs=TOL)
    assert adj_b.variance == pytest.approx(row_b.var(ddof=1), abs=TOL)
    got = frequentist.welch_ttest(adj_a, adj_b)
    ref = stats.ttest_ind(row_b, row_a, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, abs=TOL)
    # and the variance really shrank
    plain = frequentist.welch_ttest(groups[0], groups[1])
    assert got.se < plain.se * 0.6  # r^2 ~ 0.72 here: the error shrinks to ~ sqrt(0.28)


def test_sample_size_and_mde_match_statsmodels_power() -> None:
    n = power.proportion_sample_size(0.05, 0.2)
    h = proportion_effectsize(0.06, 0.05)
    ref_n = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1)
    assert n == math.ceil(ref_n)
    exact = power.sample_size(h)
    assert NormalIndPower().power(h, exact, 0.05, ratio=1) == pytest.approx(0.8, abs=TOL)
    d = power.detectable_effect(2000)
    assert NormalIndPower().power(d, 2000, 0.05, ratio=1) == pytest.approx(0.8, abs=TOL)
    mde = power.proportion_mde(0.05, n)
    assert mde == pytest.approx(0.2, abs=2e-3)  # n was rounded up, so a hair smaller


def test_sample_summary_variance_matches_numpy() -> None:
    v = rng.normal(5, 2, 333)
    s = Summary.of(list(v))
    assert s.variance == pytest.approx(v.var(ddof=1), abs=TOL)
    assert Summary.binary(10, 3).variance == pytest.approx(np.var([1] * 3 + [0] * 7, ddof=1))
