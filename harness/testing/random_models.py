"""Tiny random models with real tokenizers, for tests and offline smoke runs.

``build_random_model(path, fmt)`` writes a standard Hugging Face model directory (Qwen2
architecture, a byte-level BPE tokenizer trained on a few lines, a ChatML chat template) in a
couple of seconds on CPU. The weights are random, except that the rows of the output layer for
the end-of-thinking and end-of-turn tokens are scaled up, so the model does end its thinking by
itself now and then, and answers are short: enough to exercise every branch of a method.

Formats:
* ``think``: ``<think>``/``</think>`` are single added tokens (QwQ/Qwen3 style);
* ``think-split``: the tags are plain text, so ``</think>`` spans several tokens;
* ``s1``: no think tags; the delimiter ``<|im_start|>answer`` is two tokens.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Let me think step by step. First add the numbers, then check the total.",
    "Wait, that is not right. Alternatively, compute the sum again. Hmm.",
    "The answer is 42. Final Answer: \\boxed{42}",
    "answer answer think think Final Answer: Answer: The final answer is",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 25 100 + - * / = ( ) [ ] { } \\frac \\sqrt x y z",
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "system user assistant A) B) C) D) Think for up to tokens steps.",
]

QWEN2_PRETOKENIZE = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                     r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
CHATML = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# QwQ-style template: strips earlier thinking (mentions </think>) and opens the thinking itself.
THINK_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = message['content'].split('</think>')[-1] %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"
)


def build_random_model(path: str | Path, fmt: str = "think", *, seed: int = 0, boost: float = 2.0,
                     heads: int = 4) -> Path:
    """Write a tiny random model of thinking format ``fmt`` to ``path`` and return it.

    ``heads`` sets the attention heads of the 64-wide model: vLLM's CPU kernels need a head
    dimension of at least 32, so tests that run vLLM build theirs with ``heads=2``."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    if fmt not in ("think", "think-split", "s1"):
        raise ValueError(f"unknown tiny format {fmt!r}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = ["<think>", "</think>"] if fmt == "think" else []
    bpe = Tokenizer(models.BPE())
    # Qwen2's own normalizer and pre-tokenizer, as a real Qwen2 checkpoint's tokenizer.json has them:
    # transformers 5 rebuilds a qwen2 model's tokenizer with these whatever tokenizer.json says, so
    # the file and every reader of it (transformers 4 and 5, tokenizers alone, a vLLM server) agree.
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    if added:
        tok.add_tokens(added)
    tok.chat_template = CHATML if fmt == "s1" else THINK_TEMPLATE
    tok.save_pretrained(path)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=min(2, heads),
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    end = "</think>" if fmt != "s1" else "<|im_start|>answer"
    boosted = set(tok.encode(end, add_special_tokens=False)) | {config.eos_token_id}
    with torch.no_grad():
        for token_id in boosted:
            model.lm_head.weight[token_id] *= boost
    model.save_pretrained(path)
    return path
