"""Engines behind one interface (see ``base.py``). Heavy imports happen only in ``make_engine``.

* ``hf``: transformers ``model.generate`` in-process (CPU or GPU);
* ``vllm``: ``vllm.LLM`` in-process (GPU), prefix caching on;
* ``openai``: any OpenAI-compatible ``/v1/completions`` server (vLLM serve, SGLang, transformers serve);
* ``auto``: ``openai`` when a server URL is given, else ``vllm`` when it is installed and a GPU is
  present, else ``hf``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from budgetbench.engines.base import Engine, EngineError, MissingExtraError
from budgetbench.errors import UserError

ENGINES = ("auto", "hf", "vllm", "openai")

# Which options each engine takes (the CLI refuses an engine-specific flag given to another engine).
ENGINE_OPTIONS = {
    "hf": {"dtype", "device", "batch_size", "max_model_len", "revision", "trust_remote_code"},
    "vllm": {"dtype", "max_model_len", "revision", "trust_remote_code", "tokenizer", "tensor_parallel_size",
             "gpu_memory_utilization", "enforce_eager", "engine_args", "seed"},
    "openai": {"base_url", "api_key", "tokenizer", "max_concurrency", "request_timeout", "max_retries",
               "max_model_len", "revision", "trust_remote_code"},
}


def resolve_engine(name: str, *, base_url: str | None = None) -> str:
    """The engine ``auto`` stands for (other names are returned as they are)."""
    if name != "auto":
        return name
    if base_url:
        return "openai"
    return "vllm" if importlib.util.find_spec("vllm") is not None and _has_gpu() else "hf"


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def make_engine(name: str, model: str, **options: Any) -> Engine:
    """Build the engine ``name`` for ``model`` (a hub id or a local directory; for ``openai``,
    the served model's name)."""
    name = resolve_engine(name, base_url=options.get("base_url"))
    if name not in ENGINE_OPTIONS:
        raise UserError(f"unknown engine '{name}': choose one of {', '.join(ENGINES)}")
    options = {k: v for k, v in options.items() if k in ENGINE_OPTIONS[name]}
    try:
        if name == "hf":
            from budgetbench.engines.hf import HFEngine as engine_cls
        elif name == "vllm":
            from budgetbench.engines.vllm import VLLMEngine as engine_cls
        else:
            from budgetbench.engines.openai import OpenAIEngine as engine_cls
    except ImportError as exc:  # a broken install of the engine's packages
        raise MissingExtraError(exc.name or name, name) from exc
    return engine_cls(model, **options)


__all__ = ["ENGINES", "ENGINE_OPTIONS", "Engine", "EngineError", "MissingExtraError", "make_engine",
           "resolve_engine"]
