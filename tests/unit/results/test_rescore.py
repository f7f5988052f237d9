"""`bench score`: re-grade stored samples, count changed verdicts, rewrite atomically."""

from __future__ import annotations

import json

from click.testing import CliRunner

from budgetbench.cli import cli


def test_score_regrades_and_reports_changes(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "spec.json").write_text(json.dumps({"model": "m", "task": "math500", "method": "budget_forcing"}))
    records = [
        {"problem_id": "a", "budget": 8, "sample": 0, "gold": "\\frac{1}{2}", "answer_text": "\\boxed{0.5}",
         "correct": False, "extracted": None},  # an old grader got this wrong
        {"problem_id": "b", "budget": 8, "sample": 0, "gold": "5", "answer_text": "\\boxed{500}",
         "correct": True, "extracted": "500"},  # ... and accepted 5 = 500
        {"problem_id": "c", "budget": 8, "sample": 0, "gold": "3", "answer_text": "Final Answer: 3",
         "correct": True, "extracted": "3"},
    ]
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(cli, ["score", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 samples re-graded, 2 verdicts changed (1 now correct, 1 now wrong)" in result.output
    after = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in after] == [True, False, True]
    assert after[0]["extracted"] == "0.5" and after[1]["grade_note"] == "box"
    assert sorted(p.name for p in out.iterdir()) == [".lock", "samples.jsonl", "spec.json"]
