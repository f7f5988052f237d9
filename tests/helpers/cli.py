"""Running the real CLI, where the real benchmark files would be, reading what a run wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from budgetbench.results.reader import parse_samples

REPO = Path(__file__).resolve().parents[2]

SHARED = REPO.parent / "shared"

DATA_DIR = SHARED / "data"


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
    """The records of a run's samples.jsonl, read strictly: every line must be a whole record."""
    parsed = parse_samples(Path(directory) / "samples.jsonl")
    assert not parsed.torn and not parsed.damaged, f"{directory}: torn or damaged lines {parsed.damaged}"
    return parsed.records
