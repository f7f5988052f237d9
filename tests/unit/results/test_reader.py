"""The one samples reader: a torn tail is not a record; a damaged line is warned about and kept."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from budgetbench.cli import cli
from budgetbench.results import reader
from budgetbench.results.reader import parse_samples, read_columns, read_samples
from budgetbench.results.schema import TEXT_FIELDS
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


def _run_lines() -> list[dict]:
    """A small run's records: several budgets (one of them named), a field only some records have,
    null and missing verdicts, metadata, texts, values orjson refuses (NaN, a lone surrogate)."""
    out = []
    for i in range(60):
        budget = ("none", 64, 512)[i % 3]
        record = {"task": "math500", "problem_id": f"p{i % 7}", "method": "budget_forcing", "budget": budget,
                  "waits": 0, "sample": i // 21, "seed": i, "thinking_tokens": 10 * i, "answer_tokens": i % 9,
                  "forced_end": i % 4 == 0, "thinking_text": "Wait, 结束 " * (i % 5), "answer_text": f"\\boxed{{{i}}}",
                  "extracted": None if i % 11 == 0 else str(i % 3), "gold": "1",
                  "correct": None if i % 13 == 0 else i % 3 == 1, "metadata": {"level": i % 7 % 5 + 1}}
        if i % 5 == 0:
            record["tries"] = i % 4
        if i % 6 == 0:
            record["steps"] = i % 10
        if i == 17:
            del record["correct"]
        out.append(record)
    return out


def _write_run(path, records) -> None:
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    lines[5] = lines[5].replace(b'"gold": "1"', b'"gold": NaN')  # the standard library's reading only
    lines[8] = lines[8].replace(b'"metadata": {', b'"metadata": {"note": "\\ud800", ')
    path.write_bytes(b"\n".join(lines[:30] + [DAMAGED] + lines[30:]) + b"\n" + b'{"problem_id": "p9", "bu')


@pytest.mark.parametrize("batch_bytes", [1 << 24, 300])  # 300: a batch holds a line or two
def test_columns_are_the_full_readers_records(tmp_path, monkeypatch, batch_bytes):
    monkeypatch.setattr(reader, "BATCH_BYTES", batch_bytes)
    path = tmp_path / "samples.jsonl"
    _write_run(path, _run_lines())
    said_full, said = [], []
    full = pd.DataFrame(read_samples(path, warn=said_full.append))
    assert len(full) == 60
    pd.testing.assert_frame_equal(pd.DataFrame(read_columns(path, warn=said.append)), full)
    assert said == said_full and len(said) == 2  # the damaged line (31) and the torn tail (62)
    assert [m.split(": ", 1)[0].rsplit(":", 1)[1] for m in said] == ["31", "62"]
    fields = ["problem_id", "budget", "correct", "tries", "metadata", "absent"]
    chosen = pd.DataFrame(read_columns(path, fields, warn=lambda m: None))
    pd.testing.assert_frame_equal(chosen, full[[c for c in full.columns if c in fields]])
    no_text = pd.DataFrame(read_columns(path, skip=TEXT_FIELDS, warn=lambda m: None))
    pd.testing.assert_frame_equal(no_text, full.drop(columns=list(TEXT_FIELDS)))


def test_columns_store_repeated_values_once(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _run_lines()))
    columns = read_columns(path, ["problem_id", "metadata"])
    assert len({id(v) for v in columns["problem_id"]}) == 7
    assert len({id(v) for v in columns["metadata"]}) == 7  # one dict per problem


def test_report_numbers_are_the_same_from_selected_columns(tmp_path):
    from budgetbench.analysis.metrics import summarize_runs
    from budgetbench.analysis.runs import load_runs

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "spec.json").write_text(json.dumps({"model": "org/m", "task": "math500",
                                                            "method": "budget_forcing"}))
    _write_run(tmp_path / "run" / "samples.jsonl", _run_lines())
    full = pd.DataFrame(read_samples(tmp_path / "run" / "samples.jsonl", warn=lambda m: None))
    full = full.assign(model="org/m", waits=full["waits"].astype(int))
    expected = summarize_runs(full).reset_index(drop=True)
    got = load_runs([tmp_path / "run"], warn=lambda m: None)
    pd.testing.assert_frame_equal(got[expected.columns].reset_index(drop=True), expected, check_dtype=False)


def test_per_problem_analysis_is_the_same_from_selected_columns(tmp_path):
    from budgetbench.analysis.problems import Samples, load_samples, problem_frame

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "spec.json").write_text(json.dumps({"model": "org/m", "task": "math500",
                                                            "method": "budget_forcing"}))
    _write_run(tmp_path / "run" / "samples.jsonl", _run_lines())
    full = pd.DataFrame(read_samples(tmp_path / "run" / "samples.jsonl", warn=lambda m: None))
    full = full.assign(model="org/m", waits=full["waits"].astype(int), budget=full["budget"].astype(object))
    expected = problem_frame(Samples(full))
    pd.testing.assert_frame_equal(problem_frame(load_samples([tmp_path / "run"], warn=lambda m: None)), expected)


def test_vote_runs_are_the_same_from_selected_columns(tmp_path):
    from budgetbench.analysis.runs import load_runs
    from budgetbench.analysis.votes import vote_runs

    records = [{**r, "method": "majority_vote", "budget": "none", "sample": i // 7}
               for i, r in enumerate(_run_lines()[:56])]  # 7 problems x 8 samples
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "spec.json").write_text(json.dumps({"model": "org/m", "task": "math500",
                                                            "method": "majority_vote", "budgets": [1, 2, 4]}))
    _write_run(tmp_path / "run" / "samples.jsonl", records)
    full = pd.DataFrame(read_samples(tmp_path / "run" / "samples.jsonl", warn=lambda m: None)).assign(model="org/m")
    expected = vote_runs(full, [1, 2, 4]).reset_index(drop=True)
    got = load_runs([tmp_path / "run"], warn=lambda m: None)
    assert len(got) == 3
    pd.testing.assert_frame_equal(got[expected.columns].reset_index(drop=True), expected, check_dtype=False)
