"""lm-eval's own command line with the ``budgetbench`` model registered.

lm-eval 0.4.10-0.4.13 find models only in their own registry: its CLI cannot discover a model
that lives in another package. This entry point imports the plugin (``budgetbench.interop.lm_eval_model``,
whose ``@register_model("budgetbench")`` runs on import) and hands over to lm-eval's CLI, so
every lm-eval flag, output file and task works unchanged::

    python -m budgetbench.interop.lm_eval_cli --model budgetbench --model_args pretrained=DIR \\
        --tasks gsm8k --gen_kwargs method=budget_forcing,budget=2048 --output_path out/

lm-eval releases that read the ``lm_eval.models`` entry-point group find the model through
budgetbench's own entry point, and plain ``lm_eval --model budgetbench`` works there too.
"""

from __future__ import annotations

import sys

from budgetbench.errors import UserError


def main(argv: list[str] | None = None) -> None:
    try:
        import budgetbench.interop.lm_eval_model  # noqa: F401  (registers the "budgetbench" model)
        from lm_eval.__main__ import cli_evaluate
    except UserError as exc:
        sys.exit(f"error: {exc}")
    except ImportError:
        sys.exit("error: lm-eval interop needs the 'lm-eval' package: pip install 'budgetbench[lm-eval]'")
    sys.argv = ["lm_eval", *(sys.argv[1:] if argv is None else argv)]
    cli_evaluate()


if __name__ == "__main__":
    main()
