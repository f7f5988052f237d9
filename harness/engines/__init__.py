"""Engines behind one interface (see ``base.py``). Heavy imports happen only in ``make_engine``."""

from __future__ import annotations

from typing import Any

from harness.engines.base import Engine, EngineError, MissingExtraError
from harness.errors import UserError

ENGINES = ("hf",)


def make_engine(name: str, model: str, **options: Any) -> Engine:
    """Build the engine ``name`` for ``model`` (a hub id or a local directory)."""
    if name == "hf":
        try:
            from harness.engines.hf import HFEngine
        except MissingExtraError:
            raise
        except ImportError as exc:  # a broken torch/transformers install
            raise MissingExtraError("transformers", "hf") from exc
        return HFEngine(model, **options)
    raise UserError(f"unknown engine '{name}': choose one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "EngineError", "MissingExtraError", "make_engine"]
