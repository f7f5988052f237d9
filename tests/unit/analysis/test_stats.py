"""The shared statistics against hand-computed values: the verdict rule, pass@k, intervals."""

from __future__ import annotations

import math

import pytest

import numpy as np

from budgetbench.analysis import stats as S


def test_wilson_textbook_values():
    lo, hi = S.wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = S.wilson_interval(0, 10)  # upper bound = z^2 / (n + z^2)
    assert lo == 0.0 and hi == pytest.approx(1.959964**2 / (10 + 1.959964**2), abs=1e-6)
    assert all(math.isnan(v) for v in S.wilson_interval(0, 0))


def test_bootstrap_resamples_problems_and_is_deterministic():
    # Two problems with 2/2 and 0/2 correct: a resample is 0%, 50% or 100% accurate.
    assert S.bootstrap_interval([2, 0], [2, 2]) == (0.0, 1.0)
    # One problem (or all problems alike): the interval is a point.
    assert S.bootstrap_interval([1], [2]) == (0.5, 0.5)
    assert S.bootstrap_interval([1, 1, 1], [2, 2, 2]) == (0.5, 0.5)
    correct, total = [(7 * i) % 5 for i in range(30)], [4] * 30
    first = S.bootstrap_interval(correct, total)
    assert first == S.bootstrap_interval(correct, total)
    assert first[0] < sum(correct) / sum(total) < first[1]
    assert all(math.isnan(v) for v in S.bootstrap_interval([], []))


def test_pass_at_k():
    assert S.pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert S.pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert S.pass_at_k(5, 4, 2) == 1.0  # fewer wrong samples than k
    assert S.pass_at_k(10, 0, 3) == 0.0
    assert S.pass_at_k(100, 13, 10) == pytest.approx(1 - math.comb(87, 10) / math.comb(100, 10))
    with pytest.raises(ValueError):
        S.pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        S.pass_at_k(5, 2, 6)


def test_the_verdict_rule_counts_only_true_as_correct():
    verdicts = [True, False, None, float("nan"), 1, 0, 1.0, "yes", np.True_, np.float64("nan"), 2]
    assert S.verdict_scores(verdicts).tolist() == [1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0]


# Pinned on the code before the bootstrap drew its resamples in pieces (issue #19): same seed, same
# draws, same intervals, to the last bit; 5000 problems take several pieces.
PINNED = {30: (0.3333333333333333, 0.5504587155963303), 1000: (0.40742404273133015, 0.44862442871988395),
          5000: (0.41902934118475893, 0.4383170136022761)}


@pytest.mark.parametrize("n", sorted(PINNED))
def test_bootstrap_intervals_are_unchanged_for_the_fixed_seed(n):
    total = [1 + (i * 5) % 7 for i in range(n)]
    correct = [(i * 3) % (t + 1) for i, t in enumerate(total)]
    assert S.bootstrap_interval(correct, total) == PINNED[n]
    assert S.bootstrap_interval([1.0, 0.25, 0.5, 0.75, 0.0], [1] * 5) == (0.2, 0.8)


def test_bootstrap_in_pieces_draws_what_one_piece_draws(monkeypatch):
    total = [1 + (i * 5) % 7 for i in range(300)]
    correct = [(i * 3) % (t + 1) for i, t in enumerate(total)]
    whole = S.bootstrap_interval(correct, total)
    monkeypatch.setattr(S, "BOOTSTRAP_PIECE", 1000)  # 3 resamples per piece
    assert S.bootstrap_interval(correct, total) == whole


def test_the_verdict_rule_on_bool_arrays_is_the_same():
    import pandas as pd

    flags = [True, False, False, True]
    expected = S.verdict_scores(list(flags))
    for verdicts in (np.array(flags), pd.Series(flags), pd.Series(flags + [None]).iloc[:4]):
        assert S.verdict_scores(verdicts).tolist() == expected.tolist()
    assert S.verdict_scores(pd.Series([True, None, np.nan, 1.0])).tolist() == [1, 0, 0, 1]
