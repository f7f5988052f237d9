"""Driving methods without grading or storage, and the scripted policies several tests use."""

from __future__ import annotations

import random

from budgetbench.methods.base import Trace
from budgetbench.run import pipeline
from budgetbench.run.pipeline import Job
from budgetbench.testing.scripted import EOS
from budgetbench.types import Problem

PROBLEM = Problem("p1", "What is 6*7?", "42")


def drive(method, engine, traces: list[Trace]) -> list[Trace]:
    """The pipeline without grading or storage (budgetbench.run.pipeline.drive)."""
    pipeline.drive(engine, [Job(method, t) for t in traces])
    return traces


def thinking_part(context: str) -> str:
    return context.split("<think>\n", 1)[1]


def policy(context: str, seed: int) -> str:
    """A problem-dependent thought ending in </think>, a new one after each 'Wait', then the answer.
    Like a real model, it continues a context that holds part of its output the same way."""
    after = context.split("<think>\n", 1)[1]
    if "</think>" in after:
        return " \\boxed{42}" + EOS
    segments = after.split("Wait")
    rng = random.Random(context.split("</user>")[0] + str(len(segments) - 1))
    full = "".join(rng.choice("abc ") for _ in range(rng.randint(3, 90))) + "</think>"
    assert full.startswith(segments[-1])
    return full[len(segments[-1]):]


class ListStore:
    def __init__(self, engine=None):
        self.records, self.engine, self.calls_at_append = [], engine, []
        self.prompts, self.prompt_keys = [], set()

    def append_prompts(self, rows):
        for row in rows:
            self.prompt_keys.add((row["problem_id"], row["prompt_id"]))
            self.prompts.append(row)

    def append(self, records):
        self.records.extend(records)
        if self.engine is not None:
            self.calls_at_append.append(self.engine.stats.calls)
