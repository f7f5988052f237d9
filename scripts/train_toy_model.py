r"""Train the toy reasoning model shipped in ``harness/toy/model`` (CPU, about 6 minutes).

    python scripts/train_toy_model.py                  # writes harness/toy/model
    python scripts/train_toy_model.py --out /tmp/toy   # elsewhere (--help lists the settings)

Task (``budgetbench.toy``): add 2-12 labelled one-digit numbers. After the chat prompt
``<|user|>\nAdd: a=7 b=2<|end|>\n<|assistant|>\n<think>\n`` (masked out of the loss) the
model learns two kinds of continuation:

* full traces (70%): ``a+7=7\nb+2=9\n</think>\n\n\boxed{9}<|end|>``;
* cut traces (30%): the thinking cut after a uniformly random number of tokens (0 to all),
  then what budget forcing appends (``\n`` if needed, then ``</think>\n\nFinal Answer:``; also
  masked: the model never writes it), then `` \boxed{T}<|end|>`` where T is the last running
  total written in full (0 if none). So a cut model answers from its partial work.

Tokenizer: byte-level, no merges (one token per character: digits are separate tokens), plus
special tokens ``<|endoftext|>`` (pad), ``<|end|>`` (EOS), ``<|system|>``, ``<|user|>``,
``<|assistant|>`` and added tokens ``<think>``, ``</think>``, ``\boxed{``, one per term
(``c=9``: 108) and one per step label (``c+``: 12). The term and label tokens make finding a
term one attention hop (the ``c+`` just written matches the prompt's ``c=9``), which is what
lets so small a model learn the task in minutes. Chat template: Phi-3 style, its generation
prompt opens ``<think>\n``. A trace of n terms is 5-6 tokens per term (at most 72 tokens).

Settings (the defaults; they produced the committed weights):
    model     Qwen2, hidden 64, 4 layers, 4 heads (2 KV heads), MLP 256, RoPE theta 1e4, tied
              embeddings, vocabulary 384; 0.27M parameters, float32 (1.1 MB safetensors).
              Term and label token embeddings start as the sum of their characters' embeddings.
    data      seed 0 (problems, cuts; the task's problems use budgetbench.toy.EVAL_SEED). Terms per
              problem: 80% of problems take the largest of 3 uniform draws from 2..12 (late
              terms need the practice), 20% one draw.
    training  3000 steps of 24 sequences (~6M tokens), AdamW (betas 0.9/0.98, weight decay
              0.01), lr 4e-3, 50 warmup steps then cosine decay to 4e-4, grad clip 1.0, torch
              seed 0, 1 thread (faster than 2 for a model this small, and much faster on a
              shared CPU).
    time      5.8 min of training, 6.0 min in all (one CPU thread of a 2-core machine shared with
              other jobs); two runs on the same machine gave bit-identical weights.
    quality   printed at the end, on 200 fresh problems (seed 1): greedy full traces 99-100%
              correct (seeds 0 and 1 both reach it; ~2000 steps are not always enough).

Weights are not bit-identical across machines and library versions; the quality is what the
script reproduces. Check with ``bench run --task toy_sum --model harness/toy/model
--budgets 8,16,32,48,64,80 --limit 200 --answer-tokens 16``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from budgetbench import toy  # noqa: E402

TRAIN_SEED = 0
SPECIALS = ["<|endoftext|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
ADDED = ["<think>", "</think>", "\\boxed{"]
TERMS = [f"{label}={v}" for label in toy.LABELS for v in range(toy.MIN_VALUE, toy.MAX_VALUE + 1)]  # "c=9"
STEPS = [f"{label}+" for label in toy.LABELS]  # "c+"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = message['content'].split('</think>')[-1] %}"
    "{{ '<|' + message['role'] + '|>\\n' + content + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n<think>\\n' }}{% endif %}"
)
FORCED_END = "</think>\n\nFinal Answer:"  # what budget forcing appends on a cut (format "think")


def build_tokenizer():
    """Byte-level tokenizer without merges: token id 3 + byte value, specials first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for ch in _bytes_to_unicode():
        vocab[ch] = len(vocab)
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens(SPECIALS)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIALS[2:],
    )
    tok.add_tokens(ADDED + TERMS + STEPS)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def save_tokenizer(tok, path: Path) -> None:
    """Save as transformers does, naming the generic fast class (loadable by transformers 4 too)."""
    import json

    tok.save_pretrained(path)
    config_file = path / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2) + "\n")


def saved_tokenizer():
    """The tokenizer as ``AutoTokenizer`` loads it back from disk (what the harness will use)."""
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        save_tokenizer(build_tokenizer(), Path(tmp))
        return AutoTokenizer.from_pretrained(tmp)


def check_saved_tokenizer(tok, path: Path, data: "Examples") -> None:
    """The model directory's tokenizer, as AutoTokenizer loads it, encodes like the trained one."""
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(path)
    for _ in range(20):
        text = tok.decode(data.one()[0])
        assert loaded.encode(text, add_special_tokens=False) == tok.encode(text, add_special_tokens=False), text


def _bytes_to_unicode() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes, in byte order (as ByteLevel uses them)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def build_model(vocab_size: int, eos_id: int, pad_id: int, args):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        intermediate_size=args.mlp,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=512,
        rope_theta=args.rope_theta,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    return Qwen2ForCausalLM(config)


@torch.no_grad()
def factorize_term_embeddings(model, tok) -> None:
    """Start each term token ("c=9") as the sum of its letter's and its digit's embeddings, so that
    terms sharing a label or a value start alike (rare late labels learn much faster)."""
    emb = model.get_input_embeddings().weight
    for token in TERMS + STEPS:
        label, rest = tok.convert_tokens_to_ids([token[0], token[-1]])
        emb[tok.convert_tokens_to_ids(token)] = emb[label] + emb[rest]


class Examples:
    """Seeded stream of (input ids, labels) pairs; labels are -100 where no loss is taken."""

    def __init__(self, tok, seed: int, cut_share: float = 0.3, long_share: float = 0.8):
        self.tok, self.rng = tok, random.Random(seed)
        self.cut_share, self.long_share = cut_share, long_share
        self.eos = tok.eos_token

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False)

    def prompt(self, question: str) -> str:
        messages = [{"role": "user", "content": question}]
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def one(self) -> tuple[list[int], list[int]]:
        # long problems more often than the task has them, so that late terms are seen enough
        draws = 3 if self.rng.random() < self.long_share else 1
        terms = max(self.rng.randint(toy.MIN_TERMS, toy.MAX_TERMS) for _ in range(draws))
        values = toy.sample_values(self.rng, terms)
        prompt = self.encode(self.prompt(toy.question(values)))
        thinking = toy.thinking(values)
        if self.rng.random() >= self.cut_share:  # a full trace, ended by the model itself
            learned = self.encode(thinking + f"</think>\n\n\\boxed{{{sum(values)}}}" + self.eos)
            forced: list[int] = []
            answer: list[int] = []
        else:  # cut by budget forcing after `cut` tokens of thinking
            thought = self.encode(thinking)
            learned = thought[: self.rng.randint(0, len(thought))]
            written = self.tok.decode(learned)
            forced = self.encode(("" if written.endswith("\n") else "\n") + FORCED_END)
            answer = self.encode(f" \\boxed{{{toy.cut_answer(values, len(written))}}}" + self.eos)
        ids = prompt + learned + forced + answer
        labels = [-100] * len(prompt) + learned + [-100] * len(forced) + answer
        return ids, labels

    def batches(self, size: int, pad_id: int, pool: int = 8):
        """Endless padded batches; examples are drawn ``pool`` batches at a time and grouped by
        length (less padding), the batches of a pool shuffled."""
        while True:
            rows = sorted((self.one() for _ in range(size * pool)), key=lambda r: len(r[0]))
            chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
            self.rng.shuffle(chunks)
            for chunk in chunks:
                yield self.pad(chunk, pad_id)

    @staticmethod
    def pad(rows, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        size = len(rows)
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((size, width), pad_id, dtype=torch.long)
        labels = torch.full((size, width), -100, dtype=torch.long)
        mask = torch.zeros((size, width), dtype=torch.long)
        for i, (ids, lab) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, : len(lab)] = torch.tensor(lab)
            mask[i, : len(ids)] = 1
        return input_ids, labels, mask


@torch.no_grad()
def evaluate(model, tok, problems, budget: int | None = None, batch: int = 100) -> float:
    """Accuracy of greedy answers: full traces (budget None) or thinking cut at ``budget`` tokens
    and forced to answer, as budget forcing does. A quick stand-in for ``bench run``."""
    model.eval()
    ex = Examples(tok, 0)
    eos, pad = tok.eos_token_id, tok.pad_token_id
    end_think = tok.convert_tokens_to_ids("</think>")
    correct = 0
    for start in range(0, len(problems), batch):
        chunk = problems[start : start + batch]
        prompts = [ex.encode(ex.prompt(p.question)) for p in chunk]
        think_max = budget if budget is not None else 120
        thoughts = _greedy(model, prompts, think_max, stop={eos, end_think}, pad=pad)
        contexts = []
        for prompt, out in zip(prompts, thoughts):
            if out and out[-1] in (eos, end_think):  # natural end: the model's own </think>
                contexts.append(prompt + out[:-1] + [end_think])
            else:
                lead = "" if tok.decode(out).endswith("\n") else "\n"
                contexts.append(prompt + out + ex.encode(lead + FORCED_END))
        answers = _greedy(model, contexts, 16, stop={eos}, pad=pad)
        for p, ans in zip(chunk, answers):
            text = tok.decode(ans)
            got = text.split("\\boxed{")[-1].split("}")[0].strip()
            correct += got == p.gold
    model.train()
    return correct / len(problems)


def _greedy(model, prompts: list[list[int]], max_new: int, stop: set[int], pad: int) -> list[list[int]]:
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                         eos_token_id=sorted(stop), pad_token_id=pad)
    results = []
    for row in out[:, width:].tolist():
        cut = next((i + 1 for i, t in enumerate(row) if t in stop), len(row))
        results.append(row[:cut])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(toy.MODEL_DIR))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--mlp", type=int, default=256)
    parser.add_argument("--cut-share", type=float, default=0.3, help="share of cut traces")
    parser.add_argument("--long-share", type=float, default=0.8, help="share of problems whose number of terms "
                        "is the largest of 3 uniform draws (the others: 1 draw)")
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED, help="seeds the data and the initial weights")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for this size)")
    parser.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0: only at the end)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tok = saved_tokenizer()
    model = build_model(len(tok), tok.eos_token_id, tok.pad_token_id, args)
    factorize_term_embeddings(model, tok)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters; {vars(args)}", flush=True)
    data = Examples(tok, args.seed, args.cut_share, args.long_share)
    held_out = toy.make_problems(200, seed=TRAIN_SEED + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    model.train()
    started = time.time()
    running = None
    batches = data.batches(args.batch, tok.pad_token_id)
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        input_ids, labels, mask = next(batches)
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1:5d}  loss {running:.4f}  lr {lr_at(step):.2e}  {time.time() - started:6.0f}s",
                  flush=True)
        if args.eval_every and (step + 1) % args.eval_every == 0:
            print(f"  held-out accuracy, full traces: {evaluate(model, tok, held_out[:100]):.1%}", flush=True)
    minutes = (time.time() - started) / 60
    print(f"trained in {minutes:.1f} min", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    save_tokenizer(tok, out)
    check_saved_tokenizer(tok, out, data)
    print(f"saved to {out}")
    for budget in (None, 16, 32, 48, 64):
        acc = evaluate(model, tok, held_out, budget)
        print(f"held-out accuracy ({'full traces' if budget is None else f'thinking cut at {budget}'}): {acc:.1%}")


if __name__ == "__main__":
    main()
