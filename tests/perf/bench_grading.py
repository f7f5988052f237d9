"""Benchmark: answers graded per second, budgetbench vs plain math-verify, same inputs, same cores.

    python tests/perf/bench_grading.py                      # 500 MATH500 problems x 64 samples
    python tests/perf/bench_grading.py --samples 8 --workers 2

Inputs: for every MATH500 problem, ``--samples`` responses ending in a boxed answer, drawn with a
fixed seed from the gold answer written another way (``\\dfrac``, spaces, ``\\left( \\right)``,
a trailing ``.0``), a near miss (gold digits changed) or junk; so the mix has right and wrong
answers and repeats, as real samples do. budgetbench grades with ``grade_many`` (its worker pool,
``--workers`` processes); math-verify runs ``verify(parse(gold), parse(boxed response))`` in a
``multiprocessing`` pool of the same size. Both print answers per second and their agreement.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from budgetbench.grading import grade_many  # noqa: E402


def variants(gold: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return gold
    if roll < 0.5:
        return gold.replace("\\frac", "\\dfrac").replace(",", ", ")
    if roll < 0.6:
        return f"\\left( {gold} \\right)" if "," in gold else gold + " "
    if roll < 0.85:
        return re.sub(r"\d", lambda m: str((int(m.group()) + rng.randint(1, 9)) % 10), gold, count=1) or "0"
    return rng.choice(["x^2+1", "\\sqrt{7}", "12", "\\frac{3}{4}", "(1,2)", "\\text{no}"])


def responses(data: Path, problems: int, samples: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in open(data / "math500.jsonl")][:problems]
    return [(row["answer"], f"So the answer is $\\boxed{{{variants(row['answer'], rng)}}}$.")
            for row in rows for _ in range(samples)]


def _math_verify_one(pair: tuple[str, str]) -> bool:
    from math_verify import parse, verify

    gold, response = pair
    try:
        return bool(verify(parse(f"${gold}$"), parse(response)))
    except Exception:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"))
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    items = responses(Path(args.data_dir), args.problems, args.samples, args.seed)
    print(f"{len(items)} answers ({args.problems} problems x {args.samples} samples), {args.workers} workers")

    start = time.perf_counter()
    ours = grade_many(items, "math", workers=args.workers)
    t_ours = time.perf_counter() - start
    with mp.get_context("fork").Pool(args.workers) as pool:
        start = time.perf_counter()
        theirs = pool.map(_math_verify_one, items, chunksize=64)
        t_theirs = time.perf_counter() - start
    agree = sum(bool(a.correct) == b for a, b in zip(ours, theirs))
    slowest = max((g.reason == "timeout" for g in ours), default=False)
    print(f"budgetbench  {len(items) / t_ours:10.1f} answers/s  ({t_ours:.1f}s)")
    print(f"math-verify  {len(items) / t_theirs:10.1f} answers/s  ({t_theirs:.1f}s)")
    print(f"ratio {t_theirs / t_ours:.2f}x; verdicts agree on {agree}/{len(items)}; any timeout: {slowest}")


if __name__ == "__main__":
    main()
