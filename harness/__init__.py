"""budgetbench: benchmark test-time length-control methods for reasoning models."""

__version__ = "0.1.0"
