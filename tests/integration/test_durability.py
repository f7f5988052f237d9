"""Runs that survive: SIGKILL at many moments, Ctrl-C, and a second writer."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import bench, read_samples

pytestmark = pytest.mark.slow


def run_args(model: Path, data_dir: Path, out: Path) -> list[str]:
    return ["run", "--task", "math500", "--model", str(model), "--budgets", "8,24,64", "--waits", "0,1",
            "--limit", "16", "--data-dir", str(data_dir), "--answer-tokens", "8", "--batch-size", "1",
            "--no-share", "--output", str(out), "--no-progress"]


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "budgetbench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def lines(out: Path) -> int:
    path = out / "samples.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def key(r: dict) -> tuple:
    return (r["problem_id"], r["budget"], r["waits"], r["sample"])


def test_sigkill_at_ten_moments_then_resume_equals_uninterrupted(tiny_models, data_dir, tmp_path):
    reference = tmp_path / "reference"
    bench(*run_args(tiny_models["think"], data_dir, reference))
    expected = sorted(read_samples(reference), key=key)

    # Ten moments spread over a whole run, told by what the run has done (not by the clock, which a
    # loaded machine stretches): start-up, the folder made (model loading), then 1/9 ... 8/9 of the
    # records on disk (rounds, writing).
    moments = [lambda out: True, lambda out: out.exists()]
    moments += [lambda out, k=len(expected) * j // 9: lines(out) >= k for j in range(1, 9)]
    caught, partial = 0, 0
    for i, reached in enumerate(moments):
        out = tmp_path / f"killed-{i}"
        proc = start(run_args(tiny_models["think"], data_dir, out))
        while proc.poll() is None and not reached(out):
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            caught += 1
        proc.communicate()
        so_far = read_samples(out) if (out / "samples.jsonl").exists() else []
        assert len({key(r) for r in so_far}) == len(so_far)  # never a duplicate
        partial += 0 < len(so_far) < len(expected)
        bench(*run_args(tiny_models["think"], data_dir, out))
        assert sorted(read_samples(out), key=key) == expected, f"moment {i}"
    assert caught >= 8  # most moments caught the run alive


def test_ctrl_c_stops_cleanly_and_resume_completes(tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    proc = start(run_args(tiny_models["think"], data_dir, out))
    while lines(out) < 3 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    data = (out / "samples.jsonl").read_bytes()
    assert data.endswith(b"\n")  # flushed whole lines only
    bench(*run_args(tiny_models["think"], data_dir, out))
    records = read_samples(out)
    assert len(records) == len({key(r) for r in records}) == 16 * 3 * 2


def test_second_writer_is_refused(tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    args = run_args(tiny_models["think"], data_dir, out)
    bench(*args, "--limit", "2")
    before = (out / "samples.jsonl").read_bytes()
    with open(out / ".lock", "a+") as held:  # another live writer holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        second = bench(*args, check=False)
    assert second.returncode == 2 and "another bench process is writing" in second.stderr
    assert (out / "samples.jsonl").read_bytes() == before
    bench(*args)  # the lock of a writer that is gone never blocks
    assert len(read_samples(out)) == 16 * 3 * 2


def test_resume_with_other_settings_is_refused(tiny_models, data_dir, tmp_path):
    out = tmp_path / "run"
    args = run_args(tiny_models["think"], data_dir, out)
    bench(*args)
    before = (out / "spec.json").read_bytes(), (out / "samples.jsonl").read_bytes()
    proc = bench(*args, "--temperature", "0.7", check=False)
    assert proc.returncode == 2 and "temperature" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert ((out / "spec.json").read_bytes(), (out / "samples.jsonl").read_bytes()) == before


def test_full_disk_stops_cleanly_and_resume_equals_uninterrupted(tiny_models, data_dir, tmp_path):
    """A write that the OS refuses midway (RLIMIT_FSIZE: the same failed write(2) as a full disk,
    as EFBIG instead of ENOSPC) stops the run with one line; no torn record survives the resume."""
    import resource

    reference = tmp_path / "reference"
    bench(*run_args(tiny_models["think"], data_dir, reference))
    out = tmp_path / "full"
    limit = 6000  # bytes: spec.json fits, samples.jsonl runs out after a few records

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "budgetbench", *run_args(tiny_models["think"], data_dir, out)],
                          capture_output=True, text=True, preexec_fn=small_disk, timeout=600)
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip().splitlines()
    assert len(message) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot write results" in message[0] and "free disk space" in message[0], message[0]
    assert "rerun the same command to resume" in message[0]
    assert (out / "samples.jsonl").stat().st_size <= limit
    bench(*run_args(tiny_models["think"], data_dir, out))
    resumed = sorted(read_samples(out), key=key)
    assert resumed == sorted(read_samples(reference), key=key)
