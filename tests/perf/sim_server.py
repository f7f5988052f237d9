"""A simulated continuous-batching server: one decode clock, N slots, a FIFO queue.

It speaks enough of vLLM's OpenAI-compatible API for ``--engine openai`` (``/v1/models`` says
``owned_by: vllm``; ``/v1/completions`` takes token-id prompts and returns ``token_ids``).
Every ``--step-ms`` the clock admits queued requests into free slots (first come, first
served) and every active slot emits one token; a request answers when it stops or reaches
``max_tokens``. ``GET /stats`` returns the clock's log (active slots per tick, request times);
``POST /reset`` clears it.

The "model" writes, after ``<think>``, a run of filler tokens whose length is drawn from a
log-normal (long-tailed) keyed by the prompt, then ``</think>``; after each inserted ``Wait`` a
shorter run; once ``</think>`` is in the context, a short answer and EOS. It depends only on the
context, so a continuation of a chunk goes on exactly where the chunk stopped, as a real model's
greedy output does. Token ids are the shipped toy model's (its tokenizer is the client's).

    python tests/perf/sim_server.py --port 8077 --slots 256 --step-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

THINK, END, EOS, FILLER = 261, 262, 1, 54  # '<think>', '</think>', EOS, '1' in the toy tokenizer
WAIT = (92, 102, 110, 121)  # 'Wait'
ANSWER = (15, 263, 60, 130)  # '\n\\boxed{7}'


def thinking_length(prompt_key: int, segment: int, median: float, sigma: float) -> int:
    rng = random.Random(prompt_key * 1009 + segment)
    scale = median if segment == 0 else median / 4
    return max(1, min(int(rng.lognormvariate(math.log(scale), sigma)), 20 * int(median)))


def continuation(prompt: list[int], median: float, sigma: float) -> list[int]:
    """What the model writes after ``prompt`` (until EOS)."""
    start = max((i for i, t in enumerate(prompt) if t == THINK), default=-1)
    thought = prompt[start + 1 :]
    if END in thought:
        return [*ANSWER, EOS]
    waits = [i for i in range(len(thought) - len(WAIT) + 1) if tuple(thought[i : i + len(WAIT)]) == WAIT]
    segment_start = waits[-1] + len(WAIT) if waits else 0
    key = zlib.crc32(bytes(str(prompt[: start + 1]), "ascii"))
    want = thinking_length(key, len(waits), median, sigma)
    written = len(thought) - segment_start
    return [FILLER] * max(0, want - written) + [END, *ANSWER, EOS]


@dataclass(eq=False)
class Request:
    plan: list[int]
    max_tokens: int
    stop_ids: set[int]
    arrived: float
    done: asyncio.Future
    stop_end: bool = False  # '</think>' is a stop string of this request
    out: list[int] = field(default_factory=list)
    started: float | None = None


class Server:
    def __init__(self, slots: int, step_s: float, median: float, sigma: float, model: str):
        self.slots, self.step_s, self.median, self.sigma, self.model = slots, step_s, median, sigma, model
        self.queue: deque[Request] = deque()
        self.active: list[Request] = []
        self.reset()

    def reset(self) -> None:
        self.ticks: list[tuple[float, int]] = []  # (time, active slots) per tick with work or waiting
        self.requests: list[tuple[float, float, float, int]] = []  # arrived, started, finished, tokens

    async def clock(self) -> None:
        next_tick = time.monotonic()
        while True:
            while self.queue and len(self.active) < self.slots:
                request = self.queue.popleft()
                request.started = time.monotonic()
                self.active.append(request)
            now = time.monotonic()
            if self.active or self.requests:
                self.ticks.append((now, len(self.active)))
            still = []
            for r in self.active:
                token = r.plan[len(r.out)] if len(r.out) < len(r.plan) else EOS
                r.out.append(token)
                if token in r.stop_ids:
                    self._finish(r, "stop", token)
                elif token == END and r.stop_end:
                    self._finish(r, "stop", "</think>")
                elif len(r.out) >= r.max_tokens:
                    self._finish(r, "length", None)
                else:
                    still.append(r)
            self.active = still
            next_tick += self.step_s
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    def _finish(self, r: Request, reason: str, stop_reason) -> None:
        self.requests.append((r.arrived, r.started, time.monotonic(), len(r.out)))
        r.done.set_result({"choices": [{"index": 0, "text": "", "token_ids": r.out, "finish_reason": reason,
                                        "stop_reason": stop_reason}],
                           "usage": {"prompt_tokens": 0, "completion_tokens": len(r.out)}})

    async def complete(self, body: dict) -> dict:
        prompt = [int(t) for t in body["prompt"]]
        request = Request(continuation(prompt, self.median, self.sigma), int(body["max_tokens"]),
                          set(body.get("stop_token_ids") or ()), time.monotonic(),
                          asyncio.get_running_loop().create_future(), "</think>" in (body.get("stop") or ()))
        self.queue.append(request)
        return await request.done

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                payload = await self.route(method, path, json.loads(body) if body else {})
                data = json.dumps(payload).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(data)).encode() + b"\r\n\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: dict) -> dict:
        if path.endswith("/v1/models"):
            return {"data": [{"id": self.model, "owned_by": "vllm", "max_model_len": 1 << 20}]}
        if path.endswith("/v1/completions"):
            return await self.complete(body)
        if path.endswith("/stats"):
            return {"slots": self.slots, "step_s": self.step_s, "ticks": self.ticks, "requests": self.requests}
        if path.endswith("/reset"):
            self.reset()
            return {"ok": True}
        return {"error": f"no route {path}"}


async def main_async(args: argparse.Namespace) -> None:
    server = Server(args.slots, args.step_ms / 1000, args.median, args.sigma, args.model)
    clock = asyncio.create_task(server.clock())
    listener = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=4096)
    print(f"ready on 127.0.0.1:{args.port}", flush=True)
    async with listener:
        await asyncio.sleep(args.lifetime)
    clock.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=256)
    parser.add_argument("--step-ms", type=float, default=5.0)
    parser.add_argument("--median", type=float, default=300.0, help="median thinking tokens of a first segment")
    parser.add_argument("--sigma", type=float, default=0.9, help="log-normal sigma (the tail)")
    parser.add_argument("--model", default="sim")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="seconds before it exits by itself")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
