"""Length-control methods, found by name, and the catalogue the tables read about them.

Built-ins are listed in the s1 paper's order (Table 3), which is also the order of methods in
tables. A third party adds a method through the ``budgetbench.methods`` entry-point group (a
class following :class:`budgetbench.methods.base.Method`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from budgetbench.errors import UserError
from budgetbench.registry import Registry

METHODS = Registry("method", "budgetbench.methods", {
    "budget_forcing": "budgetbench.methods.budget_forcing:BudgetForcing",
    "token_conditional": "budgetbench.methods.conditional:TokenConditional",
    "token_conditional+bf": "budgetbench.methods.conditional:TokenConditionalBF",
    "step_conditional": "budgetbench.methods.conditional:StepConditional",
    "step_conditional+bf": "budgetbench.methods.conditional:StepConditionalBF",
    "class_conditional": "budgetbench.methods.conditional:ClassConditional",
    "rejection_sampling": "budgetbench.methods.rejection:RejectionSampling",
    "majority_vote": "budgetbench.methods.majority_vote:MajorityVote",
    "none": "budgetbench.methods.budget_forcing:NoControl",
}, listing="bench methods")


def load_method(name: str) -> type:
    """The class of method ``name`` (a UserError if there is none)."""
    cls = METHODS.load(name)
    if not isinstance(cls, type):
        raise UserError(f"method '{name}': {METHODS.reference(name)} is not a class")
    return cls


@dataclass(frozen=True)
class MethodInfo:
    """What tables and figures need to know about a method, from its class attributes."""

    name: str
    label: str
    description: str
    budget_unit: str
    tokens_per_unit: float | None
    named_budgets: tuple[str, ...]
    reference_budget: str | None
    votes: bool
    rank: int  # position in tables: the built-ins' order, then other methods

    def a_max(self, budget: object) -> float | None:
        """The token cap a numeric budget stands for (Control, adherence), None if there is none."""
        if self.tokens_per_unit is None or isinstance(budget, bool) or not isinstance(budget, (int, float)):
            return None
        return float(budget) * self.tokens_per_unit


@lru_cache(maxsize=None)
def method_info(name: str) -> MethodInfo:
    """The catalogue entry of ``name``. A method that is not installed here (results made
    elsewhere) gets a token method's defaults under its own name."""
    names = list(METHODS.available())
    rank = names.index(name) if name in names and name in METHODS.builtin else len(METHODS.builtin)
    try:
        cls = load_method(name) if name in names else None
    except UserError:
        cls = None
    if cls is None:
        return MethodInfo(name, name, "", "tokens", 1.0, (), None, False, rank)
    return MethodInfo(name, cls.label or name, cls.description, cls.budget_unit, cls.tokens_per_unit,
                      tuple(cls.named_budgets), cls.reference_budget, bool(cls.votes), rank)


def catalogue() -> list[MethodInfo]:
    """Every available method, in table order."""
    return sorted((method_info(name) for name in METHODS.available()), key=lambda m: (m.rank, m.name))
