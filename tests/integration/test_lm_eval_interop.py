"""lm-eval interop end to end with the shipped toy model, on a local lm-eval task (offline).

Both directions: an lm-eval task under ``bench run`` (graded by the task's own metric), and the
``budgetbench`` model under lm-eval's ``simple_evaluate`` and lm-eval's own command line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import REPO, bench, read_samples
from tests.helpers.lm_eval import write_local_task

pytestmark = pytest.mark.slow
lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'budgetbench[lm-eval]')")
pytest.importorskip("transformers")

TASK = "bb_toy_sum"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    return write_local_task(tmp_path_factory.mktemp("lm-eval-tasks"), TASK, n=8)


def test_bench_run_lm_eval_task_with_budget_forcing(task_dir, tmp_path):
    out = tmp_path / "run"
    proc = bench("run", "--task", f"lm_eval:{TASK}@{task_dir}", "--model", str(MODEL_DIR), "--method", "budget_forcing",
                 "--budgets", "16,80", "--answer-tokens", "16", "--output", str(out), "--no-progress", "--no-report")
    records = read_samples(out)
    assert len(records) == 8 * 2 and {r["task"] for r in records} == {f"lm_eval:{TASK}"}
    for r in records:
        assert 0 < r["thinking_tokens"] <= r["budget"] and isinstance(r["correct"], bool)
        assert r["extracted"] is not None  # the task's regex filter found the boxed answer
        assert r["correct"] == (r["extracted"] == r["gold"])
        assert r["grade_note"] is None if r["correct"] else r["grade_note"] == "exact_match=0"
    capped = [r for r in records if r["budget"] == 16]
    assert all(r["forced_end"] and r["thinking_tokens"] == 16 for r in capped)
    assert sum(r["correct"] for r in records if r["budget"] == 80) >= 6  # the toy model adds well
    assert sum(r["correct"] for r in capped) < sum(r["correct"] for r in records if r["budget"] == 80)
    spec = json.loads((out / "spec.json").read_text())
    assert spec["data_source"].startswith(f"lm_eval:{TASK}") and "grader: task" in spec["data_source"]
    assert "acc %" in proc.stdout

    # bench score re-grades with the task's own metric (the folder of YAMLs comes from the env).
    import os

    samples = out / "samples.jsonl"
    lines = samples.read_text().splitlines()
    flipped = json.loads(lines[0])
    flipped["correct"] = not flipped["correct"]
    samples.write_text("\n".join([json.dumps(flipped), *lines[1:]]) + "\n")
    score = subprocess.run([sys.executable, "-m", "budgetbench", "score", str(out)], capture_output=True, text=True,
                           env={**os.environ, "BUDGETBENCH_LM_EVAL_INCLUDE": str(task_dir)}, timeout=300)
    assert score.returncode == 0, score.stderr
    assert read_samples(out) == records


def _simple_evaluate(task_dir, records, budget, **kwargs):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    import budgetbench.interop.lm_eval_model  # noqa: F401  (registers "budgetbench")

    return simple_evaluate(
        model="budgetbench",
        model_args=f"pretrained={MODEL_DIR},records={records}",
        tasks=[TASK],
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        gen_kwargs=f"method=budget_forcing,budget={budget}",
        batch_size=16,
        device="cpu",
        **kwargs,
    )


@pytest.mark.parametrize("budget", [12, 80])
def test_simple_evaluate_caps_thinking_at_the_budget(task_dir, tmp_path, budget):
    from transformers import AutoTokenizer

    records_path = tmp_path / "records.jsonl"
    results = _simple_evaluate(task_dir, records_path, budget)
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    assert len(records) == 8 and all(r["budget"] == budget and r["method"] == "budget_forcing" for r in records)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    for r in records:
        assert r["thinking_tokens"] <= budget
        assert len(tok.encode(r["thinking_text"], add_special_tokens=False)) <= budget
        assert not r["rendered_prompt"]  # no chat template from lm-eval: budgetbench rendered the chat
    exact_match = results["results"][TASK]["exact_match,boxed"]
    if budget == 12:
        assert all(r["forced_end"] and r["thinking_tokens"] == 12 for r in records)
        assert exact_match <= 0.25
    else:
        assert not any(r["forced_end"] for r in records) and exact_match >= 0.75
    responses = [s["resps"][0][0] for s in results["samples"][TASK]]
    assert all("</think>" not in s and "boxed" in s for s in responses)  # lm-eval got the answer part


def test_lm_eval_chat_template_gives_the_same_prompt(task_dir, tmp_path):
    plain, chat = tmp_path / "plain.jsonl", tmp_path / "chat.jsonl"
    _simple_evaluate(task_dir, plain, 80, limit=3)
    _simple_evaluate(task_dir, chat, 80, limit=3, apply_chat_template=True)
    plain_records = [json.loads(line) for line in plain.read_text().splitlines()]
    chat_records = [json.loads(line) for line in chat.read_text().splitlines()]
    assert all(r["rendered_prompt"] for r in chat_records)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("rendered_prompt", "seed")}  # noqa: E731
    assert list(map(strip, chat_records)) == list(map(strip, plain_records))


def test_lm_eval_cli_with_the_budgetbench_model(task_dir, tmp_path):
    records, out = tmp_path / "records.jsonl", tmp_path / "lm-eval-out"
    proc = subprocess.run(
        [sys.executable, "-m", "budgetbench.interop.lm_eval_cli", "--model", "budgetbench",
         "--model_args", f"pretrained={MODEL_DIR},records={records}", "--include_path", str(task_dir),
         "--tasks", TASK, "--gen_kwargs", "method=budget_forcing,budget=20,waits=1,wait_string=Wait",
         "--batch_size", "16", "--limit", "4", "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["model"] == "budgetbench" and "exact_match,boxed" in results["results"][TASK]
    assert list(out.rglob(f"samples_{TASK}_*.jsonl"))
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(rows) == 4 and all(r["thinking_tokens"] <= 20 and r["waits"] == 1 for r in rows)


def test_prompt_conditional_method_refuses_a_rendered_prompt(task_dir, tmp_path):
    from budgetbench.errors import UserError

    with pytest.raises(UserError, match="writes the budget into the user's message"):
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager

        import budgetbench.interop.lm_eval_model  # noqa: F401

        simple_evaluate(model="budgetbench", model_args=f"pretrained={MODEL_DIR},prompt=raw", tasks=[TASK],
                        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
                        gen_kwargs="method=token_conditional,budget=32", limit=1, device="cpu")
