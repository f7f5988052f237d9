"""The lm-eval model and failed samples: lm-eval has no "failed", so they are counted or stop the run."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.interop.lm_eval_model import _check_failures


def _jobs(*errors):
    return [SimpleNamespace(trace=SimpleNamespace(error=e)) for e in errors]


def test_every_request_failed_stops_instead_of_scoring_empty_answers():
    with pytest.raises(EngineError, match=r"every one of the 2 requests failed \(the first: http 400: too long\)"):
        _check_failures(_jobs("http 400: too long", "http 400: too long"))


def test_some_failed_requests_are_counted_in_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="budgetbench.interop.lm_eval_model"):
        _check_failures(_jobs(None, "http 413: body too large", None))
    assert "1 of 3 requests failed and score as empty answers (the first: http 413" in caplog.text


def test_no_failure_says_nothing(caplog):
    with caplog.at_level(logging.WARNING):
        _check_failures(_jobs(None, None))
    assert caplog.text == ""
