"""``bench run``: generate, grade and store one sweep of a method over budgets."""

from __future__ import annotations

import os
from pathlib import Path

import click

from budgetbench.engines import ENGINE_OPTIONS, ENGINES, resolve_engine
from budgetbench.errors import UserError
from budgetbench.methods.base import MethodConfig
from budgetbench.budgets import parse_csv_ints, split_budgets
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute


def _unescape(value: str | None) -> str | None:
    """Let delimiters be typed on a command line: ``\\n`` and ``\\t`` become real characters."""
    return None if value is None else value.replace("\\n", "\n").replace("\\t", "\t")


@click.command("run")
@click.option("--task", default=None, help="Task name (bench tasks), a module:TASK reference or a .py plugin file [default: toy_sum].")
@click.option("--model", default=None, help="Hugging Face model id or local model directory [default: the shipped toy model].")
@click.option("--method", default="budget_forcing", show_default=True, help="Length-control method (bench methods).")
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
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Run only the first N problems.")
@click.option("--output", "--output-path", "output", default=None, help="Results directory [default: results/TASK/MODEL/METHOD].")
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
    config = _config(opts)
    outcome = execute(config)
    s = outcome.stats
    failed = f" ({s.failed} failed: see their error field)" if s.failed else ""
    click.echo(f"{s.finished} samples generated{failed}, {s.skipped} already on disk, {s.requests} engine requests, "
               f"{s.seconds:.1f}s -> {outcome.output}")
    if not outcome.records:
        click.echo("(no records)")
        return
    from budgetbench.analysis.runs import load_runs

    runs = load_runs([outcome.output], warn=lambda message: None)  # the runs table bench report reads
    click.echo(summary_table(runs))
    if not opts["no_report"]:
        written = write_run_report(runs, outcome.output)
        click.echo(f"tables and curves: {outcome.output / 'report'} ({', '.join(p.name for p in written)})")


def write_run_report(runs, output: Path) -> list[Path]:
    """The run's own report (as bench report OUTPUT --out OUTPUT/report would write it)."""
    from budgetbench.analysis.metrics import method_metrics
    from budgetbench.report.writers import write_report

    return write_report(runs, method_metrics(runs), output / "report")


TOY_ANSWER_TOKENS = 16  # the toy model answers in under 16 tokens; 1024 would not fit its context


def _config(o: dict) -> RunConfig:
    if o["task"] is None and o["model"] is None:  # the embedded default: toy model on its toy task
        from budgetbench.toy import MODEL_DIR

        o = {**o, "task": "toy_sum", "model": str(MODEL_DIR)}
        source = click.get_current_context().get_parameter_source("answer_tokens")
        if source == click.core.ParameterSource.DEFAULT:
            o["answer_tokens"] = TOY_ANSWER_TOKENS  # the toy model's context is 512 tokens
    elif o["task"] is None or o["model"] is None:
        missing = "--task" if o["task"] is None else "--model"
        raise UserError(f"{missing} is required when the other is given (omit both to run the shipped toy model)")
    budgets = split_budgets(o["budgets"]) if o["budgets"] is not None else ()
    waits = parse_csv_ints(str(o["waits"]), "--waits", minimum=0)
    if o["engine"] not in ENGINES:
        raise UserError(f"unknown engine '{o['engine']}': choose one of {', '.join(ENGINES)}")
    engine = resolve_engine(o["engine"], base_url=o["base_url"])
    method_config = MethodConfig(
        answer_tokens=o["answer_tokens"],
        wait_string=_unescape(o["wait_string"]) or "",
        temperature=o["temperature"],
        top_p=o["top_p"],
        max_tries=o["max_tries"],
        step_delimiter=_unescape(o["step_delimiter"]) or "\n\n",
        budget_per_sample=o["budget_per_sample"],
        native_thinking_budget=o["native_thinking_budget"],
    )
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


def summary_table(runs) -> str:
    """The runs table in short, as the terminal shows it: per budget (majority_vote: per K) and wait
    count, accuracy, mean thinking tokens, forced ends and unextractable answers; a ``failed`` column
    (failed samples, not in n, accuracy or means) when a sample failed."""
    table = runs[["budget", "waits", "n"]].astype({"budget": str})
    failed = runs["failed"].astype(float).fillna(0).astype(int)
    if failed.any():
        table["failed"] = failed
    for column, source in (("acc %", "accuracy_pct"), ("thinking_tokens", "mean_thinking_tokens"),
                           ("forced %", "forced_end_pct"), ("no answer %", "unextractable_pct")):
        table[column] = runs[source].astype(float).round(1)
    if runs["model"].nunique() > 1 or runs["method"].nunique() > 1:
        table.insert(0, "method", runs["method"])
    return table.to_string(index=False, na_rep="-")
