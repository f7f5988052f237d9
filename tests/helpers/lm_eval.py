"""A local lm-eval task (JSON lines and a YAML that reads them offline) for interop tests."""

from __future__ import annotations

import json
from pathlib import Path

from budgetbench.toy import make_problems

TASK_YAML = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: {output_type}
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["<|end|>"]
  max_gen_toks: 16
  do_sample: false
filter_list:
  - name: boxed
    filter:
      - function: regex
        regex_pattern: "boxed\\\\{{(\\\\d+)\\\\}}"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def write_local_task(folder: Path, name: str = "bb_toy_sum", n: int = 6, output_type: str = "generate_until") -> Path:
    """A local lm-eval task over toy_sum problems: JSONL data and a YAML that reads it offline."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for p in make_problems(n, seed=7):
            f.write(json.dumps({"question": p.question, "answer": p.gold}) + "\n")
    (folder / f"{name}.yaml").write_text(TASK_YAML.format(name=name, data=data, output_type=output_type))
    return folder
