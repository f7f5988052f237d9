"""The toy task (budgetbench.toy, tasks/toy_sum.py) and the shipped toy model directory."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from budgetbench import toy
from budgetbench.tasks import get_task
from tests.helpers.cli import REPO


def test_generator_is_seeded():
    assert toy.make_problems(50, seed=7) == toy.make_problems(50, seed=7)
    assert toy.make_problems(50, seed=7) != toy.make_problems(50, seed=8)
    assert toy.sample_values(random.Random(3)) == toy.sample_values(random.Random(3))


def test_trace_running_totals_are_right():
    values = [7, 2, 9, 4]
    assert toy.question(values) == "Add: a=7 b=2 c=9 d=4"
    assert toy.thinking(values) == "a+7=7\nb+2=9\nc+9=18\nd+4=22\n"
    rng = random.Random(0)
    for _ in range(200):
        values = toy.sample_values(rng)
        lines = toy.thinking(values).splitlines()
        assert len(lines) == len(values)
        total = 0
        for label, value, line in zip(toy.LABELS, values, lines):
            total += value
            assert line == f"{label}+{value}={total}"
        assert total == sum(values)


def test_cut_answer_is_the_last_total_written_in_full():
    values = [7, 2, 9, 4]  # a+7=7\nb+2=9\nc+9=18\nd+4=22\n
    thinking = toy.thinking(values)
    assert toy.cut_answer(values, 0) == 0
    assert toy.cut_answer(values, 4) == 0  # "a+7="
    assert toy.cut_answer(values, 5) == 7  # "a+7=7" (budget forcing adds the newline)
    assert toy.cut_answer(values, thinking.index("c+9=1") + 5) == 9  # "c+9=1": 18 is not complete
    assert toy.cut_answer(values, thinking.index("c+9=18") + 6) == 18
    assert toy.cut_answer(values, len(thinking) - 1) == 22
    assert toy.cut_answer(values, len(thinking)) == 22


def test_task_loads_500_problems_with_terms():
    task = get_task(str(REPO / "tasks" / "toy_sum.py"))
    assert (task.name, task.answer_kind, task.size) == ("toy_sum", "integer", 500)
    problems = task.load(None)
    assert len(problems) == 500 and len({p.id for p in problems}) == 500
    assert problems == task.load(Path("/ignored"))  # synthetic: data_dir plays no part
    terms = {p.metadata["terms"] for p in problems}
    assert terms == set(range(toy.MIN_TERMS, toy.MAX_TERMS + 1))
    for p in problems[:50]:
        values = [int(part.split("=")[1]) for part in p.question.removeprefix("Add: ").split()]
        assert len(values) == p.metadata["terms"] and str(sum(values)) == p.gold


@pytest.fixture(scope="module")
def shipped():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(toy.MODEL_DIR)
    model = transformers.AutoModelForCausalLM.from_pretrained(toy.MODEL_DIR).eval()
    return tok, model


def test_shipped_model_directory(shipped):
    tok, model = shipped
    files = {f.name: f.stat().st_size for f in toy.MODEL_DIR.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    assert sum(files.values()) < 5_000_000  # a few MB at most
    assert "<think>" in tok.chat_template and "</think>" in tok.chat_template
    prompt = tok.apply_chat_template([{"role": "user", "content": "Add: a=1 b=2"}], tokenize=False,
                                     add_generation_prompt=True)
    assert prompt.endswith("<think>\n")
    assert tok.tokenize("a=7 c+9=18\n") == ["a=7", "Ġ", "c+", "9", "=", "1", "8", "Ċ"]  # digits apart
    assert "</think>" in tok.get_vocab() and tok.eos_token == "<|end|>"
    assert model.config.vocab_size == len(tok)


def _greedy(tok, model, text: str, max_new_tokens: int) -> str:
    import torch

    ids = tok.encode(text, add_special_tokens=False)
    stop = [tok.eos_token_id, tok.convert_tokens_to_ids("</think>")]
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=stop, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, len(ids):])


def test_shipped_model_thinks_then_answers_from_partial_work(shipped):
    tok, model = shipped
    values = [7, 2, 9, 4]
    prompt = tok.apply_chat_template([{"role": "user", "content": toy.question(values)}], tokenize=False,
                                     add_generation_prompt=True)
    assert _greedy(tok, model, prompt, 40) == toy.thinking(values) + "</think>"
    assert _greedy(tok, model, prompt + toy.thinking(values) + "</think>", 10) == "\n\n\\boxed{22}<|end|>"
    cut = prompt + "a+7=7\nb+2=9\nc+9\n</think>\n\nFinal Answer:"  # budget forcing's cut
    assert _greedy(tok, model, cut, 10) == " \\boxed{9}<|end|>"
