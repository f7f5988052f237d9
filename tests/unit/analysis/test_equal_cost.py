"""Sequential vs parallel at equal cost, on hand-designed samples.

Budget forcing, 2 samples per problem (verdict, thinking tokens, extracted answer):
  cap 10: p1 = (right, 8), (wrong "5", 10);  p2 = (wrong "7", 10), (wrong "7", 10)
  cap 20: p1 = (right, 12), (right, 14);     p2 = (right, 20), (right, 18)
Majority vote, uncapped, 4 samples per problem, K = 1, 2, 4:
  p1: right, right, "5", "5" (15 tokens each);  p2: right, "3", "3", "4" (25 tokens each)
"""

from __future__ import annotations

import pandas as pd
import pytest

from budgetbench.analysis.equal_cost import equal_cost_table
from budgetbench.analysis.problems import load_samples

from tests.helpers.results import record, write_results

LEVEL = {"p1": {"level": 1}, "p2": {"level": 2}}


def _bf(pid, budget, sample, ok, tokens, extracted=None):
    return record(pid, budget, ok, tokens, sample=sample, meta=LEVEL[pid], extracted=extracted)


def _mv(pid, sample, ok, tokens, extracted=None, cap="none"):
    return record(pid, cap, ok, tokens, sample=sample, method="majority_vote", meta=LEVEL[pid], extracted=extracted)


@pytest.fixture
def samples(tmp_path):
    bf = [_bf("p1", 10, 0, True, 8), _bf("p1", 10, 1, False, 10, "5"),
          _bf("p2", 10, 0, False, 10, "7"), _bf("p2", 10, 1, False, 10, "7"),
          _bf("p1", 20, 0, True, 12), _bf("p1", 20, 1, True, 14),
          _bf("p2", 20, 0, True, 20), _bf("p2", 20, 1, True, 18)]
    mv = [_mv("p1", 0, True, 15), _mv("p1", 1, True, 15), _mv("p1", 2, False, 15, "5"), _mv("p1", 3, False, 15, "5"),
          _mv("p2", 0, True, 25), _mv("p2", 1, False, 25, "3"), _mv("p2", 2, False, 25, "3"),
          _mv("p2", 3, False, 25, "4")]
    return load_samples([write_results(tmp_path / "bf", bf),
                         write_results(tmp_path / "mv", mv, method="majority_vote", budgets=[1, 2, 4])])


def _rows(table: pd.DataFrame) -> dict[tuple, tuple]:
    return {(r.family, r.cap, r.k): (r.total_thinking_tokens, r.accuracy_pct, r.sequential_at_cost_pct)
            for r in table.itertuples()}


def test_points_on_one_axis(samples):
    table = equal_cost_table(samples)
    assert list(table["family"]) == ["sequential"] * 2 + ["parallel"] * 3 + ["hybrid"] * 2
    got = _rows(table)
    expected = {  # x = total thinking tokens per problem over the k samples
        ("sequential", 10, 1): (9.5, 25.0, 25.0),     # mean of (8+10)/2 and 10; p1 right half the time
        ("sequential", 20, 1): (16.0, 100.0, 100.0),  # (13 + 19) / 2
        ("parallel", "none", 1): (20.0, 37.5, 100.0),  # p1 2/4, p2 1/4
        ("parallel", "none", 2): (40.0, 37.5, 100.0),  # p1: 1 + 4 ties of 1/2 over 6 pairs; p2: 3 ties / 6
        ("parallel", "none", 4): (80.0, 25.0, 100.0),  # p1 a tie (1/2), p2 "3" wins
        ("hybrid", 10, 2): (19.0, 25.0, 100.0),       # p1 a tie, p2 "7" wins; 18 and 20 tokens
        ("hybrid", 20, 2): (32.0, 100.0, 100.0),
    }
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        assert got[key] == pytest.approx(values), key
    gains = dict(zip(zip(table["family"], table["cap"], table["k"]), table["gain_pts"]))
    assert gains[("parallel", "none", 1)] == pytest.approx(-62.5)
    assert gains[("sequential", 10, 1)] == 0.0


def test_points_per_stratum(samples):
    table = equal_cost_table(samples, "level")
    level2 = table[table["stratum"] == 2]
    got = _rows(level2)
    assert got[("sequential", 10, 1)] == pytest.approx((10.0, 0.0, 0.0))
    assert got[("sequential", 20, 1)] == pytest.approx((19.0, 100.0, 100.0))
    assert got[("parallel", "none", 1)] == pytest.approx((25.0, 25.0, 100.0))
    level1 = table[table["stratum"] == 1]
    assert _rows(level1)[("sequential", 10, 1)] == pytest.approx((9.0, 50.0, 50.0))
    assert list(dict.fromkeys(table["stratum"])) == [1, 2]


def test_capped_majority_vote_is_a_hybrid(tmp_path):
    votes = [_mv("p1", s, s < 2, 10, "9", cap=16) for s in range(3)]
    table = equal_cost_table(load_samples([write_results(tmp_path / "mv", votes, method="majority_vote",
                                                         budgets=[1, 3])]))
    assert list(zip(table["family"], table["cap"], table["k"])) == [("hybrid", 16, 1), ("hybrid", 16, 3)]
    assert list(table["total_thinking_tokens"]) == [10.0, 30.0]
    assert table["accuracy_pct"].tolist() == pytest.approx([200 / 3, 100.0])
    assert table["sequential_at_cost_pct"].isna().all()
