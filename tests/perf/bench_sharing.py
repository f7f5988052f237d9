"""Benchmark: a budget-forcing sweep with shared prefixes vs each budget separately (--no-share).

    python tests/perf/bench_sharing.py                       # tiny model built on the spot, CPU
    python tests/perf/bench_sharing.py --model DIR --caps 500,1000,2000,4000,8000,16000 --limit 30

Prints, for both modes: decode tokens, prefill tokens, engine calls, wall time, and their ratios;
then the harness overhead: the shared run's wall time vs a direct engine loop that generates the
same number of tokens (one generate call per round, no method, no grading, no storage).
The default tiny model never ends its thinking (its end-of-thinking and EOS logits are zeroed), so
thinking reaches the largest cap; with a real model that stops, pass a large --waits (a forced
minimum: every end of thinking is answered with "Wait").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from budgetbench.engines import make_engine  # noqa: E402
from budgetbench.formats import detect_format  # noqa: E402
from budgetbench.methods.base import MethodConfig  # noqa: E402
from budgetbench.methods.budget_forcing import BudgetForcing  # noqa: E402
from budgetbench.run.sweep import Sweep, run_sweep  # noqa: E402
from budgetbench.tasks import get_task  # noqa: E402
from budgetbench.types import GenRequest, SamplingParams  # noqa: E402


class _Records:
    def __init__(self):
        self.records = []

    def append(self, records):
        self.records.extend(records)


def timed_sweep(engine, method, task, problems, sweep):
    before = engine.stats.as_dict()
    store = _Records()
    start = time.perf_counter()
    run_sweep(engine, method, task, problems, sweep, store, set(), progress=False)
    seconds = time.perf_counter() - start
    after = engine.stats.as_dict()
    return {k: after[k] - before[k] for k in after} | {"seconds": seconds}, store.records


def direct_loop(engine, method, problems, records, answer_tokens):
    """Generate as many tokens as the shared run did, straight through the engine."""
    prompts = [method.prompt_ids(p.question) for p in problems]
    longest = {}
    for r in records:
        longest[r["problem_id"]] = max(longest.get(r["problem_id"], 0), r["thinking_tokens"])
    start = time.perf_counter()
    reqs = [GenRequest(p, SamplingParams(max_tokens=max(1, longest[pr.id]))) for p, pr in zip(prompts, problems)]
    outs = engine.generate(reqs)
    answers = [GenRequest(tuple(r.prompt_ids) + o.first.token_ids, SamplingParams(max_tokens=answer_tokens))
               for r, o in zip(reqs, outs) for _ in range(len(records) // len(problems))]
    engine.generate(answers)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model directory or hub id [default: a tiny random model]")
    ap.add_argument("--engine", default="hf")
    ap.add_argument("--task", default="math500")
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"))
    ap.add_argument("--caps", default="50,100,200,400,800,1600", help="same ratios as s1's 500..16000")
    ap.add_argument("--waits", type=int, default=0, help="extensions; a large number forces a minimum")
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--answer-tokens", type=int, default=16)
    args = ap.parse_args()

    model = args.model
    if model is None:
        from budgetbench.testing.random_models import build_random_model

        model = str(build_random_model(Path(tempfile.mkdtemp()) / "tiny", "think", boost=0.0))  # never ends thinking
    engine = make_engine(args.engine, model, batch_size=64)
    fmt = detect_format(engine.tokenizer.vocab(), engine.tokenizer.chat_template)
    method = BudgetForcing(engine.tokenizer, fmt, MethodConfig(answer_tokens=args.answer_tokens))
    task = get_task(args.task)
    problems = task.load(Path(args.data_dir) if args.data_dir else None)[: args.limit]
    caps = tuple(int(c) for c in args.caps.split(","))

    results = {}
    for mode, share in (("shared", True), ("separate", False)):
        results[mode], records = timed_sweep(engine, method, task, problems, Sweep(caps, (args.waits,), share=share))
        if share:
            shared_records = records
    print(f"model={model} engine={args.engine} task={args.task} problems={len(problems)} caps={args.caps}")
    print(f"{'':10s} {'decode':>10s} {'prefill':>10s} {'calls':>6s} {'seconds':>8s}")
    for mode, r in results.items():
        print(f"{mode:10s} {r['decode_tokens']:10d} {r['prefill_tokens']:10d} {r['calls']:6d} {r['seconds']:8.2f}")
    s, n = results["shared"], results["separate"]
    print(f"{'ratio':10s} {s['decode_tokens'] / n['decode_tokens']:10.3f} {s['prefill_tokens'] / n['prefill_tokens']:10.3f} "
          f"{s['calls'] / n['calls']:6.2f} {s['seconds'] / n['seconds']:8.3f}   (shared / separate)")
    direct = direct_loop(engine, method, problems, shared_records, args.answer_tokens)
    print(f"harness overhead: shared run {s['seconds']:.2f}s vs direct engine loop {direct:.2f}s "
          f"= {s['seconds'] / direct:.3f}x")


if __name__ == "__main__":
    main()
