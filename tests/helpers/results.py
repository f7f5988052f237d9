"""Synthetic results directories with hand-designed verdicts, for the analysis tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

MODEL = "org/tiny-model"


def record(problem: str, budget: Any, correct: bool, tokens: int, *, sample: int = 0, method: str = "budget_forcing",
           meta: dict | None = None, extracted: str | None = None, task: str = "math500") -> dict:
    """One samples.jsonl record; a wrong answer's extracted text defaults to "wrong"."""
    return {"task": task, "problem_id": problem, "method": method, "budget": budget, "waits": 0,
            "sample": sample, "seed": sample, "thinking_tokens": tokens, "answer_tokens": 5,
            "forced_end": False, "extensions": 0, "finish_reason": "stop",
            "extracted": "1" if correct else (extracted or "wrong"), "gold": "1", "correct": correct,
            "metadata": meta if meta is not None else {}}


def write_results(path: Path, records: Iterable[dict], *, method: str = "budget_forcing",
                  budgets: list[Any] | None = None, task: str = "math500") -> Path:
    """A results directory (spec.json + samples.jsonl) holding ``records``."""
    records = list(records)
    path.mkdir(parents=True)
    spec = {"model": MODEL, "task": task, "method": method,
            "budgets": budgets if budgets is not None else sorted({r["budget"] for r in records}, key=str)}
    (path / "spec.json").write_text(json.dumps(spec))
    (path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


EXTRACTION_RULES = ("box", "boxes joined", "final line", "final line after box", "last sentence", "choice")


def as_pinned(records: list[dict]) -> list[dict]:
    """Records as the digests pinned before grade notes named the extraction rule, before records
    named their prompt and before they had ``context_limited``: the note without its rule
    (``box; too_long`` -> ``too_long``, ``box`` -> None), no ``prompt_id``
    (tests/unit/run/test_prompts.py pins prompts), ``context_limited`` left out when false (the
    pinned runs never reach a context edge)."""
    out = []
    for r in records:
        note = r.get("grade_note")
        if isinstance(note, str):
            head, _, rest = note.partition("; ")
            note = (rest or None) if head in EXTRACTION_RULES else note
        pinned = {**{k: v for k, v in r.items() if k != "prompt_id"}, "grade_note": note}
        if pinned.get("context_limited") is False:
            del pinned["context_limited"]
        out.append(pinned)
    return out
