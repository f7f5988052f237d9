"""The one reader of results directories: ``spec.json``, ``samples.jsonl`` and ``prompts.jsonl``.

Torn-line policy (the same for ``bench run``'s resume, ``bench score``, every report, and for
``prompts.jsonl`` with its own key fields ``PROMPT_KEY_FIELDS``):

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
from operator import itemgetter
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import orjson

from budgetbench.budgets import normalize_budgets
from budgetbench.errors import UserError
from budgetbench.results.schema import TEXT_FIELDS

SPEC_FILE = "spec.json"
SAMPLES_FILE = "samples.jsonl"
PROMPTS_FILE = "prompts.jsonl"  # each distinct prompt of a problem once (results.schema.PromptRecord)

REQUIRED_FIELDS = ("problem_id", "budget", "sample")  # without them a line cannot be keyed: damaged
PROMPT_KEY_FIELDS = ("problem_id", "prompt_id")  # the key of a prompts.jsonl line
_REQUIRED = frozenset(REQUIRED_FIELDS)
LOAD_FIELDS = ("task", "problem_id", "method", "budget", "waits", "sample", "correct", "thinking_tokens",
               "error")  # every analysis leaves failed samples out (analysis.stats.without_failed)
BATCH_BYTES = 1 << 24  # the file is read in pieces of this size: memory holds one piece's records at a time
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


def parse_samples(path: Path, required: tuple[str, ...] = REQUIRED_FIELDS) -> SamplesFile:
    """Every complete line of ``path`` (missing file: none); a line without ``required`` is damaged."""
    reader = _Lines(path)
    keys = frozenset(required)
    lines: list[tuple[bytes, dict[str, Any] | None]] = []
    for batch in reader.batches():
        for raw in batch:
            value = _parse(raw) if raw.strip() else None
            lines.append((raw, value if isinstance(value, dict) and value.keys() >= keys else None))
    return SamplesFile(path, lines, torn=reader.torn, required=tuple(required))


def read_samples(path: Path, *, keep_text: bool = True, warn: Warn = default_warn) -> list[dict[str, Any]]:
    """The records of a samples.jsonl, with a warning per damaged line (see the module docstring)."""
    parsed = parse_samples(path)
    warn_damaged(parsed, warn)
    if keep_text:
        return parsed.records
    return [{k: v for k, v in r.items() if k not in TEXT_FIELDS} for r in parsed.records]


def warn_damaged(parsed: SamplesFile, warn: Warn = default_warn) -> None:
    """A warning per damaged line, and one for a torn last line."""
    _warn_lines(parsed.path, parsed.damaged, parsed.torn, len(parsed.lines), warn, parsed.required)


def _warn_lines(path: Path, damaged: list[int], torn: bool, lines: int, warn: Warn,
                required: tuple[str, ...] = REQUIRED_FIELDS) -> None:
    fields = ", ".join(required[:-1]) + " and " + required[-1]
    for n in damaged:
        warn(f"{path}:{n}: a damaged line (not a JSON object with {fields}) is not read "
             "as a record; the file keeps it")
    if torn:
        warn(f"{path}:{lines + 1}: the last line is incomplete (a run still writing, or one that was "
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


def read_columns(path: Path, fields: Collection[str] | None = None, *, skip: Collection[str] = (),
                 warn: Warn = default_warn) -> dict[str, list[Any]]:
    """The records of a samples.jsonl as columns: field -> one value per record, NaN where a record
    lacks the field (as ``pandas.DataFrame(records)`` fills it), fields in the order they first
    appear. Only ``fields`` (those present) when given, else every field but ``skip``. The same
    torn-line policy and warnings as :func:`read_samples`.

    Lines are parsed by orjson, by the standard library where orjson refuses one (NaN, Infinity,
    a lone surrogate, a byte-order mark); orjson reads integers beyond 64 bits as floats, so these
    columns are for reading, never for writing records back (that is :func:`parse_samples`).
    Memory: a record's other fields are dropped as soon as it is parsed; repeated strings (ids,
    methods, answers) and equal per-problem values (``metadata``) are stored once.
    """
    wanted = None if fields is None else set(fields)
    unwanted = set(skip)
    table = _Columns(lambda k: k in wanted if wanted is not None else k not in unwanted)
    reader = _Lines(path)
    damaged: list[int] = []
    lines = 0
    loads, refused = orjson.loads, orjson.JSONDecodeError
    for batch in reader.batches():
        for raw in batch:
            lines += 1
            try:
                value = loads(raw)
            except refused:
                if not raw.strip():
                    continue  # a blank line: neither a record nor damaged
                value = _parse(raw)
            if isinstance(value, dict) and value.keys() >= _REQUIRED:
                table.add(value)
            else:
                damaged.append(lines)
        table.flush()
    _warn_lines(path, damaged, reader.torn, lines, warn)
    return table.columns


class _Columns:
    """The chosen fields of records, gathered as columns (see :func:`read_columns`): records with the
    same fields are taken as rows by one ``itemgetter`` and turned into columns a batch at a time."""

    def __init__(self, chosen: Callable[[str], bool]):
        self.chosen = chosen
        self.columns: dict[str, list[Any]] = {}
        self.count = 0  # records in the columns
        self.rows: list[Any] = []  # (problem_id, chosen fields...) of records not yet in the columns
        self.keys: Any = None  # the fields of the last record added
        self.layout: tuple[str, ...] = ()
        self.get: Callable[[dict[str, Any]], Any] = itemgetter("problem_id")
        self.strings: dict[str, str] = {}  # one object per distinct string
        self.shared: dict[tuple[str, str], Any] = {}  # (field, problem) -> its last dict or list value

    def add(self, record: dict[str, Any]) -> None:
        keys = record.keys()
        if keys != self.keys:  # other fields than the last record's: a new layout
            self.flush()
            self.keys, self.layout = keys, tuple(k for k in keys if self.chosen(k))
            for k in self.layout:  # fields not met before: NaN for the records before
                self.columns.setdefault(k, [math.nan] * self.count)
            self.get = itemgetter("problem_id", *self.layout)
        self.rows.append(self.get(record))

    def flush(self) -> None:
        if not self.rows:
            return
        n = len(self.rows)
        parts = list(zip(*self.rows)) if self.layout else [self.rows]
        at = {k: i for i, k in enumerate(self.layout, 1)}
        for k, column in self.columns.items():
            column.extend(_stored(list(parts[at[k]]), k, parts[0], self.strings, self.shared) if k in at
                          else [math.nan] * n)
        self.count += n
        self.rows = []


def _stored(values: list[Any], field: str, problems: Sequence[Any], strings: dict[str, str],
            shared: dict[tuple[str, str], Any]) -> list[Any]:
    """``values`` (of ``field``, one per record) as a column keeps them: a string seen before is
    that string; a dict or list equal to the last one of the same field and problem is that one."""
    kinds = set(map(type, values))
    if kinds == {str}:
        values = list(map(strings.setdefault, values, values))
    elif str in kinds:
        values = [strings.setdefault(v, v) if v.__class__ is str else v for v in values]
    if dict in kinds or list in kinds:
        values = [_shared(v, (field, str(p)), shared) if v.__class__ in (dict, list) else v
                  for v, p in zip(values, problems)]
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
