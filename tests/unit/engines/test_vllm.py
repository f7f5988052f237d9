"""The vllm engine's translation of our SamplingParams into vLLM's, against a stand-in ``vllm``
module (the real one runs in tests/vllm, in a venv of its own)."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from budgetbench.types import SamplingParams


@pytest.fixture
def vllm_engine_module(monkeypatch):
    """budgetbench.engines.vllm imported over a stand-in vllm whose SamplingParams keeps its keywords."""
    fake = types.ModuleType("vllm")
    fake.SamplingParams = lambda **kw: kw
    fake.LLM = object
    fake.__version__ = "0"
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = dict
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.RequestOutputKind = types.SimpleNamespace(FINAL_ONLY="final")
    for name, module in (("vllm", fake), ("vllm.inputs", inputs), ("vllm.sampling_params", sampling)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "budgetbench.engines.vllm", raising=False)
    yield importlib.import_module("budgetbench.engines.vllm")
    sys.modules.pop("budgetbench.engines.vllm", None)
    vars(sys.modules["budgetbench.engines"]).pop("vllm", None)  # the stand-in's engine leaves with it


def test_top_k_min_p_and_the_penalties_reach_vllms_sampling_params(vllm_engine_module):
    params = SamplingParams(max_tokens=9, temperature=0.6, top_p=0.9, top_k=20, min_p=0.1, repetition_penalty=1.1,
                            presence_penalty=0.4, frequency_penalty=0.2, stop=("x",), stop_token_ids=(3,))
    got = vllm_engine_module.sampling_params(params, seed=5, max_tokens=7)
    assert {k: got[k] for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                                "frequency_penalty", "seed", "max_tokens")} == {
        "temperature": 0.6, "top_p": 0.9, "top_k": 20, "min_p": 0.1, "repetition_penalty": 1.1,
        "presence_penalty": 0.4, "frequency_penalty": 0.2, "seed": 5, "max_tokens": 7}


def test_neutral_settings_are_vllms_defaults(vllm_engine_module):
    got = vllm_engine_module.sampling_params(SamplingParams(max_tokens=4, top_k=-1), seed=None, max_tokens=4)
    assert (got["top_k"], got["min_p"], got["repetition_penalty"], got["presence_penalty"],
            got["frequency_penalty"]) == (0, 0.0, 1.0, 0.0, 0.0)
