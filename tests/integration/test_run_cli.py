"""`bench run` end to end: the real CLI, real tiny transformers models, a few problems per task."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.helpers.cli import bench, free_port, read_samples
from tests.helpers.data import GPQA_MEMBER
from tests.helpers.zipcrypto import write_encrypted_zip

pytestmark = pytest.mark.slow

PREFIX = {"think": "\n\nFinal Answer:", "think-split": "\n\nFinal Answer:", "s1": "\nFinal Answer:"}


@pytest.mark.parametrize(
    "task,fmt", [("aime24", "think"), ("math500", "s1"), ("gpqa_diamond", "think-split")]
)
def test_run_every_task_offline(task, fmt, tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    proc = bench(
        "run", "--task", task, "--model", str(tiny_models[fmt]), "--budgets", "4,16,48",
        "--limit", "4", "--samples", "2", "--data-dir", str(data_dir), "--output", str(out),
        "--answer-tokens", "16", "--no-progress",
    )
    records = read_samples(out)
    keys = Counter((r["problem_id"], r["budget"], r["sample"]) for r in records)
    assert len(records) == 4 * 3 * 2 and set(keys.values()) == {1}
    spec = json.loads((out / "spec.json").read_text())
    assert spec["model"] == "/".join(tiny_models[fmt].parts[-2:]) and spec["task"] == task
    assert spec["format"]["name"] == ("s1" if fmt == "s1" else "think")
    for r in records:
        assert 0 <= r["thinking_tokens"] <= r["budget"]
        assert isinstance(r["correct"], bool)
        if r["forced_end"]:
            assert r["answer_text"].startswith(PREFIX[fmt])
        else:
            assert not r["answer_text"].startswith(PREFIX[fmt])
    assert any(r["forced_end"] for r in records)
    assert "acc %" in proc.stdout and "forced %" in proc.stdout  # the end-of-run table


def test_waits_give_exactly_k_extensions(tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    bench(
        "run", "--task", "math500", "--model", str(tiny_models["think"]), "--budgets", "200",
        "--waits", "2", "--limit", "8", "--data-dir", str(data_dir), "--output", str(out),
        "--answer-tokens", "8", "--no-progress",
    )
    records = read_samples(out)
    stopped_early = [r for r in records if not r["forced_end"]]
    assert stopped_early, "the tiny model should end its thinking by itself on some problems"
    for r in stopped_early:
        assert r["extensions"] == 2
        assert r["thinking_text"].count("Wait") >= 2
    assert all(r["thinking_tokens"] <= 200 for r in records)


def test_resume_regenerates_exactly_the_missing_half(tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    args = ("run", "--task", "math500", "--model", str(tiny_models["think"]), "--budgets", "8,32",
            "--limit", "6", "--data-dir", str(data_dir), "--output", str(out), "--answer-tokens", "8",
            "--no-progress")
    bench(*args)
    full = read_samples(out)
    lines = (out / "samples.jsonl").read_text().splitlines(keepends=True)
    kept = lines[::2]
    # Also leave a torn half line at the end, as a crash mid-write would.
    (out / "samples.jsonl").write_text("".join(kept) + lines[1][: len(lines[1]) // 2])
    proc = bench(*args)
    assert f"{len(lines) - len(kept)} samples generated, {len(kept)} already on disk" in proc.stdout
    resumed = read_samples(out)
    key = lambda r: (r["problem_id"], r["budget"], r["sample"])  # noqa: E731
    assert sorted(map(key, resumed)) == sorted(map(key, full))
    # Greedy decoding: the regenerated records are the ones the first run wrote.
    by_key = {key(r): r for r in full}
    for r in resumed:
        assert r["thinking_text"] == by_key[key(r)]["thinking_text"]


def test_bench_tasks_and_methods_list(data_dir):
    tasks = bench("tasks", "--data-dir", str(data_dir)).stdout
    for name, size in (("aime24", "30"), ("math500", "500"), ("gpqa_diamond", "198")):
        assert name in tasks and size in tasks
    methods = bench("methods").stdout
    assert "budget_forcing" in methods and "tokens" in methods


@pytest.fixture
def bad_data_dir(tmp_path):
    """A data folder whose math500.jsonl is corrupt and whose GPQA zip has the wrong password."""
    root = tmp_path / "bad-data"
    (root / "gpqa").mkdir(parents=True)
    (root / "math500.jsonl").write_text('{"problem": "1+1", "answer": "2", "unique_id": "a"}\n{not json\n')
    (root / "gpqa" / "dataset.zip").write_bytes(b"PK\x03\x04 this is not the official zip")
    return root


@pytest.mark.parametrize(
    "args,message",
    [
        (("--task", "nope"), "unknown task 'nope'"),
        (("--method", "nope"), "unknown method 'nope'"),
        (("--engine", "nope"), "unknown engine"),
        (("--budgets", "512,,1"), "--budgets"),
        (("--budgets", ""), "--budgets"),
        (("--budgets", "0"), "positive"),
        (("--budgets", "-5"), "positive"),
        (("--budgets", "abc"), "not a number"),
        (("--budgets", "8,8"), "twice"),
        (("--budgets", "100000"), "does not fit the model's context"),
        (("--waits", "x"), "--waits"),
        (("--method", "class_conditional", "--budgets", "medium"), "short, long and none"),
        (("--model", "./no/such/model"), "does not exist"),
        (("--data-dir", "/no/such/dir"), "does not exist"),
        (("--data-dir", "BAD"), "corrupt at line 2"),
        (("--task", "gpqa_diamond", "--data-dir", "BAD"), "not the official dataset.zip"),
        (("--task", "no_such_file.py"), "does not exist"),
        (("--temperature", "-1"), "--temperature"),
        (("--engine", "openai", "--base-url", f"http://127.0.0.1:{free_port()}/v1"), "cannot reach the server"),
        (("--engine", "openai"), "needs --base-url"),
        (("--base-url", "ftp://127.0.0.1:1"), "must start with http://"),
        (("--native-thinking-budget", None), "needs vLLM's thinking_token_budget"),
        (("--tensor-parallel-size", "2"), "--tensor-parallel-size is an option of --engine vllm"),
        (("--engine", "openai", "--base-url", "http://127.0.0.1:1", "--batch-size", "4"), "--batch-size is an option"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(args, message, tiny_models, data_dir, bad_data_dir, tmp_path):
    base = {"--task": "math500", "--model": str(tiny_models["think"]), "--budgets": "8",
            "--data-dir": str(data_dir), "--output": str(tmp_path / "out")}
    base.update(dict(zip(args[::2], args[1::2])))
    if base["--data-dir"] == "BAD":
        base["--data-dir"] = str(bad_data_dir)
    proc = bench("run", *[x for kv in base.items() for x in kv if x is not None], "--no-progress", check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_foreign_output_directory_is_left_untouched(tiny_models, data_dir, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "draft.tex").write_text("precious")
    proc = bench("run", "--task", "math500", "--model", str(tiny_models["think"]), "--budgets", "8",
                 "--data-dir", str(data_dir), "--output", str(precious), check=False)
    assert proc.returncode == 2 and "not a budgetbench results directory" in proc.stderr
    assert [p.name for p in precious.iterdir()] == ["draft.tex"]


def test_gpqa_zip_with_wrong_password(tiny_models, tmp_path):
    write_encrypted_zip(tmp_path / "data" / "gpqa" / "dataset.zip",
                        {GPQA_MEMBER: b"Question,Correct Answer\nq,a\n"}, b"not-the-password")
    proc = bench("run", "--task", "gpqa_diamond", "--model", str(tiny_models["think"]), "--budgets", "8",
                 "--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "Bad password" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
