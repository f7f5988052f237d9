"""vLLM engine: ``vllm.LLM`` in-process, continuous batching, token ids in and out.

Requests are submitted one by one as ``TokensPrompt``s (``LLM.enqueue``) and the engine is
stepped (``LLMEngine.step``) until some finish: a trace's next request joins the running batch
the moment its last one returns, and nothing waits for an unrelated slow request. Prefix
caching is on, so a continuation prefills only what it added to a prompt the engine has seen.
``generate`` (a whole batch in one ``LLM.generate`` call) serves callers that want a batch. ``n`` is expanded into requests with seeds ``seed+j`` (as in the other engines, so a sample
does not depend on how it was batched). vLLM is imported only here.

Stop semantics match ``base.py``: ``include_stop_str_in_output`` keeps a stop string in the
output and vLLM keeps the token that completed it, or the stop token, in ``token_ids``; an EOS
stop has ``stop_reason`` None (methods handle both). Text is decoded by our tokenizer from the
ids, so it is exactly what the ids say, special tokens included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from budgetbench.engines.base import (
    EngineBase,
    CONTEXT_FULL,
    EngineError,
    EngineStats,
    MissingExtraError,
    expand_rows,
    group_results,
)
from budgetbench.engines.tokenizer import HFTokenizer, _first_line
from budgetbench.types import Completion, GenRequest, GenResult

try:  # heavy imports stay inside this engine
    import vllm
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import RequestOutputKind
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("vllm", "vllm") from exc


def sampling_params(params: Any, seed: int | None, max_tokens: int) -> SamplingParams:
    """Our SamplingParams (one completion) as vLLM's."""
    native = {} if params.thinking_token_budget is None else {"thinking_token_budget": params.thinking_token_budget}
    return SamplingParams(
        **native,
        n=1,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        min_p=params.min_p,
        repetition_penalty=params.repetition_penalty,
        presence_penalty=params.presence_penalty,
        frequency_penalty=params.frequency_penalty,
        seed=seed,
        max_tokens=max_tokens,
        stop=list(params.stop) or None,
        stop_token_ids=list(params.stop_token_ids) or None,
        skip_special_tokens=False,
        spaces_between_special_tokens=False,
        include_stop_str_in_output=True,
    )


def parse_engine_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``--engine-arg key=value`` pairs as LLM keyword arguments (values parsed as JSON when they
    are JSON: numbers, true/false, lists, objects; otherwise kept as strings)."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EngineError(f"--engine-arg must be key=value, got {pair!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


@dataclass(eq=False)
class _Entry:
    """A submitted request whose ``n`` completions are being generated."""

    request: GenRequest
    tag: Any
    completions: list[Completion]
    left: int  # completions still running


class VLLMEngine(EngineBase):
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        tokenizer: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool = False,
        engine_args: Sequence[str] = (),
        seed: int = 0,
    ):
        self.model_id = model
        self.tokenizer = HFTokenizer.load(tokenizer or model, revision=revision, trust_remote_code=trust_remote_code)
        kwargs: dict[str, Any] = dict(
            model=model,
            tokenizer=tokenizer,
            dtype=dtype,
            max_model_len=max_model_len,
            revision=revision,
            trust_remote_code=trust_remote_code,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            enforce_eager=enforce_eager,
            enable_prefix_caching=True,
            seed=seed,
            # Neutral: vLLM would otherwise take default sampling settings and extra EOS ids from
            # the checkpoint's generation_config.json ("auto"); --engine-arg generation_config=auto
            # asks for them.
            generation_config="vllm",
        )
        kwargs.update(parse_engine_args(engine_args))
        try:
            self.llm = LLM(**kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            raise EngineError(f"vLLM cannot load '{model}': {_first_line(exc)}") from exc
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.options = {k: v for k, v in kwargs.items() if k not in ("model", "tokenizer")}
        # vLLM builds a reasoning config only when a reasoning parser is given: then its
        # SamplingParams.thinking_token_budget works (--native-thinking-budget).
        vllm_config = getattr(self.llm.llm_engine, "vllm_config", None)
        self.supports_thinking_budget = getattr(vllm_config, "reasoning_config", None) is not None
        self.stats = EngineStats()
        # Keep twice the scheduler's batch in flight: a full batch plus a queue to refill it from.
        max_seqs = getattr(getattr(vllm_config, "scheduler_config", None), "max_num_seqs", None) or 256
        self.capacity = 2 * int(max_seqs)
        self._waiting: dict[str, tuple[_Entry, int]] = {}  # vLLM request id -> (entry, completion index)
        self._ready: list[tuple[Any, GenResult]] = []

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "model": self.model_id, "vllm": vllm.__version__,
                "max_model_len": self.max_model_len, **{k: v for k, v in self.options.items() if v is not None}}

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        self.stats.calls += 1
        rows = expand_rows(requests, self.max_model_len)
        self.stats.requests += len(rows)
        completions = [CONTEXT_FULL] * len(rows)
        live = [i for i, row in enumerate(rows) if row.max_tokens > 0]
        if live:
            prompts = [TokensPrompt(prompt_token_ids=list(rows[i].request.prompt_ids)) for i in live]
            params = [sampling_params(rows[i].request.params, rows[i].seed, rows[i].max_tokens) for i in live]
            self.stats.prefill_tokens += sum(len(rows[i].request.prompt_ids) for i in live)
            for i, output in zip(live, self.llm.generate(prompts, params, use_tqdm=False)):
                completions[i] = self._completion(output.outputs[0])
        return group_results(requests, completions)

    # -- continuous batching (budgetbench.run.pipeline) ---------------------------------------------
    def submit(self, request: GenRequest, tag: Any) -> None:
        rows = expand_rows([request], self.max_model_len)
        self.stats.requests += len(rows)
        entry = _Entry(request, tag, [CONTEXT_FULL] * len(rows), 0)
        for j, row in enumerate(rows):
            if row.max_tokens <= 0:
                continue
            params = sampling_params(request.params, row.seed, row.max_tokens)
            params.output_kind = RequestOutputKind.FINAL_ONLY
            [request_id] = self.llm.enqueue([TokensPrompt(prompt_token_ids=list(request.prompt_ids))], [params],
                                            use_tqdm=False)
            # enqueue returns vLLM's internal id (LLM's counter + "-" + a random suffix); outputs
            # carry the counter part.
            self._waiting[str(request_id).split("-")[0]] = (entry, j)
            entry.left += 1
            self.stats.prefill_tokens += len(request.prompt_ids)
        if entry.left == 0:
            self._ready.append((tag, GenResult(tuple(entry.completions))))

    def collect(self) -> list[tuple[Any, GenResult]]:
        engine = self.llm.llm_engine
        while not self._ready and self._waiting:
            for output in engine.step():
                if not getattr(output, "finished", False):
                    continue
                entry, j = self._waiting.pop(str(output.request_id))
                entry.completions[j] = self._completion(output.outputs[0])
                entry.left -= 1
                if entry.left == 0:
                    self._ready.append((entry.tag, GenResult(tuple(entry.completions))))
            if self._waiting and not engine.has_unfinished_requests():
                raise EngineError(f"vLLM dropped {len(self._waiting)} requests without finishing them")
        ready, self._ready = self._ready, []
        return ready

    def cancel(self) -> None:
        if self._waiting:
            self.llm.llm_engine.abort_request(list(self._waiting))
        self._waiting, self._ready = {}, []

    def _completion(self, out: Any) -> Completion:
        ids = tuple(int(t) for t in out.token_ids)
        self.stats.decode_tokens += len(ids)
        finish = "length" if out.finish_reason == "length" else "stop"
        if out.finish_reason not in ("stop", "length"):
            raise EngineError(f"vLLM ended a request with finish_reason={out.finish_reason!r}")
        return Completion(ids, self.tokenizer.decode(ids), finish, out.stop_reason)
