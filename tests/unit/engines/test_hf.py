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
