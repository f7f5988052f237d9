"""budgetbench's methods as an lm-evaluation-harness model, registered as ``budgetbench``.

    python -m budgetbench.interop.lm_eval_cli --model budgetbench --model_args pretrained=DIR,engine=hf \\
        --tasks gsm8k --gen_kwargs method=budget_forcing,budget=2048,waits=1,wait_string=Wait

lm-eval hands over one rendered context per request. How it becomes the model's prompt
(``prompt=`` model argument):

* ``chat``: the context is the user's message; budgetbench renders the chat template and opens
  the thinking, exactly as ``bench run`` does with a task's question (every method works);
* ``raw``: the context is the prompt as it is (lm-eval's ``--apply_chat_template`` rendered it,
  or a base model); only the thinking start (``<think>``) is appended when it is missing.
  Prompt-conditional methods refuse it: their instruction belongs inside the user's turn;
* ``auto`` (default): ``raw`` when the context already ends with the chat template's generation
  prompt (``--apply_chat_template``), else ``chat``.

The method then runs its rounds on the engine exactly as under ``bench run``: thinking tokens
are counted and capped by the method itself. lm-eval receives the answer after the thinking
(``output=full``: thinking, delimiter and answer), cut at the task's ``until`` strings.
``records=PATH`` appends one budgetbench record per request (thinking_tokens, forced_end, ...).

gen_kwargs: ``method`` (default budget_forcing), ``budget``, ``waits``, ``wait_string``,
``answer_tokens`` (default: the task's ``max_gen_toks``), ``step_delimiter``, ``max_tries``,
``seed``, and lm-eval's ``until``, ``max_gen_toks``, ``do_sample``, ``temperature``, ``top_p``.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

from budgetbench.errors import UserError
from budgetbench.budgets import Budget, parse_budgets
from budgetbench.formats import ThinkingFormat, check_format_name, resolve_format
from budgetbench.methods import load_method
from budgetbench.methods.base import MethodConfig, Trace, sample_seed
from budgetbench.run.pipeline import Job, Pipeline
from budgetbench.run.records import trace_fields
from budgetbench.types import Problem

try:
    from lm_eval.api.model import LM
    from lm_eval.api.registry import register_model
except ImportError:  # pragma: no cover - depends on the environment
    raise UserError("the budgetbench lm-eval model needs the 'lm-eval' package: "
                    "pip install 'budgetbench[lm-eval]'") from None

MODEL_NAME = "budgetbench"
PROMPT_MODES = ("auto", "chat", "raw")
OUTPUTS = ("answer", "full")
METHOD_KEYS = {"method", "budget", "waits", "wait_string", "answer_tokens", "step_delimiter", "max_tries", "seed"}
LM_EVAL_KEYS = {"until", "max_gen_toks", "do_sample", "temperature", "top_p"}
DEFAULT_ANSWER_TOKENS = 1024
_MARKER = "\x00budgetbench-user-message\x00"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelConfig:
    """The ``--model_args`` of the budgetbench model."""

    model: str
    engine: str = "hf"
    thinking_format: str = "auto"
    prompt: str = "auto"
    output: str = "answer"
    records: str | None = None
    engine_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> ModelConfig:
        args = {k: v for k, v in args.items() if v is not None}
        model = args.pop("pretrained", None) or args.pop("model", None)
        if not model:
            raise UserError("the budgetbench model needs --model_args pretrained=MODEL_DIR_OR_HUB_ID")
        own = {k: str(args.pop(k)) for k in ("engine", "thinking_format", "prompt", "output", "records") if k in args}
        args.pop("max_batch_size", None)
        batch = args.pop("batch_size", None)
        if batch is not None and str(batch).isdigit():
            args["batch_size"] = int(batch)  # 'auto' (lm-eval's batch-size search): the engine's default
        if "device" in args and usable_device(str(args["device"])) is None:
            del args["device"]  # lm-eval's default cuda:0 on a machine without CUDA: the engine picks
        config = cls(model=str(model), engine_options=args, **own)
        config.check()
        return config

    def check(self) -> None:
        if self.prompt not in PROMPT_MODES:
            raise UserError(f"prompt must be one of {', '.join(PROMPT_MODES)}, got '{self.prompt}'")
        if self.output not in OUTPUTS:
            raise UserError(f"output must be one of {', '.join(OUTPUTS)}, got '{self.output}'")
        check_format_name(self.thinking_format, "thinking_format")


@dataclass(frozen=True)
class GenSettings:
    """One request's gen_kwargs, in budgetbench's terms."""

    method: str = "budget_forcing"
    budget: str | None = None
    waits: int = 0
    seed: int = 0
    until: tuple[str, ...] = ()
    method_config: MethodConfig = MethodConfig()

    @classmethod
    def from_gen_kwargs(cls, gen: dict[str, Any]) -> GenSettings:
        ignored = sorted(set(gen) - METHOD_KEYS - LM_EVAL_KEYS)
        if ignored:
            log.warning("budgetbench model: ignoring gen_kwargs %s", ", ".join(ignored))
        until = gen.get("until") or ()
        until = (until,) if isinstance(until, str) else tuple(str(u) for u in until)
        answer_tokens = gen.get("answer_tokens", gen.get("max_gen_toks", DEFAULT_ANSWER_TOKENS))
        defaults = MethodConfig()
        config = MethodConfig(
            answer_tokens=_int(answer_tokens, "answer_tokens", 1),
            wait_string=str(gen.get("wait_string", defaults.wait_string)),
            temperature=_temperature(gen),
            top_p=float(gen.get("top_p", defaults.top_p)),
            max_tries=_int(gen.get("max_tries", defaults.max_tries), "max_tries", 1),
            step_delimiter=str(gen.get("step_delimiter", defaults.step_delimiter)).replace("\\n", "\n"),
        )
        budget = gen.get("budget")
        return cls(
            method=str(gen.get("method", "budget_forcing")),
            budget=None if budget is None else str(budget),
            waits=_int(gen.get("waits", 0), "waits", 0),
            seed=_int(gen.get("seed", 0), "seed", 0),
            until=until,
            method_config=config,
        )


def usable_device(device: str) -> str | None:
    """``device``, or None when it names CUDA and there is none (lm-eval defaults to cuda:0)."""
    if not device.startswith("cuda"):
        return device
    try:
        import torch
    except ImportError:
        return None
    if torch.cuda.is_available():
        return device
    log.warning("budgetbench model: device %s is not available; the engine picks its own", device)
    return None


def _int(value: Any, name: str, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"gen_kwargs {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise UserError(f"gen_kwargs {name} must be >= {minimum}, got {number}")
    return number


def _temperature(gen: dict[str, Any]) -> float | None:
    """lm-eval's do_sample/temperature: greedy when do_sample is false; None = the method's default."""
    if gen.get("do_sample") is False:
        return 0.0
    if "temperature" in gen:
        return float(gen["temperature"])
    return 1.0 if gen.get("do_sample") is True else None


class VerbatimChat:
    """The engine's tokenizer, except that the 'user message' is an already rendered prompt."""

    def __init__(self, tok: Any):
        self._tok = tok
        self.eos_token_ids = tok.eos_token_ids
        self.chat_template = tok.chat_template

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(ids)

    def vocab(self) -> dict[str, int]:
        return self._tok.vocab()

    def render_chat(self, user_message: str) -> str:
        return user_message


def generation_suffix(tok: Any) -> str:
    """What the chat template writes after the user's message ('' without a template)."""
    if not tok.chat_template:
        return ""
    text = tok.render_chat(_MARKER)
    return text.split(_MARKER, 1)[1] if _MARKER in text else ""


def is_rendered(context: str, suffix: str, fmt: ThinkingFormat) -> bool:
    """Does ``context`` already end with the chat template's generation prompt?"""
    core = suffix.removesuffix(fmt.thinking_start)
    return bool(suffix.strip()) and (context.endswith(suffix) or (bool(core.strip()) and context.endswith(core)))


def cut_at_until(text: str, until: Sequence[str]) -> str:
    """lm-eval's stop sequences, applied to the answer after its leading whitespace."""
    start = len(text) - len(text.lstrip())
    end = len(text)
    for stop in until:
        if stop:
            hit = text.find(stop, start)
            if hit != -1:
                end = min(end, hit)
    return text[:end]


@dataclass
class _Job:
    """One lm-eval request: its method, trace and settings."""

    method: Any
    trace: Trace
    settings: GenSettings
    verbatim: bool


@register_model(MODEL_NAME)
class BudgetBenchLM(LM):
    """lm-eval model that generates with a budgetbench engine under a budgetbench method."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        from budgetbench.engines import make_engine

        self.config = ModelConfig.from_args(kwargs)
        try:
            self.engine = make_engine(self.config.engine, self.config.model, **self.config.engine_options)
        except TypeError as exc:
            raise UserError(f"budgetbench model: bad model_args for engine '{self.config.engine}': {exc}") from None
        tok = self.engine.tokenizer
        self.fmt = resolve_format(self.config.thinking_format, tok)
        self._suffix = generation_suffix(tok)
        self._methods: dict[tuple, Any] = {}
        self.records: list[dict[str, Any]] = []  # one per request of the last generate_until call

    # -- lm-eval's construction hooks: model_args win over lm-eval's batch_size/device ----------
    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> BudgetBenchLM:
        from lm_eval.utils import simple_parse_args_string

        return cls.create_from_arg_obj(simple_parse_args_string(arg_string), additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None) -> BudgetBenchLM:
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None}
        return cls(**{**extra, **arg_dict})

    # -- what lm-eval asks of a model ----------------------------------------------------------
    def loglikelihood(self, requests: list, disable_tqdm: bool = False) -> list:
        raise NotImplementedError("the budgetbench model only generates: run generate_until tasks")

    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list:
        raise NotImplementedError("the budgetbench model only generates: run generate_until tasks")

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        jobs = self._start_jobs([r.args for r in requests])
        self._drive(jobs, disable_tqdm)
        _check_failures(jobs)
        self.records = [self._record(i, job) for i, job in enumerate(jobs)]
        if self.config.records:
            with open(self.config.records, "a", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records)
        outputs = [self._output(job) for job in jobs]
        for request, output in zip(requests, outputs):
            self.cache_hook.add_partial("generate_until", request.args, output)
        return outputs

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        tok = self.engine.tokenizer
        render = getattr(tok, "render_messages", None)  # the engines' tokenizers; not a scripted one
        if render is not None and tok.chat_template:
            return render(chat_history, add_generation_prompt=add_generation_prompt)
        return tok.render_chat("\n\n".join(m["content"] for m in chat_history))

    @property
    def tokenizer_name(self) -> str:
        return self.config.model.replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.engine.tokenizer.chat_template or ""

    # -- running methods on rendered contexts --------------------------------------------------
    def _method(self, settings: GenSettings, verbatim: bool) -> Any:
        key = (settings.method, settings.method_config, verbatim)
        if key not in self._methods:
            cls = load_method(settings.method)
            if cls.votes:
                raise UserError(f"method '{settings.method}' draws several samples per problem: use lm-eval's "
                                "repeats and a majority-vote filter with method=none or budget_forcing instead")
            tok = VerbatimChat(self.engine.tokenizer) if verbatim else self.engine.tokenizer
            self._methods[key] = cls(tok, self.fmt, settings.method_config)
        return self._methods[key]

    def _budget(self, method: Any, settings: GenSettings) -> Budget:
        texts = (str(settings.budget),) if settings.budget is not None else tuple(method.default_budgets)[:1]
        return parse_budgets(method, texts, self.engine.max_model_len, flag="gen_kwargs budget")[0]

    def _verbatim(self, context: str) -> bool:
        if self.config.prompt != "auto":
            return self.config.prompt == "raw"
        return is_rendered(context, self._suffix, self.fmt)

    def _start_jobs(self, args: Sequence[tuple[str, dict]]) -> list[_Job]:
        jobs, seen = [], {}
        for context, gen_kwargs in args:
            settings = GenSettings.from_gen_kwargs(dict(gen_kwargs or {}))
            verbatim = self._verbatim(context)
            method = self._method(settings, verbatim)
            budget = self._budget(method, settings)
            pid = f"{zlib.crc32(context.encode('utf-8')):08x}"
            sample = seen.get(pid, 0)  # lm-eval's repeats: the same context again is another sample
            seen[pid] = sample + 1
            problem = Problem(pid, context, "")
            if verbatim and method.user_message(problem, budget) != context:
                raise UserError(f"method '{method.name}' writes the budget into the user's message, which a "
                                "rendered prompt no longer has: run without --apply_chat_template (or prompt=chat)")
            trace = method.start(problem, budget, settings.waits, sample, sample_seed(settings.seed, pid, sample))
            jobs.append(_Job(method, trace, settings, verbatim))
        return jobs

    def _drive(self, jobs: list[_Job], disable_tqdm: bool) -> None:
        """Every request through the pipeline (budgetbench.run.pipeline), as bench run drives them."""
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="budgetbench", disable=disable_tqdm)
        try:
            Pipeline(self.engine, on_done=lambda job: bar.update(1), share=False, chunk=False).run(
                [Job(job.method, job.trace)] for job in jobs)
        finally:
            bar.close()

    def _record(self, index: int, job: _Job) -> dict[str, Any]:
        trace = job.trace
        return {"request": index, **trace_fields(job.method, trace), "prompt_tokens": len(trace.prompt_ids),
                "rendered_prompt": job.verbatim}

    def _output(self, job: _Job) -> str:
        if job.trace.error is not None:  # a failed sample: no answer (its record has the error)
            return ""
        answer = cut_at_until(job.method.record_fields(job.trace)["answer_text"], job.settings.until)
        if self.config.output == "answer":
            return answer
        trace = job.trace
        return job.method.tok.decode([*trace.thinking_ids, *trace.transition_ids[: len(trace.transition_ids)
                                     - len(trace.answer_prefix_ids)]]) + answer


__all__ = ["BudgetBenchLM", "GenSettings", "ModelConfig", "MODEL_NAME"]


def _check_failures(jobs: Sequence[_Job]) -> None:
    """Failed samples (a request the server refused, or a reply unusable after the retries) score
    as empty answers in lm-eval, which has no "failed": when every request failed, nothing is
    scored (EngineError, as ``bench run`` stops); when some did, a warning counts them."""
    from budgetbench.engines.base import EngineError

    failed = [job.trace.error for job in jobs if job.trace.error is not None]
    if not failed:
        return
    if len(failed) == len(jobs):
        raise EngineError(f"every one of the {len(jobs)} requests failed (the first: {failed[0]}): nothing is "
                          "scored; check the server and the model's context length")
    log.warning(
        "%d of %d requests failed and score as empty answers (the first: %s); with records=FILE their "
        "records carry the error", len(failed), len(jobs), failed[0])
