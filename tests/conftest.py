"""Shared fixtures: a small data folder written by the tests, the real benchmark files when they
are beside the repository, and tiny models built on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import DATA_DIR
from tests.helpers.data import write_data_dir


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A --data-dir with a handful of invented problems per task, in each task's real schema."""
    return write_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real benchmark files (shared/data beside the repository), for the few tests about them."""
    if not (DATA_DIR / "math500.jsonl").is_file():
        pytest.skip(f"checks the real benchmark files, which are not at {DATA_DIR} (CI puts shared/ beside "
                    "the repository)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random models of every thinking format, built once per test session."""
    pytest.importorskip("transformers")
    from budgetbench.testing.random_models import build_random_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {fmt: build_random_model(root / fmt, fmt) for fmt in ("think", "think-split", "s1")}


@pytest.fixture
def loads(monkeypatch):
    """Count the models bench run loads (make_engine calls), in this process."""
    import budgetbench.run.execute as execute

    counted = []
    real = execute.make_engine

    def counting(*args, **kwargs):
        counted.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(execute, "make_engine", counting)
    return counted
