"""Honest statistics under peeking: simulated A/A and A/B tests looked at after every batch.

    python bench/experiments.py                 # 2,000 A/A tests, 20 looks, power at 3 effects
    python bench/experiments.py --check         # a few seconds: tiny sizes, sanity checks only

Each simulated test adds a batch of visitors to both arms (conversions drawn binomially from
the true rates), then reads the result the way the results page does, from the arms'
sufficient statistics, with leadtrail's own functions (experiments/frequentist.py and
experiments/sequential.py). A test "finds a difference" the first time a look says so:

- naive: the fixed-horizon two-proportion z test at p < 0.05 on every look (what peeking at a
  classic calculator does);
- sequential: the always-valid mSPRT p-value < 0.05 on every look (what leadtrail decides on);
- fixed horizon: the z test once, at the last look only (the textbook's 5 % baseline).

A/A tests (same true rate) measure false positives: the sequential rate must stay <= 5 %
while the naive one inflates. A/B tests with known relative lifts measure power. Figures
print next to the naive baseline of the same run, as a ratio.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from leadtrail.experiments import frequentist, sequential
from leadtrail.experiments.summary import Summary

ALPHA = 0.05


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def simulate(
    rng: np.random.Generator, tests: int, looks: int, batch: int, base: float, lift: float
) -> dict[str, float]:
    """Share of tests each method calls significant (at any look, or at the end)."""
    planned = looks * batch
    conv_a = rng.binomial(batch, base, size=(tests, looks)).cumsum(axis=1)
    conv_b = rng.binomial(batch, base * (1 + lift), size=(tests, looks)).cumsum(axis=1)
    naive = seq = fixed = 0
    for t in range(tests):
        hit_naive = hit_seq = False
        for k in range(looks):
            n = (k + 1) * batch
            a = Summary.binary(n, int(conv_a[t, k]))
            b = Summary.binary(n, int(conv_b[t, k]))
            z = frequentist.proportions_ztest(a, b)
            hit_naive = hit_naive or z.p_value < ALPHA
            pa, pb = a.mean, b.mean
            v = pa * (1 - pa) / n + pb * (1 - pb) / n
            tau2 = sequential.mixture_variance(pa * (1 - pa), pb * (1 - pb), planned, ALPHA)
            hit_seq = hit_seq or sequential.test(pb - pa, v, tau2, ALPHA).p_value < ALPHA
            if k == looks - 1:
                fixed += z.p_value < ALPHA
        naive += hit_naive
        seq += hit_seq
    return {"naive": naive / tests, "sequential": seq / tests, "fixed": fixed / tests}


def interval(rate: float, n: int) -> float:
    """Half-width of a 95 % binomial interval: the simulation's own noise."""
    return 1.96 * math.sqrt(max(rate * (1 - rate), 1e-9) / n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000, help="A/A tests")
    parser.add_argument("--power-tests", type=int, default=500, help="A/B tests per effect size")
    parser.add_argument("--looks", type=int, default=20)
    parser.add_argument("--batch", type=int, default=250, help="visitors per arm per look")
    parser.add_argument("--base", type=float, default=0.05, help="control conversion rate")
    parser.add_argument("--effects", default="0.1,0.2,0.3", help="relative lifts for power")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--check", action="store_true", help="tiny run for CI")
    args = parser.parse_args(argv)
    print_machine_line()
    if args.check:
        args.tests, args.power_tests, args.looks, args.batch, args.effects = 200, 60, 8, 200, "0.5"
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, load average before the run "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    aa = simulate(rng, args.tests, args.looks, args.batch, args.base, 0.0)
    looks_done = args.tests * args.looks
    print(
        f"A/A: {args.tests} tests x {args.looks} looks x {args.batch} visitors/arm "
        f"(base rate {args.base}), alpha {ALPHA}"
    )
    ratio = aa["sequential"] / aa["naive"] if aa["naive"] else float("nan")
    noise = interval(aa["sequential"], args.tests)
    print(
        f"  false positives, any look: sequential {aa['sequential']:.2%} (±{noise:.2%}) "
        f"vs naive peeking {aa['naive']:.2%} (baseline) -> ratio {ratio:.2f}"
    )
    print(f"  fixed horizon, last look only: {aa['fixed']:.2%} (the nominal 5 %)")
    ok = True
    if not args.check and aa["sequential"] > ALPHA:
        print("  FAIL: sequential false-positive rate above 5 %")
        ok = False
    if aa["naive"] <= aa["sequential"]:
        print("  FAIL: naive peeking did not inflate over the sequential rate")
        ok = False
    for effect in (float(x) for x in args.effects.split(",")):
        ab = simulate(rng, args.power_tests, args.looks, args.batch, args.base, effect)
        looks_done += args.power_tests * args.looks
        print(
            f"power at +{effect:.0%} relative lift ({args.power_tests} tests): sequential "
            f"{ab['sequential']:.1%}, fixed horizon {ab['fixed']:.1%} (baseline) -> ratio "
            f"{ab['sequential'] / ab['fixed'] if ab['fixed'] else float('nan'):.2f}; naive {ab['naive']:.1%} "
            f"(not a valid test)"
        )
    elapsed = time.perf_counter() - started
    print(f"{looks_done} looks read in {elapsed:.1f} s ({looks_done / elapsed:,.0f} looks/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
