"""Simulator rollouts on the study's 165 tau-bench tasks.

``run_rollouts(RolloutConfig(...))`` plays a user simulator against a tool-using agent
(any litellm model strings; ``local/smollm2-135m`` is the embedded offline model) and
writes ``eval_results_<label>.json`` / ``survey_comparable_<label>.json`` in the
study's formats. Command line: ``python -m usersim_utils.rollout --help``.
"""

import os

# litellm fetches a model price map from the network at import unless this is set;
# it must be set before anything in this package imports litellm.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from typing import Any  # noqa: E402

__all__ = ["LOCAL_MODEL", "RolloutConfig", "RolloutSummary", "default_label", "run_rollouts"]


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: the runner imports litellm (seconds), which
    ``usersim_utils.rollout.card`` (read by the scoring command) and ``--dry-run`` do not need."""
    if name == "LOCAL_MODEL":
        from .prompts import LOCAL_MODEL

        return LOCAL_MODEL
    if name == "RolloutSummary":
        from .summary import RolloutSummary

        return RolloutSummary
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
