"""The HTTP side of the OpenAI-compatible engine: the API root, one completion request with
retries (connection errors, 408/429/5xx and unusable replies, with exponential backoff, jitter and
``Retry-After``; a refused request or one that stays unusable is a failed sample), and replies read
defensively (a server's bytes are untrusted: no surrogates, one choice, short causes that carry no
URL query or header)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any, Callable

from budgetbench.engines.base import EngineError, SampleFailed

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
SAMPLE_STATUS = frozenset({400, 413, 422})  # the server refuses this request (not every request)
CONNECT_TIMEOUT = 10.0
BACKOFF_CAP = 30.0


def normalize_base_url(url: str) -> str:
    """``http://h:8000``, ``.../v1`` and ``.../v1/completions`` all name the same API root."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise EngineError(f"--base-url must start with http:// or https://, got {url!r}")
    for suffix in ("/completions", "/chat/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url if url.endswith("/v1") else url + "/v1"


async def post_completion(http: Any, url: str, body: dict[str, Any], headers: dict[str, str],
                          parse: Callable[[dict, dict], Any], *, request_timeout: float, max_retries: int,
                          backoff: float) -> Any:
    """POST ``body`` to ``url`` (an aiohttp session's) and return ``parse(choice, usage)`` of the
    reply's one choice. A transient fault (connection, 408/429/5xx, a reply that is no usable
    completion: ``parse`` raises :class:`Unusable`) is retried; SampleFailed for a request the
    server refuses as such (400/413/422) or when the tries run out; EngineError for other refusals
    (401, 404...: they concern every request)."""
    import aiohttp

    last = ""
    # total: the whole response, so a server that trickles bytes cannot hold a request forever
    timeout = aiohttp.ClientTimeout(total=request_timeout, sock_connect=CONNECT_TIMEOUT)
    for attempt in range(max_retries + 1):
        wait = None
        try:
            async with http.post(url, json=body, headers=headers, timeout=timeout) as resp:
                reply = _Reply(resp.status, resp.headers, await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            last = _reason(exc)
        else:
            if reply.status_code == 200:
                try:
                    return parse(*_first_choice(reply, url))
                except Unusable as exc:
                    last = str(exc)
            else:
                last = f"HTTP {reply.status_code}"
                if reply.status_code in SAMPLE_STATUS:
                    raise SampleFailed(f"http {reply.status_code}: {_detail(reply)}")
                if reply.status_code not in RETRY_STATUS:
                    raise EngineError(f"the server refused a completion request ({last}: {_detail(reply)})")
                wait = _retry_after(reply)
        if attempt < max_retries:
            delay = min(BACKOFF_CAP, backoff * 2**attempt) * (0.5 + random.random() / 2)
            await asyncio.sleep(wait if wait is not None else delay)
    raise SampleFailed(f"no usable completion after {max_retries + 1} tries ({last})")


class Unusable(EngineError):
    """A 200 whose body is no usable completion: retried, then a failed sample."""


class _Reply:
    """A finished HTTP response, read whole (what the helpers below look at)."""

    def __init__(self, status: int, headers: Any, body: bytes):
        self.status_code, self.headers, self._body = status, headers, body

    @property
    def text(self) -> str:
        return self._body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; lone surrogates (``"\\ud800"``, valid JSON but no text) become U+FFFD."""
        return _no_surrogates(json.loads(self._body))


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if _has_surrogate(value) else value
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_surrogates(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_choice(resp: Any, url: str) -> tuple[dict, dict]:
    try:
        payload = resp.json()
        choices = payload["choices"]
        usage = payload.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise Unusable(f"{url} answered something that is not a completion ({_body_kind(resp)})") from None
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        count = len(choices) if isinstance(choices, list) else "no list of"
        raise Unusable(f"{url} answered {count} choices where one was asked for")
    return choices[0], usage if isinstance(usage, dict) else {}


def _body_kind(resp: Any) -> str:
    text = resp.text.strip()
    if not text:
        return "an empty body"
    if text.startswith("<"):
        return "an HTML page"
    return "JSON without one completion" if text.startswith(("{", "[")) and text.endswith(("}", "]")) \
        else "a body that is not JSON, or is cut short"


def _reason(exc: BaseException) -> str:
    """A short cause without URLs' query strings or headers (nothing secret reaches the user)."""
    name = type(exc).__name__
    text = str(exc)
    if name == "TimeoutError" or isinstance(exc, TimeoutError):
        return "TimeoutError: timed out"
    for marker in ("Connection refused", "Connect call failed", "Name or service not known", "timed out",
                   "Read timed out", "Connection reset", "Remote end closed connection", "Server disconnected"):
        if marker in text:
            return f"{name}: {marker}"
    return name


def _detail(resp: Any) -> str:
    """The server's reason, on one line (it goes into an error message or a failed sample's record)."""
    try:
        detail = resp.json()
        detail = detail.get("detail") or detail.get("error") or detail.get("message") or detail
    except (ValueError, AttributeError):  # not JSON, or JSON that is no object
        detail = resp.text
    return " ".join((json.dumps(detail) if not isinstance(detail, str) else detail).split())[:200]


def _retry_after(resp: Any) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        wait = float(value) if value is not None else None
    except ValueError:
        return None
    if wait is None or wait != wait:  # absent, or NaN
        return None
    return min(BACKOFF_CAP, max(0.0, wait))  # a negative or huge Retry-After is clamped
