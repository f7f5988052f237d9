"""Bad inputs are one UserError (exit 2 in the CLI) before anything is written, never a traceback."""

from __future__ import annotations

import json

import pytest

from budgetbench.errors import UserError
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine

AIME_ROW = {"id": 60, "problem": "What is 1+1?", "answer": "2"}


@pytest.fixture
def engine():
    return ScriptedEngine(lambda c: "\\boxed{2}" + EOS if "</think>" in c.split("<think>\n", 1)[1] else "ok</think>",
                          CharTokenizer(specials=("</think>", "<think>\n")))


def run(tmp_path, engine, **kw):
    config = RunConfig(**{"task": "aime24", "model": "scripted", "budgets": ("8",), "data_dir": str(tmp_path / "data"),
                          "output": str(tmp_path / "out"), "progress": False, **kw})
    return execute(config, engine=engine)


def data(tmp_path, content: bytes) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "aime24.jsonl").write_bytes(content)


@pytest.mark.parametrize("content, said", [
    (json.dumps(AIME_ROW).encode() + b"\n[1, 2]\n", r"line 2: a row must be a JSON object, not list"),
    (json.dumps({**AIME_ROW, "id": "sixty"}).encode() + b"\n", r"field 'id' must be an integer, got 'sixty'"),
    (json.dumps(AIME_ROW).encode()[:-1] + b', "x": "\xff\xfe"}\n', r"not UTF-8 at line 1"),
    (json.dumps({**AIME_ROW, "answer": "abc"}).encode() + b"\n", r"integer gold must be an integer, got 'abc'"),
])
def test_bad_task_data_is_one_line(tmp_path, engine, content, said):
    data(tmp_path, content)
    with pytest.raises(UserError, match=said):
        run(tmp_path, engine)
    assert engine.stats.calls == 0 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("body, said", [
    ("raise RuntimeError('plugin is broken')", "failed to load: RuntimeError: plugin is broken"),
    ("from budgetbench.tasks import Task\nTASK = Task('x', 'x', 1, 'integer', '', '', lambda d: 1 / 0)",
     "loading its problems failed: ZeroDivisionError"),
])
def test_a_task_plugin_that_raises_is_one_line(tmp_path, engine, body, said):
    data(tmp_path, b"")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(body + "\n")
    with pytest.raises(UserError, match=said):
        run(tmp_path, engine, task=str(plugin))


def test_a_plugin_module_that_raises_on_import_is_one_line(tmp_path, engine, monkeypatch):
    (tmp_path / "exploding_task.py").write_text("raise ImportError('needs a package that is not here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match="importing 'exploding_task' failed"):
        run(tmp_path, engine, task="exploding_task:TASK")


def test_an_output_under_a_file_or_on_a_read_only_folder_is_refused_first(tmp_path, engine, monkeypatch):
    data(tmp_path, json.dumps(AIME_ROW).encode() + b"\n")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        run(tmp_path, engine, output=str(tmp_path / "afile" / "out"))
    import budgetbench.results.store as store

    monkeypatch.setattr(store.os, "access", lambda path, mode: False)  # as on a read-only mount
    with pytest.raises(UserError, match="is not writable"):
        run(tmp_path, engine)
    assert engine.stats.calls == 0
