"""Benchmark: budgetbench's pipeline against a simulated continuous-batching server.

Starts ``sim_server.py`` (one decode clock, N slots, a FIFO queue, long-tailed thinking), runs a
budget-forcing sweep through ``--engine openai`` in-process (``run_sweep``, real grading, real
results directory), then replays exactly the requests budgetbench sent with an *ideal driver*:
each request issued the moment the one it depends on returns, at the same concurrency, with no
grading or bookkeeping. It prints, for both: the generation window (first request to last
answer at the server), mean slot occupancy, the share of the window with no active slot, the
time to the first record, and the share of records on disk at 25/50/75% of the window (the ideal
driver's "records" are the traces its requests finish, at the moment they finish).

    python tests/perf/bench_pipeline.py                      # waits 0 and 0,1,2
    python tests/perf/bench_pipeline.py --problems 100 --waits 0,1,2 --variants pipeline,rounds,no-chunk

Variants: ``pipeline`` (the default runner), ``no-chunk`` (followers wait for the leader's whole
thinking), ``rounds`` (the same engine behind a round barrier: everything pending is sent, the
next requests wait for all of them, as the old round-based runner did).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from budgetbench.engines.openai import OpenAIEngine  # noqa: E402
from budgetbench.formats import detect_format  # noqa: E402
from budgetbench.methods.base import MethodConfig  # noqa: E402
from budgetbench.methods.budget_forcing import BudgetForcing  # noqa: E402
from budgetbench.run.sweep import Sweep, run_sweep, warm_up_grading  # noqa: E402
from budgetbench.results.store import ResultStore  # noqa: E402
from budgetbench.tasks import get_task  # noqa: E402
from budgetbench.toy import MODEL_DIR  # noqa: E402


class TimedStore(ResultStore):
    def __init__(self, directory):
        super().__init__(directory)
        self.appends: list[tuple[float, int]] = []

    def append(self, records):
        records = list(records)
        super().append(records)
        self.appends.append((time.monotonic(), len(records)))


class Observer:
    """The request graph budgetbench sent: each submission, its parent, what it finished."""

    def __init__(self):
        self.requests: list = []  # (ticket, request) in submission order
        self.ends: dict = defaultdict(int)  # ticket -> traces finished when its result landed

    def submitted(self, ticket, request):
        self.requests.append((ticket, request))

    def finished(self, ticket, job):
        self.ends[ticket] += 1


class RoundBarrier:
    """The engine behind a round barrier (no submit/collect: the pipeline uses RoundAdapter)."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        if name in ("submit", "collect", "capacity"):
            raise AttributeError(name)
        return getattr(self._engine, name)


def http(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def server_figures(stats: dict) -> dict:
    reqs = stats["requests"]
    start, end = min(r[0] for r in reqs), max(r[2] for r in reqs)
    ticks = [(t, a) for t, a in stats["ticks"] if start <= t <= end]
    busy = sum(a for _, a in ticks)
    return {"window_s": end - start, "occupancy": busy / (len(ticks) * stats["slots"]),
            "idle": sum(a == 0 for _, a in ticks) / len(ticks), "start": start, "end": end,
            "tokens": sum(r[3] for r in reqs), "requests": len(reqs)}


def on_disk(times: list[tuple[float, int]], start: float, window: float, total: int) -> dict:
    shares = {}
    for q in (0.25, 0.5, 0.75):
        shares[q] = sum(n for t, n in times if t <= start + q * window) / total
    first = min(t for t, _ in times) - start
    return {"first_record_s": first, **{f"disk@{int(q * 100)}%": v for q, v in shares.items()}}


async def ideal_replay(base: str, graph: list, finished: dict, concurrency: int) -> list[tuple[float, int]]:
    """Issue every request of ``graph`` the moment its parent returns, ``concurrency`` at a time."""
    children = defaultdict(list)
    roots = []
    for ticket, request in graph:
        (children[ticket.parent] if ticket.parent is not None else roots).append((ticket, request))
    ready = deque(roots)
    done_times: list[tuple[float, int]] = []
    host, port = base.split("//")[1].split("/")[0].split(":")
    wake = asyncio.Event()
    in_flight = 0

    async def worker():
        nonlocal in_flight
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while ready or in_flight:
                if not ready:
                    wake.clear()
                    await wake.wait()
                    continue
                ticket, request = ready.popleft()
                in_flight += 1
                p = request.params
                body = json.dumps({"model": "sim", "prompt": list(request.prompt_ids), "max_tokens": p.max_tokens,
                                   "stop": list(p.stop), "stop_token_ids": list(p.stop_token_ids)}).encode()
                writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = int([ln for ln in head.decode().split("\r\n") if ln.lower().startswith("content-length")][0]
                             .split(":")[1])
                await reader.readexactly(length)
                in_flight -= 1
                if finished.get(ticket):
                    done_times.append((time.monotonic(), finished[ticket]))
                ready.extendleft(reversed(children.get(ticket, [])))  # continuations first
                wake.set()
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done_times


def run_variant(name: str, base: str, args, problems, waits) -> dict:
    http(base + "/reset", {})
    engine = OpenAIEngine(str(MODEL_DIR), base_url=base + "/v1", max_concurrency=args.concurrency)
    tok = engine.tokenizer
    fmt = detect_format(tok.vocab(), tok.chat_template)
    method = BudgetForcing(tok, fmt, MethodConfig(answer_tokens=16))
    observer = Observer()
    budgets = tuple(int(b) for b in args.budgets.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        store = TimedStore(Path(tmp) / "run")
        done = store.open({"benchmark": name})
        task = get_task("toy_sum")
        warm_up_grading(task)  # as bench run does before loading the model
        started = time.monotonic()
        run_sweep(RoundBarrier(engine) if name == "rounds" else engine, method, task, problems,
                  Sweep(budgets, waits, chunk=name != "no-chunk"), store, done, progress=False, observer=observer)
        wall = time.monotonic() - started
        store.close()
        figures = server_figures(http(base + "/stats"))
        total = sum(n for _, n in store.appends)
        figures.update(on_disk(store.appends, figures["start"], figures["window_s"], total))
    figures.update(process_s=wall, records=total)
    http(base + "/reset", {})
    done_times = asyncio.run(ideal_replay(base, observer.requests, observer.ends, args.concurrency))
    ideal = server_figures(http(base + "/stats"))
    ideal.update(on_disk(done_times, ideal["start"], ideal["window_s"], sum(n for _, n in done_times)))
    return {"budgetbench": figures, "ideal": ideal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--budgets", default="50,100,200,400,800,1600")
    parser.add_argument("--waits", action="append", help="repeatable; default: 0 and 0,1,2")
    parser.add_argument("--slots", type=int, default=256)
    parser.add_argument("--step-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=512, help="--max-concurrency (and the ideal driver's)")
    parser.add_argument("--variants", default="pipeline")
    parser.add_argument("--port", type=int, default=8077)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sim_server.py")), "--port",
                               str(args.port), "--slots", str(args.slots), "--step-ms", str(args.step_ms),
                               "--model", str(MODEL_DIR)], stdout=subprocess.PIPE, text=True)
    try:
        assert "ready" in server.stdout.readline()
        base = f"http://127.0.0.1:{args.port}"
        problems = get_task("toy_sum").load(None)[: args.problems]
        print(f"simulated server: {args.slots} slots, {args.step_ms} ms per decode step; {len(problems)} problems, "
              f"budgets {args.budgets}, --max-concurrency {args.concurrency}")
        header = ("waits", "variant", "driver", "window s", "x ideal", "occupancy", "idle", "1st record s",
                  "disk@25%", "disk@50%", "disk@75%", "process s")
        print(" | ".join(header))
        for waits_text in args.waits or ["0", "0,1,2"]:
            waits = tuple(int(w) for w in waits_text.split(","))
            for variant in args.variants.split(","):
                res = run_variant(variant, base, args, problems, waits)
                for driver in ("budgetbench", "ideal"):
                    f = res[driver]
                    ratio = f["window_s"] / res["ideal"]["window_s"]
                    print(" | ".join([waits_text, variant, driver, f"{f['window_s']:.2f}", f"{ratio:.3f}",
                                      f"{f['occupancy']:.1%}", f"{f['idle']:.1%}", f"{f['first_record_s']:.2f}",
                                      f"{f['disk@25%']:.0%}", f"{f['disk@50%']:.0%}", f"{f['disk@75%']:.0%}",
                                      f"{f.get('process_s', float('nan')):.2f}"]), flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
