"""Shared fixtures: the shared data folder beside the repository and tiny models built on the fly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA_DIR = SHARED / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "math500.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {DATA_DIR} (CI puts shared/ beside the repository)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random models of every thinking format, built once per test session."""
    pytest.importorskip("transformers")
    from budgetbench.testing.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {fmt: build_tiny_model(root / fmt, fmt) for fmt in ("think", "think-split", "s1")}


def bench(*args: str, cwd: Path | None = None, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (as a user would), returning its completed process."""
    proc = subprocess.run(
        [sys.executable, "-m", "budgetbench", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (bound once, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_samples(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "samples.jsonl").read_text().splitlines() if line.strip()]
