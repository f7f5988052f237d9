"""The README's Python example runs as written (a smaller limit, a temporary output)."""

from __future__ import annotations

import os
import re

from tests.helpers.cli import REPO


def test_the_readme_python_example_runs(tmp_path, capsys):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    code = re.search(r"### From Python.*?```python\n(.*?)```", readme, re.S).group(1)
    assert "limit=50" in code and "results/nb" in code
    code = code.replace("limit=50", "limit=4").replace('"results/nb', f'"{tmp_path}/nb')
    cwd = os.getcwd()
    os.chdir(REPO)  # the example names the shipped toy model by its path in the checkout
    try:
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (our own documentation)
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out
    assert "BF" in printed and "TCC" in printed and "control_pct" in printed
    assert {p.name for p in (tmp_path / "nb").iterdir()} == {"budget_forcing", "token_conditional"}
