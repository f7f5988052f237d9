"""``--engine openai`` from a fresh venv with the wheel and its ``openai`` extra only: no torch, no
transformers. A fake vLLM server in this process checks what the harness sends: ``/tokenize``
answers with transformers' tokenizer (the startup check compares it with the harness's), every
prompt must be token ids of the model's vocabulary, and the "model" writes a continuation that
depends on every prompt id, so any prompt that differs changes the records. The same run with
transformers reading the tokenizer (``--trust-remote-code``, from this venv) must give the same
records and send the same prompts.

pip installs the core's dependencies (pandas, matplotlib, math-verify...) from the package index
or pip's cache; without either the test is skipped with pip's reason.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import REPO, read_samples

pytestmark = pytest.mark.slow
KEY = ("problem_id", "budget", "waits", "sample")
SAME = ("thinking_text", "answer_text", "thinking_tokens", "answer_tokens", "forced_end", "extensions",
        "finish_reason", "correct")


class FakeVLLM:
    """vLLM's completions contract on the toy model's ids: token-id prompts, ``token_ids`` back,
    ``stop_token_ids``, ``stop`` strings kept in the output, ``max_tokens``."""

    def __init__(self, tokenizer, model: str):
        self.tok, self.model, self.prompts, self.errors = tokenizer, model, [], []
        vocab = tokenizer.vocab()
        self.size = max(vocab.values()) + 1
        self.think, self.end = vocab["<think>"], vocab["</think>"]
        self.eos = tokenizer.eos_token_ids[0]
        self.wait = tuple(tokenizer.encode("Wait"))
        self.filler = tokenizer.encode(" 1 2 3 4 5 6 7 8 9 a=1 b+ so")
        self.answer = tokenizer.encode("\nFinal Answer: \\boxed{7}")
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"data": [{"id": fake.model, "owned_by": "vllm", "max_model_len": 4096}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    return self._send(200, {"tokens": fake.tok.encode(body["prompt"])})
                status, payload = fake.complete(body)
                self._send(status, payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def continuation(self, prompt: list[int]) -> list[int]:
        """Thinking whose length and tokens depend on every prompt id up to ``<think>``; after
        each ``Wait`` a shorter run; once ``</think>`` is in the thinking, an answer and EOS."""
        start = max((i for i, t in enumerate(prompt) if t == self.think), default=-1)
        thought = prompt[start + 1 :]
        if self.end in thought:
            return [*self.answer, self.eos]
        w = len(self.wait)
        waits = [i for i in range(len(thought) - w + 1) if tuple(thought[i : i + w]) == self.wait]
        rng = random.Random(zlib.crc32(json.dumps(prompt[: start + 1]).encode()) * 31 + len(waits))
        want = rng.randrange(8, 90) if not waits else rng.randrange(2, 20)
        written = len(thought) - (waits[-1] + w if waits else 0)
        return [rng.choice(self.filler) for _ in range(max(0, want - written))] + [self.end, *self.answer, self.eos]

    def complete(self, body: dict) -> tuple[int, dict]:
        prompt = body.get("prompt")
        if body.get("model") != self.model or not isinstance(prompt, list) or not all(
                isinstance(t, int) and 0 <= t < self.size for t in prompt):
            self.errors.append(body)
            return 400, {"detail": "not a token-id prompt of this model"}
        self.prompts.append(tuple(prompt))
        stop_ids, stops = set(body.get("stop_token_ids") or ()), list(body.get("stop") or ())
        out: list[int] = []
        finish, reason = "length", None
        for token in self.continuation(prompt)[: body["max_tokens"]]:
            out.append(token)
            if token in stop_ids:
                finish, reason = "stop", token
                break
            hit = next((s for s in stops if self.tok.decode(out[-16:]).endswith(s)), None)
            if hit:
                finish, reason = "stop", hit
                break
        return 200, {"choices": [{"index": 0, "text": self.tok.decode(out), "token_ids": out,
                                  "finish_reason": finish, "stop_reason": reason}],
                     "usage": {"completion_tokens": len(out)}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """A venv (no system site-packages) with the wheel and its openai extra."""
    root = tmp_path_factory.mktemp("light")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(root)],
                   check=True, capture_output=True)
    (wheel,) = root.glob("budgetbench-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, capture_output=True)
    python = root / "venv" / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[openai]"],
                         capture_output=True, text=True, timeout=1500)
    if pip.returncode != 0:
        pytest.skip(f"pip could not install the wheel's dependencies: {pip.stderr.strip().splitlines()[-1:]}")
    return python


def _run(python: Path | str, url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    args = ["run", "--task", "toy_sum", "--model", str(MODEL_DIR), "--engine", "openai", "--base-url", url,
            "--method", "budget_forcing", "--budgets", "16,48", "--waits", "0,1", "--answer-tokens", "16",
            "--limit", "5", "--max-concurrency", "4", "--output", str(out), "--no-progress", "--no-report", *extra]
    return subprocess.run([str(python), "-m", "budgetbench", *args], capture_output=True, text=True, timeout=600,
                          cwd=out.parent, env={**os.environ, "PYTHONPATH": ""})


def test_openai_engine_runs_without_torch_and_transformers(light_venv, tmp_path):
    pytest.importorskip("transformers")
    from budgetbench.engines.tokenizer import HFTokenizer

    for module in ("torch", "transformers"):
        probe = subprocess.run([str(light_venv), "-c", f"import {module}"], capture_output=True, text=True)
        assert probe.returncode != 0 and "No module named" in probe.stderr, module
    server = FakeVLLM(HFTokenizer.load(str(MODEL_DIR)), str(MODEL_DIR))
    try:
        light = _run(light_venv, server.url, tmp_path / "light")
        assert light.returncode == 0, light.stderr
        light_prompts, server.prompts = set(server.prompts), []
        full = _run(sys.executable, server.url, tmp_path / "full", "--trust-remote-code")  # transformers reads it
        assert full.returncode == 0, full.stderr
        full_prompts = set(server.prompts)
    finally:
        server.close()
    assert server.errors == []
    assert light_prompts == full_prompts and len(light_prompts) > 20
    spec = json.loads((tmp_path / "light" / "spec.json").read_text())
    assert spec["engine"]["tokenizer"] == "tokenizers" and spec["engine"]["server_api"] == "vllm"
    assert json.loads((tmp_path / "full" / "spec.json").read_text())["engine"]["tokenizer"] == "transformers"
    light_records = {tuple(r[k] for k in KEY): r for r in read_samples(tmp_path / "light")}
    full_records = {tuple(r[k] for k in KEY): r for r in read_samples(tmp_path / "full")}
    assert light_records.keys() == full_records.keys() and len(light_records) == 5 * 2 * 2
    for key, record in full_records.items():
        assert {f: light_records[key][f] for f in SAME} == {f: record[f] for f in SAME}, key
    records = list(light_records.values())
    for r in records:
        assert r["thinking_tokens"] <= r["budget"] and r["extensions"] <= r["waits"]
    assert any(r["forced_end"] for r in records) and any(not r["forced_end"] for r in records)
    assert any(r["extensions"] for r in records) and all(r["answer_text"] for r in records)
