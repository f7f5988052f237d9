"""The transformers engine: a checkpoint's generation_config.json does not leak into a run."""

from __future__ import annotations

import json
import shutil

import pytest

from budgetbench.toy import MODEL_DIR, make_problems
from budgetbench.types import GenRequest, SamplingParams

pytest.importorskip("transformers")


def _greedy(model_dir, n: int = 6) -> list[tuple[int, ...]]:
    from budgetbench.engines.hf import HFEngine

    engine = HFEngine(str(model_dir), batch_size=8)
    tok = engine.tokenizer
    prompts = [tuple(tok.encode(tok.render_chat(p.question))) for p in make_problems(n, seed=3)]
    results = engine.generate([GenRequest(p, SamplingParams(max_tokens=48, stop_token_ids=tok.eos_token_ids))
                               for p in prompts])
    assert engine.info()["generation_config"] == "neutral"
    return [r.first.token_ids for r in results]


def test_the_checkpoints_generation_config_does_not_change_greedy_outputs(tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(MODEL_DIR, leaky)
    config = json.loads((leaky / "generation_config.json").read_text())
    frequent = _greedy(MODEL_DIR)[0][3]  # a token the model writes early: as an extra EOS it would cut
    config.update(repetition_penalty=1.3, no_repeat_ngram_size=2, eos_token_id=[frequent],
                  do_sample=True, temperature=0.7, top_k=5)
    (leaky / "generation_config.json").write_text(json.dumps(config))
    assert _greedy(leaky) == _greedy(MODEL_DIR)


@pytest.mark.parametrize("device, said", [("cuda", "sees no CUDA device"), ("bogus", "unknown --device 'bogus'")])
def test_a_device_torch_cannot_use_is_one_clear_error(device, said):
    import torch

    from budgetbench.engines.base import EngineError
    from budgetbench.engines.hf import HFEngine

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EngineError, match=said):
        HFEngine(str(MODEL_DIR), device=device)


def test_a_truncated_checkpoint_is_one_clear_error(tmp_path):
    from budgetbench.engines.base import EngineError
    from budgetbench.engines.hf import HFEngine

    broken = tmp_path / "broken"
    shutil.copytree(MODEL_DIR, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(EngineError, match="cannot load model .*damaged or incomplete"):
        HFEngine(str(broken))


# -- vLLM's sampling settings: top_k, min_p and the penalties -------------------------------------

def test_penalties_match_vllms_definition_on_a_hand_computed_example():
    import torch

    from budgetbench.engines.hf import apply_penalties

    logits = torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0])
    params = SamplingParams(max_tokens=1, repetition_penalty=2.0, presence_penalty=0.5, frequency_penalty=0.25)
    # tokens 0 and 1 are in the prompt, 2 twice and 3 once in the output, 4 nowhere
    got = apply_penalties(logits, (0, 1), torch.tensor([2, 2, 3]), params)
    # 0: 2/2; 1: -1*2; 2: 0.5/2 - 2*0.25 - 0.5; 3: 0*2 - 0.25 - 0.5; 4: untouched
    assert got.tolist() == [1.0, -2.0, -0.75, -0.75, 3.0]
    assert logits.tolist() == [2.0, -1.0, 0.5, 0.0, 3.0]  # the caller's row is not changed
    # presence and frequency count the output only: a token of the prompt alone is not penalised
    only_counts = SamplingParams(max_tokens=1, presence_penalty=1.0, frequency_penalty=1.0)
    assert apply_penalties(logits, (4,), torch.tensor([0]), only_counts).tolist() == [0.0, -1.0, 0.5, 0.0, 3.0]


def test_min_p_top_k_and_top_p_filter_as_vllm_does():
    import torch

    from budgetbench.engines.hf import filter_logits

    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    kept = lambda **kw: torch.isfinite(filter_logits(logits, SamplingParams(max_tokens=1, **kw))).tolist()  # noqa: E731
    assert kept(min_p=0.2) == [True, True, True, False]  # 0.05 < 0.2 x 0.5
    assert kept(top_k=2) == [True, True, False, False]
    assert kept(top_k=-1) == kept(top_k=0) == [True] * 4  # vLLM's two spellings of off
    assert kept(top_p=0.7) == [True, True, False, False]  # 0.5 + 0.3 reach 0.7
    assert kept(min_p=0.2, top_k=3, top_p=0.5) == [True, False, False, False]


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    from budgetbench.testing.random_models import build_random_model

    return build_random_model(tmp_path_factory.mktemp("rand") / "think", "think")


def _outputs(engine, prompts, **sampling) -> list[tuple[int, ...]]:
    requests = [GenRequest(p, SamplingParams(max_tokens=24, **sampling)) for p in prompts]
    return [r.first.token_ids for r in engine.generate(requests)]


def test_a_repetition_penalty_changes_greedy_output_of_a_real_model(random_model):
    from budgetbench.engines.hf import HFEngine

    engine = HFEngine(str(random_model), batch_size=4)
    tok = engine.tokenizer
    prompts = [tuple(tok.encode(tok.render_chat(q))) for q in ("1+2", "Let me think step by step about 25 + 100")]
    plain = _outputs(engine, prompts)
    penalised = _outputs(engine, prompts, repetition_penalty=1.8)
    assert plain != penalised
    # a penalised row is the same alone as beside a longer one: padding is not a prompt token
    assert _outputs(engine, prompts[:1], repetition_penalty=1.8) == penalised[:1]
    assert _outputs(engine, prompts, repetition_penalty=1.0, presence_penalty=0.0) == plain
    assert _outputs(engine, prompts, presence_penalty=1.5, frequency_penalty=1.0) != plain
