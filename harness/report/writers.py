"""Reports of budgetbench: load results, build run and method tables, write CSV/Markdown/LaTeX, plot.

Inputs are result directories written by ``bench run`` (``spec.json`` + ``samples.jsonl``) and
run-level files: CSVs with one row per run and at least the columns RUN_LEVEL_REQUIRED (as in
``results/paper``; the ``runs.csv`` this module writes is one too), or directories holding them.
A directory that is neither, but whose subdirectories are, stands for those subdirectories.

Accuracy intervals: 95% percentile bootstrap over problems (2000 resamples, seed 0) for runs with
samples, Wilson score for runs known by counts only (see ``budgetbench.analysis.metrics``).
Figures use matplotlib's Agg canvas directly (no pyplot, no display); files are deterministic.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from budgetbench.errors import UserError
from budgetbench.analysis.votes import vote_runs
from budgetbench.analysis.metrics import (  # summarize_runs and method_metrics are re-exported for `bench run`
    RUN_COLUMNS, RUN_KEYS, a_max, budget_unit, method_label, method_metrics, method_rank,
    normalize_budget, sort_runs, summarize_runs,
)

Warn = Callable[[str], None]
RUN_LEVEL_REQUIRED = ("model", "task", "method", "budget", "mean_thinking_tokens", "correct", "n")
TEXT_FIELDS = ("thinking_text", "answer_text")
from budgetbench.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, wilson_interval  # noqa: E402

CI_NOTE = (f"Accuracy intervals: 95% percentile bootstrap over problems ({BOOTSTRAP_RESAMPLES} resamples, "
           f"seed {BOOTSTRAP_SEED}); Wilson score interval for runs known only by counts.")
METHOD_NOTE = ("Control: share of runs with mean thinking tokens <= a_max (CCC: short < default < long). "
               "Scaling: mean pairwise slope of accuracy (%) vs {x} mean thinking tokens. "
               "Performance: best accuracy (%). Adherence/Overshoot: per sample, vs a_max.")
FIG_DPI = 150
PANEL_SIZE = (4.0, 3.4)  # inches per task panel; the legend column at the right adds LEGEND_WIDTH
LEGEND_WIDTH = 1.8


class ResultsError(UserError):
    """An input that is neither a results directory nor a run-level file, or is malformed."""


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


# --------------------------------------------------------------------------- loading
def is_results_dir(path: Path) -> bool:
    return (path / "spec.json").is_file() and (path / "samples.jsonl").is_file()


def read_samples(path: Path, *, keep_text: bool = True, warn: Warn = _warn) -> list[dict[str, Any]]:
    """Records of a samples.jsonl; lines that are not JSON objects (a crash) are skipped with a warning."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                record = json.loads(line) if line.strip() else {}
            except ValueError:
                record = None
            if not isinstance(record, dict):
                warn(f"{path}:{lineno}: skipped a line that is not a JSON object")
            elif record:
                records.append(record if keep_text else {k: v for k, v in record.items() if k not in TEXT_FIELDS})
    return records


def load_records(paths: Iterable[str | Path], *, keep_text: bool = True, warn: Warn = _warn) -> pd.DataFrame:
    """Sample records of result directories, one row per line of samples.jsonl, plus ``model``.

    ``model`` comes from spec.json; ``task`` and ``method`` from spec.json where a record lacks
    them. Budgets are normalized (integral numbers → int, null → "none"). Raises ResultsError for a
    path that is not a results directory.
    """
    frames = []
    for path in _unique(paths):
        if not is_results_dir(path):
            raise ResultsError(f"{path}: not a results directory (spec.json + samples.jsonl)")
        spec = _spec(path)
        if "model" not in spec:
            raise ResultsError(f"{path / 'spec.json'}: no \"model\" field")
        df = pd.DataFrame(read_samples(path / "samples.jsonl", keep_text=keep_text, warn=warn))
        if df.empty:
            warn(f"{path}: no records")
            continue
        missing = [k for k in ("problem_id", "budget", "correct", "thinking_tokens") if k not in df]
        if missing:
            raise ResultsError(f"{path / 'samples.jsonl'}: records lack {', '.join(missing)}")
        for key in ("task", "method"):
            fallback = str(spec.get(key, "unknown"))
            df[key] = df[key].fillna(fallback).astype(str) if key in df else fallback
        df["model"] = str(spec["model"])
        df["budget"] = df["budget"].map(normalize_budget).astype(object)
        df["waits"] = pd.to_numeric(df["waits"], errors="coerce").fillna(0).astype(int) if "waits" in df else 0
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(RUN_KEYS))
    return pd.concat(frames, ignore_index=True)


def read_run_file(path: str | Path) -> pd.DataFrame:
    """A run-level CSV as a runs table: counts give accuracy, missing intervals become Wilson."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in RUN_LEVEL_REQUIRED if c not in raw.columns]
    if missing:
        raise ResultsError(f"{path}: not a run-level file (lacks {', '.join(missing)})")
    df = pd.DataFrame({k: raw[k].astype(str).str.strip().astype(object) for k in ("model", "task", "method")})
    df["budget"] = raw["budget"].map(normalize_budget).astype(object)
    df["waits"] = pd.to_numeric(raw["waits"], errors="coerce").fillna(0).astype(int) if "waits" in raw else 0
    for col in RUN_COLUMNS:
        if col not in df and col in raw and col not in ("unit", "ci_method"):
            df[col] = pd.to_numeric(raw[col].replace("", None), errors="coerce").astype(float)
    if df[["correct", "n", "mean_thinking_tokens"]].isna().any().any() or (df["n"] <= 0).any() \
            or ((df["correct"] < 0) | (df["correct"] > df["n"])).any():
        raise ResultsError(f"{path}: needs numbers with 0 <= correct <= n and n > 0 in every row")
    df["n"], df["correct"] = df["n"].astype(int), df["correct"].astype(int)
    df["unit"] = df["method"].map(budget_unit)
    df["a_max"] = [math.nan if (c := a_max(m, b)) is None else c for m, b in zip(df["method"], df["budget"])]
    df["accuracy_pct"] = 100.0 * df["correct"] / df["n"]
    df = df.reindex(columns=RUN_COLUMNS)  # absent columns become NaN
    given = df["ci_low_pct"].notna() & df["ci_high_pct"].notna()
    wilson = np.array([wilson_interval(c, n) for c, n in zip(df["correct"], df["n"])]) * 100
    df["ci_low_pct"] = df["ci_low_pct"].where(given, wilson[:, 0])
    df["ci_high_pct"] = df["ci_high_pct"].where(given, wilson[:, 1])
    given_method = raw["ci_method"].replace("", "given") if "ci_method" in raw else "given"
    df["ci_method"] = np.where(given, given_method, "wilson")
    return df


def _unique(paths: Iterable[str | Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for p in paths:
        seen.setdefault(Path(p).resolve(), None)
    return list(seen)


def _is_run_csv(path: Path) -> bool:
    try:
        return set(RUN_LEVEL_REQUIRED) <= set(pd.read_csv(path, nrows=0).columns)
    except (ValueError, OSError, UnicodeDecodeError):
        return False


def _spec(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads((path / "spec.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ResultsError(f"{path / 'spec.json'}: not valid JSON ({exc})") from None
    return spec if isinstance(spec, dict) else {}


def _classify(path: Path, depth: int = 0) -> tuple[list[Path], list[Path]]:
    """(result dirs, run-level CSVs) a command-line path stands for."""
    if path.is_file() and path.suffix.lower() == ".csv":
        return [], [path]
    if path.is_dir():
        if is_results_dir(path):
            return [path], []
        if csvs := [p for p in sorted(path.glob("*.csv")) if _is_run_csv(p)]:
            return [], csvs
        if depth == 0:
            dirs, files = [], []
            for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                d, f = _classify(sub, 1)
                dirs, files = dirs + d, files + f
            if dirs or files:
                return dirs, files
    if depth:
        return [], []
    raise ResultsError(f"{path}: neither a results directory (spec.json + samples.jsonl) "
                       "nor a run-level file (CSV with " + ", ".join(RUN_LEVEL_REQUIRED) + ")")


def load_runs(paths: Sequence[str | Path], *, warn: Warn = _warn) -> pd.DataFrame:
    """The runs table (columns RUN_COLUMNS) of results directories and run-level files, sorted.

    Records of several result directories with the same run key are pooled (shards of one run);
    the same run twice in run-level inputs is an error. Raises ResultsError before anything is read
    if a path is unreadable.
    """
    dirs, files = [], []
    for path in paths:
        d, f = _classify(Path(path))
        dirs, files = dirs + d, files + f
    parts = [read_run_file(f) for f in _unique(files)]
    vote_dirs = [d for d in dirs if _spec(d).get("method") == "majority_vote"]
    dirs = [d for d in dirs if d not in vote_dirs]
    for d in vote_dirs:  # one set of samples -> a run for every K (maj@K)
        parts.append(vote_runs(load_records([d], keep_text=False, warn=warn), _spec(d).get("budgets") or []))
    records = load_records(dirs, keep_text=False, warn=warn) if dirs else pd.DataFrame()
    if not records.empty:
        parts.insert(0, summarize_runs(records))
    if not parts:
        raise ResultsError("no runs found in " + ", ".join(map(str, paths)))
    runs = pd.concat([p.astype(object) for p in parts], ignore_index=True).reindex(columns=RUN_COLUMNS)
    dup = runs.duplicated(list(RUN_KEYS))
    if dup.any():
        first = runs[dup].iloc[0]
        raise ResultsError("the same run appears twice: " + " / ".join(str(first[k]) for k in RUN_KEYS))
    for col in RUN_COLUMNS:
        if col not in (*RUN_KEYS, "unit", "ci_method"):
            runs[col] = pd.to_numeric(runs[col], errors="coerce").astype(float)
    runs["n"], runs["correct"] = runs["n"].astype(int), runs["correct"].astype(int)
    return sort_runs(runs[RUN_COLUMNS])


# --------------------------------------------------------------------------- tables
def model_name(model: str) -> str:
    """Short model name for tables and legends: local paths by their last part, hub ids in full."""
    return Path(model).name if model.startswith(("/", ".", "~")) else model


def _num(spec: str) -> Callable[[Any], str]:
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
    pct = _num("{:.1f}")
    cols = {"model": runs["model"].map(model_name), "task": runs["task"],
            "method": runs["method"].map(method_label), "budget": runs["budget"].map(str), "n": runs["n"].map(str)}
    cols.update({header: runs[col].map(_num(fmt)) for col, header, fmt in _RUN_NUMBERS})
    cols["95% CI"] = [f"{pct(lo)}–{pct(hi)}" if not math.isnan(lo) else "—"
                      for lo, hi in zip(runs["ci_low_pct"], runs["ci_high_pct"])]
    order = ["model", "task", "method", "budget", "n", "accuracy %", "95% CI"] + [h for _, h, _ in _RUN_NUMBERS[1:]]
    return pd.DataFrame(cols)[order]


def methods_display(methods: pd.DataFrame) -> pd.DataFrame:
    """The method table as strings: Control %, Scaling (integer for log2), Performance (1 decimal)."""
    linear = (methods["scaling_x"] == "linear").any()
    return pd.DataFrame({
        "model": methods["model"].map(model_name), "task": methods["task"], "method": methods["label"],
        "|A|": methods["runs"].map(str), "Control": methods["control_pct"].map(_num("{:.0f}%")),
        "Scaling": methods["scaling"].map(_num("{:.3g}" if linear else "{:.0f}")),
        "Performance": methods["performance_pct"].map(_num("{:.1f}")),
        "Adherence": methods["adherence_pct"].map(_num("{:.0f}%")),
        "Overshoot": methods["overshoot_pct"].map(_num("{:.1f}%")),
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


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, float_format="%.10g", na_rep="", lineterminator="\n")


def write_report(runs: pd.DataFrame, methods: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write runs/methods as CSV, Markdown and LaTeX, and the figures, into ``out``; paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = methods["scaling_x"].iloc[0] if len(methods) else "log2"
    method_note = METHOD_NOTE.format(x=x)
    written = []
    for name, df, shown, note in (("runs", runs, runs_display(runs), CI_NOTE),
                                  ("methods", methods, methods_display(methods), method_note)):
        _write_csv(df, out / f"{name}.csv")
        (out / f"{name}.md").write_text(to_markdown(shown, note), encoding="utf-8")
        (out / f"{name}.tex").write_text(to_latex(shown, note), encoding="utf-8")
        written += [out / f"{name}.{ext}" for ext in ("csv", "md", "tex")]
    written += plot_accuracy(runs, out / "accuracy")
    written += plot_forced_end(runs, out / "forced_end")
    return written


# --------------------------------------------------------------------------- figures
def _figure(tasks: Sequence[str]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = PANEL_SIZE
    fig = Figure(figsize=(w * max(1, len(tasks)) + LEGEND_WIDTH, h), dpi=FIG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False)[0]
    for ax, task in zip(axes, tasks):
        ax.set_title(task)
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def _log2_axis(ax, values: Iterable[float]) -> None:
    """Log2 x axis labelled in plain numbers, padded, with at least one power of two in view."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    xs = [v for v in values if v > 0]
    with warnings.catch_warnings():  # runs with 0 mean tokens cannot be shown on a log axis
        warnings.filterwarnings("ignore", message="Data has no positive values")
        ax.set_xscale("log", base=2, nonpositive="mask")
    if not xs:
        ax.set_xlim(1, 2)
    if xs:
        left, right = min(xs) / 1.15, max(xs) * 1.15
        if math.floor(math.log2(right)) < math.ceil(math.log2(left)):
            left = 2.0 ** math.floor(math.log2(min(xs)))
        ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(LogLocator(base=2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45)


def _style(method: str, model_index: int) -> dict[str, Any]:
    from matplotlib import colormaps

    rank = method_rank(method)  # a method keeps its colour across figures; unknown ones share the 10th
    return {"color": colormaps["tab10"].colors[min(rank, 9)],
            "marker": "osD^v<>"[model_index % 7], "linestyle": ["-", "--", ":", "-."][model_index % 4]}


def _save(fig, axes, stem: Path) -> list[Path]:
    """Add one figure legend (each panel's entries, once) right of the panels; write PNG and SVG."""
    import matplotlib

    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(list(entries.values()), list(entries), loc="outside right upper", frameon=False)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    with matplotlib.rc_context({"svg.hashsalt": "budgetbench", "svg.fonttype": "path"}):
        fig.savefig(paths[0], dpi=FIG_DPI, metadata={"Software": None})
        fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
    return paths


def _series(runs: pd.DataFrame):
    """Lines in table order: (panel index, style, legend label, method, runs of that line)."""
    tasks, models = sorted(runs["task"].unique()), sorted(runs["model"].unique())
    for (model, task, method), group in sort_runs(runs).groupby(["model", "task", "method"], sort=False):
        label = method_label(method) + (f" · {model_name(model)}" if len(models) > 1 else "")
        yield tasks.index(task), _style(method, models.index(model)), label, method, group


def _yerr(df: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num([df["accuracy_pct"] - df["ci_low_pct"], df["ci_high_pct"] - df["accuracy_pct"]])


def plot_accuracy(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Accuracy (%) vs mean thinking tokens (log2 axis), a line per method × model, a panel per task,
    95% interval bars; CCC's default run is a star. Writes ``stem``.png and .svg."""
    tasks = sorted(runs["task"].unique())
    fig, axes = _figure(tasks)
    for t, style, label, method, group in _series(runs):
        default = (group["budget"] == "none") & (method == "class_conditional")
        line = group[~default].sort_values("mean_thinking_tokens", kind="stable")
        axes[t].errorbar(line["mean_thinking_tokens"], line["accuracy_pct"], yerr=_yerr(line), capsize=2.5,
                         markersize=4, linewidth=1.4, elinewidth=0.8, label=label, **style)
        if default.any():
            d = group[default]
            axes[t].errorbar(d["mean_thinking_tokens"], d["accuracy_pct"], yerr=_yerr(d), fmt="*", capsize=2.5,
                             elinewidth=0.8, markersize=10, color=style["color"],
                             label=label.replace(method_label(method), method_label(method) + " default", 1))
    for ax, task in zip(axes, tasks):
        _log2_axis(ax, runs.loc[runs["task"] == task, "mean_thinking_tokens"])
        ax.set_xlabel("Mean thinking tokens (log$_2$ scale)")
    axes[0].set_ylabel("Accuracy (%)")
    return _save(fig, axes, Path(stem))


def plot_forced_end(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Share of forced ends (%) vs token cap a_max (budget; steps × 100), a line per method × model,
    a panel per task. Runs without a cap or without sample-level data are left out."""
    tasks = sorted(runs["task"].unique())
    fig, axes = _figure(tasks)
    caps: list[list[float]] = [[] for _ in axes]
    for t, style, label, _, group in _series(runs):
        line = group[group["a_max"].notna() & group["forced_end_pct"].notna()].sort_values("a_max", kind="stable")
        if len(line):
            axes[t].plot(line["a_max"], line["forced_end_pct"], markersize=4, linewidth=1.4, label=label, **style)
            caps[t] += line["a_max"].tolist()
    for ax, xs in zip(axes, caps):
        ax.set_ylim(-3, 103)
        ax.set_xlabel("Thinking cap $a_{max}$ (tokens; steps × 100)")
        if xs:
            _log2_axis(ax, xs)
        else:
            ax.set_xticks([])
            ax.text(0.5, 0.5, "no sample-level data", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel("Forced ends (%)")
    return _save(fig, axes, Path(stem))

