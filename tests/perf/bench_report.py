"""Benchmark: ``bench report`` on a large synthetic run: wall time and peak memory (RSS).

    python tests/perf/bench_report.py                              # 10^6 records, plain report
    python tests/perf/bench_report.py --records 100000 --by level  # smaller, with the --by analysis
    python tests/perf/bench_report.py --dir /tmp/big --keep         # reuse (or keep) the synthetic run

The run is one ``budget_forcing`` results directory written as ``bench run`` writes it (every field
of the record schema, ``ensure_ascii=False``): ``--problems`` problems (MATH500-like metadata:
level 1-5, one of 7 subjects) × ``--budgets`` × as many samples as make ``--records`` records.
Thinking texts are a few hundred characters (drawn with a fixed seed from a pool of sentences with
LaTeX, newlines and some non-ASCII), answer texts end in a box; verdicts depend on the problem's
difficulty and the budget, so the tables are not degenerate. ``bench report`` then runs in a
subprocess (``python -m budgetbench report``) ``--repeat`` times; each prints its wall time, its CPU
time (user + system) and its peak RSS (``os.wait4``'s rusage of that child alone). On a shared
machine wall times are inflated by the other jobs' load; CPU time less so, the peak RSS not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = ("Algebra", "Geometry", "Number Theory", "Precalculus", "Prealgebra", "Intermediate Algebra",
            "Counting & Probability")
SENTENCES = (
    "Let me think about this step by step.", "Wait, that is not right; let me recompute the sum.",
    "So $x^2 + 2x + 1 = (x+1)^2$, hence the roots coincide.", "We have $\\frac{3}{4} \\cdot 8 = 6$.",
    "Hmm, consider the case $n = 2$ first.\n\n", "By the triangle inequality, $|a + b| \\le |a| + |b|$.",
    "Therefore the area is $\\pi r^2 = 16\\pi$.", "Check: $7 \\times 13 = 91$, which is not prime.",
    "The answer must be an integer between 0 and 999.", "Alternatively, 用换元法 $t = x - 1$ … then simplify.",
    "Substituting back gives $y = \\sqrt{5}$, so $y^2 = 5$.\n", "That matches the earlier estimate.",
)


def write_run(directory: Path, records: int, problems: int, budgets: list[int], text_chars: int, seed: int) -> int:
    """Write spec.json and samples.jsonl; return the number of records written."""
    samples = max(1, records // (problems * len(budgets)))
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    spec = {"model": "org/synthetic-7B", "task": "math500", "method": "budget_forcing", "budgets": budgets,
            "samples": samples, "waits": 0}
    (directory / "spec.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    difficulty = [rng.random() for _ in range(problems)]
    pool = []  # thinking texts: a few hundred characters each
    for _ in range(2000):
        text = ""
        while len(text) < rng.randint(text_chars // 2, text_chars * 3 // 2):
            text += rng.choice(SENTENCES) + " "
        pool.append(text)
    written = 0
    with open(directory / "samples.jsonl", "w", encoding="utf-8") as out:
        for p in range(problems):
            pid = f"test/{SUBJECTS[p % 7].lower().replace(' ', '_')}/{p}.json"
            meta = {"level": 1 + p % 5, "subject": SUBJECTS[p % 7], "unique_id": pid}
            gold = str(p * 7 % 1000)
            lines = []
            for b, budget in enumerate(budgets):
                p_ok = max(0.02, min(0.98, 1.2 - difficulty[p] - 0.12 * (len(budgets) - 1 - b)))
                for s in range(samples):
                    ok = rng.random() < p_ok
                    think = rng.randint(budget // 3, budget + budget // 8)
                    forced = think >= budget
                    extracted = gold if ok else (None if rng.random() < 0.05 else str(rng.randint(0, 999)))
                    answer = f"Putting it together, the final answer is $\\boxed{{{extracted or '?'}}}$."
                    lines.append(json.dumps({
                        "task": "math500", "problem_id": pid, "method": "budget_forcing", "budget": budget,
                        "waits": 0, "sample": s, "seed": s, "thinking_tokens": min(think, budget),
                        "answer_tokens": rng.randint(10, 60), "forced_end": forced, "extensions": 0,
                        "finish_reason": "stop", "thinking_text": rng.choice(pool), "answer_text": answer,
                        "rounds": 2 if forced else 1, "extracted": extracted, "gold": gold, "correct": ok,
                        "grade_note": "box" if extracted is not None else "no_answer", "metadata": meta,
                    }, ensure_ascii=False))
            out.write("\n".join(lines) + "\n")
            written += len(lines)
    return written


def measure(argv: list[str], log: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MiB, exit status) of one child process."""
    with open(log, "wb") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--budgets", default="512,1024,2048,4096,8192")
    ap.add_argument("--text-chars", type=int, default=400, help="mean thinking text length")
    ap.add_argument("--by", default="", help="also pass --by FIELD to bench report (level, subject)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dir", type=Path, help="where the synthetic run goes (reused when it is there)")
    ap.add_argument("--keep", action="store_true", help="keep the synthetic run and the report")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_report_"))
    run = root / "run"
    try:
        if (run / "samples.jsonl").is_file():
            print(f"reusing {run}")
        else:
            start = time.perf_counter()
            n = write_run(run, args.records, args.problems, [int(b) for b in args.budgets.split(",")],
                          args.text_chars, args.seed)
            print(f"wrote {n} records in {time.perf_counter() - start:.1f}s")
        size = (run / "samples.jsonl").stat().st_size
        with open(run / "samples.jsonl", "rb") as f:
            n = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
        print(f"{run / 'samples.jsonl'}: {n} records, {size / 2**20:.0f} MiB")
        argv = [sys.executable, "-m", "budgetbench", "report", str(run), "--out", str(root / "report")]
        if args.by:
            argv += ["--by", args.by]
        for i in range(args.repeat):
            wall, cpu, rss, code = measure(argv, root / "report.log")
            print(f"bench report{' --by ' + args.by if args.by else ''}: wall {wall:.1f}s, CPU {cpu:.1f}s, "
                  f"peak RSS {rss:.0f} MiB "
                  f"({rss * 2**20 / size:.2f}x the file), exit {code}")
            if code:
                print((root / "report.log").read_text(errors="replace")[-2000:])
                sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
