"""The one samples reader: a torn tail is not a record; a damaged line is warned about and kept."""

from __future__ import annotations

import json

from click.testing import CliRunner

from budgetbench.cli import cli
from budgetbench.results.reader import parse_samples, read_samples
from budgetbench.results.store import ResultStore

GOOD = [{"problem_id": "a", "budget": 8, "sample": 0, "gold": "3", "answer_text": "\\boxed{3}", "correct": False},
        {"problem_id": "b", "budget": 8, "sample": 0, "gold": "4", "answer_text": "\\boxed{5}", "correct": True}]
DAMAGED = b'{"problem_id": "x", "budget": 8, "sam\xff\xfeple'  # a crash mid-line, then another append
NO_KEY = b'{"budget": 8, "sample": 0, "correct": true}'  # an object that cannot be keyed


def write(path, torn: bool = True) -> bytes:
    data = (json.dumps(GOOD[0]).encode() + b"\n" + DAMAGED + b"\n" + b"\n" + NO_KEY + b"\n"
            + json.dumps(GOOD[1]).encode() + b"\n" + (b'{"problem_id": "c", "bud' if torn else b""))
    path.write_bytes(data)
    return data


def test_parse_keeps_every_complete_line_and_flags_the_damaged_ones(tmp_path):
    write(tmp_path / "samples.jsonl")
    parsed = parse_samples(tmp_path / "samples.jsonl")
    assert [r["problem_id"] for r in parsed.records] == ["a", "b"]
    assert parsed.damaged == [2, 4] and parsed.torn  # line 3 is blank: not damaged
    assert [raw for raw, _ in parsed.lines][1] == DAMAGED
    assert parse_samples(tmp_path / "missing.jsonl").lines == []


def test_readers_warn_about_damaged_lines_and_a_torn_tail(tmp_path):
    write(tmp_path / "samples.jsonl")
    said = []
    assert len(read_samples(tmp_path / "samples.jsonl", warn=said.append)) == 2
    assert [m.split(": ", 1)[0].rsplit(":", 1)[1] for m in said] == ["2", "4", "6"]
    assert "the file keeps it" in said[0] and "incomplete" in said[2]


def test_resume_keeps_damaged_lines_and_cuts_only_the_torn_tail(tmp_path, recwarn):
    (tmp_path / "spec.json").write_text(json.dumps({"model": "m", "task": "toy_sum"}))
    data = write(tmp_path / "samples.jsonl")
    with ResultStore(tmp_path) as store:
        done = store.open({"model": "m", "task": "toy_sum"})
    assert done == {("a", "8", 0, 0), ("b", "8", 0, 0)}
    assert (tmp_path / "samples.jsonl").read_bytes() == data[: data.rindex(b"\n") + 1]  # damaged bytes kept
    assert len([w for w in recwarn if "damaged line" in str(w.message)]) == 2


def test_bench_score_writes_damaged_lines_back_unchanged(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"model": "m", "task": "toy_sum"}))
    write(tmp_path / "samples.jsonl", torn=False)
    result = CliRunner().invoke(cli, ["score", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 samples re-graded, 2 verdicts changed" in result.output
    assert "warning:" in result.output and ":2: a damaged line" in result.output
    lines = (tmp_path / "samples.jsonl").read_bytes().split(b"\n")
    assert lines[1] == DAMAGED and lines[2] == b"" and lines[3] == NO_KEY and lines[5] == b""
    assert [json.loads(lines[i])["correct"] for i in (0, 4)] == [True, False]
