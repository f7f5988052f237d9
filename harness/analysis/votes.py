"""Vote statistics over one set of samples per problem: maj@k and the runs of a vote.

maj@k is the expected accuracy of a majority vote over a uniformly random size-k subset of a
problem's n samples (not just the first k): computed exactly when there are at most
``EXACT_LIMIT`` subsets, else estimated from ``SUBSETS`` random subsets drawn with a fixed seed
(deterministic). Ties between the top answers are broken uniformly at random (in expectation).
Votes are clustered by answer: every answer graded correct is the gold answer's cluster; other
answers by their extracted text with whitespace removed; unextractable answers do not vote.
pass@k (``analysis.stats.pass_at_k``) is the unbiased estimator of Chen et al. (2021).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from typing import Any, Iterable, Sequence

EXACT_LIMIT = 5000
SUBSETS = 2000
GOLD = "\x00gold"
VOTE_FIELDS = ("extracted",)  # what vote_runs reads of a record beyond the reader's LOAD_FIELDS


def vote_key(extracted: str | None, correct: bool) -> str | None:
    if correct:
        return GOLD
    if extracted is None:
        return None
    return "".join(str(extracted).split())


def problem_vote_keys(extracted: Iterable[Any], correct: Iterable[bool]) -> list[str | None]:
    """One problem's votes in sample order (a missing extraction, None or NaN, abstains)."""
    return [vote_key(None if e is None or e != e else e, bool(c)) for e, c in zip(extracted, correct)]


def majority_correct(keys: Sequence[str | None]) -> float:
    """Expected correctness of a plurality vote over ``keys`` (ties split evenly)."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return 0.0
    top = max(counts.values())
    leaders = [k for k, c in counts.items() if c == top]
    return (GOLD in leaders) / len(leaders)


def maj_at_k(keys: Sequence[str | None], k: int, seed: int = 0) -> float:
    n = len(keys)
    if not 1 <= k <= n:
        raise ValueError(f"maj@{k} needs 1 <= k <= n={n}")
    if math.comb(n, k) <= EXACT_LIMIT:
        subsets = list(itertools.combinations(range(n), k))
    else:
        rng = random.Random(seed)
        subsets = [rng.sample(range(n), k) for _ in range(SUBSETS)]
    return sum(majority_correct([keys[i] for i in s]) for s in subsets) / len(subsets)


def vote_runs(records, ks):  # -> pd.DataFrame (pandas is imported here: the vote counting needs none)
    """Runs (one per K) of a majority_vote results directory: maj@K accuracy, pass@K, and total
    thinking tokens per problem (K × the mean per sample) as the run's x value.

    Problems with fewer than K samples are left out of that K's run (n_problems says how many).
    Failed samples do not vote; ``failed`` counts them (the same for every K of a set).
    """
    import numpy as np
    import pandas as pd

    from budgetbench.analysis.metrics import RUN_COLUMNS
    from budgetbench.analysis.stats import bootstrap_interval, failed_mask, is_correct, pass_at_k

    rows = []
    for (model, task, method), group in records.groupby(["model", "task", "method"], sort=False):
        failed = failed_mask(group)
        group = group[~failed]
        by_problem = []
        for pid, g in group.groupby(group["problem_id"].astype(str), sort=True):
            g = g.sort_values("sample")
            correct = [is_correct(c) for c in g["correct"]]
            extracted = g["extracted"] if "extracted" in g else [None] * len(g)
            keys = problem_vote_keys(extracted, correct)
            by_problem.append((keys, correct, g["thinking_tokens"].astype(float).to_numpy()))
        for k in sorted({int(k) for k in ks}):
            usable = [p for p in by_problem if len(p[0]) >= k]
            if not usable:
                continue
            maj = np.array([maj_at_k(keys, k) for keys, _, _ in usable])
            passk = np.array([pass_at_k(len(c), sum(c), k) for _, c, _ in usable])
            tokens = np.array([k * t.mean() for _, _, t in usable])
            lo, hi = bootstrap_interval(maj, np.ones(len(maj)))
            rows.append({
                "model": model, "task": task, "method": method, "budget": k, "waits": 0, "unit": "samples",
                "a_max": np.nan, "n": len(usable), "failed": int(failed.sum()), "n_problems": len(usable), "correct": int(round(maj.sum())),
                "accuracy_pct": 100 * maj.mean(), "ci_low_pct": 100 * lo, "ci_high_pct": 100 * hi,
                "ci_method": "bootstrap", "mean_thinking_tokens": tokens.mean(),
                "median_thinking_tokens": float(np.median(tokens)), "pass_at_k_pct": 100 * passk.mean(),
            })
    return pd.DataFrame(rows).reindex(columns=RUN_COLUMNS)
