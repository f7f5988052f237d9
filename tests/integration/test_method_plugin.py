"""A third-party method written only against the documented contract (``Method``, without
``MethodBase``), installed through the ``budgetbench.methods`` entry point, runs under ``bench run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.helpers.cli import read_samples

PLUGIN = '''
from typing import Any, ClassVar

from budgetbench.methods.base import Trace
from budgetbench.types import GenRequest, SamplingParams


class OneShot:
    """Think and answer in one request of budget + answer tokens; no control at all."""

    name: ClassVar[str] = "one_shot"
    description: ClassVar[str] = "one request, no control (a plugin)"
    label: ClassVar[str] = "1S"
    budget_unit: ClassVar[str] = "tokens"
    tokens_per_unit: ClassVar[float | None] = 1.0
    named_budgets: ClassVar[tuple[str, ...]] = ()
    reference_budget: ClassVar[str | None] = None
    default_budgets: ClassVar[tuple[str, ...]] = ("24",)
    shares_prefixes: ClassVar[bool] = False
    votes: ClassVar[bool] = False
    native_budget: ClassVar[bool] = False

    def __init__(self, tokenizer, fmt, config):
        self.tok, self.fmt, self.config = tokenizer, fmt, config
        self.temperature = 0.0

    @classmethod
    def parse_budget(cls, text):
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"one_shot budgets are token counts, got {text!r}")
        return int(text)

    def sweep(self, budgets, samples):
        return budgets, samples

    def start(self, problem, budget, waits, sample, seed):
        prompt = self.tok.render_chat(problem.question) + self.fmt.thinking_start
        return Trace(problem, budget, sample, seed, tuple(self.tok.encode(prompt)), waits)

    def next_request(self, trace):
        if trace.phase == "done":
            return None
        params = SamplingParams(max_tokens=trace.budget + self.config.answer_tokens, seed=trace.round_seed(),
                                stop_token_ids=self.tok.eos_token_ids)
        return GenRequest(trace.context(), params)

    def update(self, trace, result):
        completion = result.first
        trace.answer_ids.extend(completion.token_ids)
        trace.finish_reason, trace.phase, trace.rounds = completion.finish_reason, "done", trace.rounds + 1

    def record_fields(self, trace) -> dict[str, Any]:
        return {"thinking_tokens": 0, "answer_tokens": len(trace.answer_ids), "forced_end": False,
                "extensions": 0, "finish_reason": trace.finish_reason, "thinking_text": "",
                "answer_text": self.tok.decode(trace.answer_ids), "rounds": trace.rounds}
'''


def install_plugin(site: Path) -> None:
    """The plugin as an installed distribution: a module and its dist-info with the entry point."""
    site.mkdir(parents=True)
    (site / "one_shot_method.py").write_text(PLUGIN)
    info = site / "one_shot_method-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: one-shot-method\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[budgetbench.methods]\none_shot = one_shot_method:OneShot\n")


def test_a_protocol_only_plugin_runs_through_bench_run(tmp_path):
    install_plugin(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    listed = subprocess.run([sys.executable, "-m", "budgetbench", "methods"], capture_output=True, text=True,
                            env=env, check=True).stdout
    assert "one_shot" in listed and "1S" in listed
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "budgetbench", "run", "--method", "one_shot", "--budgets", "8,24",
                           "--limit", "3", "--answer-tokens", "16", "--output", str(out), "--no-progress"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    records = read_samples(out)
    assert sorted((r["problem_id"], r["budget"]) for r in records) == sorted(
        (pid, b) for pid in {r["problem_id"] for r in records} for b in (8, 24))
    assert len(records) == 6 and all(r["method"] == "one_shot" and r["answer_tokens"] <= b + 16
                                     for r, b in ((r, r["budget"]) for r in records))
    methods = pd.read_csv(out / "report" / "methods.csv")  # the plugin's own label and unit, from its class
    assert (methods["method"].tolist(), methods["label"].tolist(), methods["unit"].tolist()) == (
        ["one_shot"], ["1S"], ["tokens"])
