"""The openai engine's HTTP packages are its extra's, not the core's: a missing one is one line naming it."""

from __future__ import annotations

import importlib.util

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.engines.openai import OpenAIEngine


@pytest.mark.parametrize("package", ["requests", "aiohttp"])
def test_a_missing_http_package_names_the_openai_extra(monkeypatch, package):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real_find_spec(name, *a))
    with pytest.raises(EngineError, match=rf"needs the '{package}' package: .*budgetbench\[openai\]"):
        OpenAIEngine("m", base_url="http://127.0.0.1:9")


def test_the_core_requirements_leave_the_http_packages_to_the_extra():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "requests" not in core and "aiohttp" not in core
    assert {"requests", "aiohttp"} <= {d.split(">")[0] for d in project["optional-dependencies"]["openai"]}
