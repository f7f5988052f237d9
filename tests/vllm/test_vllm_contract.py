"""The names of the installed vLLM that CPU runs cannot exercise: constructor arguments for GPUs
(tensor parallelism, memory share) that ``harness/engines/vllm.py`` passes. Everything else the
engine uses (SamplingParams fields, TokensPrompt, enqueue/step, outputs, thinking_token_budget)
runs for real in ``test_real_vllm.py``. Runs only where vLLM is importable."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

vllm = pytest.importorskip("vllm", reason="vllm is not installed (pip install 'budgetbench[vllm]')")

from vllm import LLM  # noqa: E402

from budgetbench.engines.vllm import VLLMEngine, parse_engine_args  # noqa: E402

pytestmark = pytest.mark.vllm


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
    assert {"enable_prefix_caching", "max_model_len", "generation_config"} <= engine_fields
    gen = inspect.signature(LLM.generate).parameters
    assert {"prompts", "sampling_params", "use_tqdm"} <= set(gen)
    assert hasattr(LLM, "llm_engine") or "llm_engine" in inspect.getsource(LLM.__init__)


def test_engine_args_parse_json_values():
    assert parse_engine_args(["max_num_seqs=64", "enable-chunked-prefill=true", "quantization=fp8"]) == {
        "max_num_seqs": 64, "enable_chunked_prefill": True, "quantization": "fp8"}


def test_engine_module_exposes_the_engine():
    assert VLLMEngine.name == "vllm"
