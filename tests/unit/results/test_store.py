"""The results directory: append + resume, torn lines, one writer, spec guard."""

from __future__ import annotations

import json
import re

import pytest

from budgetbench.errors import UserError
from budgetbench.results.reader import read_samples
from budgetbench.results.store import ResultStore, merge_sweep

SPEC = {"model": "m", "task": "t", "method": "budget_forcing", "budgets": [8], "waits": [0], "samples": 1,
        "limit": None, "seed": 0}


def rec(pid: str, budget: int = 8, sample: int = 0) -> dict:
    return {"problem_id": pid, "budget": budget, "waits": 0, "sample": sample, "correct": True}


def test_append_then_resume_reports_done_keys(tmp_path):
    with ResultStore(tmp_path / "r") as store:
        assert store.open(SPEC) == set()
        store.append([rec("a"), rec("b")])
    with ResultStore(tmp_path / "r") as store:
        assert store.open(SPEC) == {("a", "8", 0, 0), ("b", "8", 0, 0)}


def test_torn_last_line_is_cut_off_on_resume(tmp_path):
    with ResultStore(tmp_path / "r") as store:
        store.open(SPEC)
        store.append([rec("a")])
    path = tmp_path / "r" / "samples.jsonl"
    path.write_text(path.read_text() + '{"problem_id": "b", "bud')
    assert [r["problem_id"] for r in read_samples(path)] == ["a"]
    with ResultStore(tmp_path / "r") as store:
        assert store.open(SPEC) == {("a", "8", 0, 0)}
        store.append([rec("b")])
    lines = path.read_text().splitlines()
    assert [json.loads(x)["problem_id"] for x in lines] == ["a", "b"]


def test_second_writer_is_refused_and_lock_released_on_close(tmp_path):
    first = ResultStore(tmp_path / "r")
    first.open(SPEC)
    with pytest.raises(UserError, match="another bench process"):
        ResultStore(tmp_path / "r").open(SPEC)
    first.close()
    with ResultStore(tmp_path / "r") as again:
        again.open(SPEC)


def test_spec_guard_names_the_difference_and_writes_nothing(tmp_path):
    with ResultStore(tmp_path / "r") as store:
        store.open(SPEC)
    before = (tmp_path / "r" / "spec.json").read_bytes()
    with pytest.raises(UserError, match=r"model: 'm' -> 'other'"):
        ResultStore(tmp_path / "r").open({**SPEC, "model": "other"})
    assert (tmp_path / "r" / "spec.json").read_bytes() == before


def test_adding_budgets_is_allowed_and_merged(tmp_path):
    with ResultStore(tmp_path / "r") as store:
        store.open(SPEC)
    with ResultStore(tmp_path / "r") as store:
        store.open({**SPEC, "budgets": [8, 32], "samples": 2})
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert spec["budgets"] == [8, 32] and spec["samples"] == 2
    assert merge_sweep({**SPEC, "budgets": [8, 32]}, {**SPEC, "budgets": [16]})["budgets"] == [8, 32, 16]


def test_foreign_directory_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not a budgetbench results directory"):
        ResultStore(tmp_path / "mine").open(SPEC)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]


def test_spec_write_is_atomic_no_temp_files_left(tmp_path):
    with ResultStore(tmp_path / "r") as store:
        store.open(SPEC)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".lock", "prompts.jsonl", "samples.jsonl", "spec.json"]


def test_a_run_killed_before_its_first_spec_can_start_again(tmp_path):
    """kill -9 between creating the folder and renaming spec.json leaves .lock and a temporary spec."""
    out = tmp_path / "r"
    out.mkdir()
    (out / ".lock").write_text("")
    (out / ".spec.json.abc123.tmp").write_text('{"model": "m"')
    with ResultStore(out) as store:
        assert store.open({"model": "m", "task": "t"}) == set()
    assert (out / "spec.json").is_file()


def test_a_resume_with_other_engine_settings_is_refused_naming_the_field(tmp_path):
    base = {"model": "m", "task": "t", "method_config": {"temperature": 0.0, "top_p": 1.0},
            "engine": {"engine": "hf", "dtype": "float32", "max_model_len": 4096, "torch": "2.13.0"}}
    with ResultStore(tmp_path / "r") as store:
        store.open(base)
    upgraded = {**base, "engine": {**base["engine"], "torch": "2.14.0"}}  # versions may change
    with ResultStore(tmp_path / "r") as store:
        store.open(upgraded)
    for change, said in (({"engine": {**base["engine"], "dtype": "bfloat16"}}, "engine.dtype: 'float32' -> 'bfloat16'"),
                         ({"engine": {**base["engine"], "max_model_len": 2048}}, "engine.max_model_len: 4096 -> 2048"),
                         ({"method_config": {"temperature": 0.7, "top_p": 1.0}}, "method_config.temperature: 0.0 -> 0.7")):
        with pytest.raises(UserError, match=re.escape(said)):
            ResultStore(tmp_path / "r").check({**base, **change})


def test_files_get_the_umask_mode_not_0600(tmp_path):
    import os
    import stat

    from budgetbench.results.store import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "spec.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "spec.json").stat().st_mode) == 0o644
