"""Command line: ``usersim-rollout --simulator MODEL --agent MODEL
--tasks retail:0-4,airline:0-2 --runs N --concurrency K --max-user-turns T --out DIR``,
or ``usersim-rollout --card CARD.toml --tasks ... --runs N --out DIR`` (also run as
``python -m usersim_utils.rollout``; ``--domains`` is the older name of ``--tasks``)
(:mod:`usersim_utils.rollout.card`; flags given beside ``--card`` override its fields).
The resolved card is written beside the results as ``card_<label>.json``.

``--dry-run`` calls no model and writes nothing: it prints the conversations, calls,
tokens and cost the run would take (:mod:`usersim_utils.rollout.forecast`); its last
line is ``estimated_calls=… estimated_tokens=… estimated_cost_usd=LOW-HIGH``.

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

from .. import command_line, ids, paths
from . import card as card_mod
from .client import DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_RETRY_BUDGET_S, Ledger
from .errors import RolloutError, describe
from .prompts import DEFAULT_MAX_TOOL_CALLS, DEFAULT_MAX_USER_TURNS, LOCAL_MODEL
from .redact import redact
from .replies import DEFAULT_MAX_REPLY_BYTES
from .runner import MAX_RUNS, RolloutConfig, run_rollouts
from .summary import RolloutSummary

#: Card field -> RolloutConfig field.
CARD_TO_CONFIG = {
    "name": "label",
    "simulator.model": "simulator",
    "simulator.api_base": "simulator_api_base",
    "simulator.temperature": "simulator_temperature",
    "simulator.prompt_text": "simulator_template",
    "simulator.prompt_file": "simulator_prompt_file",
    "simulator.prompt_style": "simulator_prompt",
    "agent.model": "agent",
    "agent.api_base": "agent_api_base",
    "agent.harness": "agent_harness",
    "agent.reasoning_effort": "agent_reasoning_effort",
    "agent.temperature": "agent_temperature",
    "agent.api": "agent_api",
    "protocol.max_user_turns": "max_user_turns",
    "protocol.max_agent_rounds": "max_tool_calls",
    "persona.source": "persona_source",
    "persona.seed": "persona_seed",
    "card_file": "card_file",
}
#: Values of the card fields when neither the card nor a flag gives them.
CONFIG_DEFAULTS = {
    "simulator": LOCAL_MODEL,
    "agent": LOCAL_MODEL,
    "max_user_turns": DEFAULT_MAX_USER_TURNS,
    "max_tool_calls": DEFAULT_MAX_TOOL_CALLS,
    "simulator_prompt": "auto",
    "agent_harness": "auto",
    "agent_api": "auto",
    "persona_seed": 0,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-rollout``."""
    p = command_line.command_parser(
        "usersim-rollout",
        "Run a user simulator against a tool-using agent on the study's tau-bench tasks. Models are litellm "
        f"model strings: the embedded offline model {LOCAL_MODEL!r}, a hosted one ('gpt-4o', "
        "'anthropic/claude-...', keys from the environment), or any OpenAI-compatible server "
        "('openai/<served-model-name>' with --api-base http://host:port/v1). Also run as python -m "
        "usersim_utils.rollout.",
        "usersim-rollout --tasks retail:0,airline:7 --runs 1 --dry-run",
    )
    p.add_argument("--card", type=Path, default=None, help="simulator card (TOML); flags given override its fields")
    p.add_argument("--dry-run", action="store_true", help="call no model: print the expected calls, tokens and cost")
    p.add_argument(
        "--simulator", default=None, help=f"litellm model string of the user simulator (default: {LOCAL_MODEL})"
    )
    p.add_argument("--agent", default=None, help=f"litellm model string of the agent (default: {LOCAL_MODEL})")
    # --domains: the flag's first name, kept for the command lines written with it
    p.add_argument("--tasks", "--domains", dest="tasks", required=True, metavar="SPEC",
                   help="the study's tasks, e.g. 'retail:0-4,airline:0-2' or 'all' (165 tasks)")
    p.add_argument("--runs", type=int, default=1, help=f"conversations per task, 1..{MAX_RUNS}")
    p.add_argument("--concurrency", type=int, default=4, help="conversations played at the same time")
    p.add_argument("--max-user-turns", type=int, default=None,
                   help=f"simulator turns per conversation (default: {DEFAULT_MAX_USER_TURNS})")
    p.add_argument(
        "--max-tool-calls", "--max-agent-rounds", dest="max_tool_calls", type=int, default=None,
        help=f"agent tool calls (function calling) or rounds (study harness) per agent turn (default: "
             f"{DEFAULT_MAX_TOOL_CALLS})",
    )
    p.add_argument(
        "--agent-harness", choices=("auto", "study", "function-calling"), default=None,
        help="study = the study's text catalogue and call markup; auto: study for hosted agents (default: auto)",
    )
    p.add_argument(
        "--agent-api", choices=("auto", "responses", "chat"), default=None,
        help="auto: the Responses API for the study harness on a hosted agent, else chat completions (default: auto)",
    )
    p.add_argument("--simulator-prompt-file", type=Path, default=None, help="simulator prompt template ({instruction})")
    p.add_argument("--persona", choices=card_mod.PERSONA_SOURCES, default=None, help="per-conversation style targets")
    p.add_argument(
        "--out", type=Path, default=paths.ROLLOUTS_DIR, help="output folder (default: data/processed/rollouts)"
    )
    p.add_argument("--label", default=None, help="output label (default: derived from --simulator)")
    p.add_argument("--api-base", default=None, help="OpenAI-compatible endpoint for both models")
    p.add_argument("--simulator-api-base", default=None, help="endpoint for the simulator only")
    p.add_argument("--agent-api-base", default=None, help="endpoint for the agent only")
    p.add_argument(
        "--simulator-prompt",
        choices=("auto", "chat", "transcript"),
        default=None,
        help="chat = tau-bench's framing; transcript = continue a transcript; auto: transcript for local/ models "
             "(default: auto)",
    )
    p.add_argument("--simulator-temperature", type=float, default=None,
                   help="sampling temperature of the simulator, 0-2 (default: the provider's)")
    p.add_argument("--agent-temperature", type=float, default=None,
                   help="sampling temperature of the agent, 0-2 (default: the provider's)")
    p.add_argument("--agent-reasoning-effort", default=None, help="e.g. 'low' (the study's GPT-5.2 agent)")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help="longest wait for one attempt of a model call (default: %(default)g)",
    )
    p.add_argument(
        "--retry-budget",
        type=float,
        default=DEFAULT_RETRY_BUDGET_S,
        metavar="SECONDS",
        help="longest time one model call may take over all its attempts and waits (default: %(default)g)",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_MAX_RETRIES,
        help="retries of a model call after a timeout, rate limit, connection error or 5xx (default: %(default)d)",
    )
    p.add_argument(
        "--max-reply-bytes",
        type=int,
        default=DEFAULT_MAX_REPLY_BYTES,
        metavar="BYTES",
        help="largest model reply accepted; a larger one fails its conversation (default: %(default)d)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def config_fields(args: argparse.Namespace) -> dict[str, object]:
    """RolloutConfig fields from the card (if any), flags over it, then the defaults.
    ``ValueError`` (one line) for a bad card or template file."""
    card = card_mod.read_card(args.card) if args.card is not None else {}
    fields = {CARD_TO_CONFIG[k]: v for k, v in card.items()}
    flags = {
        "label": args.label,
        "simulator": args.simulator,
        "agent": args.agent,
        "api_base": args.api_base,
        # --api-base also beats an endpoint the card names for one side
        "simulator_api_base": args.simulator_api_base or (args.api_base if "simulator_api_base" in fields else None),
        "agent_api_base": args.agent_api_base or (args.api_base if "agent_api_base" in fields else None),
        "simulator_temperature": args.simulator_temperature,
        "agent_temperature": args.agent_temperature,
        "agent_reasoning_effort": args.agent_reasoning_effort,
        "simulator_prompt": args.simulator_prompt,
        "max_user_turns": args.max_user_turns,
        "max_tool_calls": args.max_tool_calls,
        "agent_harness": args.agent_harness,
        "agent_api": args.agent_api,
        "persona_source": args.persona,
    }
    if args.simulator_prompt_file is not None:
        path = args.simulator_prompt_file
        try:
            flags["simulator_template"] = card_mod.read_text_file(path, "a prompt template")
        except ValueError as exc:
            raise ValueError(f"--simulator-prompt-file: {exc}") from None
        flags["simulator_prompt_file"] = str(path.resolve())
    return {**CONFIG_DEFAULTS, **card_mod.merge(fields, flags)}


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = RolloutConfig(
            tasks=tuple(ids.parse_task_spec(args.tasks)),
            runs=args.runs,
            concurrency=args.concurrency,
            out_dir=args.out,
            request_timeout_s=args.request_timeout,
            retry_budget_s=args.retry_budget,
            max_retries=args.max_retries,
            max_reply_bytes=args.max_reply_bytes,
            **config_fields(args),
        ).validated()
    except ValueError as exc:  # includes DataError
        print(f"error: {redact(str(exc))}", file=sys.stderr)  # an --api-base may carry a password
        return 2
    if args.dry_run:
        return dry_run(config)
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


def dry_run(config: RolloutConfig) -> int:
    """Print what ``config`` would cost (no model call, no file written); status 0."""
    from ..taubench import load_domain
    from . import forecast
    from .harness import agent_system_prompt
    from .prompts import default_template

    settings = config.protocol_settings()
    template = settings.simulator_template or default_template(settings.agent_harness)
    domains = [load_domain(d) for d in ids.DOMAINS if any(t.startswith(f"{d}_") for t in config.tasks)]
    instruction_chars = max(len(t.instruction) for d in domains for t in d.tasks)
    policy_chars = max(
        len(agent_system_prompt(d.wiki, d.tools_info)) if settings.agent_harness == "study" else len(d.wiki) + 6000
        for d in domains
    )  # function calling: the tool schemas travel beside the policy (about 6,000 characters)
    conversations = len(config.tasks) * config.runs
    result = forecast.forecast(
        simulator=settings.simulator,
        agent=settings.agent,
        conversations=conversations,
        max_user_turns=settings.max_user_turns,
        simulator_prompt_chars=len(template) + instruction_chars,
        agent_prompt_chars=policy_chars,
        reasoning=bool(settings.agent_reasoning_effort),
    )
    low, mid, high = result.user_turns
    print(f"dry run of label {config.label!r}: no model is called, nothing is written")
    print(f"simulator {settings.simulator} | agent {settings.agent} ({settings.agent_harness} harness, "
          f"{settings.agent_api} API, reasoning effort {settings.agent_reasoning_effort or 'not sent'})")
    print(f"conversations: {conversations} ({len(config.tasks)} tasks x {config.runs} run(s))")
    print(f"simulator turns per conversation: {mid} (low {low}, high {high}; from the {result.turns_source})")
    print(f"model calls: {result.calls}   tokens: {result.tokens}")
    print(f"cost: {result.cost_low_usd:.2f}-{result.cost_high_usd:.2f} USD (litellm's offline price map)")
    if result.unpriced:
        print(f"not priced (counted as 0): {', '.join(result.unpriced)}")
    print(result.last_line(), flush=True)
    return 0


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
