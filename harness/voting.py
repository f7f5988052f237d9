"""Vote statistics over one set of samples per problem: maj@k, pass@k, coverage.

maj@k is the expected accuracy of a majority vote over a uniformly random size-k subset of a
problem's n samples (not just the first k): computed exactly when there are at most
``EXACT_LIMIT`` subsets, else estimated from ``SUBSETS`` random subsets drawn with a fixed seed
(deterministic). Ties between the top answers are broken uniformly at random (in expectation).
Votes are clustered by answer: every answer graded correct is the gold answer's cluster; other
answers by their extracted text with whitespace removed; unextractable answers do not vote.
pass@k is the unbiased estimator of Chen et al. (2021); coverage is pass@n.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from typing import Sequence

EXACT_LIMIT = 5000
SUBSETS = 2000
GOLD = "\x00gold"


def vote_key(extracted: str | None, correct: bool) -> str | None:
    if correct:
        return GOLD
    if extracted is None:
        return None
    return "".join(str(extracted).split())


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


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: 1 - C(n-c, k) / C(n, k)  (Chen et al. 2021)."""
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
