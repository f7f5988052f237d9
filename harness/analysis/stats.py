"""The statistics every table shares: the verdict rule, failed samples, pass@k and accuracy intervals.

Failed samples (records with an ``error``: the engine could not complete them) are no answers:
every table leaves them out of accuracy, votes and token means (:func:`without_failed`) and the
runs table counts them in a column of their own (``failed``).

Accuracy intervals: a 95% **percentile bootstrap over problems** (:func:`bootstrap_interval`):
problems are resampled with replacement (all samples of a drawn problem come along, since samples
of one problem are correlated), 2000 resamples, a fixed seed (0) for every run, so the interval is
deterministic and does not depend on the order of runs. Its weak spot: at 0% or 100% accuracy it
collapses to a point. Runs known only by counts (run-level files such as ``results/paper``) get
the **Wilson score** interval (:func:`wilson_interval`); the ``ci_method`` column says which.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Iterable, Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
BOOTSTRAP_PIECE = 1 << 20  # resamples are drawn in pieces of at most this many draws (8 MB each)


def is_correct(verdict: Any) -> bool:
    """The verdict rule: a sample counts as correct only if its ``correct`` is true (a bool, or
    the number 1). Null (ungraded, a grader timeout), NaN, false and anything else count as wrong."""
    if isinstance(verdict, (bool, np.bool_)):
        return bool(verdict)
    if isinstance(verdict, (int, float, np.integer, np.floating)):
        return verdict == 1
    return False


def is_failed(error: Any) -> bool:
    """A record's ``error`` field marks a failed sample when it is text; missing, null or NaN: not failed."""
    return isinstance(error, str)


def failed_mask(records: Any) -> np.ndarray:
    """Which rows of a records DataFrame are failed samples."""
    if "error" not in records:
        return np.zeros(len(records), dtype=bool)
    return np.array([is_failed(e) for e in records["error"]], dtype=bool)


def without_failed(records: Any) -> Any:
    """The records that are answers (graded), failed samples left out."""
    mask = failed_mask(records)
    return records[~mask] if mask.any() else records


def verdict_scores(verdicts: Iterable[Any]) -> np.ndarray:
    """Verdicts as 0.0/1.0 floats under :func:`is_correct`."""
    array = np.asarray(verdicts) if hasattr(verdicts, "__array__") else None
    if array is not None and array.dtype.kind == "b":  # all bools: the rule in one step
        return array.astype(float)
    return np.array([1.0 if is_correct(v) else 0.0 for v in verdicts], dtype=float)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), for n samples, c correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def wilson_interval(correct: int, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion correct/n, as fractions; (nan, nan) when n == 0."""
    if n <= 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if correct == 0 else max(0.0, centre - half), 1.0 if correct == n else min(1.0, centre + half))


def bootstrap_interval(
    correct: Sequence[float],
    total: Sequence[float],
    *,
    level: float = CI_LEVEL,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap over problems of pooled accuracy sum(correct)/sum(total), as fractions.

    ``correct[i]`` and ``total[i]`` are the correct and all samples of problem i. Deterministic for
    a given seed. (nan, nan) when there are no samples. Memory: the resamples are drawn a piece
    at a time (``BOOTSTRAP_PIECE`` draws), the same draws as all at once, so any number of problems
    fits and the interval does not depend on the piece size.
    """
    c = np.asarray(correct, dtype=float)
    t = np.asarray(total, dtype=float)
    if c.size == 0 or t.sum() <= 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    rows = max(1, BOOTSTRAP_PIECE // c.size)
    acc = np.empty(resamples)
    for start in range(0, resamples, rows):
        idx = rng.integers(0, c.size, size=(min(rows, resamples - start), c.size))
        acc[start:start + len(idx)] = c[idx].sum(axis=1) / t[idx].sum(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(acc, [alpha, 1 - alpha])
    return (float(lo), float(hi))
