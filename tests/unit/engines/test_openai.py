"""The OpenAI-server engine against a scripted HTTP server on 127.0.0.1: what it sends to a
vLLM server and to a plain one, how it reads answers, retries, gives up, and keeps the key secret."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.engines.openai import OpenAIEngine, normalize_base_url
from budgetbench.toy import MODEL_DIR
from budgetbench.types import GenRequest, SamplingParams
from tests.helpers.cli import free_port

pytest.importorskip("requests")


class Raw:
    """A reply body sent as these bytes (HTML, nothing...), declaring ``length`` bytes (more: cut short)."""

    def __init__(self, data: bytes, length: int | None = None, content_type: str = "text/html"):
        self.data, self.length, self.content_type = data, len(data) if length is None else length, content_type


class FakeServer:
    """Answers /v1/models with ``owner``, /v1/completions through ``reply(body) -> (status, json)``
    (or ``Raw`` bytes) and /tokenize through ``tokenize(body)`` (404 unless given, as a server
    without the endpoint)."""

    def __init__(self, owner: str = "vllm", reply=None, tokenize=None):
        self.owner, self.bodies, self.headers, self.tokenize_bodies = owner, [], [], []
        self.tokenize = tokenize or (lambda body: (404, {"detail": "Not Found"}))
        self.reply = reply or (lambda body: (200, {"choices": [{"text": "", "finish_reason": "length"}]}))
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, payload, headers=None, trickle=None):
                raw = payload if isinstance(payload, Raw) else Raw(json.dumps(payload).encode(), None, "application/json")
                data = raw.data
                self.send_response(status)
                self.send_header("Content-Type", raw.content_type)
                self.send_header("Content-Length", str(raw.length))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if trickle is None:
                    try:
                        self.wfile.write(data)
                    except OSError:  # the client gave up (a cancelled request)
                        pass
                    return
                for i in range(len(data)):  # one byte at a time, `trickle` seconds apart
                    try:
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(trickle)

            def do_GET(self):
                fake.headers.append(dict(self.headers))
                self._send(200, {"data": [{"id": "m", "owned_by": fake.owner, "max_model_len": 4096}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    fake.tokenize_bodies.append(body)
                    return self._send(*fake.tokenize(body))
                fake.bodies.append(body)
                fake.headers.append(dict(self.headers))
                self._send(*fake.reply(body))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(**kw):
        servers.append(FakeServer(**kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _engine(url, **kw):
    return OpenAIEngine("m", base_url=url, tokenizer=str(MODEL_DIR), backoff=0.01, **kw)


def _request(max_tokens=5, n=1, seed=None, temperature=0.0, stop=(), stop_ids=(7,)):
    return GenRequest((1, 2, 3), SamplingParams(max_tokens=max_tokens, n=n, seed=seed, temperature=temperature,
                                                stop=stop, stop_token_ids=stop_ids))


def test_base_url_forms():
    for url in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/completions"):
        assert normalize_base_url(url) == "http://h:8000/v1"
    with pytest.raises(EngineError, match="http://"):
        normalize_base_url("h:8000")


def test_vllm_server_gets_token_ids_and_its_parameters(server_factory):
    def reply(body):
        return 200, {"choices": [{"text": "ab", "token_ids": [11, 12, 7], "finish_reason": "stop",
                                  "stop_reason": 7}], "usage": {"completion_tokens": 3}}

    server = server_factory(owner="vllm", reply=reply)
    engine = _engine(server.url, api_key="sk-secret")
    assert engine.api == "vllm" and engine.max_model_len == 4096
    [result] = engine.generate([_request(n=2, seed=10, temperature=0.5)])
    assert [c.token_ids for c in result.completions] == [(11, 12, 7), (11, 12, 7)]
    assert result.completions[0].stop_reason == 7 and result.completions[0].finish_reason == "stop"
    first, second = server.bodies
    assert first["prompt"] == [1, 2, 3] and first["stop_token_ids"] == [7]
    assert first["skip_special_tokens"] is False and first["include_stop_str_in_output"] is True
    assert first["return_token_ids"] is True and first["max_tokens"] == 5
    assert {first["seed"], second["seed"]} == {10, 11}  # n expands into seeds seed+j
    # neutral sampling, not the server's defaults from the checkpoint's generation_config.json
    assert (first["top_k"], first["min_p"], first["repetition_penalty"]) == (-1, 0.0, 1.0)
    assert engine.info()["generation_config"] == "neutral"
    assert all(h.get("Authorization") == "Bearer sk-secret" for h in server.headers)
    assert "sk-secret" not in json.dumps(engine.info())


def test_plain_server_gets_text_and_its_stop_reason_is_found(server_factory):
    tok_text = None

    def reply(body):
        return 200, {"choices": [{"text": tok_text, "finish_reason": "stop"}]}

    server = server_factory(owner="someone")
    engine = _engine(server.url)
    tok_text = "1+2=3</s>"
    server.reply = reply
    assert engine.api == "text"
    [result] = engine.generate([_request(stop=("</s>",), stop_ids=())])
    body = server.bodies[0]
    assert body["prompt"] == engine.tokenizer.decode([1, 2, 3])
    assert "stop_token_ids" not in body and "skip_special_tokens" not in body and body["stop"] == ["</s>"]
    assert "repetition_penalty" not in body  # only vLLM servers take vLLM's sampling fields
    c = result.completions[0]
    assert c.token_ids == tuple(engine.tokenizer.encode(tok_text)) and c.stop_reason == "</s>"


def test_retries_on_503_then_succeeds(server_factory):
    calls = []

    def reply(body):
        calls.append(1)
        if len(calls) < 3:
            return 503, {"detail": "busy"}
        return 200, {"choices": [{"text": "", "token_ids": [5], "finish_reason": "length"}]}

    server = server_factory(reply=reply)
    [result] = _engine(server.url, max_retries=3).generate([_request()])
    assert result.completions[0].token_ids == (5,) and len(calls) == 3


def test_a_request_still_failing_after_the_retries_is_a_failed_sample(server_factory):
    server = server_factory(reply=lambda body: (503, {"detail": "down"}))
    [result] = _engine(server.url, max_retries=2).generate([_request()])
    assert result.completions == () and result.error == "no usable completion after 3 tries (HTTP 503)"
    assert len(server.bodies) == 3


def test_a_request_the_server_refuses_is_a_failed_sample_at_once(server_factory):
    """A 400 (a prompt too long for the server's context...) is this request's fault: not retried,
    the sample fails with the server's reason and the others go on."""
    server = server_factory(reply=lambda body: (400, {"detail": "max_tokens too large"}) if body["max_tokens"] == 5
                            else (200, {"choices": [{"text": "", "token_ids": [5], "finish_reason": "length"}]}))
    refused, fine = _engine(server.url, max_retries=5).generate([_request(), _request(max_tokens=4)])
    assert refused.error == 'http 400: max_tokens too large' and refused.completions == ()
    assert fine.error is None and fine.completions[0].token_ids == (5,)
    assert len(server.bodies) == 2
    server.reply = lambda body: (400, Raw(b"<html>\n<h1>400 Bad Request</h1>\n</html>"))
    [html] = _engine(server.url).generate([_request()])
    assert html.error == "http 400: <html> <h1>400 Bad Request</h1> </html>"  # one line


def test_a_refusal_of_every_request_stops_the_run(server_factory):
    server = server_factory(reply=lambda body: (401, {"detail": "bad key"}))
    with pytest.raises(EngineError, match=r"refused a completion request \(HTTP 401: bad key\)"):
        _engine(server.url, max_retries=5).generate([_request()])
    assert len(server.bodies) == 1


OK = {"choices": [{"text": "", "token_ids": [5], "finish_reason": "length"}]}
BAD_BODIES = [  # a 200 whose body is no completion: transient (a proxy's page, a dropped connection)
    (Raw(b"<html><body>502 Bad Gateway</body></html>"), "an HTML page"),
    (Raw(b""), "an empty body"),
    (Raw(json.dumps(OK).encode()[:20], content_type="application/json"), "not JSON, or is cut short"),
]


@pytest.mark.parametrize("bad,reason", BAD_BODIES)
def test_an_unusable_body_is_retried_then_recorded(server_factory, bad, reason):
    calls = []

    def reply(body):
        calls.append(1)
        return (200, bad) if len(calls) == 1 else (200, OK)

    server = server_factory(reply=reply)
    [result] = _engine(server.url, max_retries=2).generate([_request()])
    assert result.error is None and result.completions[0].token_ids == (5,) and len(calls) == 2
    server.reply = lambda body: (200, bad)
    [result] = _engine(server.url, max_retries=2).generate([_request()])
    assert result.error.startswith("no usable completion after 3 tries (") and reason in result.error


def test_a_body_cut_short_on_the_wire_is_retried(server_factory):
    """Content-Length promises more than arrives: the connection error is transient."""
    calls = []
    data = json.dumps(OK).encode()

    def reply(body):
        calls.append(1)
        return (200, Raw(data[:10], length=len(data), content_type="application/json")) if len(calls) == 1 \
            else (200, OK)

    server = server_factory(reply=reply)
    [result] = _engine(server.url, max_retries=2).generate([_request()])
    assert result.error is None and result.completions[0].token_ids == (5,) and len(calls) == 2


def test_unreachable_server_is_one_line():
    port = free_port()
    with pytest.raises(EngineError, match=f"cannot reach the server at http://127.0.0.1:{port}/v1"):
        _engine(f"http://127.0.0.1:{port}")


def test_prompt_filling_the_context_is_not_sent(server_factory):
    server = server_factory()
    engine = _engine(server.url, max_model_len=3)
    [result] = engine.generate([_request()])
    assert result.completions[0].token_ids == () and result.completions[0].finish_reason == "length"
    assert server.bodies == []


def test_negative_retry_after_is_a_wait_of_zero(server_factory):
    calls = []

    def reply(body):
        calls.append(1)
        if len(calls) == 1:
            return 503, {"detail": "busy"}, {"Retry-After": "-1"}
        return 200, {"choices": [{"text": "", "token_ids": [5], "finish_reason": "length"}]}

    server = server_factory(reply=reply)
    [result] = _engine(server.url, max_retries=2).generate([_request()])
    assert result.completions[0].token_ids == (5,) and len(calls) == 2


@pytest.mark.timeout(60)
def test_request_timeout_bounds_a_response_that_trickles(server_factory):
    """A server that sends one byte every 0.3 s never leaves a read idle for long: the timeout
    must bound the whole response, not each read."""
    ok = {"choices": [{"text": "", "token_ids": [5], "finish_reason": "length"}], "pad": "x" * 200}
    server = server_factory(reply=lambda body: (200, ok, None, 0.3))
    [result] = _engine(server.url, max_retries=0, request_timeout=2).generate([_request()])
    assert re.fullmatch(r"no usable completion after 1 tries \(.*timed out\)", result.error)


@pytest.mark.timeout(60)
def test_ctrl_c_while_every_request_hangs_stops_the_collect():
    """collect() waits in short slices, so a KeyboardInterrupt reaches it while requests hang."""
    import _thread

    hang = threading.Event()

    server = FakeServer(reply=lambda body: (hang.wait(30), (200, {"choices": []}))[1])
    try:
        engine = _engine(server.url, request_timeout=30)
        engine.submit(_request(), "t")
        threading.Timer(0.5, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            engine.collect()
        engine.cancel()
        assert engine.collect() == []
    finally:
        hang.set()
        server.close()


UNUSABLE = [
    ({"choices": [{"text": "", "token_ids": [5], "finish_reason": "abort"}]}, "finish_reason='abort'"),
    ({"choices": [{"text": "", "token_ids": [5], "finish_reason": "stop"}] * 2}, "2 choices where one"),
    ({"choices": [{"text": None, "finish_reason": "stop"}]}, "neither text nor token ids"),
    ({"choices": [{"text": "", "token_ids": list(range(9)), "finish_reason": "length"}]}, "returned 9 tokens"),
    ({"choices": [{"text": "", "token_ids": [5, "6"], "finish_reason": "length"}]}, "token ids that are not integers"),
    ({"choices": [{"text": "", "token_ids": [5, -1], "finish_reason": "length"}]}, "token ids outside the tokenizer's"),
    ({"choices": [{"text": "", "token_ids": [2**70], "finish_reason": "length"}]}, "token ids outside the tokenizer's"),
    ({"choices": [{"text": "", "token_ids": [10**6], "finish_reason": "length"}]}, "token ids outside the tokenizer's"),
]


@pytest.mark.parametrize("payload,message", UNUSABLE)
def test_a_completion_that_cannot_be_true_is_retried_then_a_failed_sample(server_factory, payload, message):
    server = server_factory(reply=lambda body: (200, payload))
    [result] = _engine(server.url, max_retries=1).generate([_request(max_tokens=5)])
    assert result.completions == () and message in result.error and len(server.bodies) == 2


def test_models_endpoint_failing_is_an_error_not_the_text_api():
    server = FakeServer()
    try:
        handler = server.httpd.RequestHandlerClass
        handler.do_GET = lambda self: self._send(500, {"detail": "boom"})
        with pytest.raises(EngineError, match="HTTP 500 to /v1/models"):
            _engine(server.url)
    finally:
        server.close()


def test_a_lone_surrogate_in_the_reply_is_replaced_not_a_crash(server_factory):
    """'\\ud800' is valid JSON but no text: before, decoding it later raised a TypeError for good."""
    server = server_factory(owner="someone", reply=lambda body: (
        200, {"choices": [{"text": "x\ud800y</s>", "finish_reason": "stop"}]}))
    [result] = _engine(server.url).generate([_request(stop=("</s>",), stop_ids=())])
    assert result.completions[0].text.startswith("x\ufffdy")


SAMPLING = dict(top_k=40, min_p=0.05, repetition_penalty=1.2, presence_penalty=0.5, frequency_penalty=-0.25)


def _sampled(**sampling):
    return GenRequest((1, 2, 3), SamplingParams(max_tokens=5, temperature=0.7, seed=1, stop_token_ids=(7,),
                                                **sampling))


def test_a_vllm_server_gets_top_k_min_p_and_the_penalties_by_vllms_names(server_factory):
    server = server_factory(owner="vllm")
    engine = _engine(server.url)
    engine.check_sampling(SAMPLING)  # a vLLM server applies them all
    engine.generate([_sampled(**SAMPLING)])
    assert {k: server.bodies[0][k] for k in SAMPLING} == SAMPLING
    engine.generate([_sampled(top_k=-1)])  # off is sent as off
    assert server.bodies[1]["top_k"] == -1 and server.bodies[1]["repetition_penalty"] == 1.0


def test_sglang_gets_what_it_applies_as_vllm_does_and_refuses_the_repetition_penalty(server_factory):
    server = server_factory(owner="sglang")
    engine = _engine(server.url)
    honoured = {k: v for k, v in SAMPLING.items() if k != "repetition_penalty"}
    engine.generate([_sampled(**honoured)])
    assert {k: server.bodies[0][k] for k in honoured} == honoured and "repetition_penalty" not in server.bodies[0]
    with pytest.raises(EngineError, match="--repetition-penalty 1.2: .*sglang API.*serve the model with vLLM"):
        engine.check_sampling({"repetition_penalty": 1.2})


@pytest.mark.parametrize("name", sorted(SAMPLING))
def test_a_plain_server_refuses_any_setting_it_may_ignore_before_sending(server_factory, name):
    server = server_factory(owner="someone")
    engine = _engine(server.url)
    engine.check_sampling({})  # neutral settings are fine
    flag = "--" + name.replace("_", "-")
    with pytest.raises(EngineError, match=f"{flag} .*not a vLLM or SGLang server"):
        engine.check_sampling({name: SAMPLING[name]})
    with pytest.raises(EngineError, match=flag):  # a caller that did not ask first gets the same error
        engine.generate([_sampled(**{name: SAMPLING[name]})])
    assert server.bodies == []
def test_the_tokenizer_is_read_from_files_without_transformers(server_factory):
    from budgetbench.engines.file_tokenizer import FileTokenizer

    engine = _engine(server_factory().url)
    assert isinstance(engine.tokenizer, FileTokenizer)
    assert engine.info()["tokenizer"] == "tokenizers"


def test_a_vllm_server_whose_tokenizer_agrees_is_accepted(server_factory):
    from budgetbench.engines.file_tokenizer import FileTokenizer

    tok = FileTokenizer(MODEL_DIR)
    server = server_factory(tokenize=lambda body: (200, {"tokens": tok.encode(body["prompt"]), "count": 0}))
    _engine(server.url)
    [body] = server.tokenize_bodies
    assert body["add_special_tokens"] is False and body["model"] == "m"
    assert body["prompt"].startswith(tok.render_chat("x")[:5]) and "</think>" in body["prompt"]


def test_a_vllm_server_whose_tokenizer_disagrees_is_refused(server_factory):
    """A --tokenizer of another model would send ids that mean other text to the served model."""
    from budgetbench.engines.file_tokenizer import FileTokenizer

    tok = FileTokenizer(MODEL_DIR)
    server = server_factory(tokenize=lambda body: (200, {"tokens": tok.encode(body["prompt"])[:-3] + [5, 6, 7]}))
    with pytest.raises(EngineError, match="tokenizer and the harness's .* disagree from token"):
        _engine(server.url)
    assert server.bodies == []  # nothing generated


def test_a_resume_with_another_tokenizer_library_is_refused():
    from budgetbench.results.store import spec_differences

    old = {"engine": {"engine": "openai", "model": "m", "tokenizers": "0.22.0"}}
    new = {"engine": {"engine": "openai", "model": "m", "tokenizer": "tokenizers", "tokenizers": "0.23.3"}}
    assert spec_differences(old, new) == ["engine.tokenizer: None -> 'tokenizers'"]  # recorded before the field
    assert spec_differences({"engine": {**new["engine"], "tokenizer": "transformers"}}, new)
    assert spec_differences({"engine": {**new["engine"], "tokenizers": "0.19.0"}}, new) == []  # a version
