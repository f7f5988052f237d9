"""``bench run --config FILE``: a small file of runs that share one loaded model.

The file is TOML, JSON or YAML (by its suffix). Its top level holds settings every run shares
and ``runs``, a list of tables, each one run's own settings. Settings are ``bench run``'s long
options without the dashes (``answer_tokens`` or ``answer-tokens``), checked and converted as the
command line converts them. A run's own setting beats the file's top level, which beats the
command line. The model and the engine's settings are loaded once, so they belong to the top
level (or the command line), never to one run.

    model = "simplescaling/s1.1-32B"
    task = "aime24"
    [[runs]]
    method = "budget_forcing"
    budgets = [512, 1024, 2048]
    [[runs]]
    method = "majority_vote"
    budgets = [1, 2, 4]
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import click

from budgetbench.errors import UserError

# Settings of the loaded engine and of the whole invocation: one value for every run.
SHARED_ONLY = frozenset({
    "model", "engine", "dtype", "device", "batch_size", "max_model_len", "revision", "trust_remote_code",
    "tokenizer", "tensor_parallel_size", "gpu_memory_utilization", "enforce_eager", "engine_args", "base_url",
    "api_key", "max_concurrency", "request_timeout", "max_retries", "no_progress", "no_report",
})
LISTS = frozenset({"budgets", "waits"})  # a list or a comma-separated string
NOT_IN_FILE = frozenset({"runs_file"})


def read_runs_file(path: str, command: click.Command) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the settings all runs share, each run's own settings), converted by ``command``'s options."""
    data = _load(Path(path))
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not data["runs"]:
        raise UserError(f"{path}: needs a non-empty list 'runs' of tables (one per run), e.g. [[runs]] in TOML")
    params = {p.name: p for p in command.params if isinstance(p, click.Option) and p.name not in NOT_IN_FILE}
    shared = _settings({k: v for k, v in data.items() if k != "runs"}, f"{path}", params, shared=True)
    runs = []
    for i, entry in enumerate(data["runs"], 1):
        if not isinstance(entry, dict):
            raise UserError(f"{path}, run {i}: is {type(entry).__name__}, not a table of settings")
        runs.append(_settings(entry, f"{path}, run {i}", params, shared=False))
    return shared, runs


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json", ".yaml", ".yml"):
        raise UserError(f"--config {path}: use a .toml, .json or .yaml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--config {path}: cannot read it ({type(exc).__name__}: {exc})") from None
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return _toml().loads(text)
        return _yaml().safe_load(text)  # safe_load: a file never builds Python objects
    except Exception as exc:  # each parser has its own error class
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"--config {path}: not valid {suffix.lstrip('.').upper()}: {first}") from None


def _toml() -> Any:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise UserError("reading a .toml --config on Python 3.10 needs tomli: pip install tomli") from None
    return tomllib


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise UserError("reading a .yaml --config needs PyYAML: pip install 'budgetbench[yaml]'") from None
    return yaml


def _settings(raw: dict[str, Any], where: str, params: dict[str, click.Option], *, shared: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"{where}: unknown setting '{key}'{hint}")
        if name in SHARED_ONLY and not shared:
            raise UserError(f"{where}: '{key}' is shared by all runs (the model is loaded once): set it at the "
                            "top of the file or on the command line")
        out[name] = _convert(params[name], name, value, f"{where}: {key}")
        if not shared and name in ("task", "method") and "," in out[name]:
            raise UserError(f"{where}: {key} names one {name} per run, got {value!r}: add a run for each")
    return out


def _convert(param: click.Option, name: str, value: Any, where: str) -> Any:
    if name in LISTS and isinstance(value, list):
        if not value or any(isinstance(v, (list, dict, bool)) or v is None for v in value):
            raise UserError(f"{where}: a list of numbers or names, got {value!r}")
        value = ",".join(str(v) for v in value)
    if param.is_flag:
        if not isinstance(value, bool):
            raise UserError(f"{where}: true or false, got {value!r}")
        return value
    if param.multiple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: a list of strings, got {value!r}")
        return tuple(value)
    if isinstance(value, (list, dict)) or value is None or isinstance(value, bool):
        raise UserError(f"{where}: one value, got {value!r}")
    try:
        return param.type.convert(value, param, None)
    except click.BadParameter as exc:
        raise UserError(f"{where}: {exc.message}") from None
