"""One ``bench run``: from a frozen RunConfig to graded records on disk.

Order matters for "nothing is damaged by a bad invocation": every flag, the task data, the
model and the output directory are validated before the first byte is written.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from budgetbench.budgets import parse_budgets
from budgetbench.engines import make_engine
from budgetbench.engines.base import Engine
from budgetbench.errors import RunInterrupted, UserError
from budgetbench.formats import check_format_name, resolve_format
from budgetbench.grading import check_gold
from budgetbench.methods import load_method
from budgetbench.results.identity import data_source_label, model_fingerprint
from budgetbench.results.store import ResultStore
from budgetbench.run.config import RunConfig, build_spec, data_hash, default_output
from budgetbench.run.finished import finished_records
from budgetbench.run.sweep import RunStats, Sweep, run_sweep, warm_up_grading
from budgetbench.tasks import get_task, resolve_data_dir
from budgetbench.types import SamplingParams

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


@dataclass
class RunOutcome:
    output: Path
    stats: RunStats
    records: list[dict[str, Any]]
    loaded: bool = True  # False: a finished run, recognised before the model was loaded (run.finished)


@dataclass
class _Checked:
    """A run whose flags, data and output directory passed the checks that need no model."""

    config: RunConfig
    task: Any
    problems: Any
    method_cls: type
    store: ResultStore
    data_sha256: str
    budgets: tuple
    source: str  # the data source as the spec records it (no local path)
    fingerprint: str | None  # a local model folder's content (results.identity)
    old: dict[str, Any] | None  # the spec on disk when resuming


@dataclass
class _Planned:
    """A checked run with its method, sweep and spec for the loaded engine: ready to write."""

    checked: _Checked
    method: Any
    sweep: Sweep
    spec: dict[str, Any]


def execute(config: RunConfig, engine: Engine | None = None, *,
            engine_factory: Callable[..., Engine] | None = None) -> RunOutcome:
    """Run ``config`` to the end (or resume it); ``engine``: an engine already loaded (a notebook
    running several methods on one model), else ``engine_factory`` (default ``engines.make_engine``)
    loads ``config.model``, unless the run is finished already."""
    return execute_many([config], engine, engine_factory=engine_factory)[0]


def execute_many(configs: Sequence[RunConfig], engine: Engine | None = None, *,
                 engine_factory: Callable[..., Engine] | None = None) -> list[RunOutcome]:
    """Run ``configs`` one after another on one engine, loaded once (they must share the model and
    the engine settings), and not at all when every run is finished already (``run.finished``).
    Nothing is written until every run has passed every check: those that need no model before
    it loads, the rest (context, format, resume) once it has."""
    if not configs:
        raise UserError("no runs to execute")
    if engine is None and len({(c.engine, c.model, repr(sorted(c.engine_options.items()))) for c in configs}) > 1:
        raise UserError("runs executed together share one model and engine settings")
    checked: list[_Checked] = []
    claimed: dict[Path, int] = {}  # output folder -> the run that writes it
    try:
        for i, config in enumerate(configs, 1):
            with _naming_the_run(configs, i):
                checked.append(_check(config, engine_given=engine is not None, claimed=claimed))
        finished: dict[int, RunOutcome] = {}
        if engine is None:  # a finished run is recognised before the model loads
            for i, run in enumerate(checked, 1):
                with _naming_the_run(configs, i):
                    if (outcome := _finished(run)) is not None:
                        finished[i] = outcome
        left = [(i, run) for i, run in enumerate(checked, 1) if i not in finished]
        if not left:
            return [finished[i] for i in range(1, len(checked) + 1)]
        for _, run in left:
            warm_up_grading(run.task)  # the grading workers start while the model loads
        if engine is None:
            factory = engine_factory or make_engine  # looked up now: tests count loads by patching it
            engine = factory(configs[0].engine, configs[0].model, **configs[0].engine_options)
        plans = {}
        for i, run in left:
            with _naming_the_run(configs, i):
                plans[i] = _plan(run, engine)
        return [finished[i] if i in finished else _run(plans[i], engine) for i in range(1, len(checked) + 1)]
    finally:
        for run in checked:
            run.store.close()  # also when a check fails after a lock was taken


@contextmanager
def _naming_the_run(configs: Sequence[RunConfig], i: int) -> Iterator[None]:
    """With several runs, a refusal says which run it is about."""
    try:
        yield
    except UserError as exc:
        if len(configs) == 1:
            raise
        config = configs[i - 1]
        raise UserError(f"run {i} ({config.task}, {config.method}): {exc}") from None


def _check(config: RunConfig, *, engine_given: bool, claimed: dict[Path, int]) -> _Checked:
    """Every check that needs no model: flags, task data, budgets, size, the output directory."""
    method_cls = load_method(config.method)
    check_format_name(config.thinking_format)
    task = get_task(config.task)
    data_dir = resolve_data_dir(config.data_dir)
    problems = _load_problems(task, data_dir)
    data_sha256 = data_hash(problems)  # the whole task's data: a resume may extend --limit
    if config.limit is not None:
        problems = problems[: config.limit]
    if not problems:
        raise UserError(f"task {task.name} has no problems to run")
    _check_unique_ids(task.name, problems)
    if config.format_overrides.get("thinking_end") == "":
        raise UserError("--thinking-end must not be empty: it is the delimiter that ends the thinking")
    _check_golds(task, problems)
    budgets = parse_budgets(method_cls, config.budgets, None)  # "2k" is refused before the model loads
    _check_size(method_cls, problems, budgets, config)
    if not engine_given:
        _check_model_path(config.model)
    output = Path(config.output) if config.output else default_output(task.name, config.model, config.method)
    _claim(output, claimed)  # before the lock: two runs of one invocation would refuse each other's
    store = ResultStore(output)
    old = store.precheck()  # cheap checks before loading a model (and the lock, when resuming)
    source = data_source_label(task.source(data_dir), data_dir)
    return _Checked(config, task, problems, method_cls, store, data_sha256, budgets, source,
                    model_fingerprint(config.model), old)


def _finished(run: _Checked) -> RunOutcome | None:
    """The outcome of a run with nothing left to do, decided without the model; else None."""
    if run.old is None:
        return None
    found = finished_records(run.config, run.method_cls, run.task.name, run.source, run.data_sha256,
                             run.fingerprint, run.problems, run.budgets, run.old, run.store)
    if found is None:
        return None
    planned, records = found
    return RunOutcome(run.store.dir, RunStats(skipped=planned), records, loaded=False)


def _claim(output: Path, claimed: dict[Path, int]) -> None:
    """Two runs of one invocation must not write one folder (``claimed``: folders of earlier runs)."""
    where = output.resolve()
    if where in claimed:
        raise UserError(f"runs {claimed[where]} and {len(claimed) + 1} would both write to {output}: give them "
                        "different outputs")
    claimed[where] = len(claimed) + 1


def _plan(run: _Checked, engine: Engine) -> _Planned:
    """The format, the method and the sweep on the loaded engine; every check that needs it,
    including the resume's (the spec on disk), before anything is written."""
    config, method_cls = run.config, run.method_cls
    fmt = resolve_format(config.thinking_format, engine.tokenizer, config.format_overrides)
    engine.check_format([fmt.thinking_end])  # a text-only server cannot carry special-token delimiters
    # a setting the engine would not apply as vLLM does is refused, not ignored
    engine.check_sampling(SamplingParams(max_tokens=1, **config.method_config.sampling()).non_neutral())
    method = method_cls(engine.tokenizer, fmt, config.method_config)
    budgets = parse_budgets(method, config.budgets, engine.max_model_len)  # now against the context
    _check_native_budget(config, method, engine)
    _check_context(method, engine.tokenizer, fmt, run.problems, budgets, config, engine.max_model_len)
    try:  # e.g. majority_vote: K values -> max(K) samples
        run_budgets, samples = method.sweep(budgets, config.samples)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # Native caps are not nested prefixes of one another (the engine ends each thinking): no sharing.
    share = config.share and not config.method_config.native_thinking_budget
    sweep = Sweep(budgets=run_budgets, waits=config.waits, samples=samples, seed=config.seed, share=share)
    spec = build_spec(config, run.task.name, run.source, engine, fmt.to_dict(), sweep, budgets=budgets,
                      temperature=method.temperature, data_hash_of=run.data_sha256,
                      model_fingerprint=run.fingerprint)
    run.store.check(spec)  # a resume with other settings is refused now, not after other runs wrote
    return _Planned(run, method, sweep, spec)


def _run(plan: _Planned, engine: Engine) -> RunOutcome:
    """The sweep into the run's store."""
    run, store = plan.checked, plan.checked.store
    done = store.open(plan.spec)
    try:
        stats = run_sweep(engine, plan.method, run.task, run.problems, plan.sweep, store, done,
                          grade_timeout=run.config.grade_timeout, progress=run.config.progress)
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as exc:  # an engine error (out of memory, a dead server...): keep what is done
        raise _interrupted(exc, len(store.records()) - len(done), store.dir) from exc
    finally:
        store.close()
    return RunOutcome(store.dir, stats, store.records())


def _interrupted(exc: Exception, saved: int, output: Path) -> RunInterrupted:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    cause = f"{type(exc).__name__}: {first};"
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        cause = f"cannot write results ({first}): free disk space, then"
    return RunInterrupted(f"the run stopped: {cause} rerun the same command to resume ({saved} new "
                          f"samples are saved in {output})")


def _load_problems(task: Any, data_dir: Any) -> list:
    try:
        return task.load(data_dir)
    except UserError:
        raise
    except Exception as exc:  # a task plugin whose loader raises: its fault, in one line
        raise UserError(f"task {task.name}: loading its problems failed: {type(exc).__name__}: {exc}") from None


MAX_SAMPLES = 10_000_000  # records one run may plan: more is a typo (--samples 100000000)
LARGE_VOTE = 64  # a majority_vote K above this is probably a token budget given by mistake


def _check_golds(task: Any, problems: Any) -> None:
    """A gold the task's answer kind cannot read (AIME "abc") is a data error, found before generating."""
    if task.grader is not None:
        return
    for problem in problems:
        try:
            check_gold(problem.gold, task.answer_kind)
        except ValueError as exc:
            raise UserError(f"task {task.name}, problem {problem.id}: {exc}") from None


def _check_size(method_cls: Any, problems: Any, budgets: tuple, config: RunConfig) -> None:
    runs = len(problems) * len(budgets) * len(config.waits) * config.samples
    if method_cls.votes:
        largest = max(int(b) for b in budgets)
        runs = len(problems) * largest * len(config.waits)
        if largest > LARGE_VOTE:
            warnings.warn(f"--budgets for {method_cls.name} are vote sizes K: K={largest} draws {largest} samples "
                          "per problem (a per-sample token cap is --budget-per-sample)", stacklevel=3)
    if runs > MAX_SAMPLES:
        raise UserError(f"this run would plan {runs:,} samples (problems x budgets x waits x samples), more than "
                        f"{MAX_SAMPLES:,}: lower --samples or --limit")


def _check_context(method: Any, tokenizer: Any, fmt: Any, problems: Any, budgets: tuple, config: RunConfig,
                   limit: int | None) -> None:
    """A token budget must leave room in the context for the prompt, the cut's transition and the
    answer: otherwise the context, not the budget, would end the thinking and the answer would
    get no tokens, and the record would look like an ordinary cut. Refused before anything runs."""
    caps = [b for b in budgets if isinstance(b, int)]
    if not limit or method.budget_unit != "tokens" or not caps:
        return
    cap = max(caps)
    transition = len(tokenizer.encode(fmt.thinking_end + fmt.answer_prefix)) + 2
    room = config.method_config.answer_tokens + transition
    too_long = [(p, n) for p in problems if (n := len(method.start(p, cap, 0, 0, 0).prompt_ids)) + cap + room > limit]
    if too_long:
        problem, n = too_long[0]
        raise UserError(f"problem {problem.id}: its prompt ({n} tokens) + budget {cap} + the answer ({room} "
                        f"tokens with --answer-tokens {config.method_config.answer_tokens}) exceed the model's "
                        f"context of {limit} tokens ({len(too_long)} of {len(problems)} problems do): raise "
                        "--max-model-len, or lower the budget or --answer-tokens")


def _check_unique_ids(task: str, problems: Any) -> None:
    """Records are keyed by problem id: a task whose ids repeat would write two records per key."""
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise UserError(f"task {task} has two problems with id {problem.id!r}: problem ids must be unique")
        seen.add(problem.id)


def _check_native_budget(config: RunConfig, method: Any, engine: Engine) -> None:
    if not config.method_config.native_thinking_budget:
        return
    if not method.native_budget:
        raise UserError(f"--native-thinking-budget does not work with --method {method.name} (it does with "
                        "budget_forcing)")
    if not engine.supports_thinking_budget:
        raise UserError("--native-thinking-budget needs vLLM's thinking_token_budget: --engine vllm with "
                        "--engine-arg reasoning_parser=NAME, or --engine openai on a vLLM server started "
                        "with --reasoning-parser NAME")


def _check_model_path(model: str) -> None:
    looks_local = model.startswith((".", "/", "~")) or Path(model).expanduser().exists()
    if looks_local and not Path(model).expanduser().is_dir():
        raise UserError(f"model directory {model} does not exist: pass a local model folder or a hub id")


