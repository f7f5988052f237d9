"""Tables for people: the runs and methods tables as the terminal, Markdown and LaTeX show them.

The numbers are ``analysis``'s; this module only formats (column headers, number formats, the
notes under a table) and writes CSVs that pandas reads back (``write_csv``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from budgetbench.analysis.keys import method_label
from budgetbench.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

CI_NOTE = (f"Accuracy intervals: 95% percentile bootstrap over problems ({BOOTSTRAP_RESAMPLES} resamples, "
           f"seed {BOOTSTRAP_SEED}); Wilson score interval for runs known only by counts.")


METHOD_NOTE = ("Control: share of runs with mean thinking tokens <= a_max (CCC: short < default < long). "
               "Scaling: mean pairwise slope of accuracy (%) vs {x} mean thinking tokens. "
               "Performance: best accuracy (%). Adherence/Overshoot: per sample, vs a_max.")


def model_name(model: str) -> str:
    """Short model name for tables and legends: local paths by their last part, hub ids in full."""
    return Path(model).name if model.startswith(("/", ".", "~")) else model


def number_format(spec: str) -> Callable[[Any], str]:
    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        text = spec.format(value)
        return text[1:] if text.startswith("-") and not text.strip("-0.%") else text  # no "-0"
    return fmt


_RUN_NUMBERS = [  # runs table: column, header, format
    ("accuracy_pct", "accuracy %", "{:.1f}"), ("mean_thinking_tokens", "mean think", "{:.0f}"),
    ("median_thinking_tokens", "median think", "{:.0f}"), ("mean_answer_tokens", "mean answer", "{:.0f}"),
    ("forced_end_pct", "forced end %", "{:.1f}"), ("unextractable_pct", "unextractable %", "{:.1f}"),
    ("mean_extensions", "extensions", "{:.2f}"), ("mean_tries", "tries", "{:.2f}"),
    ("adherence_pct", "adherence %", "{:.1f}"), ("overshoot_pct", "overshoot %", "{:.1f}"),
]


def runs_display(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table as strings, for the terminal, Markdown and LaTeX."""
    pct = number_format("{:.1f}")
    cols = {"model": runs["model"].map(model_name), "task": runs["task"],
            "method": runs["method"].map(method_label), "budget": runs["budget"].map(str), "n": runs["n"].map(str),
            "failed": runs["failed"].map(number_format("{:.0f}"))}
    cols.update({header: runs[col].map(number_format(fmt)) for col, header, fmt in _RUN_NUMBERS})
    cols["95% CI"] = [f"{pct(lo)}–{pct(hi)}" if not math.isnan(lo) else "—"
                      for lo, hi in zip(runs["ci_low_pct"], runs["ci_high_pct"])]
    order = ["model", "task", "method", "budget", "n", "failed", "accuracy %", "95% CI"] + [h for _, h, _ in _RUN_NUMBERS[1:]]
    return pd.DataFrame(cols)[order]


def methods_display(methods: pd.DataFrame) -> pd.DataFrame:
    """The method table as strings: Control %, Scaling (integer for log2), Performance (1 decimal)."""
    linear = (methods["scaling_x"] == "linear").any()
    return pd.DataFrame({
        "model": methods["model"].map(model_name), "task": methods["task"], "method": methods["label"],
        "|A|": methods["runs"].map(str), "Control": methods["control_pct"].map(number_format("{:.0f}%")),
        "Scaling": methods["scaling"].map(number_format("{:.3g}" if linear else "{:.0f}")),
        "Performance": methods["performance_pct"].map(number_format("{:.1f}")),
        "Adherence": methods["adherence_pct"].map(number_format("{:.0f}%")),
        "Overshoot": methods["overshoot_pct"].map(number_format("{:.1f}%")),
    })


def _left(col: str) -> bool:
    return col in ("model", "task", "method", "budget")


def format_table(table: pd.DataFrame) -> str:
    """An aligned plain-text table: text columns left, numbers right."""
    cols = list(table.columns)
    widths = [max([len(c), *map(len, table[c])]) for c in cols]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(s.ljust(w) if _left(c) else s.rjust(w) for s, w, c in zip(cells, widths, cols)).rstrip()
    rows = [line(cols), line(["-" * w for w in widths])]
    return "\n".join(rows + [line(list(r)) for r in table.itertuples(index=False)])


def to_markdown(table: pd.DataFrame, note: str = "") -> str:
    """A GitHub-flavoured Markdown table, with an optional note paragraph below it."""
    def row(cells: Iterable[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    align = [":---" if _left(c) else "---:" for c in table.columns]
    lines = [row(table.columns), "| " + " | ".join(align) + " |", *map(row, table.itertuples(index=False))]
    return "\n".join(lines) + (f"\n\n{note}\n" if note else "\n")


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "—": "---", "–": "--"}


def _tex(text: str) -> str:
    if text == "|A|":
        return "$|A|$"
    out = "".join(_TEX.get(ch, ch) for ch in str(text))
    return "$-$" + out[1:] if out[:1] == "-" and out[1:2].isdigit() else out


def to_latex(table: pd.DataFrame, caption: str = "") -> str:
    """A booktabs tabular (needs \\usepackage{booktabs}), cells escaped; caption as a comment."""
    spec = "".join("l" if _left(c) else "r" for c in table.columns)
    body = [" & ".join(_tex(c) for c in r) + r" \\" for r in table.itertuples(index=False)]
    head = [f"% {caption}"] if caption else []
    return "\n".join(head + [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
                             " & ".join(_tex(c) for c in table.columns) + r" \\", r"\midrule",
                             *body, r"\bottomrule", r"\end{tabular}"]) + "\n"


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, float_format="%.10g", na_rep="", lineterminator="\n")
