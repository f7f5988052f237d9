"""Engine helpers shared by every engine: the stop-string window is sized in bytes."""

from __future__ import annotations

import pytest

from budgetbench.engines.base import find_stop_string, stop_tail_tokens

STOPS = ["</think>", "结束", "‹｜end▁of▁sentence｜›", "Ответ", "<|im_start|>answer"]


class ByteTokenizer:
    """The worst case of a byte-level BPE: every UTF-8 byte is a token of its own."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


@pytest.mark.parametrize("stop", STOPS)
def test_the_tail_window_sees_a_stop_spelled_one_byte_per_token(stop):
    tok = ByteTokenizer()
    ids = tok.encode("思考了很久 " + stop)
    tail = tok.decode(ids[-stop_tail_tokens([stop]):])
    assert find_stop_string(tail, [stop]) == stop


def test_the_window_with_a_real_byte_level_tokenizer(tmp_path):
    pytest.importorskip("transformers")
    from budgetbench.engines.tokenizer import HFTokenizer
    from budgetbench.testing.random_models import build_random_model

    tok = HFTokenizer.load(str(build_random_model(tmp_path / "m", "think")))
    for stop in STOPS:
        ids = tok.encode("reasoning 思考 " + stop)
        assert stop in tok.decode(ids[-stop_tail_tokens([stop]):]), stop
