"""No absolute local path in what a run records: model labels and fingerprints, data sources, commands."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from budgetbench.errors import UserError
from budgetbench.results import identity
from budgetbench.results.identity import (data_source_label, model_fingerprint, model_label, public_argv,
                                          public_path)
from budgetbench.results.store import ResultStore, spec_differences
from budgetbench.run.config import RunConfig, default_output
from budgetbench.run.execute import execute
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine


def _model(folder, config='{"hidden_size": 8}', weights=b"\0" * 4096):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def chdir(monkeypatch):
    return monkeypatch.chdir


def test_a_local_model_is_its_last_two_parts_from_any_working_directory(tmp_path, chdir):
    model = _model(tmp_path / "home" / "u" / "models" / "s1.1-tiny")
    chdir(tmp_path / "home")
    assert model_label("u/models/s1.1-tiny") == "models/s1.1-tiny"
    chdir(model)
    assert model_label(".") == model_label(str(model) + "/") == "models/s1.1-tiny"
    assert default_output("t", ".", "budget_forcing").parts[2] == "models__s1.1-tiny"
    assert model_label("org/hub-model") == "org/hub-model" and model_fingerprint("org/hub-model") is None


def test_the_fingerprint_follows_the_content_not_the_location(tmp_path):
    a = _model(tmp_path / "a" / "m")
    (a / "README.md").write_text("notes")  # not part of the model
    b = tmp_path / "b" / "m"
    shutil.copytree(a, b)
    (b / "README.md").write_text("other notes")
    os.utime(b / "config.json", (0, 0))
    assert model_fingerprint(str(a)) == model_fingerprint(str(b))
    assert model_fingerprint(str(a)).startswith("sha256:") and len(model_fingerprint(str(a))) == 7 + 64
    (b / "model.safetensors").write_bytes(b"\0" * 4095 + b"\1")  # a fine-tune of the same shape
    assert model_fingerprint(str(a)) != model_fingerprint(str(b))
    (b / "model.safetensors").write_bytes(b"\0" * 4096)
    (b / "tokenizer.json").write_text('{"added": 1}')
    assert model_fingerprint(str(a)) != model_fingerprint(str(b))


def test_a_large_weight_file_is_sampled_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(identity, "_WHOLE_MAX", 1000)
    monkeypatch.setattr(identity, "_BLOCK", 100)
    data = bytearray(16 * 1000)
    model = _model(tmp_path / "m", weights=bytes(data))
    before = model_fingerprint(str(model))
    data[-1] = 1  # the last block is sampled
    (model / "model.safetensors").write_bytes(bytes(data))
    assert model_fingerprint(str(model)) != before


def test_paths_in_commands_and_data_sources_are_made_shareable(tmp_path, chdir):
    chdir(tmp_path)
    (tmp_path / "data").mkdir()
    argv = ["--model", "/srv/alice/models/qwq", f"--output={tmp_path}/results/x", "--limit", "3", "~/data",
            "--tokenizer=~/a/b/c"]
    assert public_argv(argv) == ["--model", "/.../models/qwq", "--output=results/x", "--limit", "3", "~/data",
                                 "--tokenizer=~/.../b/c"]
    assert model_label(str(tmp_path)) == "/".join(tmp_path.parts[-2:])
    assert model_label("~/s1") == "s1" and model_label("~") == "~"  # no user name
    assert public_path("org/model") == "org/model" and public_path("http://h:8000/v1") == "http://h:8000/v1"
    assert data_source_label(str(tmp_path / "data" / "gpqa" / "d.jsonl"), tmp_path / "data") == "local:gpqa/d.jsonl"
    assert data_source_label("data/a.jsonl", "data") == "local:a.jsonl"
    assert data_source_label("hf://datasets/x/y", None) == "hf://datasets/x/y"
    assert data_source_label("lm_eval:t from /srv/u/yamls/mine, ~/y (grader: task)", None) == \
        "lm_eval:t from /.../yamls/mine, ~/y (grader: task)"
    assert data_source_label("synthetic", None) == "synthetic"


def _reply(context: str) -> str:
    return "\\boxed{1}" + EOS if "</think>" in context.split("<think>\n", 1)[1] else "hm</think>"


class LocalEngine(ScriptedEngine):
    """Records its model as the real engines do: the path it was given, and an engine argument."""

    model_id = ""

    def info(self):
        return {**super().info(), "model": self.model_id, "download_dir": os.path.abspath("cache")}


@pytest.fixture
def engine():
    return LocalEngine(_reply, CharTokenizer(specials=("</think>", "<think>\n")))


def test_a_run_records_no_absolute_path_and_resumes_from_another_directory(tmp_path, chdir, engine):
    _model(tmp_path / "work" / "models" / "tiny")
    data = tmp_path / "work" / "data"
    data.mkdir()
    (data / "mine.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "q": f"q{i}", "a": "1"}) + "\n" for i in range(3)))
    plugin = tmp_path / "work" / "mine.py"
    plugin.write_text(
        "import json\nfrom budgetbench.tasks import Task\nfrom budgetbench.types import Problem\n"
        "def load(d):\n    return [Problem(r['id'], r['q'], r['a']) for r in map(json.loads, open(d / 'mine.jsonl'))]\n"
        "TASK = Task('mine', 'a local file', 3, 'integer', '', 'mine.jsonl', load)\n")
    chdir(tmp_path / "work")
    engine.model_id = "models/tiny"
    config = RunConfig(task="mine.py", model="models/tiny", budgets=("8",), limit=2, output=str(tmp_path / "out"),
                       data_dir="data", progress=False)
    execute(config, engine=engine)
    text = (tmp_path / "out" / "spec.json").read_text()
    spec = json.loads(text)
    assert str(tmp_path) not in text and "/tmp" not in text
    assert spec["model"] == spec["engine"]["model"] == "models/tiny"
    assert spec["model_fingerprint"] == model_fingerprint(str(tmp_path / "work" / "models" / "tiny"))
    assert spec["data_source"] == "local:mine.jsonl" and spec["engine"]["download_dir"] == "cache"
    # The same model and data from another working directory: a resume.
    chdir(tmp_path)
    engine.model_id = str(tmp_path / "work" / "models" / "tiny")
    again = RunConfig(**{**config.__dict__, "task": "work/mine.py", "model": "work/models/tiny", "data_dir": "work/data",
                         "limit": 3})
    assert len(execute(again, engine=engine).records) == 3
    # Another model that carries the same name: refused, naming the fingerprint.
    (tmp_path / "work" / "models" / "tiny" / "config.json").write_text('{"hidden_size": 16}')
    with pytest.raises(UserError, match="model_fingerprint: 'sha256:"):
        execute(again, engine=engine)


def test_a_moved_model_and_a_spec_with_absolute_paths_are_the_same_run(tmp_path):
    new = {"model": "models/tiny", "model_fingerprint": "sha256:ab", "data_source": "local:aime24.jsonl",
           "engine": {"engine": "hf", "model": "models/tiny"}}
    legacy = {"model": "/home/u/models/tiny", "data_source": "/home/u/shared/data/aime24.jsonl",
              "engine": {"engine": "hf", "model": "/home/u/models/tiny"}}
    assert spec_differences(legacy, new) == []
    lm_eval = {"data_source": "lm_eval:t from /srv/u/yamls/mine (grader: task)"}
    assert spec_differences(lm_eval, {"data_source": "lm_eval:t from /.../yamls/mine (grader: task)"}) == []
    assert spec_differences({**legacy, "model": "/home/u/models/other"}, new) == [
        "model: '/home/u/models/other' -> 'models/tiny'"]
    moved = {**new, "model": "scratch/tiny", "engine": {"engine": "hf", "model": "scratch/tiny"}}
    assert spec_differences(moved, new) == []  # the same fingerprint: the folder moved
    assert spec_differences({**moved, "model_fingerprint": "sha256:cd"}, new) == [
        "engine.model: 'scratch/tiny' -> 'models/tiny'", "model: 'scratch/tiny' -> 'models/tiny'",
        "model_fingerprint: 'sha256:cd' -> 'sha256:ab'"]
    with ResultStore(tmp_path / "r") as store:
        store.open(legacy)
    with ResultStore(tmp_path / "r") as store:
        store.open(new)  # resumed: the merged spec holds no path any more
    assert "/home/u" not in (tmp_path / "r" / "spec.json").read_text()


def test_a_run_started_with_a_relative_model_folder_before_labels_resumes(tmp_path, chdir):
    """Before labels, ``--model mymodel`` was recorded as typed and gave results/T/mymodel/M: the same
    command still finds that folder, and its spec is the same run."""
    _model(tmp_path / "work" / "mymodel")
    chdir(tmp_path / "work")
    assert default_output("t", "mymodel", "m").as_posix() == "results/t/work__mymodel/m"
    legacy = tmp_path / "work" / "results" / "t" / "mymodel" / "m"
    legacy.mkdir(parents=True)
    (legacy / "spec.json").write_text("{}")
    assert default_output("t", "mymodel", "m").as_posix() == "results/t/mymodel/m"  # the old run's folder
    new = {"model": "work/mymodel", "engine": {"engine": "hf", "model": "work/mymodel"}}
    old = {"model": "mymodel", "engine": {"engine": "hf", "model": "./mymodel"}}
    assert spec_differences(old, new) == []
    assert spec_differences({**old, "model": "othermodel"}, new) == ["model: 'othermodel' -> 'work/mymodel'"]
