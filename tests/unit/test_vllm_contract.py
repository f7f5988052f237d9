"""The vLLM engine's contract with the installed vLLM: every class, argument and output field
``harness/engines/vllm.py`` uses must exist under that name. Runs only where vLLM is importable
(it needs no GPU: nothing is loaded or generated)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

vllm = pytest.importorskip("vllm", reason="vllm is not installed (pip install 'budgetbench[vllm]')")

from vllm import LLM, SamplingParams  # noqa: E402
from vllm.inputs import TokensPrompt  # noqa: E402
from vllm.outputs import CompletionOutput, RequestOutput  # noqa: E402

from harness.engines.vllm import VLLMEngine, parse_engine_args, sampling_params  # noqa: E402
from harness.types import SamplingParams as OurParams  # noqa: E402


def test_sampling_params_carry_every_field_we_set():
    ours = OurParams(max_tokens=17, temperature=0.7, top_p=0.9, seed=5, stop_token_ids=(3, 4), stop=("</think>",))
    theirs = sampling_params(ours, seed=6, max_tokens=12)
    assert isinstance(theirs, SamplingParams)
    assert theirs.n == 1 and theirs.max_tokens == 12 and theirs.seed == 6
    assert theirs.temperature == pytest.approx(0.7) and theirs.top_p == pytest.approx(0.9)
    assert list(theirs.stop) == ["</think>"] and list(theirs.stop_token_ids) == [3, 4]
    assert theirs.skip_special_tokens is False
    assert theirs.spaces_between_special_tokens is False
    assert theirs.include_stop_str_in_output is True


def test_native_thinking_budget_is_passed_when_set():
    theirs = sampling_params(OurParams(max_tokens=30, thinking_token_budget=12), seed=None, max_tokens=30)
    assert theirs.thinking_token_budget == 12
    assert sampling_params(OurParams(max_tokens=3), seed=None, max_tokens=3).thinking_token_budget is None


def test_greedy_params_without_stops_are_accepted():
    theirs = sampling_params(OurParams(max_tokens=1), seed=None, max_tokens=1)
    assert theirs.temperature == 0.0 and not theirs.stop and not theirs.stop_token_ids


def test_tokens_prompt_takes_token_ids():
    prompt = TokensPrompt(prompt_token_ids=[1, 2, 3])
    assert prompt["prompt_token_ids"] == [1, 2, 3]


def _fields(cls) -> set[str]:
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)}
    return set(inspect.signature(cls.__init__).parameters)


def test_outputs_have_the_fields_we_read():
    assert {"token_ids", "text", "finish_reason", "stop_reason"} <= _fields(CompletionOutput)
    assert "outputs" in _fields(RequestOutput)


def test_llm_takes_our_constructor_arguments_and_generate_signature():
    params = inspect.signature(LLM.__init__).parameters
    named = {"model", "tokenizer", "dtype", "max_model_len", "revision", "trust_remote_code", "seed",
             "tensor_parallel_size", "gpu_memory_utilization", "enforce_eager"}
    missing = {n for n in named if n not in params}
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    # Arguments vLLM takes through **kwargs go to EngineArgs: check them there.
    from vllm.engine.arg_utils import EngineArgs

    engine_fields = {f.name for f in dataclasses.fields(EngineArgs)}
    assert takes_kwargs and missing <= engine_fields
    assert {"enable_prefix_caching", "max_model_len"} <= engine_fields
    gen = inspect.signature(LLM.generate).parameters
    assert {"prompts", "sampling_params", "use_tqdm"} <= set(gen)
    assert hasattr(LLM, "llm_engine") or "llm_engine" in inspect.getsource(LLM.__init__)


def test_engine_args_parse_json_values():
    assert parse_engine_args(["max_num_seqs=64", "enable-chunked-prefill=true", "quantization=fp8"]) == {
        "max_num_seqs": 64, "enable_chunked_prefill": True, "quantization": "fp8"}


def test_engine_module_exposes_the_engine():
    assert VLLMEngine.name == "vllm"
