"""``bench run``: generate, grade and store sweeps of methods over budgets.

One invocation may hold several runs (``--task a,b --method x,y``, or ``--config FILE``): every
run is checked, then the model is loaded once and the runs go one after another."""

from __future__ import annotations

import os
from pathlib import Path

import click

from budgetbench.engines import ENGINE_OPTIONS, ENGINES, resolve_engine
from budgetbench.errors import UserError
from budgetbench.methods.base import MethodConfig
from budgetbench.budgets import parse_csv_ints, split_budgets
from budgetbench.run.config import RunConfig, default_output
from budgetbench.run.execute import execute_many


def _unescape(value: str | None) -> str | None:
    """Let delimiters be typed on a command line: ``\\n`` and ``\\t`` become real characters."""
    return None if value is None else value.replace("\\n", "\n").replace("\\t", "\t")


@click.command("run")
@click.option("--task", default=None, help="Task name (bench tasks), a module:TASK reference or a .py plugin file [default: toy_sum]; several, comma-separated, run one after another.")
@click.option("--model", default=None, help="Hugging Face model id or local model directory [default: the shipped toy model].")
@click.option("--method", default="budget_forcing", show_default=True, help="Length-control method (bench methods); several, comma-separated, run one after another on the loaded model.")
@click.option("--config", "runs_file", default=None, help="A .toml, .json or .yaml file of runs (see README): shared settings at its top, a list 'runs' of each run's own.")
@click.option("--budgets", default=None, help="Comma-separated budgets in the method's unit, e.g. 512,2048,8192.")
@click.option("--waits", default="0", show_default=True, help="Extensions: times the end of thinking is suppressed, e.g. 0,1,2.")
@click.option("--wait-string", default="Wait", show_default=True, help="Text appended on each extension.")
@click.option("--answer-tokens", type=click.IntRange(min=1), default=1024, show_default=True, help="Token budget of the answer after thinking (the toy default: 16).")
@click.option("--max-tries", type=click.IntRange(min=1), default=1000, show_default=True, help="rejection_sampling: candidates per sample before it is recorded unmet.")
@click.option("--step-delimiter", default="\\n\\n", show_default=True, help="step_conditional: text that ends a step (a paragraph).")
@click.option("--budget-per-sample", type=click.IntRange(min=1), default=None, help="majority_vote: cap each sample's thinking at N tokens (budget forcing).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per problem and budget.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; each sample gets its own seed from it.")
@click.option("--temperature", type=click.FloatRange(min=0), default=None, help="Sampling temperature [default: 0; 1 for rejection_sampling and majority_vote].")
@click.option("--top-p", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=-1), default=0, show_default=True, help="Sample from the K likeliest tokens (vLLM's top_k; 0 or -1: off).")
@click.option("--min-p", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True, help="Drop tokens less likely than MIN_P x the likeliest (vLLM's min_p).")
@click.option("--repetition-penalty", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help="vLLM's: divides positive logits (multiplies negative ones) of tokens in the prompt or output; 1: off.")
@click.option("--presence-penalty", type=click.FloatRange(min=-2, max=2), default=0.0, show_default=True, help="vLLM's: subtracted from tokens already in the request's output.")
@click.option("--frequency-penalty", type=click.FloatRange(min=-2, max=2), default=0.0, show_default=True, help="vLLM's: subtracted once per occurrence in the request's output.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Run only the first N problems.")
@click.option("--output", "--output-path", "output", default=None, help="Results directory [default: results/TASK/MODEL/METHOD]; with several runs, the folder that replaces results/.")
@click.option("--data-dir", default=None, help="Local data folder laid out like shared/data (else $BUDGETBENCH_DATA_DIR, else the hub).")
@click.option("--engine", default="auto", show_default=True, help="auto (openai with --base-url, else vllm if installed and a GPU is present, else hf), hf, vllm or openai.")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32, float16 or bfloat16.")
@click.option("--device", default=None, help="hf engine: torch device [default: cuda if available, else cpu].")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="hf engine: rows per generate call.")
@click.option("--max-model-len", type=click.IntRange(min=1), default=None, help="Context length [default: the model's].")
@click.option("--revision", default=None, help="Model revision on the hub.")
@click.option("--trust-remote-code", is_flag=True, help="Allow custom model code from the hub.")
@click.option("--native-thinking-budget", is_flag=True, help="budget_forcing on vLLM (engine or server) with a reasoning parser: caps via vLLM's thinking_token_budget in one request (no answer prefix).")
@click.option("--tokenizer", default=None, help="vllm/openai: tokenizer (hub id or folder) [default: --model].")
@click.option("--tensor-parallel-size", "-tp", type=click.IntRange(min=1), default=None, help="vllm: GPUs to shard the model over [vLLM default: 1].")
@click.option("--gpu-memory-utilization", type=click.FloatRange(min=0, max=1, min_open=True), default=None, help="vllm: share of GPU memory to use [default: 0.9].")
@click.option("--enforce-eager", is_flag=True, default=None, help="vllm: no CUDA graphs.")
@click.option("--engine-arg", "engine_args", multiple=True, metavar="KEY=VALUE", help="vllm: any other vllm.LLM argument, repeatable (values parsed as JSON when they are).")
@click.option("--base-url", default=None, help="openai: the server, e.g. http://localhost:8000/v1.")
@click.option("--api-key", default=None, help="openai: API key [default: $OPENAI_API_KEY]; never written to results.")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None, help="openai: requests in flight [default: 32].")
@click.option("--request-timeout", type=click.FloatRange(min=1), default=None, help="openai: seconds to wait for one completion [default: 1200].")
@click.option("--max-retries", type=click.IntRange(min=0), default=None, help="openai: retries with backoff on connection errors, 408/409/429/5xx and unusable replies; then the sample is recorded as failed [default: 6].")
@click.option("--thinking-format", default="auto", show_default=True, help="auto (from the tokenizer), s1 or think.")
@click.option("--thinking-start", default=None, help="Override: text that opens thinking (\\n allowed).")
@click.option("--thinking-end", default=None, help="Override: end-of-thinking delimiter (may span tokens).")
@click.option("--answer-prefix", default=None, help="Override: text written after a forced end [s1: '\\nFinal Answer:'].")
@click.option("--grade-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds per answer comparison.")
@click.option("--no-share", is_flag=True, help="Generate each budget separately (default: nested budgets share their thinking).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--no-report", is_flag=True, help="Do not write tables and curves into OUTPUT/report at the end.")
def run(**opts: object) -> None:
    """Run METHOD over BUDGETS on TASK with MODEL; rerunning the same command resumes."""
    configs, no_report = _configs(opts)
    outcomes = execute_many(configs)
    several = len(outcomes) > 1
    for i, outcome in enumerate(outcomes, 1):
        s = outcome.stats
        prefix = f"run {i}: " if several else ""
        if outcome.loaded:
            failed = f" ({s.failed} failed: see their error field)" if s.failed else ""
            click.echo(f"{prefix}{s.finished} samples generated{failed}, {s.skipped} already on disk, "
                       f"{s.requests} engine requests, {s.seconds:.1f}s -> {outcome.output}")
        else:
            click.echo(f"{prefix}nothing left to do: all {s.skipped} samples are on disk "
                       f"(the model was not loaded) -> {outcome.output}")
    done = [(i, outcome.output) for i, outcome in enumerate(outcomes, 1) if outcome.records]
    if not done:
        click.echo("(no records)")
        return
    import pandas as pd

    from budgetbench.analysis.runs import load_runs

    tables = {i: load_runs([output], warn=lambda message: None) for i, output in done}  # what bench report reads
    combined = pd.concat([t.assign(run=i) for i, t in tables.items()], ignore_index=True)
    click.echo(summary_table(combined, by_run=several))
    if not no_report:
        for i, output in done:
            written = write_run_report(tables[i], output)
            click.echo(f"tables and curves: {output / 'report'} ({', '.join(p.name for p in written)})")


def _configs(opts: dict) -> tuple[list[RunConfig], bool]:
    """Every run of this invocation (one, the --task x --method lists, or the --config file's),
    and whether to skip the reports."""
    context = click.get_current_context()
    given = {name for name in opts if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    tasks = _names(opts["task"]) if opts["task"] is not None else [None]
    methods = _names(opts["method"])
    if opts["runs_file"]:
        from budgetbench.cli.runs_file import read_runs_file

        if len(tasks) > 1 or len(methods) > 1:
            raise UserError("with --config, list the runs in the file, not in --task or --method")
        shared, entries = read_runs_file(opts["runs_file"], context.command)
        opts = {**opts, **shared}
        runs = [({**opts, **entry}, given | set(shared) | set(entry), set(entry)) for entry in entries]
    else:
        runs = [({**opts, "task": t, "method": m}, given, set()) for t in tasks for m in methods]
    _check_shared_budgets(runs)
    configs = [_config(o, names) for o, names, _ in runs]
    if len(configs) > 1:  # a shared --output is a root; a run's own output in the file is its folder
        configs = [_under_root(config, o["output"]) if o["output"] is not None and "output" not in own else config
                   for config, (o, _, own) in zip(configs, runs)]
    return configs, bool(opts["no_report"])


def _names(text: str) -> list[str]:
    names = [n.strip() for n in str(text).split(",")]
    if not all(names):
        raise UserError(f"an empty name in {text!r}: separate names with single commas")
    return list(dict.fromkeys(names))


def _check_shared_budgets(runs: list) -> None:
    """One --budgets for several methods only where they count budgets in one unit."""
    from budgetbench.methods import load_method

    shared = [o for o, names, own in runs if "budgets" in names and "budgets" not in own]
    units = {o["method"]: load_method(o["method"]).budget_unit for o in shared}
    if len(set(units.values())) > 1:
        listed = ", ".join(f"{m}: {u}" for m, u in units.items())
        raise UserError(f"--budgets applies to every method, but they count budgets in different units ({listed}): "
                        "run them separately, or give each its own budgets in a --config file")


def _under_root(config: RunConfig, root: str) -> RunConfig:
    """With several runs, a shared --output is the folder that replaces results/ in each default."""
    from dataclasses import replace

    from budgetbench.tasks import get_task

    own = default_output(get_task(config.task).name, config.model, config.method).relative_to("results")
    return replace(config, output=str(Path(root) / own))


def write_run_report(runs, output: Path) -> list[Path]:
    """The run's own report (as bench report OUTPUT --out OUTPUT/report would write it)."""
    from budgetbench.analysis.metrics import method_metrics
    from budgetbench.report.writers import write_report

    return write_report(runs, method_metrics(runs), output / "report")


TOY_ANSWER_TOKENS = 16  # the toy model answers in under 16 tokens; 1024 would not fit its context


def _config(o: dict, given: set[str]) -> RunConfig:
    """One run's configuration; ``given``: the settings the user gave (flags or the --config file)."""
    if o["task"] is None and o["model"] is None:  # the embedded default: toy model on its toy task
        from budgetbench.toy import MODEL_DIR

        o = {**o, "task": "toy_sum", "model": str(MODEL_DIR)}
        if "answer_tokens" not in given:
            o["answer_tokens"] = TOY_ANSWER_TOKENS  # the toy model's context is 512 tokens
    elif o["task"] is None or o["model"] is None:
        missing = "--task" if o["task"] is None else "--model"
        raise UserError(f"{missing} is required when the other is given (omit both to run the shipped toy model)")
    budgets = split_budgets(o["budgets"]) if o["budgets"] is not None else ()
    waits = parse_csv_ints(str(o["waits"]), "--waits", minimum=0)
    if o["engine"] not in ENGINES:
        raise UserError(f"unknown engine '{o['engine']}': choose one of {', '.join(ENGINES)}")
    engine = resolve_engine(o["engine"], base_url=o["base_url"])
    try:
        method_config = _method_config(o)
    except ValueError as exc:  # e.g. --repetition-penalty inf
        raise UserError(str(exc)) from None
    engine_options = _engine_options(engine, o)
    return RunConfig(
        task=o["task"],
        model=o["model"],
        method=o["method"],
        budgets=budgets,
        waits=waits,
        samples=o["samples"],
        seed=o["seed"],
        limit=o["limit"],
        output=o["output"],
        data_dir=o["data_dir"],
        engine=engine,
        engine_options=engine_options,
        method_config=method_config,
        thinking_format=o["thinking_format"],
        format_overrides={
            "thinking_start": _unescape(o["thinking_start"]),
            "thinking_end": _unescape(o["thinking_end"]),
            "answer_prefix": _unescape(o["answer_prefix"]),
        },
        grade_timeout=o["grade_timeout"],
        progress=not o["no_progress"],
        share=not o["no_share"],
    )


def _method_config(o: dict) -> MethodConfig:
    return MethodConfig(
        answer_tokens=o["answer_tokens"],
        wait_string=_unescape(o["wait_string"]) or "",
        temperature=o["temperature"],
        top_p=o["top_p"],
        top_k=o["top_k"],
        min_p=o["min_p"],
        repetition_penalty=o["repetition_penalty"],
        presence_penalty=o["presence_penalty"],
        frequency_penalty=o["frequency_penalty"],
        max_tries=o["max_tries"],
        step_delimiter=_unescape(o["step_delimiter"]) or "\n\n",
        budget_per_sample=o["budget_per_sample"],
        native_thinking_budget=o["native_thinking_budget"],
    )


# Flags that only some engines take, and their values when not given.
_ENGINE_FLAGS = {
    "device": None, "batch_size": 32, "tokenizer": None, "tensor_parallel_size": None,
    "gpu_memory_utilization": None, "enforce_eager": None, "engine_args": (), "base_url": None,
    "api_key": None, "max_concurrency": None, "request_timeout": None, "max_retries": None,
}


def _engine_options(engine: str, o: dict) -> dict:
    """The options ``engine`` takes; a flag meant for another engine is an error, not ignored."""
    accepted = ENGINE_OPTIONS[engine]
    for name, default in _ENGINE_FLAGS.items():
        if o[name] != default and o[name] is not False and name not in accepted:
            users = [e for e, names in ENGINE_OPTIONS.items() if name in names]
            raise UserError(f"--{name.replace('_', '-')} is an option of --engine {'/'.join(users)}, "
                            f"not of {engine}")
    if engine == "openai" and not o["base_url"]:
        raise UserError("--engine openai needs --base-url (e.g. http://localhost:8000/v1)")
    options = {"dtype": o["dtype"], "max_model_len": o["max_model_len"], "revision": o["revision"],
               "trust_remote_code": o["trust_remote_code"], "seed": o["seed"],
               "api_key": o["api_key"] or os.environ.get("OPENAI_API_KEY")}
    options.update({name: o[name] for name in _ENGINE_FLAGS if o[name] is not None})
    return {k: v for k, v in options.items() if k in accepted}


def summary_table(runs, by_run: bool = False) -> str:
    """The runs table in short, as the terminal shows it: per budget (majority_vote: per K) and wait
    count, accuracy, mean thinking tokens, forced ends and unextractable answers; a ``failed`` column
    (failed samples, not in n, accuracy or means) when a sample failed; ``by_run``: a first column
    with each row's run number (several runs in one invocation)."""
    table = runs[["budget", "waits", "n"]].astype({"budget": str})
    failed = runs["failed"].astype(float).fillna(0).astype(int)
    if failed.any():
        table["failed"] = failed
    for column, source in (("acc %", "accuracy_pct"), ("thinking_tokens", "mean_thinking_tokens"),
                           ("forced %", "forced_end_pct"), ("no answer %", "unextractable_pct")):
        table[column] = runs[source].astype(float).round(1)
    if runs["model"].nunique() > 1 or runs["method"].nunique() > 1:
        table.insert(0, "method", runs["method"])
    if runs["task"].nunique() > 1:
        table.insert(0, "task", runs["task"])
    if by_run:
        table.insert(0, "run", runs["run"])
    return table.to_string(index=False, na_rep="-")
