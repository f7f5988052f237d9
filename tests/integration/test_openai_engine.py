"""``--engine openai`` against a real ``transformers serve`` on 127.0.0.1 with the shipped toy model.

transformers serve is a text-only server (``/v1/completions`` takes a string prompt and returns
text without special tokens), the hardest case for the engine: prompts are our token ids decoded,
completions are encoded back. The toy model writes plain ASCII whose tokenization round-trips,
so its records must equal the in-process hf engine's exactly. (A random tiny model writes byte
soup that does not round-trip; the engine warns when the server's token count disagrees.)
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import bench, free_port, read_samples

pytest.importorskip("fastapi", reason="transformers serve needs the [serving] extra of transformers")
pytest.importorskip("uvicorn", reason="transformers serve needs the [serving] extra of transformers")

pytestmark = pytest.mark.slow
KEY = ("problem_id", "budget", "waits", "sample")
SAME = ("thinking_text", "answer_text", "thinking_tokens", "answer_tokens", "forced_end", "extensions", "correct")


class Server:
    """A ``transformers serve`` process on 127.0.0.1:port that the test starts and stops itself."""

    def __init__(self, port: int, cache: Path):
        self.port, self.cache, self.proc = port, cache, None
        self.url = f"http://127.0.0.1:{port}/v1"

    def start(self) -> "Server":
        # The `transformers` script's entry point, run by this interpreter: a venv that sees transformers
        # through --system-site-packages has no script of its own beside sys.executable.
        (entry,) = importlib.metadata.entry_points(group="console_scripts", name="transformers")
        module, _, attr = entry.value.partition(":")
        main = f"import sys; from {module} import {attr} as main; sys.argv[0] = 'transformers'; sys.exit(main())"
        env = {**os.environ, "HF_HUB_CACHE": str(self.cache), "HF_HUB_OFFLINE": "1"}
        self.cache.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", main, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("transformers serve did not come up in 120 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Server(free_port(), tmp_path_factory.mktemp("hf-cache")).start()
    yield server
    server.stop()


def _args(out: Path, *extra: str, limit: int = 6) -> list[str]:
    return ["run", "--task", "toy_sum", "--model", str(MODEL_DIR), "--method", "budget_forcing",
            "--budgets", "16,64", "--waits", "0,1", "--answer-tokens", "16", "--limit", str(limit),
            "--output", str(out), "--no-progress", "--no-report", *extra]


def _by_key(records: list[dict]) -> dict[tuple, dict]:
    keyed = {tuple(r[k] for k in KEY): r for r in records}
    assert len(keyed) == len(records), "duplicated samples"
    return keyed


def test_openai_engine_matches_hf_and_keeps_the_key_secret(served, tmp_path, monkeypatch):
    bench(*_args(tmp_path / "hf", "--engine", "hf"))
    secret, env_secret = "sk-test-flag-0123456789", "sk-test-env-9876543210"
    proc = subprocess.run([sys.executable, "-m", "budgetbench", *_args(tmp_path / "oa", "--engine", "openai",
                          "--base-url", served.url, "--api-key", secret, "--max-concurrency", "4")],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OPENAI_API_KEY": env_secret})
    assert proc.returncode == 0, proc.stderr
    hf, oa = _by_key(read_samples(tmp_path / "hf")), _by_key(read_samples(tmp_path / "oa"))
    assert hf.keys() == oa.keys() and len(oa) == 6 * 2 * 2
    for key, record in hf.items():
        assert {f: oa[key][f] for f in SAME} == {f: record[f] for f in SAME}, key
    # The invariants the hf engine's records satisfy hold here too.
    for r in oa.values():
        assert r["thinking_tokens"] <= r["budget"] and r["extensions"] <= r["waits"]
        if r["forced_end"]:
            assert r["thinking_tokens"] == r["budget"]
    assert any(r["forced_end"] for r in oa.values()) and any(r["extensions"] for r in oa.values())
    spec = json.loads((tmp_path / "oa" / "spec.json").read_text())
    assert spec["engine"]["engine"] == "openai" and spec["engine"]["server_api"] == "text"
    for path in (tmp_path / "oa").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert secret not in text and env_secret not in text, path
    assert secret not in proc.stdout + proc.stderr and env_secret not in proc.stdout + proc.stderr


def test_server_killed_mid_run_stops_cleanly_and_the_rerun_completes(tmp_path):
    server = Server(free_port(), tmp_path / "hf-cache").start()
    out = tmp_path / "run"
    args = _args(out, "--engine", "openai", "--base-url", server.url, "--max-retries", "1",
                 "--max-concurrency", "1", limit=20)
    try:
        run = subprocess.Popen([sys.executable, "-m", "budgetbench", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        samples = out / "samples.jsonl"
        while run.poll() is None and not (samples.exists() and samples.read_text().count("\n") >= 1):
            time.sleep(0.05)
        server.stop(signal.SIGKILL)
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 1, f"the run was expected to stop on the dead server:\n{stderr}"
        lines = stderr.strip().splitlines()
        assert "Traceback" not in stderr and "rerun the same command to resume" in lines[-1], stderr
        saved = read_samples(out)
        assert 0 < len(saved) < 20 * 2 * 2
        server.start()  # back on the same port
        bench(*args)
    finally:
        server.stop()
    records = _by_key(read_samples(out))
    assert len(records) == 20 * 2 * 2
    for r in saved:  # nothing saved before the kill was lost or changed
        assert records[tuple(r[k] for k in KEY)] == r
    bench(*_args(tmp_path / "hf", "--engine", "hf", limit=20))
    hf = _by_key(read_samples(tmp_path / "hf"))
    for key, record in hf.items():
        assert {f: records[key][f] for f in SAME} == {f: record[f] for f in SAME}, key
