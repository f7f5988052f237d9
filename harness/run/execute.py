"""One ``bench run``: from a frozen RunConfig to graded records on disk.

Order matters for "nothing is damaged by a bad invocation": every flag, the task data, the
model and the output directory are validated before the first byte is written.
"""

from __future__ import annotations

import datetime as _dt
import errno
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetbench import __version__
from budgetbench.engines import make_engine
from budgetbench.engines.base import Engine
from budgetbench.errors import RunInterrupted, UserError
from budgetbench.formats import FORMATS, detect_format, with_overrides
from budgetbench.methods.base import Budget, MethodConfig, load_method_class
from budgetbench.run.sweep import RunStats, Sweep, run_sweep, warm_up_grading
from budgetbench.results.store import ResultStore
from budgetbench.tasks.task import get_task, resolve_data_dir

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
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


@dataclass
class RunOutcome:
    output: Path
    stats: RunStats
    records: list[dict[str, Any]]


def parse_csv_ints(text: str, what: str, minimum: int) -> tuple[int, ...]:
    values = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"-?\d+", part):
            raise UserError(f"{what} must be a comma-separated list of integers, got {text!r}")
        if int(part) < minimum:
            raise UserError(f"{what} must be >= {minimum}, got {part}")
        values.append(int(part))
    if len(set(values)) != len(values):
        raise UserError(f"{what} {text!r} lists a value twice")
    return tuple(values)


def split_budgets(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(","))
    if not text.strip() or any(not p for p in parts):
        raise UserError(f"--budgets must be a comma-separated list such as 512,2048,8192, got {text!r}")
    if len(set(parts)) != len(parts):
        raise UserError(f"--budgets {text!r} lists a budget twice")
    return parts


def default_output(task: str, model: str, method: str) -> Path:
    tag = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/")).name or model)
    return Path("results") / task / tag / method.replace("+", "_")


def execute(config: RunConfig) -> RunOutcome:
    try:
        method_cls = load_method_class(config.method)
    except KeyError:
        from budgetbench.methods.base import available_methods

        raise UserError(f"unknown method '{config.method}': choose one of "
                        f"{', '.join(sorted(available_methods()))} (bench methods lists them)") from None
    if config.thinking_format not in ("auto", *FORMATS):
        raise UserError(f"unknown --thinking-format '{config.thinking_format}': use auto, {', '.join(FORMATS)}")
    task = get_task(config.task)
    data_dir = resolve_data_dir(config.data_dir)
    problems = task.load(data_dir)
    if config.limit is not None:
        problems = problems[: config.limit]
    if not problems:
        raise UserError(f"task {task.name} has no problems to run")
    _check_unique_ids(task.name, problems)
    if config.format_overrides.get("thinking_end") == "":
        raise UserError("--thinking-end must not be empty: it is the delimiter that ends the thinking")
    _check_model_path(config.model)
    output = Path(config.output) if config.output else default_output(task.name, config.model, config.method)
    store = ResultStore(output)
    store.precheck()  # cheap checks before loading a model

    warm_up_grading(task)  # the grading workers start while the model loads
    engine = make_engine(config.engine, config.model, **config.engine_options)
    fmt = FORMATS[config.thinking_format] if config.thinking_format != "auto" else detect_format(
        engine.tokenizer.vocab(), engine.tokenizer.chat_template
    )
    fmt = with_overrides(fmt, **config.format_overrides)
    if hasattr(engine, "check_format"):  # a text-only server cannot carry special-token delimiters
        engine.check_format([fmt.thinking_end])
    method = method_cls(engine.tokenizer, fmt, config.method_config)
    budgets = _parse_budgets(method, config.budgets, engine)
    _check_native_budget(config, engine)
    run_budgets, samples = budgets, config.samples
    if hasattr(method, "runner_sweep"):  # e.g. majority_vote: K values -> max(K) samples
        try:
            run_budgets, samples = method.runner_sweep(budgets, config.samples)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    # Native caps are not nested prefixes of one another (the engine ends each thinking): no sharing.
    share = config.share and not config.method_config.native_thinking_budget
    sweep = Sweep(budgets=run_budgets, waits=config.waits, samples=samples, seed=config.seed, share=share)
    spec = build_spec(config, task.name, task.source(data_dir), engine, fmt.to_dict(), sweep,
                      budgets=budgets, temperature=method.temperature)
    done = store.open(spec)
    try:
        stats = run_sweep(engine, method, task, problems, sweep, store, done,
                          grade_timeout=config.grade_timeout, progress=config.progress)
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as exc:  # an engine error (out of memory, a dead server...): keep what is done
        saved = len(store.records()) - len(done)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        cause = f"{type(exc).__name__}: {first}"
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            cause = f"cannot write results ({first}): free disk space, then"
        else:
            cause += ";"
        raise RunInterrupted(f"the run stopped: {cause} rerun the same command to resume ({saved} new "
                             f"samples are saved in {output})") from exc
    finally:
        store.close()
    return RunOutcome(output, stats, store.records())


def _parse_budgets(method: Any, texts: tuple[str, ...], engine: Engine) -> tuple[Budget, ...]:
    if not texts:
        texts = tuple(getattr(method, "default_budgets", ()))
    if not texts:
        raise UserError(f"--budgets is required for method '{method.name}' (unit: {method.budget_unit})")
    budgets = []
    for text in texts:
        try:
            budgets.append(method.parse_budget(text))
        except ValueError as exc:
            raise UserError(f"--budgets: {exc}") from None
    for i, budget in enumerate(budgets):  # 8 and 08 (or +8) are one budget: one record key
        if budget in budgets[:i]:
            raise UserError(f"--budgets lists budget {budget} twice ({texts[budgets.index(budget)]!r} and "
                            f"{texts[i]!r})")
    limit = engine.max_model_len
    if limit and method.budget_unit == "tokens":
        too_big = [b for b in budgets if isinstance(b, int) and b >= limit]
        if too_big:
            raise UserError(f"budget {too_big[0]} does not fit the model's context of {limit} tokens "
                            "(raise --max-model-len if the model allows it)")
    return tuple(budgets)


def _check_unique_ids(task: str, problems: Any) -> None:
    """Records are keyed by problem id: a task whose ids repeat would write two records per key."""
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise UserError(f"task {task} has two problems with id {problem.id!r}: problem ids must be unique")
        seen.add(problem.id)


def _check_native_budget(config: RunConfig, engine: Engine) -> None:
    if not config.method_config.native_thinking_budget:
        return
    if config.method != "budget_forcing":
        raise UserError("--native-thinking-budget works with --method budget_forcing only")
    if not getattr(engine, "supports_thinking_budget", False):
        raise UserError("--native-thinking-budget needs vLLM's thinking_token_budget: --engine vllm with "
                        "--engine-arg reasoning_parser=NAME, or --engine openai on a vLLM server started "
                        "with --reasoning-parser NAME")


def _check_model_path(model: str) -> None:
    looks_local = model.startswith((".", "/", "~")) or Path(model).expanduser().exists()
    if looks_local and not Path(model).expanduser().is_dir():
        raise UserError(f"model directory {model} does not exist: pass a local model folder or a hub id")


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


def build_spec(config: RunConfig, task: str, source: str, engine: Engine, fmt: dict, sweep: Sweep, *,
               budgets: tuple[Budget, ...], temperature: float) -> dict[str, Any]:
    """The run's spec. ``budgets`` are the user's (majority_vote: the K values, not the runner's
    sweep); ``temperature`` is the one in effect (the method's default when not given)."""
    method_config = config.method_config.to_dict()
    method_config.pop("waits", None)
    method_config["temperature"] = temperature
    return {
        "harness_version": __version__,
        "method_version": METHOD_VERSION,
        "task": task,
        "data_source": source,
        "model": config.model,
        "method": config.method,
        "format": fmt,
        "method_config": method_config,
        "seed": config.seed,
        "budgets": list(budgets),
        "waits": list(sweep.waits),
        "samples": sweep.samples,
        "limit": config.limit,
        "engine": engine.info(),
        "versions": {"python": platform.python_version(), "budgetbench": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["bench", *redact_secrets(sys.argv[1:])]),
    }
