"""The one registry: tasks and methods found by name.

A :class:`Registry` maps names to ``"module:attribute"`` references: the built-ins it is given,
then its entry-point group (how a third party adds a task or a method without editing
budgetbench), then any ``module:attribute`` reference itself. References are imported only when
an object is asked for, so listing names imports nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from budgetbench.errors import UserError


@dataclass(frozen=True)
class Registry:
    kind: str  # "task", "method": the word in error messages
    group: str  # the entry-point group, e.g. "budgetbench.methods"
    builtin: dict[str, str] = field(default_factory=dict)  # name -> "module:attribute", in display order
    listing: str = ""  # the command that lists them, for error messages

    def available(self) -> dict[str, str]:
        """Name -> reference: built-ins first (in their order), then the entry-point group."""
        found = dict(self.builtin)
        for ep in entry_points(group=self.group):
            found.setdefault(ep.name, ep.value)
        return found

    def reference(self, name: str) -> str:
        ref = self.available().get(name, name if ":" in name else None)
        if ref is None:
            known = ", ".join(sorted(self.available()))
            hint = f" ({self.listing} lists them)" if self.listing else ""
            raise UserError(f"unknown {self.kind} '{name}': choose one of {known}{hint}")
        return ref

    def load(self, name: str) -> Any:
        """The object ``name`` refers to; a UserError names what is wrong."""
        ref = self.reference(name)
        module_name, _, attr = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise UserError(f"{self.kind} '{name}': cannot import module '{module_name}'") from None
            raise UserError(f"{self.kind} '{name}': importing '{module_name}' failed: {exc}") from None
        except Exception as exc:  # a plugin that raises on import: its fault, said in one line
            raise UserError(f"{self.kind} '{name}': importing '{module_name}' failed: "
                            f"{type(exc).__name__}: {exc}") from None
        if not hasattr(module, attr):
            raise UserError(f"{self.kind} '{name}': module '{module_name}' has no '{attr}'")
        return getattr(module, attr)
