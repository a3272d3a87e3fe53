"""Simulator rollouts on the study's 165 tau-bench tasks (issue 4).

``run_rollouts(RolloutConfig(...))`` plays a user simulator against a tool-using agent
(any litellm model strings; ``local/smollm2-135m`` is the embedded offline model) and
writes ``eval_results_<label>.json`` / ``survey_comparable_<label>.json`` in the
study's formats. Command line: ``python -m usersim_utils.rollout --help``.
"""

import os

# litellm fetches a model price map from the network at import unless this is set;
# it must be set before anything in this package imports litellm.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from .local_model import MODEL as LOCAL_MODEL  # noqa: E402
from .runner import RolloutConfig, RolloutSummary, default_label, run_rollouts  # noqa: E402

__all__ = ["LOCAL_MODEL", "RolloutConfig", "RolloutSummary", "default_label", "run_rollouts"]
