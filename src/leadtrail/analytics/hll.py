"""Counting the rollups' HyperLogLog sketches in Python.

The sketch format is defined in migration 0006 (4096 registers, each 32 bits of unary
"thermometer" code, so ``bit_or`` merges sketches). ``leadtrail.hll_count`` estimates in
SQL, but it ANDs the 16 KB sketch with 32 masks read from a table: about 0.9 ms a call,
which a 30-day series pays once per day. Python's big integers do the same AND and
popcount in C, about ten times faster, so reports fetch merged sketches and count here.
``tests/integration/test_hll_count.py`` holds both estimators to the same answers.
"""

from __future__ import annotations

import math

REGISTERS = 4096
WIDTH = 32
#: mask k (1..32) has bit k of every register's unary code: popcount(sketch & mask_k) is
#: the number of registers whose value is at least k
_MASKS = [
    int.from_bytes((1 << (WIDTH - k)).to_bytes(4, "big") * REGISTERS, "big")
    for k in range(1, WIDTH + 1)
]
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def count(sketch: bytes | None) -> int:
    """Estimated number of distinct items in a sketch (its bytes; None: 0), the same
    estimate as SQL's ``leadtrail.hll_count``: linear counting while many registers are
    empty, else the HyperLogLog harmonic mean."""
    if sketch is None:
        return 0
    value = int.from_bytes(sketch, "big")
    inverse_sum = float(REGISTERS)  # sum over registers of 2^-value
    at_least_one = 0
    for k, mask in enumerate(_MASKS, start=1):
        n = (value & mask).bit_count()
        if n == 0:
            break  # registers are unary: none reaches a higher value either
        if k == 1:
            at_least_one = n
        inverse_sum -= n * 2.0**-k
    empty = REGISTERS - at_least_one
    raw = _ALPHA * REGISTERS * REGISTERS / inverse_sum
    if raw <= 2.5 * REGISTERS and empty > 0:
        return round(REGISTERS * math.log(REGISTERS / empty))
    return round(raw)
