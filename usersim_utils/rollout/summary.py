"""What a rollout run produced (:class:`RolloutSummary`): kept apart from the runner so that
the run's errors can carry it (:class:`usersim_utils.rollout.errors.RolloutError`) without
naming the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RolloutSummary:
    """What a run produced: output files, this run's conversations (``records``, keyed by instance
    id), this invocation's ledger and the conversations that failed."""

    label: str
    eval_results_path: Path
    survey_path: Path
    ledger_path: Path
    card_path: Path
    records: dict[str, dict[str, Any]]
    ledger: dict[str, dict[str, float]]
    reused: int
    failures: dict[str, str] = field(default_factory=dict)
    #: Everything ``eval_results_<label>.json`` holds: ``records`` and the conversations
    #: earlier runs of the label finished with the same settings.
    label_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Whether ``eval_results``/``survey_comparable`` were (re)written by this run.
    written: bool = True
    #: Finished conversations of the label played with other settings (not in the files).
    set_aside: int = 0

    @property
    def conversations(self) -> int:
        """Number of this run's (task, run) pairs that are finished (now or before)."""
        return len(self.records)

    def summary_line(self) -> str:
        """``conversations=N model_calls=M cache_hits=K cost_usd=X`` (calls: this invocation)."""
        return self.line(self.conversations, self.ledger)

    @staticmethod
    def line(conversations: int, ledger: dict[str, dict[str, float]]) -> str:
        """The summary line of ``conversations`` and a ledger's ``total``."""
        total = ledger["total"]
        return (
            f"conversations={conversations} model_calls={int(total['model_calls'])} "
            f"cache_hits={int(total['cache_hits'])} cost_usd={total['cost_usd']:.6f}"
        )
