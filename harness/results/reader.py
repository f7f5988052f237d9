"""The one reader of results directories: ``spec.json`` and ``samples.jsonl``.

Torn-line policy (the same for ``bench run``'s resume, ``bench score`` and every report):

* a last line without its newline is a write in progress or a killed writer: it is not a
  record (``bench run`` cuts it off when it resumes);
* a complete line that is not a JSON object, or lacks a key field (``REQUIRED_FIELDS``), is **damaged**: it is not a record, a warning names
  it, and nothing deletes it (``bench score`` writes it back unchanged), so its bytes stay for
  whoever investigates.

Two ways in, one policy. :func:`parse_samples` keeps every line's bytes and its record as the
standard library parses it (``bench run``'s resume and ``bench score``, which write records back).
:func:`read_columns` (under :func:`load_records`, which every report uses) streams the file in
batches, parses lines with orjson (the standard library where orjson refuses a line: NaN, a
lone surrogate, a byte-order mark) and keeps only the fields asked for, as columns, so the text
fields, the bulk of a record, never accumulate: a report on 10^6 records stays under 1 GB
(``tests/perf/bench_report.py``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator

import orjson

from budgetbench.budgets import normalize_budgets
from budgetbench.errors import UserError
from budgetbench.results.schema import TEXT_FIELDS

SPEC_FILE = "spec.json"
SAMPLES_FILE = "samples.jsonl"

REQUIRED_FIELDS = ("problem_id", "budget", "sample")  # without them a line cannot be keyed: damaged
_REQUIRED = frozenset(REQUIRED_FIELDS)
LOAD_FIELDS = ("task", "problem_id", "method", "budget", "waits", "sample", "correct", "thinking_tokens")
BATCH_BYTES = 1 << 24  # the file is read in pieces of this size: memory holds one piece's records at a time
Warn = Callable[[str], None]


class ResultsError(UserError):
    """An input that is not a results directory (or run-level file), or is malformed."""


def default_warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


@dataclass(frozen=True)
class SamplesFile:
    """A samples.jsonl as read: every complete line with its record (None: damaged)."""

    path: Path
    lines: list[tuple[bytes, dict[str, Any] | None]]
    torn: bool  # the file ends in a line without its newline (not in ``lines``)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for _, record in self.lines if record is not None]

    @property
    def damaged(self) -> list[int]:
        """Line numbers (from 1) of the damaged lines."""
        return [n for n, (raw, record) in enumerate(self.lines, 1) if record is None and raw.strip()]


class _Lines:
    """The complete lines of a file, in batches; ``torn`` once read: it ends in a line without its
    newline (a missing file has no lines)."""

    def __init__(self, path: Path):
        self.path, self.torn = path, False

    def batches(self) -> Iterator[list[bytes]]:
        if not self.path.is_file():
            return
        rest = b""
        with open(self.path, "rb") as f:
            while chunk := f.read(BATCH_BYTES):
                data = rest + chunk if rest else chunk
                end = data.rfind(b"\n") + 1
                if end:
                    yield data[:end].split(b"\n")[:-1]
                rest = data[end:]
        self.torn = bool(rest)


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _parse_fast(raw: bytes) -> Any:
    """orjson's reading of a line, the standard library's where orjson refuses it (NaN, Infinity,
    a lone surrogate, a byte-order mark). Integers beyond 64 bits become floats (orjson): this
    reading is for reports, never written back."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _parse(raw)


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() >= _REQUIRED


def parse_samples(path: Path) -> SamplesFile:
    """Every complete line of ``path`` (missing file: none)."""
    reader = _Lines(path)
    lines: list[tuple[bytes, dict[str, Any] | None]] = []
    for batch in reader.batches():
        for raw in batch:
            value = _parse(raw) if raw.strip() else None
            lines.append((raw, value if _is_record(value) else None))
    return SamplesFile(path, lines, torn=reader.torn)


def read_samples(path: Path, *, keep_text: bool = True, warn: Warn = default_warn) -> list[dict[str, Any]]:
    """The records of a samples.jsonl, with a warning per damaged line (see the module docstring)."""
    parsed = parse_samples(path)
    warn_damaged(parsed, warn)
    if keep_text:
        return parsed.records
    return [{k: v for k, v in r.items() if k not in TEXT_FIELDS} for r in parsed.records]


def warn_damaged(parsed: SamplesFile, warn: Warn = default_warn) -> None:
    """A warning per damaged line, and one for a torn last line."""
    _warn_lines(parsed.path, parsed.damaged, parsed.torn, len(parsed.lines), warn)


def _warn_lines(path: Path, damaged: list[int], torn: bool, lines: int, warn: Warn) -> None:
    for n in damaged:
        warn(f"{path}:{n}: a damaged line (not a JSON object with problem_id, budget and sample) is not read "
             "as a record; the file keeps it")
    if torn:
        warn(f"{path}:{lines + 1}: the last line is incomplete (a run still writing, or one that was "
             "killed; bench run cuts it off when it resumes)")


def read_columns(path: Path, fields: Collection[str] | None = None, *, skip: Collection[str] = (),
                 warn: Warn = default_warn) -> dict[str, list[Any]]:
    """The records of a samples.jsonl as columns: field -> one value per record, NaN where a record
    lacks the field (as ``pandas.DataFrame(records)`` fills it), fields in the order they first
    appear. Only ``fields`` (those present) when given, else every field but ``skip``. The same
    torn-line policy and warnings as :func:`read_samples`.

    Memory: one batch of parsed lines at a time; repeated strings (ids, methods, answers) and equal
    per-problem values (``metadata``) are stored once.
    """
    wanted = None if fields is None else set(fields)
    unwanted = set(skip)
    reader = _Lines(path)
    columns: dict[str, list[Any]] = {}
    strings: dict[str, str] = {}  # one object per distinct string
    shared: dict[tuple[str, str], Any] = {}  # (field, problem) -> its last dict or list value
    damaged: list[int] = []
    count = lines = 0
    for batch in reader.batches():
        records = []
        for raw in batch:
            lines += 1
            if not raw.strip():
                continue
            value = _parse_fast(raw)
            if _is_record(value):
                records.append(value)
            else:
                damaged.append(lines)
        seen: Any = None
        for record in records:  # fields not met before get a column, NaN for the records before
            if record.keys() != seen:
                seen = record.keys()
                for k in seen:
                    if k not in columns and (k in wanted if wanted is not None else k not in unwanted):
                        columns[k] = [math.nan] * count
        for k, column in columns.items():
            column.extend(_stored([r.get(k, math.nan) for r in records], k, records, strings, shared))
        count += len(records)
    _warn_lines(path, damaged, reader.torn, lines, warn)
    return columns


def _stored(values: list[Any], field: str, records: list[dict[str, Any]], strings: dict[str, str],
            shared: dict[tuple[str, str], Any]) -> list[Any]:
    """``values`` (of ``field``, one per record) as a column keeps them: a string seen before is
    that string; a dict or list equal to the last one of the same field and problem is that one."""
    kinds = set(map(type, values))
    if kinds == {str}:
        values = list(map(strings.setdefault, values, values))
    elif str in kinds:
        values = [strings.setdefault(v, v) if v.__class__ is str else v for v in values]
    if dict in kinds or list in kinds:
        values = [_shared(v, (field, str(r["problem_id"])), shared) if v.__class__ in (dict, list) else v
                  for v, r in zip(values, records)]
    return values


def _shared(value: Any, key: tuple[str, str], shared: dict[tuple[str, str], Any]) -> Any:
    last = shared.get(key)
    if last == value:
        return last
    shared[key] = value
    return value


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


def load_records(paths: Iterable[str | Path], *, keep_text: bool = True, fields: Collection[str] | None = None,
                 warn: Warn = default_warn):
    """Sample records of result directories as a DataFrame, one row per record, plus ``model``.

    ``model`` comes from spec.json; ``task`` and ``method`` from spec.json where a record lacks
    them. Budgets are normalized (``budgets.normalize_budget``). ``fields``: read only these (and
    ``LOAD_FIELDS``); records' other fields are not kept (a report reads a few numbers of each
    record). Raises ResultsError for a path that is not a results directory.
    """
    import pandas as pd

    frames = []
    for path in unique_paths(paths):
        if not is_results_dir(path):
            raise ResultsError(f"{path}: not a results directory ({SPEC_FILE} + {SAMPLES_FILE})")
        spec = read_spec(path)
        if "model" not in spec:
            raise ResultsError(f"{path / SPEC_FILE}: no \"model\" field")
        wanted = None if fields is None else {*fields, *LOAD_FIELDS}
        skip = () if keep_text else TEXT_FIELDS
        df = pd.DataFrame(read_columns(path / SAMPLES_FILE, wanted, skip=skip, warn=warn))
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
        df["budget"] = pd.Series(normalize_budgets(df["budget"]), index=df.index, dtype=object)
        df["waits"] = pd.to_numeric(df["waits"], errors="coerce").fillna(0).astype(int) if "waits" in df else 0
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["model", "task", "method", "budget", "waits"])
    return pd.concat(frames, ignore_index=True)
