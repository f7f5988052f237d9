"""The package's layers: every import points down (or sideways within a layer), never up.

Lowest first. A module's unit is its sub-package (``budgetbench.run.sweep`` -> ``run``) or, at
the top level, its own name (``budgetbench.budgets`` -> ``budgets``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import budgetbench

LAYERS: list[set[str]] = [
    {"__init__", "errors", "types", "budgets", "formats", "registry"},  # vocabulary and the registry
    {"grading"},
    {"engines"},
    {"tasks", "toy"},
    {"methods"},
    {"testing"},  # test support: a scripted engine, tiny models (as Inspect ships its mock model)
    {"results"},  # store, the one reader, rescore
    {"run"},  # config, execute, the sweep, the pipeline, sharing, records
    {"interop"},  # lm-eval
    {"analysis"},  # stats, runs and paper metrics, votes, problems, strata, equal cost, regression
    {"report"},  # tables, figures, views, writers
    {"cli", "__main__"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
PACKAGE = Path(budgetbench.__file__).resolve().parent
MAX_TOP_LEVEL_MODULES = 8


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"  # "budgetbench" itself: its __init__


def package_sources() -> dict[str, str]:
    """Module name -> source of every module of budgetbench (a package's ``__init__`` under the
    package's name followed by ``.__init__``)."""
    sources = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        sources[".".join(["budgetbench", *parts])] = path.read_text(encoding="utf-8")
    return sources


def imports(module: str, source: str) -> list[tuple[str, list[str]]]:
    """(imported budgetbench module, names taken from it) for every import in ``source``,
    relative imports resolved, lazy ones (inside functions) included."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "budgetbench"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] == "budgetbench":
                found.append((base, [a.name for a in node.names]))
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """Upward imports and imports of another unit's private names, one line each."""
    problems = []
    for module, source in sources.items():
        unit = unit_of(module)
        for target, names in imports(module, source):
            other = unit_of(target)
            if other not in RANK or unit not in RANK:
                problems.append(f"{module} -> {target}: {other if other not in RANK else unit} is in no layer")
            elif RANK[other] > RANK[unit]:
                problems.append(f"{module} -> {target}: upward ({unit} is below {other})")
            if other != unit:
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                private += [p for p in target.split(".") if p.startswith("_") and not p.startswith("__")]
                if private:
                    problems.append(f"{module} -> {target}: private name(s) {', '.join(private)} of {other}")
    return problems


def test_no_upward_or_private_imports():
    assert violations(package_sources()) == []


def test_a_planted_upward_import_fails():
    sources = package_sources()
    sources["budgetbench.grading.planted"] = "def f():\n    from budgetbench.report.tables import format_table\n"
    sources["budgetbench.engines.relative"] = "from ..run import sweep\n"
    sources["budgetbench.analysis.peek"] = "from budgetbench.results.store import _DISK\n"
    found = violations(sources)
    assert any(line.startswith("budgetbench.grading.planted -> budgetbench.report.tables: upward") for line in found)
    assert any(line.startswith("budgetbench.engines.relative -> budgetbench.run: upward") for line in found)
    assert any("private name(s) _DISK of results" in line for line in found)


def test_every_unit_is_in_a_layer_and_the_top_level_is_small():
    units = {unit_of(m) for m in package_sources()}
    assert units <= set(RANK), units - set(RANK)
    top = [p for p in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(p.name for p in top)
