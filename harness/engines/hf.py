"""Transformers engine: real ``model.generate`` with left-padded batches, on CPU or GPU.

One ``generate`` call serves requests with different budgets, stops and sampling settings:
a per-row stopping criterion ends each row at its own ``max_tokens`` / stop token / stop string,
and a per-row sampler draws each row's token with its own seeded generator (so a sample's
tokens do not depend on which other requests share its batch), then hands the choice to
greedy search. torch and transformers are imported only here.
"""

from __future__ import annotations

from typing import Any, Sequence

from budgetbench.engines.base import (
    EngineBase,
    EngineError,
    EngineStats,
    MissingExtraError,
    expand_rows,
    find_stop_string,
    group_results,
    stop_tail_tokens,
)
from budgetbench.engines.tokenizer import HFTokenizer, _first_line
from budgetbench.types import Completion, GenRequest, GenResult

try:  # heavy imports stay inside this engine
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LogitsProcessor, StoppingCriteria
    from transformers import __version__ as TRANSFORMERS_VERSION
    from transformers.utils import logging as hf_logging
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("transformers", "hf") from exc


# transformers renamed from_pretrained's ``torch_dtype`` to ``dtype`` in 4.56.
_DTYPE_KWARG = "dtype" if tuple(int(x) for x in TRANSFORMERS_VERSION.split(".")[:2]) >= (4, 56) else "torch_dtype"


SMALL_MODEL_PARAMS = 20_000_000


class _Row:
    """One generated sequence: a request (or one of its ``n`` completions)."""

    def __init__(self, request: GenRequest, seed: int | None, max_tokens: int):
        self.request = request
        self.params = request.params
        self.max_tokens = max_tokens
        self.generator: torch.Generator | None = None
        if self.params.temperature > 0:
            self.generator = torch.Generator().manual_seed(seed if seed is not None else 0)
        self.generated: list[int] = []
        self.length: int | None = None  # generated tokens when the row finished
        self.finish_reason = "length"
        self.stop_reason: int | str | None = None


class _PerRowStop(StoppingCriteria):
    def __init__(self, rows: list[_Row], prompt_width: int, tokenizer: HFTokenizer):
        self.rows, self.width, self.tokenizer = rows, prompt_width, tokenizer

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        generated = input_ids.shape[1] - self.width
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        last = input_ids[:, -1].tolist()
        for i, row in enumerate(self.rows):
            if row.length is not None:
                done[i] = True
                continue
            p = row.params
            if last[i] in p.stop_token_ids:
                row.length, row.finish_reason, row.stop_reason = generated, "stop", last[i]
            elif p.stop:
                k = min(generated, stop_tail_tokens(p.stop))
                hit = find_stop_string(self.tokenizer.decode(input_ids[i, -k:].tolist()), p.stop)
                if hit is not None:
                    row.length, row.finish_reason, row.stop_reason = generated, "stop", hit
            if row.length is None and generated >= row.max_tokens:
                row.length = generated
            done[i] = row.length is not None
        return done


class _PerRowSampler(LogitsProcessor):
    """vLLM's sampler, row by row. Penalties first (greedy rows too: they change the argmax); then
    rows with temperature > 0 are divided by it, filtered by min_p, top_k and top_p, and drawn
    from their own generator; greedy rows pass through to greedy search."""

    def __init__(self, rows: list[_Row], prompt_width: int):
        self.rows, self.width = rows, prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for i, row in enumerate(self.rows):
            if row.length is not None:
                continue
            p = row.params
            if p.repetition_penalty != 1.0 or p.presence_penalty or p.frequency_penalty:
                scores[i] = apply_penalties(scores[i].float(), row.request.prompt_ids, input_ids[i, self.width :], p)
            if row.generator is None:
                continue
            probs = torch.softmax(filter_logits(scores[i].float() / p.temperature, p), dim=-1)
            choice = torch.multinomial(probs.cpu(), 1, generator=row.generator).item()
            scores[i] = float("-inf")
            scores[i, choice] = 0.0
        return scores


def apply_penalties(logits: torch.Tensor, prompt_ids: Sequence[int], output_ids: torch.Tensor, p: Any) -> torch.Tensor:
    """vLLM's penalties on one row's logits (``vllm.model_executor.layers.utils.apply_penalties``):
    repetition_penalty divides a positive logit and multiplies a non-positive one of every token
    seen in the prompt or the output; frequency_penalty subtracts penalty x count in the output;
    presence_penalty subtracts the penalty once for a token in the output."""
    vocab = logits.shape[-1]
    out_counts = torch.bincount(output_ids.to("cpu", torch.long), minlength=vocab)[:vocab].to(logits.device)
    seen_out = out_counts > 0
    logits = logits.clone()
    if p.repetition_penalty != 1.0:
        prompt = torch.tensor([t for t in prompt_ids if 0 <= t < vocab], dtype=torch.long)
        seen = (torch.bincount(prompt, minlength=vocab)[:vocab] > 0).to(logits.device) | seen_out
        penalty = torch.where(seen, torch.tensor(p.repetition_penalty, dtype=logits.dtype), torch.tensor(1.0))
        logits = logits * torch.where(logits > 0, 1.0 / penalty, penalty)
    logits = logits - p.frequency_penalty * out_counts.to(logits.dtype)
    return logits - p.presence_penalty * seen_out.to(logits.dtype)


def filter_logits(logits: torch.Tensor, p: Any) -> torch.Tensor:
    """vLLM's filters of a sampled row, in its order (logits already divided by the temperature):
    min_p (drop tokens less likely than min_p x the likeliest), top_k (keep the k largest
    logits, ties included), top_p (the smallest set whose probability reaches top_p)."""
    if p.min_p > 0:
        probs = torch.softmax(logits, dim=-1)
        logits = logits.masked_fill(probs < p.min_p * probs.max(), float("-inf"))
    if 0 < p.top_k < logits.shape[-1]:
        kth = torch.topk(logits, p.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if p.top_p < 1.0:
        probs = torch.softmax(logits, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True)
        drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= p.top_p
        logits = logits.clone()
        logits[order[drop]] = float("-inf")
    return logits


class HFEngine(EngineBase):
    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        device: str | None = None,
        batch_size: int = 32,
        revision: str | None = None,
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
    ):
        self.model_id = model
        hf_logging.disable_progress_bar()  # the run has its own progress bar
        self.tokenizer = HFTokenizer.load(model, revision=revision, trust_remote_code=trust_remote_code)
        self.device = _check_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch_dtype = _resolve_dtype(dtype, self.device)
        try:
            self.model = AutoModelForCausalLM.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code, **{_DTYPE_KWARG: torch_dtype}
            )
        except Exception as exc:  # a missing, damaged or truncated checkpoint, custom code that raises
            raise EngineError(f"cannot load model '{model}': {type(exc).__name__}: {_first_line(exc)} "
                              "(is a weights file damaged or incomplete?)") from exc
        self.model.to(self.device).eval()
        # Neutral decoding: transformers fills every setting a run leaves unset from the checkpoint's
        # generation_config.json (a repetition_penalty, extra EOS ids, sampling). A run decodes
        # with exactly what its method asks for; the spec says so ("generation_config": "neutral").
        self.model.generation_config = GenerationConfig(pad_token_id=None, eos_token_id=None)
        if self.device == "cpu" and sum(p.numel() for p in self.model.parameters()) < SMALL_MODEL_PARAMS:
            # A tiny model's matmuls are too small to split: extra intra-op threads only spin-wait
            # (60x slower per step measured on a loaded 2-core machine).
            torch.set_num_threads(1)
        self.dtype = str(torch_dtype).replace("torch.", "")
        config_len = getattr(self.model.config, "max_position_embeddings", None)
        self.max_model_len = max_model_len or config_len
        self.batch_size = batch_size
        hf_tok = self.tokenizer.hf
        pad = hf_tok.pad_token_id if hf_tok.pad_token_id is not None else hf_tok.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.stats = EngineStats()

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": self.model_id,
            "transformers": TRANSFORMERS_VERSION,
            "torch": torch.__version__,
            "device": self.device,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "generation_config": "neutral",
        }

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        self.stats.calls += 1
        rows = [_Row(r.request, r.seed, r.max_tokens) for r in expand_rows(requests, self.max_model_len)]
        self.stats.requests += len(rows)
        # Sort by prompt length so batches pad little; results are put back in request order.
        order = sorted(range(len(rows)), key=lambda i: len(rows[i].request.prompt_ids))
        outputs: dict[int, Completion] = {}
        for start in range(0, len(order), self.batch_size):
            batch = [rows[i] for i in order[start : start + self.batch_size]]
            for i, completion in zip(order[start : start + self.batch_size], self._generate_batch(batch)):
                outputs[i] = completion
        return group_results(requests, [outputs[i] for i in range(len(rows))])

    def _generate_batch(self, rows: list[_Row]) -> list[Completion]:
        live = [r for r in rows if r.max_tokens > 0]
        for r in rows:
            if r.max_tokens <= 0:  # the prompt already fills the context
                r.length = 0
        if live:
            self._run_generate(live)
        completions = []
        for r in rows:
            ids = tuple(r.generated[: r.length]) if r.length else ()
            completions.append(Completion(ids, self.tokenizer.decode(ids), r.finish_reason, r.stop_reason))
            self.stats.decode_tokens += len(ids)
        return completions

    def _run_generate(self, rows: list[_Row]) -> None:
        width = max(len(r.request.prompt_ids) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids = r.request.prompt_ids
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[i, width - len(ids) :] = 1
            self.stats.prefill_tokens += len(ids)
        config = GenerationConfig(
            max_new_tokens=max(r.max_tokens for r in rows),
            do_sample=False,
            pad_token_id=self.pad_id,
            eos_token_id=None,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
                logits_processor=[_PerRowSampler(rows, width)],
                stopping_criteria=[_PerRowStop(rows, width, self.tokenizer)],
            )
        generated = out[:, width:].tolist()
        for r, ids in zip(rows, generated):
            r.generated = ids
            if r.length is None:
                r.length = len(ids)


def _check_device(device: str) -> str:
    """``device`` if torch can use it here, else one line that says what to pass instead."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise EngineError(f"unknown --device '{device}': use cpu, cuda, cuda:N or mps") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA device; "
                          "use --device cpu, or install a CUDA build of torch")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise EngineError(f"--device {device}: MPS is not available here; use --device cpu")
    return device


def _resolve_dtype(dtype: str, device: str) -> Any:
    if dtype == "auto":
        return torch.float32 if device == "cpu" else "auto"
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    except KeyError:
        raise EngineError(f"unknown --dtype '{dtype}': use auto, float32, float16 or bfloat16") from None
