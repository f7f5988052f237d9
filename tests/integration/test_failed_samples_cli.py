"""`bench run --engine openai` against a fake vLLM server that refuses one problem's requests (HTTP
400): the run finishes (exit 0) with those samples recorded as failed, the end table and the
report count them apart, and a rerun tries them again without duplicating anything. A server that
refuses every request stops the run with one line and writes no record."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from budgetbench.engines.tokenizer import HFTokenizer
from budgetbench.tasks import get_task
from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import bench, read_samples
from tests.unit.engines.test_openai import FakeServer

pytestmark = pytest.mark.slow

TOO_LONG = "This model's maximum context length is 4096 tokens"


@pytest.fixture
def server():
    tok = HFTokenizer.load(str(MODEL_DIR))
    one = tok.encode("1")[-1]
    refused = get_task("toy_sum").load(None)[2].question

    def reply(body):
        if server.refuse_all or refused in tok.decode(body["prompt"]):
            return 400, {"object": "error", "message": TOO_LONG}
        return 200, {"choices": [{"text": "", "token_ids": [one] * body["max_tokens"], "finish_reason": "length",
                                  "stop_reason": None}]}

    server = FakeServer(owner="vllm", reply=reply)
    server.refuse_all = False
    yield server
    server.close()


def _run(server, out, check=True):
    return bench("run", "--task", "toy_sum", "--model", "m", "--engine", "openai", "--base-url", server.url,
                 "--tokenizer", str(MODEL_DIR), "--budgets", "8,16", "--answer-tokens", "4", "--limit", "6",
                 "--max-retries", "1", "--output", str(out), "--no-progress", check=check)


def test_a_refused_problem_is_recorded_as_failed_and_a_rerun_retries_it(server, tmp_path):
    out = tmp_path / "out"
    proc = _run(server, out)  # exit 0
    records = read_samples(out)
    failed = [r for r in records if "error" in r]
    assert len(records) == 12 and len(failed) == 2 and {r["problem_id"] for r in failed} == {"toy-0002"}
    assert all(r["error"] == f"http 400: {TOO_LONG}" and r["correct"] is False and r["extracted"] is None
               for r in failed)
    assert proc.stdout.startswith("12 samples generated (2 failed: see their error field)")
    header, row8, row16 = proc.stdout.splitlines()[1:4]
    assert header.split()[:4] == ["budget", "waits", "n", "failed"]
    assert row8.split()[:4] == ["8", "0", "5", "1"] and row16.split()[:4] == ["16", "0", "5", "1"]
    columns = [c.strip() for c in (out / "report" / "runs.md").read_text().splitlines()[0].split("|")]
    assert columns[5:7] == ["n", "failed"]

    server.refuse_all = False
    server.reply = lambda body: (200, {"choices": [{"text": "", "token_ids": [5] * body["max_tokens"],
                                                    "finish_reason": "length"}]})
    proc = _run(server, out)  # the same command, the server fixed: the two failed samples run again
    assert "2 failed samples are tried again" in proc.stderr
    assert proc.stdout.startswith("2 samples generated, 10 already on disk")
    final = read_samples(out)
    assert len(final) == 12 and set(Counter((r["problem_id"], r["budget"]) for r in final).values()) == {1}
    assert not [r for r in final if "error" in r]
    assert {json.dumps(r, sort_keys=True) for r in final if r["problem_id"] != "toy-0002"} == \
        {json.dumps(r, sort_keys=True) for r in records if r["problem_id"] != "toy-0002"}


def test_a_server_refusing_every_request_stops_the_run_with_one_line(server, tmp_path):
    server.refuse_all = True
    out = tmp_path / "out"
    proc = _run(server, out, check=False)
    assert proc.returncode == 1 and read_samples(out) == []
    last = proc.stderr.strip().splitlines()[-1]
    assert "the samples of 5 problems in a row failed" in last and f"http 400: {TOO_LONG}" in last
    assert "rerun the same command to resume" in last
