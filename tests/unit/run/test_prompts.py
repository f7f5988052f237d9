"""prompts.jsonl: every distinct prompt of a problem once, named by the records, never twice on resume."""

from __future__ import annotations

import hashlib
import json

import pytest

from budgetbench.results.reader import load_prompts, load_records, read_prompts
from budgetbench.results.schema import PROMPT_FIELDS
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from tests.helpers.cli import read_samples


def _reply(context: str) -> str:
    return "\\boxed{1}" + EOS if "</think>" in context.split("<think>\n", 1)[1] else "hm</think>"


@pytest.fixture
def engine():
    return ScriptedEngine(_reply, CharTokenizer(specials=("</think>", "<think>\n")))


def _config(tmp_path, **kw):
    return RunConfig(**{"task": "toy_sum", "model": "scripted", "budgets": ("8",), "limit": 3,
                        "output": str(tmp_path / "out"), "progress": False, **kw})


def _lines(out) -> list[dict]:
    return [json.loads(x) for x in (out / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]


def test_each_prompt_is_stored_once_and_every_record_names_one(tmp_path, engine):
    out = execute(_config(tmp_path, budgets=("8", "40"), waits=(0, 1), samples=2), engine=engine).output
    records, prompts = read_samples(out), _lines(out)
    assert len(records) == 3 * 2 * 2 * 2 and len(prompts) == 3  # budget forcing: one prompt per problem
    assert all(tuple(p) == PROMPT_FIELDS for p in prompts)
    by_key = {(p["problem_id"], p["prompt_id"]): p for p in prompts}
    assert {(r["problem_id"], r["prompt_id"]) for r in records} == set(by_key)
    tok = engine.tokenizer
    for p in prompts:
        ids = tok.encode(p["prompt"])
        assert p["question"] in p["prompt"] and p["prompt"].endswith("<think>\n")
        assert p["prompt_tokens"] == len(ids)
        assert p["prompt_id"] == hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def test_a_method_with_the_budget_in_its_prompt_stores_one_prompt_per_budget(tmp_path, engine):
    out = execute(_config(tmp_path, method="token_conditional", budgets=("8", "40")), engine=engine).output
    prompts = _lines(out)
    assert len(prompts) == 3 * 2 and len({p["prompt_id"] for p in prompts}) == 6
    for budget in ("8", "40"):
        assert sum(f" {budget} " in p["prompt"] for p in prompts) == 3
    records = read_samples(out)
    assert {(r["problem_id"], r["prompt_id"]) for r in records} == {(p["problem_id"], p["prompt_id"]) for p in prompts}


def test_a_resume_writes_no_prompt_twice_and_adds_only_new_ones(tmp_path, engine):
    execute(_config(tmp_path, method="token_conditional", limit=2), engine=engine)
    out = tmp_path / "out"
    first = (out / "prompts.jsonl").read_bytes()
    # More samples of the same prompts, then a new budget (a new prompt per problem), then more problems.
    execute(_config(tmp_path, method="token_conditional", limit=2, samples=2), engine=engine)
    assert (out / "prompts.jsonl").read_bytes() == first
    execute(_config(tmp_path, method="token_conditional", budgets=("8", "40"), limit=3), engine=engine)
    prompts = _lines(out)
    assert (out / "prompts.jsonl").read_bytes().startswith(first)
    keys = [(p["problem_id"], p["prompt_id"]) for p in prompts]
    assert len(keys) == len(set(keys)) == 3 * 2


def test_a_torn_prompt_line_is_cut_off_and_its_prompt_written_again(tmp_path, engine):
    execute(_config(tmp_path, limit=2), engine=engine)
    path = tmp_path / "out" / "prompts.jsonl"
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1][:10])  # killed while writing the second prompt
    samples = tmp_path / "out" / "samples.jsonl"
    torn = json.loads(lines[1])["problem_id"]
    kept = [x for x in samples.read_bytes().splitlines(keepends=True) if json.loads(x)["problem_id"] != torn]
    assert len(kept) == 1
    samples.write_bytes(b"".join(kept))  # ... so its record was never written
    execute(_config(tmp_path, limit=2), engine=engine)
    assert path.read_bytes() == whole


def test_a_damaged_prompt_line_is_kept_and_warned_about(tmp_path, engine):
    out = execute(_config(tmp_path, limit=2), engine=engine).output
    path = out / "prompts.jsonl"
    path.write_bytes(b'{"no": "key"}\n' + path.read_bytes())
    with pytest.warns(UserWarning, match=r"prompts.jsonl:1: a damaged line \(not a JSON object with problem_id and "
                                         r"prompt_id\)"):
        assert len(read_prompts(path)) == 2
    with pytest.warns(UserWarning, match="prompts.jsonl:1: a damaged line"):
        execute(_config(tmp_path, limit=2), engine=engine)  # a resume warns and keeps the line
    assert path.read_bytes().startswith(b'{"no": "key"}\n') and len(_lines(out)) == 3


def test_load_prompts_joins_the_records(tmp_path, engine):
    a = execute(_config(tmp_path, output=str(tmp_path / "a")), engine=engine).output
    b = execute(_config(tmp_path, output=str(tmp_path / "b"), method="token_conditional"), engine=engine).output
    prompts = load_prompts([a, b, a])
    assert len(prompts) == 3 + 3 and list(prompts.columns[:4]) == ["model", "task", "problem_id", "prompt_id"]
    records = load_records([a, b]).merge(prompts, on=["model", "task", "problem_id", "prompt_id"], how="left")
    assert len(records) == 6 and records["prompt"].notna().all()
    assert (records["question"].str.startswith("Add:")).all()


def test_a_run_made_before_prompts_were_stored_reads_as_none(tmp_path, engine):
    out = execute(_config(tmp_path), engine=engine).output
    (out / "prompts.jsonl").unlink()
    assert read_prompts(out / "prompts.jsonl") == [] and load_prompts([out]).empty
