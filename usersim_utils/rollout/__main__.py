"""Command line: ``python -m usersim_utils.rollout --simulator MODEL --agent MODEL
--domains retail:0-4,airline:0-2 --runs N --concurrency K --max-user-turns T --out DIR``.

The last line printed is ``conversations=N model_calls=M cache_hits=K cost_usd=X``: N of
the conversations asked for are finished (the results file also keeps those of
earlier runs of the label), M calls were made and K replayed by this command.
Bad arguments give one ``error: ...`` line on stderr and exit status 2, as do an
unusable ``--out``, an ``--api-base`` that accepts no connection and another process
rolling out the same label into the same folder (these still end with the summary
line, of zeros). Conversations that failed are listed on stderr and give exit status
1 (the finished ones are kept); so does a write that fails mid-run (a full disk).
Ctrl-C stops at once with status 130 and one line, abandoning the calls in flight;
the same command resumes. API keys come from the environment only
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...); error lines never show their values.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from .. import ids, paths
from .client import DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_RETRY_BUDGET_S, Ledger
from .errors import RolloutError, describe
from .local_model import MODEL as LOCAL_MODEL
from .runner import MAX_RUNS, RolloutConfig, RolloutSummary, run_rollouts


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error: ...`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = _OneLineParser(
        prog="python -m usersim_utils.rollout",
        description="Run a user simulator against a tool-using agent on the study's tau-bench tasks.",
        epilog=(
            "Models are litellm model strings: the embedded offline model "
            f"{LOCAL_MODEL!r}, a hosted one ('gpt-4o', 'anthropic/claude-...', keys from the environment), "
            "or any OpenAI-compatible server ('openai/<served-model-name>' with --api-base http://host:port/v1)."
        ),
    )
    p.add_argument("--simulator", default=LOCAL_MODEL, help="litellm model string of the user simulator")
    p.add_argument("--agent", default=LOCAL_MODEL, help="litellm model string of the agent")
    p.add_argument("--domains", required=True, help="tasks, e.g. 'retail:0-4,airline:0-2' or 'all' (165 tasks)")
    p.add_argument("--runs", type=int, default=1, help=f"conversations per task, 1..{MAX_RUNS}")
    p.add_argument("--concurrency", type=int, default=4, help="conversations played at the same time")
    p.add_argument("--max-user-turns", type=int, default=80, help="simulator turns per conversation")
    p.add_argument("--max-tool-calls", type=int, default=64, help="agent tool calls per agent turn")
    p.add_argument(
        "--out", type=Path, default=paths.ROLLOUTS_DIR, help="output folder (default data/processed/rollouts)"
    )
    p.add_argument("--label", default=None, help="output label (default: derived from --simulator)")
    p.add_argument("--api-base", default=None, help="OpenAI-compatible endpoint for both models")
    p.add_argument("--simulator-api-base", default=None, help="endpoint for the simulator only")
    p.add_argument("--agent-api-base", default=None, help="endpoint for the agent only")
    p.add_argument(
        "--simulator-prompt",
        choices=("auto", "chat", "transcript"),
        default="auto",
        help="chat = tau-bench's framing; transcript = continue a transcript (auto: transcript for local/ models)",
    )
    p.add_argument("--simulator-temperature", type=float, default=None, help="default: provider's default")
    p.add_argument("--agent-temperature", type=float, default=None, help="default: provider's default")
    p.add_argument("--agent-reasoning-effort", default=None, help="e.g. 'low' (the study's GPT-5.2 agent)")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help="longest wait for one attempt of a model call (default %(default)g)",
    )
    p.add_argument(
        "--retry-budget",
        type=float,
        default=DEFAULT_RETRY_BUDGET_S,
        metavar="SECONDS",
        help="longest time one model call may take over all its attempts and waits (default %(default)g)",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_MAX_RETRIES,
        help="retries of a model call after a timeout, rate limit, connection error or 5xx (default %(default)d)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = RolloutConfig(
            simulator=args.simulator,
            agent=args.agent,
            tasks=tuple(ids.parse_task_spec(args.domains)),
            runs=args.runs,
            concurrency=args.concurrency,
            max_user_turns=args.max_user_turns,
            max_tool_calls=args.max_tool_calls,
            out_dir=args.out,
            label=args.label,
            api_base=args.api_base,
            simulator_api_base=args.simulator_api_base,
            agent_api_base=args.agent_api_base,
            simulator_prompt=args.simulator_prompt,
            simulator_temperature=args.simulator_temperature,
            agent_temperature=args.agent_temperature,
            agent_reasoning_effort=args.agent_reasoning_effort,
            request_timeout_s=args.request_timeout,
            retry_budget_s=args.retry_budget,
            max_retries=args.max_retries,
        ).validated()
    except ValueError as exc:  # includes DataError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        summary = run_rollouts(config, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("error: interrupted; finished conversations are saved, rerun the same command to resume", file=sys.stderr)
        return 130
    except RolloutError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        if exc.summary is None:  # it never started
            print(RolloutSummary.line(0, Ledger().to_json()), flush=True)
            return 2
        report(exc.summary)
        return 1
    report(summary)
    return 1 if summary.failures else 0


def report(summary: RolloutSummary) -> None:
    """The failed conversations and the files on stderr, then the summary line."""
    for key, problem in summary.failures.items():
        print(f"error: {key}: {problem}", file=sys.stderr)
    if summary.set_aside:
        print(
            f"note: {summary.set_aside} conversation(s) of label {summary.label!r} were played with other settings; "
            f"they stay in {summary.eval_results_path.parent / '.work' / summary.label} and are not in the results",
            file=sys.stderr,
        )
    if summary.written:
        print(
            f"wrote {summary.eval_results_path} and {summary.survey_path} "
            f"({len(summary.label_records)} conversations of label {summary.label!r})",
            file=sys.stderr,
        )
    elif not summary.label_records:
        print(f"no finished conversation: {summary.eval_results_path} not written", file=sys.stderr)
    print(summary.summary_line(), flush=True)


if __name__ == "__main__":
    status = main()
    if status == 130:
        # Ctrl-C: leave now. Tearing down the interpreter (litellm's modules) takes
        # seconds; everything worth keeping is on disk, and calls in flight are abandoned.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
