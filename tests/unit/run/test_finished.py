"""A finished run that is resumed is recognised before the model loads (run.finished)."""

from __future__ import annotations

import json

import pytest

from budgetbench.errors import UserError
from budgetbench.methods.base import MethodConfig
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine


class Engine(ScriptedEngine):
    """Records engine settings as the hf engine does."""

    name = "hf"

    def info(self):
        return {"engine": "hf", "model": "scripted", "dtype": "float32", "max_model_len": None, "torch": "2.13.0"}


def _reply(context: str) -> str:
    return "\\boxed{1}" + EOS if "</think>" in context.split("<think>\n", 1)[1] else "hm</think>"


class Loaded(Exception):
    pass


def refuse(*args, **kwargs):
    raise Loaded("the engine factory was called")


def load(*args, **kwargs):
    return Engine(_reply, CharTokenizer(specials=("</think>", "<think>\n")))


def _config(tmp_path, **kw):
    return RunConfig(**{"task": "toy_sum", "model": "scripted", "budgets": ("8", "40"), "waits": (0, 1), "limit": 3,
                        "samples": 2, "output": str(tmp_path / "out"), "progress": False, **kw})


def _snapshot(tmp_path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}


def test_a_finished_run_is_not_loaded_again(tmp_path):
    first = execute(_config(tmp_path), engine_factory=load)
    assert first.loaded and len(first.records) == 3 * 2 * 2 * 2
    before = _snapshot(tmp_path)
    again = execute(_config(tmp_path), engine_factory=refuse)
    assert not again.loaded and again.records == first.records
    assert again.stats.skipped == 24 and again.stats.finished == 0 and again.stats.requests == 0
    assert _snapshot(tmp_path) == before  # nothing written
    part = execute(_config(tmp_path, budgets=("40",), waits=(1,), samples=1, limit=2, engine_options={"dtype": "auto"}),
                   engine_factory=refuse)  # a part of the finished sweep
    assert not part.loaded and part.stats.skipped == 2


@pytest.mark.parametrize("change", [
    {"budgets": ("8", "40", "80")}, {"waits": (0, 1, 2)}, {"samples": 3}, {"limit": 4}, {"limit": None},
    {"engine_options": {"dtype": "bfloat16"}}, {"engine_options": {"max_model_len": 256}},
    {"engine_options": {"engine_args": ("enable_chunked_prefill=true",)}}, {"thinking_format": "s1"},
    {"format_overrides": {"answer_prefix": "\nAnswer:"}},
])
def test_a_run_with_something_left_or_other_engine_settings_loads_the_engine(tmp_path, change):
    execute(_config(tmp_path), engine_factory=load)
    with pytest.raises(Loaded):  # the ordinary path: the loaded engine decides
        execute(_config(tmp_path, **change), engine_factory=refuse)


def test_a_run_missing_a_sample_loads_the_engine_and_completes(tmp_path):
    execute(_config(tmp_path), engine_factory=load)
    samples = tmp_path / "out" / "samples.jsonl"
    samples.write_bytes(b"".join(samples.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(Loaded):
        execute(_config(tmp_path), engine_factory=refuse)
    outcome = execute(_config(tmp_path), engine_factory=load)
    assert outcome.loaded and outcome.stats.finished == 1


def test_other_settings_are_refused_before_the_model_loads(tmp_path):
    execute(_config(tmp_path), engine_factory=load)
    before = _snapshot(tmp_path)
    with pytest.raises(UserError, match=r"method_config.temperature: 0.0 -> 0.7"):
        execute(_config(tmp_path, method_config=MethodConfig(temperature=0.7)), engine_factory=refuse)
    with pytest.raises(UserError, match=r"seed: 0 -> 1"):
        execute(_config(tmp_path, seed=1), engine_factory=refuse)
    assert _snapshot(tmp_path) == before


def test_a_finished_majority_vote_is_planned_from_its_k_values(tmp_path):
    config = _config(tmp_path, method="majority_vote", budgets=("1", "2", "4"), waits=(0,), samples=1)
    first = execute(config, engine_factory=load)
    assert len(first.records) == 3 * 4 and {r["budget"] for r in first.records} == {"none"}
    again = execute(_config(tmp_path, method="majority_vote", budgets=("2",), waits=(0,), samples=1),
                    engine_factory=refuse)
    assert not again.loaded and again.stats.skipped == 3 * 2
    with pytest.raises(Loaded):
        execute(_config(tmp_path, method="majority_vote", budgets=("8",), waits=(0,), samples=1), engine_factory=refuse)


def test_a_legacy_spec_with_absolute_paths_is_still_recognised(tmp_path):
    execute(_config(tmp_path), engine_factory=load)
    spec_path = tmp_path / "out" / "spec.json"
    spec = json.loads(spec_path.read_text())
    del spec["model_fingerprint"]  # written before fingerprints existed
    spec_path.write_text(json.dumps(spec))
    assert not execute(_config(tmp_path), engine_factory=refuse).loaded


def test_several_runs_load_the_model_once_only_for_what_is_left(tmp_path):
    """execute_many: finished runs are answered from disk; the engine loads once for the rest, or
    not at all when every run is finished."""
    from dataclasses import replace

    from budgetbench.run.execute import execute_many

    loads = []

    def counting(*args, **kwargs):
        loads.append(1)
        return load()

    first = _config(tmp_path)
    second = replace(first, method="token_conditional", output=str(tmp_path / "tcc"))
    execute(first, engine_factory=load)
    outcomes = execute_many([first, second], engine_factory=counting)
    assert [o.loaded for o in outcomes] == [False, True] and len(loads) == 1
    again = execute_many([first, second], engine_factory=refuse)
    assert [o.loaded for o in again] == [False, False]
    assert [o.records for o in again] == [o.records for o in outcomes]


def test_a_run_with_a_failed_sample_loads_the_engine_to_try_it_again(tmp_path):
    """A failed sample (``error``) is on disk but not done: the rerun loads the model and retries it."""
    execute(_config(tmp_path), engine_factory=load)
    samples = tmp_path / "out" / "samples.jsonl"
    lines = samples.read_bytes().splitlines(keepends=True)
    failed = {**json.loads(lines[0]), "error": "http 400: too long", "correct": False, "extracted": None}
    samples.write_bytes(json.dumps(failed).encode() + b"\n" + b"".join(lines[1:]))
    with pytest.raises(Loaded):
        execute(_config(tmp_path), engine_factory=refuse)
    with pytest.warns(UserWarning, match="1 failed samples are tried again"):
        outcome = execute(_config(tmp_path), engine_factory=load)
    assert outcome.loaded and outcome.stats.finished == 1 and not any("error" in r for r in outcome.records)


def test_two_runs_resuming_into_one_folder_are_told_so_not_that_another_process_writes(tmp_path):
    """The folder is claimed before its lock is taken: the second run is not refused by the first's lock."""
    from dataclasses import replace

    from budgetbench.run.execute import execute_many

    first = _config(tmp_path)
    execute(first, engine_factory=load)  # the folder exists: a resume takes its lock at precheck
    with pytest.raises(UserError, match="runs 1 and 2 would both write to"):
        execute_many([first, replace(first, budgets=("16",))], engine_factory=refuse)
