"""OpenAI-compatible server engine: ``/v1/completions`` on vLLM serve, SGLang, transformers serve...

Continuation is a raw completion of the prompt built so far. The server's API decides how:

* ``vllm`` (``owned_by: vllm`` in ``/v1/models``): token-id prompts, token ids back
  (``return_token_ids``), and vLLM's ``stop_token_ids`` / ``skip_special_tokens`` /
  ``include_stop_str_in_output`` — the same contract as the in-process engines.
* ``sglang``: token-id prompts and SGLang's stop parameters; completions come back as text.
* ``text`` (anything else, e.g. ``transformers serve``): text prompts (the decoding of our token
  ids) and text back. The completion's token ids are the tokenizer's encoding of that text — the
  one place where generated text is tokenized, because the server returns nothing else — and a
  server that strips special tokens from its output cannot carry a special-token delimiter
  (checked by ``check_format``).

Every completion is one HTTP request (``n`` is expanded into seeds ``seed+j`` as in the other
engines), sent from ``--max-concurrency`` threads. Under the pipeline (``submit``/``collect``)
each completion is handed back the moment it lands and the trace's next request is sent at
once, so up to ``--max-concurrency`` requests are in flight at all times. The tokenizer is the
model's files read with ``tokenizers`` (``file_tokenizer.py``: no torch, no transformers); a vLLM
server's ``/tokenize`` must agree with it at start.

Faults (``openai_http.post_completion``). Transient ones are retried with exponential backoff and
jitter: connection errors and timeouts, HTTP 408/409/429/5xx, and a 200 whose body is no usable
completion (HTML, empty, truncated, ``finish_reason`` abort, no text, more tokens than asked...). A
request the server refuses as such (HTTP 400/413/422, e.g. a prompt longer than its context), or
one still unusable after the retries, is a failed sample (``SampleFailed``, handed back as
``GenResult.error``): the run records it with the reason and goes on (``run.sweep`` stops a run
whose samples all fail). 401/403/404 and other refusals concern every request: EngineError, a
clean, resumable stop. The API key is sent as a header only: it is not in ``info()``, in errors
or in logs.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import queue
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from budgetbench.engines.base import (
    EngineBase,
    CONTEXT_FULL,
    EngineError,
    EngineStats,
    MissingExtraError,
    Row,
    SampleFailed,
    expand_rows,
    find_stop_string,
)
from budgetbench.engines.openai_http import CONNECT_TIMEOUT, Unusable, _reason, normalize_base_url, post_completion
from budgetbench.engines.file_tokenizer import load_tokenizer
from budgetbench.engines.tokenizer import HFTokenizer
from budgetbench.types import Completion, GenRequest, GenResult

# Sent to vLLM servers with every request: a server fills unset sampling fields from the model's
# generation_config.json (vLLM's --generation-config auto), so a greedy run would not be neutral.
NEUTRAL_VLLM_SAMPLING = {"top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
                         "frequency_penalty": 0.0}
# The non-neutral top_k / min_p / penalties each server API is sent, with vLLM's meaning.
SERVER_SAMPLING = {
    "vllm": frozenset(NEUTRAL_VLLM_SAMPLING),
    # SGLang takes vLLM's names; its repetition penalty has not always counted the prompt's tokens.
    "sglang": frozenset({"top_k", "min_p", "presence_penalty", "frequency_penalty"}),
    "text": frozenset(),  # a plain OpenAI-compatible server may ignore any of them, unseen
}
SERVER_SAMPLING_WHY = {
    "vllm": "",
    "sglang": "does not apply repetition_penalty to the prompt's tokens in every version, as vLLM does",
    "text": "is not a vLLM or SGLang server, and may ignore these settings without saying so",
}

# Tokenized by a vLLM server and by the harness at start (_check_tokenizer): delimiters of both
# thinking formats, digits, a byte-level multi-token stop word, an accented word.
TOKENIZER_PROBE = "<think>\nWait, 12+30=42.</think>\n\nFinal Answer: \\boxed{42}<|im_start|>answer 结束 café"


@dataclass(eq=False)
class _Entry:
    """A submitted request whose completions are being fetched."""

    tag: Any
    completions: list[Completion]
    left: int  # completions still in flight
    error: str | None = None  # a completion failed for good: the whole request is a failed sample


class OpenAIEngine(EngineBase):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        tokenizer: str | None = None,
        max_concurrency: int = 32,
        request_timeout: float = 1200.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_model_len: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ):
        for package in ("requests", "aiohttp"):  # the openai extra: only this engine needs them
            if importlib.util.find_spec(package) is None:
                raise MissingExtraError(package, "openai")
        import requests

        self._requests = requests
        self._ids_below: int | None = None  # _id_limit
        self.model_id = model
        self.base_url = normalize_base_url(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.max_concurrency, self.request_timeout = max_concurrency, request_timeout
        self.max_retries, self.backoff = max_retries, backoff
        self._local = threading.local()
        served = self._probe()
        self.api = _api_kind(served)
        self.supports_thinking_budget = self.api == "vllm"
        # Only a vLLM server returns the token ids it generated; others return text, which is
        # encoded here, so a continuation would not see the very same ids (no chunking).
        self.exact_token_ids = self.api == "vllm"
        # The model's tokenizer files read with `tokenizers` (no torch, no transformers: the openai extra).
        self.tokenizer_name = tokenizer or model
        self.tokenizer = load_tokenizer(self.tokenizer_name, revision=revision, trust_remote_code=trust_remote_code)
        self._check_tokenizer()
        card = next((m for m in served if m.get("id") == model), {})
        self.max_model_len = max_model_len or card.get("max_model_len")
        self.stats = EngineStats()
        self.token_count_mismatches = 0
        # Completions are fetched by one asyncio event loop in a thread of its own (aiohttp), at
        # most --max-concurrency at a time: no thread per request competing for the interpreter.
        self.capacity = max_concurrency
        self._landed: queue.SimpleQueue = queue.SimpleQueue()
        self._ready: list[tuple[Any, GenResult]] = []
        self._in_flight = 0  # completions submitted and not yet collected
        self._epoch = 0  # bumped by cancel(): results of older submissions are dropped
        self._tasks: set = set()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="bench-http", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._open_session(), self._loop).result()
        atexit.register(self.close)

    def close(self) -> None:
        """Close the HTTP session and stop the event loop (also done at exit)."""
        if self._loop.is_closed() or not self._loop.is_running():
            return
        self.cancel()
        try:
            asyncio.run_coroutine_threadsafe(self._http.close(), self._loop).result(timeout=5)
        except Exception:  # noqa: BLE001  (closing at exit: nothing left to report to)
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)

    # -- setup -----------------------------------------------------------------------------
    def _probe(self) -> list[dict[str, Any]]:
        """GET /v1/models once: a wrong URL or a server that is not up is a one-line error."""
        url = self.base_url + "/models"
        try:
            resp = self._session().get(url, headers=self._headers, timeout=(CONNECT_TIMEOUT, 30))
        except self._requests.RequestException as exc:
            raise EngineError(f"cannot reach the server at {self.base_url} ({_reason(exc)}): start it "
                              "(e.g. vllm serve MODEL) or fix --base-url") from None
        if resp.status_code >= 500:
            raise EngineError(f"the server at {self.base_url} answered HTTP {resp.status_code} to /v1/models, so "
                              "its API cannot be told: check the server, then rerun")
        if resp.status_code in (401, 403):
            raise EngineError(f"the server at {self.base_url} refused the API key (HTTP {resp.status_code}): "
                              "set OPENAI_API_KEY or --api-key")
        if resp.status_code == 404 and not self.base_url.endswith("/v1/v1"):
            raise EngineError(f"{url} does not exist (HTTP 404): is {self.base_url} the API root of an "
                              "OpenAI-compatible server (it usually ends in /v1)?")
        try:  # some servers cannot list models (transformers serve without a hub cache): plain API
            data = resp.json().get("data", []) if resp.status_code == 200 else []
        except (ValueError, AttributeError):
            data = []
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def _check_tokenizer(self) -> None:
        """A vLLM server tokenizes a probe (the chat prompt, the thinking delimiters, non-ASCII
        text) with its own tokenizer: ids that differ from ours would mean other text to the model
        (a --tokenizer of another model), so the run stops before anything is sent. Servers
        without /tokenize are not checked."""
        if self.api != "vllm":
            return
        probe = self.tokenizer.render_chat(TOKENIZER_PROBE) + TOKENIZER_PROBE
        url = self.base_url[: -len("/v1")] + "/tokenize"
        body = {"model": self.model_id, "prompt": probe, "add_special_tokens": False}
        try:
            resp = self._session().post(url, json=body, headers=self._headers, timeout=(CONNECT_TIMEOUT, 30))
            tokens = resp.json().get("tokens") if resp.status_code == 200 else None
        except (self._requests.RequestException, ValueError, AttributeError):
            return  # the completions will tell whether the server works
        ours = self.tokenizer.encode(probe)
        if isinstance(tokens, list) and tokens != ours:
            at = next((i for i, (a, b) in enumerate(zip(tokens, ours)) if a != b), min(len(tokens), len(ours)))
            raise EngineError(f"the server's tokenizer and the harness's ({self.tokenizer_name}) disagree from "
                              f"token {at} of a probe: pass --tokenizer the served model's folder or hub id")

    def check_format(self, delimiters: Sequence[str]) -> None:
        """Refuse a text-only server when a delimiter holds a special token: the server's text
        output drops special tokens, so the harness could never see that delimiter."""
        if self.api != "text":
            return
        specials = self.tokenizer.special_tokens
        for text in delimiters:
            hit = next((t for t in specials if text and t in text), None)
            if hit:
                raise EngineError(
                    f"the server at {self.base_url} returns text without special tokens, so it drops "
                    f"{hit!r}, which this thinking format needs: serve the model with vLLM (token ids) "
                    "or run it in-process with --engine hf")

    def check_sampling(self, settings: dict[str, float]) -> None:
        """Refuse a setting the server would not apply as vLLM does (``settings``: the non-neutral
        top_k, min_p and penalties): ignoring it would record decoding that did not happen."""
        refused = [n for n in settings if n not in SERVER_SAMPLING[self.api]]
        if refused:
            flags = ", ".join(f"--{n.replace('_', '-')} {settings[n]}" for n in refused)
            raise EngineError(f"{flags}: the server at {self.base_url} ({self.api} API) "
                              f"{SERVER_SAMPLING_WHY[self.api]}; serve the model with vLLM, or run it with "
                              "--engine hf or vllm")

    def info(self) -> dict[str, Any]:
        return {
            "generation_config": "neutral" if self.api == "vllm" else "server defaults",
            "engine": self.name,
            "model": self.model_id,
            "base_url": self.base_url,
            "server_api": self.api,
            "requests": self._requests.__version__,
            # the library that reads the model's tokenizer (a resume with the other one is refused)
            "tokenizer": "transformers" if isinstance(self.tokenizer, HFTokenizer) else "tokenizers",
            "tokenizers": _version("tokenizers"),
            "aiohttp": _version("aiohttp"),
            "max_model_len": self.max_model_len,
        }

    # -- generation ------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """A batch: every completion through the worker threads, results in request order."""
        self.stats.calls += 1
        results: dict[int, GenResult] = {}
        try:
            for i, request in enumerate(requests):
                self.submit(request, i)
            while len(results) < len(requests):
                results.update(self.collect())
        except BaseException:
            self.cancel()
            raise
        return [results[i] for i in range(len(requests))]

    # -- continuous (budgetbench.run.pipeline): worker threads, each completion back as it lands ------
    def submit(self, request: GenRequest, tag: Any) -> None:
        rows = expand_rows([request], self.max_model_len)
        self.stats.requests += len(rows)
        entry = _Entry(tag, [CONTEXT_FULL] * len(rows), sum(row.max_tokens > 0 for row in rows))
        if entry.left == 0:
            self._ready.append((tag, GenResult(tuple(entry.completions))))
        for j, row in enumerate(rows):
            if row.max_tokens > 0:
                self.stats.prefill_tokens += len(request.prompt_ids)
                self._in_flight += 1
                self._loop.call_soon_threadsafe(self._spawn, self._epoch, entry, j, row)

    def collect(self) -> list[tuple[Any, GenResult]]:
        while not self._ready and self._in_flight:
            try:  # a timeout, so that Ctrl-C is seen while every request hangs
                items = [self._landed.get(timeout=0.5)]
            except queue.Empty:
                continue
            while True:
                try:
                    items.append(self._landed.get_nowait())
                except queue.Empty:
                    break
            for epoch, entry, j, completion, error in items:
                if epoch != self._epoch:
                    continue  # a request of a cancelled run
                self._in_flight -= 1
                if isinstance(error, SampleFailed):
                    entry.error = entry.error or str(error)
                elif error is not None:
                    self.cancel()
                    raise error
                else:
                    entry.completions[j] = completion
                    self.stats.decode_tokens += len(completion.token_ids)
                entry.left -= 1
                if entry.left == 0:
                    result = GenResult((), error=entry.error) if entry.error else GenResult(tuple(entry.completions))
                    self._ready.append((entry.tag, result))
        ready, self._ready = self._ready, []
        return ready

    def cancel(self) -> None:
        """Forget everything in flight: requests still running are cancelled, their results dropped."""
        self._epoch += 1
        self._in_flight, self._ready = 0, []
        self._loop.call_soon_threadsafe(self._cancel_tasks)

    # -- in the event loop's thread ----------------------------------------------------------
    async def _open_session(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._limit = asyncio.Semaphore(self.max_concurrency)
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.max_concurrency))

    def _spawn(self, epoch: int, entry: _Entry, j: int, row: Row) -> None:
        task = self._loop.create_task(self._fetch(epoch, entry, j, row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _fetch(self, epoch: int, entry: _Entry, j: int, row: Row) -> None:
        async with self._limit:
            if epoch != self._epoch:
                return
            try:
                p = row.request.params

                def parse(choice: dict, usage: dict) -> Completion:
                    return self._parse(choice, usage, p.stop, p.stop_token_ids, row.max_tokens)

                completion, error = await self._post(self._body(row.request, row.max_tokens, row.seed), parse), None
            except asyncio.CancelledError:
                return
            except Exception as exc:  # noqa: BLE001  (raised in the caller by collect)
                completion, error = None, exc
        self._landed.put((epoch, entry, j, completion, error))

    def _body(self, req: GenRequest, max_tokens: int, seed: int | None) -> dict[str, Any]:
        p = req.params
        self.check_sampling(p.non_neutral())  # also for callers that did not ask before the run
        body: dict[str, Any] = {"model": self.model_id, "max_tokens": max_tokens,
                                "temperature": p.temperature, "top_p": p.top_p}
        if self.api == "vllm":  # explicit: neutral ones too, not the server's defaults from generation_config
            body.update(NEUTRAL_VLLM_SAMPLING)
            body.update(p.non_neutral())
        elif self.api == "sglang":  # SGLang's names are vLLM's; repetition_penalty is refused (check_sampling)
            body.update(p.non_neutral())
        if seed is not None and p.temperature > 0:
            body["seed"] = seed
        stops = list(p.stop)
        if self.api == "text":
            body["prompt"] = self.tokenizer.decode(req.prompt_ids)
            # No stop_token_ids in the plain API: a non-special stop token becomes a stop string,
            # a special one (end of turn) ends generation on the server's own EOS handling.
            specials = set(self.tokenizer.special_ids)
            stops += [self.tokenizer.decode([t]) for t in p.stop_token_ids if t not in specials]
        else:
            body["prompt"] = list(req.prompt_ids)
            body["stop_token_ids"] = list(p.stop_token_ids)
            body["skip_special_tokens"] = False
            if self.api == "vllm":
                body["include_stop_str_in_output"] = True
                body["return_token_ids"] = True
            else:  # SGLang keeps the stop string with no_stop_trim
                body["no_stop_trim"] = True
        if stops:
            body["stop"] = stops
        if p.thinking_token_budget is not None:  # vLLM servers started with --reasoning-parser
            body["thinking_token_budget"] = p.thinking_token_budget
        return body

    def _parse(self, choice: dict, usage: dict, stop: Sequence[str], stop_ids: Sequence[int],
               max_tokens: int | None = None) -> Completion:
        """A completion, or Unusable for one that cannot be true: never a record that looks fine."""
        raw_finish = choice.get("finish_reason")
        if raw_finish not in ("stop", "length"):
            raise Unusable(f"the server ended a completion with finish_reason={raw_finish!r} (not stop or length)")
        finish = raw_finish
        if isinstance(choice.get("token_ids"), list):
            if not all(isinstance(t, int) and not isinstance(t, bool) for t in choice["token_ids"]):
                raise Unusable("the server sent token ids that are not integers")
            ids = tuple(choice["token_ids"])
            if ids and not (min(ids) >= 0 and max(ids) < self._id_limit()):  # decode would raise or drop them
                raise Unusable(f"the server sent token ids outside the tokenizer's 0..{self._id_limit() - 1}")
        elif isinstance(choice.get("text"), str):
            ids = tuple(self.tokenizer.encode(choice["text"]))
            self._check_count(ids, usage, finish)
        else:
            raise Unusable("the server sent a completion with neither text nor token ids")
        counted = usage.get("completion_tokens") if "token_ids" not in choice else len(ids)
        if max_tokens is not None and isinstance(counted, int) and counted > max_tokens:
            raise Unusable(f"the server returned {counted} tokens where at most {max_tokens} were asked for "
                            "(is it honouring max_tokens?)")
        reason = choice.get("stop_reason")
        if finish == "stop" and reason is None and "stop_reason" not in choice:
            # Plain servers do not say which stop fired: find it at the end of the output.
            if ids and ids[-1] in stop_ids:
                reason = ids[-1]
            else:
                reason = find_stop_string(self.tokenizer.decode(ids[-8:]) if ids else "", stop)
        return Completion(ids, self.tokenizer.decode(ids), finish, reason)

    def _id_limit(self) -> int:
        """One more than the tokenizer's largest id (computed once)."""
        if self._ids_below is None:
            self._ids_below = max(self.tokenizer.vocab().values(), default=-1) + 1
        return self._ids_below

    def _check_count(self, ids: tuple[int, ...], usage: dict, finish: str) -> None:
        """The server's own count (which may include a stripped end-of-turn token) must match."""
        counted = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if counted is None or counted in (len(ids), len(ids) + (finish == "stop")):
            return
        self.token_count_mismatches += 1
        if self.token_count_mismatches == 1:
            warnings.warn(f"the server counted {counted} completion tokens where the tokenizer finds "
                          f"{len(ids)}: thinking-token counts from a text-only server may be off by the "
                          "difference; serve with vLLM for exact token ids", stacklevel=2)

    # -- HTTP ------------------------------------------------------------------------------
    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._requests.Session()
        return session

    async def _post(self, body: dict[str, Any], parse: Any) -> Completion:
        return await post_completion(self._http, self.base_url + "/completions", body, self._headers, parse,
                                     request_timeout=self.request_timeout, max_retries=self.max_retries,
                                     backoff=self.backoff)


def _api_kind(served: list[dict[str, Any]]) -> str:
    owners = {str(m.get("owned_by", "")).lower() for m in served}
    if "vllm" in owners:
        return "vllm"
    if "sglang" in owners:
        return "sglang"
    return "text"


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
