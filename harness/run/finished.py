"""Is a resumed run already finished? Decided from spec.json and samples.jsonl before the model loads.

Rerunning a finished ``bench run`` must not load a 32B model (35 s and more) to find that nothing is
left to do. :func:`finished_records` answers from what is known without the engine:

* the settings the spec records that do not need the engine (model label and fingerprint, task,
  data hash, method and its settings, seed; ``run.config.settings_spec``) are compared with the old
  spec exactly as a resume compares them: a difference is refused now, with the same message;
* the thinking format, when it is named (``--thinking-format s1``) or overridden, is compared too;
  an ``auto`` format is the same model's tokenizer, so the same;
* the engine flags the old spec records (``--engine``, ``--dtype``, ``--max-model-len``, vLLM's
  settings...) must equal what was given; ``auto`` and flags not given match;
* the sweep asked for (problems, budgets, waits, samples) must lie within the old spec's and every
  one of its samples must be on disk.

Anything else, or any doubt (a method that cannot tell its sweep without a tokenizer, an
``--engine-arg``), returns None: the engine loads and the resume goes on as before, exactly. What
only the loaded engine resolves (an ``auto`` dtype on another device, the model's own context length
when ``--max-model-len`` is not given) is not compared on this path; nothing is written either.
"""

from __future__ import annotations

from typing import Any, Sequence

from budgetbench.budgets import Budget
from budgetbench.errors import UserError
from budgetbench.formats import resolve_format
from budgetbench.methods.base import run_key
from budgetbench.results.reader import parse_samples, warn_damaged
from budgetbench.results.schema import is_failed_record
from budgetbench.results.store import ENGINE_FREE_FIELDS, ResultStore, record_key, spec_differences
from budgetbench.run.config import RunConfig, settings_spec
from budgetbench.types import Problem


def finished_records(config: RunConfig, method_cls: type, task: str, source: str, data_sha256: str,
                     fingerprint: str | None, problems: Sequence[Problem], budgets: tuple[Budget, ...],
                     old: dict[str, Any], store: ResultStore) -> tuple[int, list[dict[str, Any]]] | None:
    """(samples asked for, the records on disk) if ``config`` asks for nothing they lack, else None
    (load the engine).
    ``source``, ``data_sha256``, ``fingerprint``: as the spec records them; ``old``: the spec on disk."""
    planned = _plan(method_cls, config, budgets)
    if planned is None:
        return None
    run_budgets, samples, temperature = planned
    settings = settings_spec(config, task, source, temperature=temperature, data_hash_of=data_sha256,
                             model_fingerprint=fingerprint)
    diffs = spec_differences({k: old[k] for k in settings if k in old}, settings)
    if diffs:
        raise UserError(f"{store.dir} holds a different run ({'; '.join(diffs)}): "
                        "use another --output or the same settings")
    if not (_same_format(config, old.get("format")) and _same_engine(config, old.get("engine"))):
        return None
    if not _within(old, budgets, config.waits, samples, config.limit):
        return None
    parsed = parse_samples(store.samples_path)
    done = {record_key(r) for r in parsed.records if not is_failed_record(r)}  # a failed sample runs again
    planned = 0
    for problem in problems:
        for budget in run_budgets:
            for waits in config.waits:
                for sample in range(samples):
                    if run_key(problem.id, budget, waits, sample) not in done:
                        return None
                    planned += 1
    warn_damaged(parsed)  # as a resume would (when the engine loads, the store warns)
    return planned, parsed.records


def _plan(method_cls: type, config: RunConfig, budgets: tuple[Budget, ...]) -> tuple[tuple, int, float] | None:
    """(runner budgets, samples, temperature) as the method would plan them. The shipped methods
    decide both from their settings alone; one that needs its tokenizer for it says so by failing
    here, and the engine is loaded."""
    try:
        method = method_cls(None, None, config.method_config)
        run_budgets, samples = method.sweep(budgets, config.samples)
        return tuple(run_budgets), int(samples), float(method.temperature)
    except Exception:  # noqa: BLE001  (no decision without the engine: the ordinary path decides)
        return None


def _same_format(config: RunConfig, old: Any) -> bool:
    if not isinstance(old, dict):
        return False
    overrides = {k: v for k, v in config.format_overrides.items() if v is not None}
    if config.thinking_format != "auto":
        return resolve_format(config.thinking_format, None, config.format_overrides).to_dict() == old
    if any(old.get(k) != v for k, v in overrides.items()):
        return False
    return str(old.get("name", "")).endswith("+custom") == bool(overrides)


def _same_engine(config: RunConfig, old: Any) -> bool:
    if not isinstance(old, dict):
        return False
    if config.engine != "auto" and old.get("engine") != config.engine:
        return False
    for key, value in config.engine_options.items():
        if key == "engine_args" and value:
            return False  # they become other recorded fields: the engine compares them
        if key in ENGINE_FREE_FIELDS or value is None or key not in old or (key == "dtype" and value == "auto"):
            continue
        if old[key] != value:
            return False
    return True


def _within(old: dict[str, Any], budgets: tuple[Budget, ...], waits: tuple[int, ...], samples: int,
            limit: int | None) -> bool:
    """The sweep asked for is part of the old spec's: resuming would not change the spec."""
    old_limit = old.get("limit")
    return ({str(b) for b in budgets} <= {str(b) for b in old.get("budgets") or []}
            and set(waits) <= set(old.get("waits") or [])
            and samples <= int(old.get("samples") or 0)
            and (old_limit is None or (limit is not None and limit <= old_limit)))

