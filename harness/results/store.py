"""A results directory: ``spec.json`` + ``samples.jsonl`` + ``prompts.jsonl``, safe against
crashes and mix-ups.

* Records are appended one JSON line each and flushed to the file as they are written (a
  killed process loses nothing written); the runner fsyncs at least every second, so a lost
  machine loses at most that last second. A run killed at any moment loses at most the samples
  still in flight.
* ``prompts.jsonl`` holds each distinct prompt of a problem once (key ``problem_id, prompt_id``),
  appended and flushed like the records, always before the first record that names it; a
  resume reads the keys already there and never writes one twice.
* A torn last line (a crash mid-write) is cut off on resume, never parsed as a record.
* ``spec.json`` is replaced atomically (temporary file + rename).
* One writer at a time: an ``flock`` on ``.lock``, released by the kernel if the process dies.
* Failed samples (records with an ``error``) are tried again on resume: ``open`` rewrites the file
  atomically without them (damaged lines kept), so a key never has two records and a failed
  sample is replaced by its new record (a success, or a failure with the new reason).
* Resuming into a directory whose spec differs in anything that changes results refuses and
  names the difference; adding budgets, waits or samples is allowed.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

from budgetbench.errors import UserError
from budgetbench.results.identity import legacy_equal
from budgetbench.results.reader import (PROMPT_KEY_FIELDS, PROMPTS_FILE, SAMPLES_FILE, SPEC_FILE, parse_samples,
                                        read_spec, warn_damaged)
from budgetbench.results.schema import KEY_FIELDS, is_failed_record

LOCK_FILE = ".lock"
FSYNC_INTERVAL_S = 1.0  # appended records are fsync'ed at least this often

# Spec fields that may grow between invocations of the same run; all others must match.
SWEEP_FIELDS = ("budgets", "waits", "samples", "limit", "created", "updated", "versions", "command")
# Fields newer specs record that older ones lack (a resume of an older run adds them).
ADDED_FIELDS = frozenset({"data_sha256", "model_fingerprint"})
# What names the model: with equal fingerprints, a label that differs is a moved folder, not another model.
MODEL_NAME_FIELDS = ("model", "engine.model")
# Engine fields that may change on resume: versions and resources, not what decides the outputs
# (engine, model, dtype, max_model_len, server_api... must match).
ENGINE_FREE_FIELDS = frozenset({
    "transformers", "torch", "vllm", "requests", "aiohttp", "tokenizers", "device", "base_url", "batch_size",
    "gpu_memory_utilization", "tensor_parallel_size", "enforce_eager", "max_concurrency", "request_timeout",
    "max_retries",
})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_writable(directory: Path) -> None:
    """The folder (or the nearest existing folder above it) must be one this process can write."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"cannot create {directory}: {probe} is a file, not a folder; choose another --output")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {directory}: {probe} is not writable (a read-only mount?); "
                        "choose another --output")


def _leftover(name: str) -> bool:
    """What a run killed before its first spec.json leaves behind: the lock, a temporary spec."""
    return name == LOCK_FILE or (name.startswith(f".{SPEC_FILE}.") and name.endswith(".tmp"))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8) or bytes to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: files get the mode the umask says
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def spec_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two specs in what decides records, one ``path: old -> new`` each
    (``method_config.temperature: 0.0 -> 0.7``, ``engine.dtype: 'float32' -> 'bfloat16'``)."""
    out: list[str] = []
    moved = old.get("model_fingerprint") is not None and old.get("model_fingerprint") == new.get("model_fingerprint")
    for key in sorted((set(old) | set(new)) - set(SWEEP_FIELDS)):
        a, b = old.get(key), new.get(key)
        if key in ADDED_FIELDS and key not in old:
            continue  # a run made before the field existed: nothing to compare with
        if key == "engine" and isinstance(a, dict) and isinstance(b, dict):
            a = {k: v for k, v in a.items() if k not in ENGINE_FREE_FIELDS}
            b = {k: v for k, v in b.items() if k not in ENGINE_FREE_FIELDS}
        _diff(key, a, b, out, moved)
    return out


def _diff(path: str, a: Any, b: Any, out: list[str], moved: bool = False) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            _diff(f"{path}.{key}", a.get(key), b.get(key), out, moved)
    elif a != b and not legacy_equal(path, a, b) and not (moved and path in MODEL_NAME_FIELDS):
        out.append(f"{path}: {a!r} -> {b!r}")


class ResultStore:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.spec_path = self.dir / SPEC_FILE
        self.samples_path = self.dir / SAMPLES_FILE
        self.prompts_path = self.dir / PROMPTS_FILE
        self.prompt_keys: set[tuple[str, str]] = set()  # (problem_id, prompt_id) in prompts.jsonl
        self._lock_fd: int | None = None
        self._out = None
        self._prompts_out = None
        self._synced = 0.0
        self.retried = 0  # failed samples open() found and left to run again

    # -- opening ---------------------------------------------------------------------------
    def precheck(self) -> dict[str, Any] | None:
        """Is this a usable output directory? Its spec if it holds a run, else None. Writes nothing
        but the lock of an existing directory, taken here so that a busy one is refused before a
        model is loaded."""
        if self.dir.exists() and not self.dir.is_dir():
            raise UserError(f"output {self.dir} exists and is not a directory")
        _check_writable(self.dir)
        if not self.spec_path.is_file():
            if self.dir.is_dir() and any(not _leftover(p.name) for p in self.dir.iterdir()):
                raise UserError(f"output directory {self.dir} is not empty and is not a budgetbench "
                                "results directory (no spec.json): choose another --output")
            return None
        spec = read_spec(self.dir)
        if self._lock_fd is None:
            self.lock()  # a results directory another run is writing: refused now
        return spec

    def check(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Validate without writing anything: the old spec if this is a resume, else None."""
        old = self.precheck()
        if old is not None:
            diffs = spec_differences(old, spec)
            if diffs:
                self.close()  # the lock precheck took
                raise UserError(f"{self.dir} holds a different run ({'; '.join(diffs)}): "
                                "use another --output or the same settings")
        return old

    def open(self, spec: dict[str, Any]) -> set[tuple[str, str, int, int]]:
        """Lock, write or merge the spec, repair a torn tail; return the keys already done."""
        old = self.check(spec)
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._lock_fd is None:
            self.lock()
        if old is not None:
            spec = merge_sweep(old, spec)
        write_atomic(self.spec_path, json.dumps(spec, indent=2, sort_keys=True) + "\n")
        _repair_tail(self.samples_path)
        _repair_tail(self.prompts_path)
        prompts = parse_samples(self.prompts_path, PROMPT_KEY_FIELDS)
        warn_damaged(prompts)  # a damaged prompt line stays; its prompt is written again
        self.prompt_keys = {prompt_key(r) for r in prompts.records}
        self._prompts_out = self.prompts_path.open("a", encoding="utf-8")
        parsed = parse_samples(self.samples_path)
        warn_damaged(parsed)  # damaged lines stay; their samples are generated again
        self.retried = self._drop_failed(parsed)
        self._out = self.samples_path.open("a", encoding="utf-8")
        return {record_key(r) for r in parsed.records if not is_failed_record(r)}

    def _drop_failed(self, parsed: Any) -> int:
        """Rewrite samples.jsonl without its failed samples (they run again); how many there were."""
        failed = [r for r in parsed.records if is_failed_record(r)]
        if failed:
            keep = [raw for raw, r in parsed.lines if r is None or not is_failed_record(r)]
            write_atomic(self.samples_path, b"".join(raw + b"\n" for raw in keep))
            warnings.warn(f"{len(failed)} failed samples are tried again (the first failed with: "
                          f"{failed[0]['error']})", stacklevel=3)
        return len(failed)

    def lock(self) -> None:
        """Become the directory's only writer (refuses if another process is)."""
        fd = os.open(self.dir / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"another bench process is writing to {self.dir}; wait for it or use another --output") from None
        self._lock_fd = fd

    # -- writing ---------------------------------------------------------------------------
    def append_prompts(self, prompts: Iterable[dict[str, Any]]) -> None:
        """Write the prompts whose (problem_id, prompt_id) is not in the file yet, flushed at once
        (the records that name them are appended after); fsync'ed with the records."""
        assert self._prompts_out is not None, "open() the store first"
        lines = []
        for row in prompts:
            key = prompt_key(row)
            if key not in self.prompt_keys:
                self.prompt_keys.add(key)
                lines.append(json.dumps(row, ensure_ascii=False) + "\n")
        if lines:
            self._prompts_out.write("".join(lines))
            self._prompts_out.flush()

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Write records as whole lines, flushed to the OS at once (a killed process loses none of
        them) and fsync'ed if the last fsync is ``FSYNC_INTERVAL_S`` old (``close`` fsyncs too)."""
        assert self._out is not None, "open() the store first"
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if lines:
            self._out.write(lines)
            self._out.flush()
            if time.monotonic() - self._synced >= FSYNC_INTERVAL_S:
                self.sync()

    def sync(self) -> None:
        """fsync what was appended (a crash of the machine, not just the process, keeps it)."""
        if self._prompts_out is not None:
            os.fsync(self._prompts_out.fileno())  # first: a record never outlives its prompt
        if self._out is not None:
            os.fsync(self._out.fileno())
            self._synced = time.monotonic()

    def records(self) -> list[dict[str, Any]]:
        """The records written so far (a line being written is not one yet)."""
        return parse_samples(self.samples_path).records

    def close(self) -> None:
        for name in ("_prompts_out", "_out"):  # prompts first, as in sync()
            out = getattr(self, name)
            if out is None:
                continue
            setattr(self, name, None)
            try:
                out.flush()
                os.fsync(out.fileno())
                out.close()
            except OSError:  # a full disk: lines that did not reach the file are written again on resume
                pass
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _repair_tail(path: Path) -> None:
    """Cut a torn last line (a write the process did not finish) off ``path``."""
    if not path.is_file():
        return
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())


def prompt_key(row: dict[str, Any]) -> tuple[str, str]:
    """A prompts.jsonl line's key (``PROMPT_KEY_FIELDS``)."""
    return (str(row["problem_id"]), str(row["prompt_id"]))


def record_key(record: dict[str, Any]) -> tuple[str, str, int, int]:
    """A record's key (``KEY_FIELDS``), as ``methods.base.run_key`` makes it for a trace."""
    problem_id, budget, waits, sample = (record.get(k, 0) for k in KEY_FIELDS)  # waits: 0 in old records
    return (str(problem_id), str(budget), int(waits), int(sample))


def merge_sweep(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The spec of a resumed run: the new settings, with the union of old and new sweeps."""
    merged = dict(new)
    for key in ("budgets", "waits"):
        seen = list(old.get(key) or [])
        merged[key] = seen + [b for b in new.get(key) or [] if b not in seen]
    merged["samples"] = max(int(old.get("samples") or 0), int(new.get("samples") or 0))
    if old.get("created"):
        merged["created"] = old["created"]
    limits = [old.get("limit"), new.get("limit")]
    merged["limit"] = None if None in limits else max(limits)
    return merged
