"""What one ``bench run`` is: its frozen configuration and the spec it writes.

The spec (``spec.json``) records everything that decides a run's records; a resume with other
settings is refused by comparing specs (``budgetbench.results.store``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetbench import __version__
from budgetbench.budgets import Budget
from budgetbench.methods.base import MethodConfig
from budgetbench.results.identity import model_label, public_argv, public_info
from budgetbench.run.sweep import Sweep

METHOD_VERSION = 1  # bump when a method's semantics change: resumes across versions are refused


@dataclass(frozen=True)
class RunConfig:
    task: str
    model: str
    method: str = "budget_forcing"
    budgets: tuple[str, ...] = ()
    waits: tuple[int, ...] = (0,)
    samples: int = 1
    seed: int = 0
    limit: int | None = None
    output: str | None = None
    data_dir: str | None = None
    engine: str = "hf"
    engine_options: dict[str, Any] = field(default_factory=dict)
    method_config: MethodConfig = MethodConfig()
    thinking_format: str = "auto"
    format_overrides: dict[str, str | None] = field(default_factory=dict)
    grade_timeout: float = 5.0
    progress: bool = True
    share: bool = True


def default_output(task: str, model: str, method: str) -> Path:
    """``results/TASK/MODEL/METHOD``. MODEL is the model's label (``results.identity``): a hub id's
    organisation and name (``org__name``), a local folder's parent and name (``models__s1.1-32B``),
    so two models of one name do not share a folder."""
    tag = re.sub(r"[^A-Za-z0-9._-]+", "_", model_label(model).replace("/", "__"))
    output = Path("results") / task / tag / method.replace("+", "_")
    legacy = Path("results") / task / _legacy_tag(model) / method.replace("+", "_")
    if legacy != output and (legacy / "spec.json").is_file() and not output.exists():
        return legacy  # a run started before labels (the model as typed): the same command resumes it
    return output


def _legacy_tag(model: str) -> str:
    """The folder name default_output gave before model labels: the last two parts as typed."""
    path = Path(model.rstrip("/"))
    parts = [p for p in path.parts[-2:] if p not in ("/", ".", "..", "~")] or [model]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(parts))


def redact_secrets(argv: list[str]) -> list[str]:
    """The command line with the value of --api-key replaced (results are shared; keys are not)."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("***")
        elif arg.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(arg)
        hide = arg == "--api-key"
    return out


def data_hash(problems: Any) -> str:
    """sha256 of the problems a run uses (ids, questions, golds, metadata, in order): the dataset
    revision, whatever the source. A resume on other data is refused like any other setting."""
    digest = hashlib.sha256()
    for p in problems:
        digest.update(json.dumps([p.id, p.question, p.gold, p.metadata], sort_keys=True, ensure_ascii=False,
                                 default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def build_spec(config: RunConfig, task: str, source: str, engine: Any, fmt: dict, sweep: Sweep, *,
               budgets: tuple[Budget, ...], temperature: float, data_hash_of: str | None = None,
               model_fingerprint: str | None = None) -> dict[str, Any]:
    """The run's spec. ``budgets`` are the user's (majority_vote: the K values, not the runner's
    sweep); ``temperature`` is the one in effect (the method's default when not given); ``source``
    as ``results.identity.data_source_label`` gives it. No absolute local path goes in: the model
    by its label and fingerprint, the engine's info and the command line made shareable."""
    return {
        **settings_spec(config, task, source, temperature=temperature, data_hash_of=data_hash_of,
                        model_fingerprint=model_fingerprint),
        "format": fmt,
        "budgets": list(budgets),
        "waits": list(sweep.waits),
        "samples": sweep.samples,
        "limit": config.limit,
        "engine": public_info(engine.info()),
        "versions": {"python": platform.python_version(), "budgetbench": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["bench", *public_argv(redact_secrets(sys.argv[1:]))]),
    }


def settings_spec(config: RunConfig, task: str, source: str, *, temperature: float, data_hash_of: str | None,
                  model_fingerprint: str | None) -> dict[str, Any]:
    """The part of the spec known before the engine loads (``run.finished`` compares it with a
    finished run's spec without loading the model)."""
    method_config = config.method_config.to_dict()
    method_config["temperature"] = temperature
    return {
        "harness_version": __version__,
        "method_version": METHOD_VERSION,
        "task": task,
        "data_source": source,
        "data_sha256": data_hash_of,
        "model": model_label(config.model),
        "model_fingerprint": model_fingerprint,
        "method": config.method,
        "method_config": method_config,
        "seed": config.seed,
    }
