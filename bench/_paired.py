"""Paired timing: one of our calls beside the raw operation it wraps, in one run.

Both sides run the same loop in many short slices, alternating (and swapping which
goes first) so that both meet the same machine conditions, and each keeps its
best slice. Other processes only ever slow a slice down, so the best slice is
the closest to the undisturbed rate; with many slices both sides get the same
chances at a quiet moment, which keeps the ratio steady on a noisy machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from itertools import repeat

__all__ = ["paired_rates"]


def _calls_per_slice(fn: Callable[[], object], slice_seconds: float) -> int:
    """How many calls of ``fn`` take about ``slice_seconds`` (at least one)."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in repeat(None, n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= slice_seconds / 4 or n >= 1 << 20:
            return max(1, round(n * slice_seconds / max(elapsed, 1e-9)))
        n *= 2


def _slice_rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in repeat(None, n):
        fn()
    return n / (time.perf_counter() - start)


def paired_rates(
    ours: Callable[[], object], raw: Callable[[], object], seconds: float, slices: int | None = None
) -> tuple[float, float, float]:
    """``(ours, raw, ratio)`` over about ``seconds`` in all: the best slice of
    each side (calls per second), and the median of the ratios of adjacent slices.

    The ratio is not ``ours / raw``: two best slices may come from different
    moments, one quiet and one not, while adjacent slices meet the same
    machine, and the median ignores the pairs a burst split. By default a slice
    lasts about 10 ms: short enough that most fall between other processes'
    bursts, long enough to hold a few hundred calls.
    """
    if slices is None:
        slices = max(24, round(seconds / 0.02))
    slice_seconds = seconds / (2 * slices)
    n_ours = _calls_per_slice(ours, slice_seconds)
    n_raw = _calls_per_slice(raw, slice_seconds)
    best_ours = best_raw = 0.0
    ratios: list[float] = []
    for i in range(slices):
        if i % 2:
            rate_ours = _slice_rate(ours, n_ours)
            rate_raw = _slice_rate(raw, n_raw)
        else:
            rate_raw = _slice_rate(raw, n_raw)
            rate_ours = _slice_rate(ours, n_ours)
        best_ours, best_raw = max(best_ours, rate_ours), max(best_raw, rate_raw)
        ratios.append(rate_ours / rate_raw)
    return best_ours, best_raw, statistics.median(ratios)
