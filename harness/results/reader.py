"""The one reader of results directories: ``spec.json``, ``samples.jsonl`` and ``prompts.jsonl``.

Torn-line policy (the same for ``bench run``'s resume, ``bench score``, every report, and for
``prompts.jsonl`` with its own key fields ``PROMPT_KEY_FIELDS``):

* a last line without its newline is a write in progress or a killed writer: it is not a
  record (``bench run`` cuts it off when it resumes);
* a complete line that is not a JSON object, or lacks a key field (``REQUIRED_FIELDS``), is **damaged**: it is not a record, a warning names
  it, and nothing deletes it (``bench score`` writes it back unchanged), so its bytes stay for
  whoever investigates.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from budgetbench.budgets import normalize_budget
from budgetbench.errors import UserError
from budgetbench.results.schema import TEXT_FIELDS

SPEC_FILE = "spec.json"
SAMPLES_FILE = "samples.jsonl"
PROMPTS_FILE = "prompts.jsonl"  # each distinct prompt of a problem once (results.schema.PromptRecord)

REQUIRED_FIELDS = ("problem_id", "budget", "sample")  # without them a line cannot be keyed: damaged
PROMPT_KEY_FIELDS = ("problem_id", "prompt_id")  # the key of a prompts.jsonl line
Warn = Callable[[str], None]


class ResultsError(UserError):
    """An input that is not a results directory (or run-level file), or is malformed."""


def default_warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


@dataclass(frozen=True)
class SamplesFile:
    """A samples.jsonl (or prompts.jsonl) as read: every complete line with its record (None: damaged)."""

    path: Path
    lines: list[tuple[bytes, dict[str, Any] | None]]
    torn: bool  # the file ends in a line without its newline (not in ``lines``)
    required: tuple[str, ...] = REQUIRED_FIELDS  # a line without one of these is damaged

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for _, record in self.lines if record is not None]

    @property
    def damaged(self) -> list[int]:
        """Line numbers (from 1) of the damaged lines."""
        return [n for n, (raw, record) in enumerate(self.lines, 1) if record is None and raw.strip()]


def parse_samples(path: Path, required: tuple[str, ...] = REQUIRED_FIELDS) -> SamplesFile:
    """Every complete line of ``path`` (missing file: none); a line without ``required`` is damaged."""
    data = path.read_bytes() if path.is_file() else b""
    end = data.rfind(b"\n") + 1
    lines: list[tuple[bytes, dict[str, Any] | None]] = []
    for raw in data[:end].split(b"\n")[:-1]:
        record = None
        if raw.strip():
            try:
                value = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                value = None
            record = value if isinstance(value, dict) and all(k in value for k in required) else None
        lines.append((raw, record))
    return SamplesFile(path, lines, torn=end != len(data), required=tuple(required))


def read_samples(path: Path, *, keep_text: bool = True, warn: Warn = default_warn) -> list[dict[str, Any]]:
    """The records of a samples.jsonl, with a warning per damaged line (see the module docstring)."""
    parsed = parse_samples(path)
    warn_damaged(parsed, warn)
    if keep_text:
        return parsed.records
    return [{k: v for k, v in r.items() if k not in TEXT_FIELDS} for r in parsed.records]


def warn_damaged(parsed: SamplesFile, warn: Warn = default_warn) -> None:
    """A warning per damaged line, and one for a torn last line."""
    path = parsed.path
    fields = ", ".join(parsed.required[:-1]) + " and " + parsed.required[-1]
    for n in parsed.damaged:
        warn(f"{path}:{n}: a damaged line (not a JSON object with {fields}) is not read "
             "as a record; the file keeps it")
    if parsed.torn:
        warn(f"{path}:{len(parsed.lines) + 1}: the last line is incomplete (a run still writing, or one that was "
             "killed; bench run cuts it off when it resumes)")


def read_prompts(path: Path, *, warn: Warn = default_warn) -> list[dict[str, Any]]:
    """The prompts of a prompts.jsonl (each ``problem_id, prompt_id`` once), under the same
    torn-line policy as samples; a missing file (a run made before prompts were stored) has none."""
    parsed = parse_samples(path, PROMPT_KEY_FIELDS)
    warn_damaged(parsed, warn)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in parsed.records:
        seen.setdefault((str(row["problem_id"]), str(row["prompt_id"])), row)
    return list(seen.values())


def read_spec(directory: Path) -> dict[str, Any]:
    """The spec of a results directory; ResultsError if it is missing, not JSON or not an object."""
    path = Path(directory) / SPEC_FILE
    if not path.is_file():
        raise ResultsError(f"{directory} is not a results directory (no {SPEC_FILE})")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path} is damaged (not JSON: {exc}): move it away or choose another directory") from None
    if not isinstance(spec, dict):
        raise ResultsError(f"{path} is not a budgetbench spec (not a JSON object)")
    return spec


def is_results_dir(path: Path) -> bool:
    return (path / SPEC_FILE).is_file() and (path / SAMPLES_FILE).is_file()


def unique_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Paths resolved, each once, in their first order."""
    return list(dict.fromkeys(Path(p).resolve() for p in paths))


def load_records(paths: Iterable[str | Path], *, keep_text: bool = True, warn: Warn = default_warn):
    """Sample records of result directories as a DataFrame, one row per record, plus ``model``.

    ``model`` comes from spec.json; ``task`` and ``method`` from spec.json where a record lacks
    them. Budgets are normalized (``budgets.normalize_budget``). Raises ResultsError for a path
    that is not a results directory.
    """
    import pandas as pd

    frames = []
    for path in unique_paths(paths):
        if not is_results_dir(path):
            raise ResultsError(f"{path}: not a results directory ({SPEC_FILE} + {SAMPLES_FILE})")
        spec = read_spec(path)
        if "model" not in spec:
            raise ResultsError(f"{path / SPEC_FILE}: no \"model\" field")
        df = pd.DataFrame(read_samples(path / SAMPLES_FILE, keep_text=keep_text, warn=warn))
        if df.empty:
            warn(f"{path}: no records")
            continue
        missing = [k for k in ("problem_id", "budget", "correct", "thinking_tokens") if k not in df]
        if missing:
            raise ResultsError(f"{path / SAMPLES_FILE}: records lack {', '.join(missing)}")
        for key in ("task", "method"):
            fallback = str(spec.get(key, "unknown"))
            df[key] = df[key].fillna(fallback).astype(str) if key in df else fallback
        df["model"] = str(spec["model"])
        df["budget"] = df["budget"].map(normalize_budget).astype(object)
        df["waits"] = pd.to_numeric(df["waits"], errors="coerce").fillna(0).astype(int) if "waits" in df else 0
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["model", "task", "method", "budget", "waits"])
    return pd.concat(frames, ignore_index=True)


def load_prompts(paths: Iterable[str | Path], *, warn: Warn = default_warn):
    """The prompts of result directories as a DataFrame: ``model, task, problem_id, prompt_id,
    question, prompt, prompt_tokens``, each distinct (model, task, problem_id, prompt_id) once.
    Join it to ``load_records`` on those four columns to see each record's prompt."""
    import pandas as pd

    columns = ["model", "task", "problem_id", "prompt_id", "question", "prompt", "prompt_tokens"]
    rows = []
    for path in unique_paths(paths):
        if not is_results_dir(path):
            raise ResultsError(f"{path}: not a results directory ({SPEC_FILE} + {SAMPLES_FILE})")
        spec = read_spec(path)
        for row in read_prompts(path / PROMPTS_FILE, warn=warn):
            rows.append({"model": str(spec.get("model", "unknown")), "task": str(spec.get("task", "unknown")),
                         **{k: row.get(k) for k in columns[2:]}})
    df = pd.DataFrame(rows, columns=columns)
    for key in ("problem_id", "prompt_id"):
        df[key] = df[key].astype(str)
    return df.drop_duplicates(subset=columns[:4], ignore_index=True)
