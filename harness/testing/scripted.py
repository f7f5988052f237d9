"""A scripted engine: a real Engine whose "model" is a Python function of the context text.

Tests use it to pin method semantics exactly (as Inspect's mock model does): the policy says
what the model would write next; the engine applies ``max_tokens``, stop token ids and stop
strings exactly as a real engine does, on a character-level tokenizer whose special tokens
(and only those) are single tokens. A delimiter that is not registered as special spans
several tokens, which is how tests split a delimiter across tokens.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from budgetbench.engines.base import EngineBase, EngineError, EngineStats, find_stop_string, stop_tail_tokens
from budgetbench.types import Completion, GenRequest, GenResult

EOS = "<eos>"


class CharTokenizer:
    """One token per character; each special string is one token (ids 0..k-1)."""

    def __init__(self, specials: Sequence[str] = (EOS,), chat_template: str | None = None):
        self.specials = list(dict.fromkeys([EOS, *specials]))
        self._special_ids = {s: i for i, s in enumerate(self.specials)}
        self.eos_token_ids = (self._special_ids[EOS],)
        self.chat_template = chat_template
        self._offset = len(self.specials)

    def encode(self, text: str) -> list[int]:
        ids, i = [], 0
        ordered = sorted(self.specials, key=len, reverse=True)
        while i < len(text):
            for s in ordered:
                if text.startswith(s, i):
                    ids.append(self._special_ids[s])
                    i += len(s)
                    break
            else:
                ids.append(self._offset + ord(text[i]))
                i += 1
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.specials[i] if i < self._offset else chr(i - self._offset) for i in ids)

    def vocab(self) -> dict[str, int]:
        return dict(self._special_ids)

    def render_chat(self, user_message: str) -> str:
        return f"<user>{user_message}</user>"


Policy = Callable[..., str]  # policy(context) or policy(context, seed)


class ScriptedEngine(EngineBase):
    """``policy(context_text) -> continuation``: what the model would write, up to its EOS."""

    name = "scripted"

    def __init__(self, policy: Policy, tokenizer: CharTokenizer | None = None, max_model_len: int | None = None):
        self.policy = policy
        self._takes_seed = len(inspect.signature(policy).parameters) >= 2
        self.tokenizer = tokenizer or CharTokenizer()
        self.max_model_len = max_model_len
        self.stats = EngineStats()
        self.batches: list[int] = []  # number of requests of every call, for tests

    def info(self) -> dict[str, Any]:
        return {"engine": self.name}

    def check_sampling(self, settings: dict[str, float]) -> None:
        if settings:  # a policy writes text: it has no logits to filter or penalise
            raise EngineError(f"the scripted engine cannot apply {', '.join(settings)}")

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        if not requests:
            raise ValueError("generate() got no requests")  # the reference code's crash, made loud
        self.stats.calls += 1
        self.batches.append(len(requests))
        results = []
        for req in requests:
            self.check_sampling(req.params.non_neutral())
            self.stats.requests += 1
            self.stats.prefill_tokens += len(req.prompt_ids)
            context = self.tokenizer.decode(req.prompt_ids)
            completions = []
            for j in range(req.params.n):
                seed = None if req.params.seed is None else req.params.seed + j
                text = self.policy(context, seed) if self._takes_seed else self.policy(context)
                completions.append(self._apply_stops(self.tokenizer.encode(text), req))
                self.stats.decode_tokens += len(completions[-1].token_ids)
            results.append(GenResult(tuple(completions)))
        return results

    def _apply_stops(self, wanted: list[int], req: GenRequest) -> Completion:
        p = req.params
        limit = p.max_tokens
        if self.max_model_len is not None:
            limit = min(limit, self.max_model_len - len(req.prompt_ids))
        out: list[int] = []
        for token in wanted:
            if len(out) >= limit:
                break
            out.append(token)
            if token in p.stop_token_ids:
                return Completion(tuple(out), self.tokenizer.decode(out), "stop", token)
            if p.stop:
                tail = self.tokenizer.decode(out[-stop_tail_tokens(p.stop) :])
                hit = find_stop_string(tail, p.stop)
                if hit is not None:
                    return Completion(tuple(out), self.tokenizer.decode(out), "stop", hit)
        reason = "length" if len(out) >= limit else "stop"  # a policy that ends without EOS: stop
        return Completion(tuple(out), self.tokenizer.decode(out), reason, None)


class OutOfOrderEngine(ScriptedEngine):
    """A scripted engine that batches continuously and finishes requests out of order.

    ``collect`` returns a random non-empty share of what is in flight, shuffled (seeded by
    ``order_seed``), the way a continuous-batching engine returns short requests before long
    ones. Tests use it to pin that results do not depend on completion order. ``capacity`` is
    what the pipeline keeps in flight (None: everything).
    """

    def __init__(self, policy: Policy, tokenizer: CharTokenizer | None = None, max_model_len: int | None = None,
                 *, order_seed: int = 0, capacity: int | None = 8):
        super().__init__(policy, tokenizer, max_model_len)
        import random

        self._rng = random.Random(order_seed)
        self.capacity = capacity
        self._in_flight: list[tuple[GenRequest, Any]] = []
        self.max_in_flight = 0  # most completions in flight at once, for tests

    def submit(self, request: GenRequest, tag: Any) -> None:
        self._in_flight.append((request, tag))
        self.max_in_flight = max(self.max_in_flight, sum(r.params.n for r, _ in self._in_flight))

    def collect(self) -> list[tuple[Any, GenResult]]:
        if not self._in_flight:
            return []
        self._rng.shuffle(self._in_flight)
        k = self._rng.randint(1, len(self._in_flight))
        done, self._in_flight = self._in_flight[:k], self._in_flight[k:]
        results = self.generate([request for request, _ in done])
        return [(tag, result) for (_, tag), result in zip(done, results)]

    def cancel(self) -> None:
        self._in_flight = []
