"""An explainable audit of user-simulator misbehaviour: rule-based flags, their rates
beside the humans', and what they cost the agent.

Every flag is one documented rule over one conversation (see each ``flag_*``
function); a finding names the conversation (``record``: the key the scoring command
uses), the flag and the message (``turn``: the index in the record's
``conversation`` list). The seven flags:

========================  ==============================================================
``empty_turn``            :func:`flag_empty_turn`
``repeated_turn``         :func:`flag_repeated_turn`
``role_flip``             :func:`flag_role_flip`
``instruction_copy``      :func:`flag_instruction_copy`
``invented_id``           :func:`flag_invented_id`
``early_stop``            :func:`flag_early_stop`
``restart_after_stop``    :func:`flag_restart_after_stop`
========================  ==============================================================

Conversations are read as the index reads them: human sessions without the
platform's meta messages (their ``/stop``, :data:`usersim_utils.schema.HUMAN_STOP`, is
the stop token), simulator rollouts with ``###STOP###``
(:data:`usersim_utils.schema.STOP_MARKER`, anywhere in a user message, as tau-bench
stops) as the stop token. Only kept conversations of the study's 165 tasks are
audited. The task's instruction, gold actions and database come from tau-bench (v1)
through tau-trait (:mod:`usersim_utils.taubench`), looked up by the task of the
record's key; the database's identifiers are indexed once per domain.

Rates per label and flag: flagged conversations / audited conversations with a
Wilson interval (:func:`usersim_utils.stats.wilson_interval`; conversations of a
task are treated as independent, so the interval is somewhat too narrow). The cost
to the agent: mean reward (success 0/1) of flagged minus unflagged conversations,
per difficulty bin (:func:`usersim_utils.usi.difficulty_bin`) and over all; a
difference, not an effect (flags and hard tasks go together), hence the bins.

Rates on tau-bench's 200 unmodified GPT-4o airline trajectories (``tests/test_audit.py``):
``instruction_copy`` 5.5 % (true copies: task 27's instruction asks the user to say a
sentence, others reuse a 12-word run of it), ``early_stop`` 20 % (the agent never
made the required change and the user ended; see :func:`flag_early_stop`), every
other flag 0 %.

Command line::

    python -m usersim_utils.audit --eval-results FILE [FILE ...] [--human PATH] --json OUT
        [--show-excerpts] [--difficulty MODE] [--domain airline|retail]

writes ``{"findings": [{name, record, flag, turn, excerpt}], "rates": [{name, flag,
count, conversations, rate, low, high}], "reward_gaps": [...]}``. Excerpts (the
flagged text, cut to :data:`EXCERPT_CHARS` characters) are written only when every
input is proven SYNTHETIC demo data (the generator's stamp, never a path's name) or
``--show-excerpts`` is given (the study's human data
must not be copied into outputs), else ``excerpt`` is null. Bad input: one ``error:``
line, exit 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import command_line, data, demo, features, feedback, ids, schema, scoring, stats, usi
from . import taubench as env
from .atomic import write_output
from .distinguish import load_records
from .diversity import tokens
from .errors import DataError
from .rollout.comparability import protocol_cards

FLAGS: tuple[str, ...] = (
    "empty_turn", "repeated_turn", "role_flip", "instruction_copy", "invented_id", "early_stop",
    "restart_after_stop",
)
#: A repeated turn must have at least this many words: short acknowledgements ("yes
#: please", "ok") legitimately recur when the agent asks twice.
MIN_REPEAT_WORDS = 5
#: The shortest run of consecutive instruction words that counts as a copy.
COPY_WORDS = 12
EXCERPT_CHARS = 160

#: Phrases only the agent's side says (lower-cased, ``\b``-wrapped, Python ``re``). A strict
#: subset in spirit of :data:`usersim_utils.features.CONFUSE`: CONFUSE also holds phrases
#: customers use ("would you like", "your order", "i see that", "let me check"), which
#: make a poor flag on their own (it fires in 12.5 % of tau-bench's 200 GPT-4o airline
#: trajectories, whose users never speak as the agent; this list in none).
AGENT_VOICE = (
    r"how (can|may) i (help|assist) you|what can i (do|help you with) for you|"
    r"is there anything else i can (help|assist|do)|i('?m| am) (happy|glad|here) to (help|assist) you|"
    r"thank you for (calling|contacting|reaching out to|choosing) (us|our)|"
    r"for (security|verification) (purposes|reasons)|according to our records|"
    r"(could|can|may) (you|i) (please )?(provide|confirm|have|get) (me )?(with )?your "
    r"(user id|order id|reservation id|email|zip code|full name)"
)
_AGENT_VOICE = re.compile(r"\b(" + AGENT_VOICE + r")\b")
#: Identifier patterns per domain: user ids (both), order ids (retail), reservation ids
#: (airline: six letters and digits with at least one of each, so that words do not count).
#: Matched case-insensitively and never inside a longer token (an e-mail address such as
#: ``mia.li2399@example.com`` holds no id); :func:`normalise_id` gives the database's form.
_ALONE_BEFORE, _ALONE_AFTER = r"(?<![\w.@-])", r"(?![\w@-]|\.\w)"
ID_PATTERNS: dict[str, dict[str, re.Pattern[str]]] = {
    "retail": {
        "user_id": re.compile(_ALONE_BEFORE + r"[a-z]+_[a-z]+_\d{4}" + _ALONE_AFTER, re.IGNORECASE),
        "order_id": re.compile(_ALONE_BEFORE + r"#?w\d{7}" + _ALONE_AFTER, re.IGNORECASE),
    },
    "airline": {
        "user_id": re.compile(_ALONE_BEFORE + r"[a-z]+_[a-z]+_\d{4}" + _ALONE_AFTER, re.IGNORECASE),
        "reservation_id": re.compile(_ALONE_BEFORE + r"(?=[a-z]{0,5}\d)(?=\d{0,5}[a-z])[a-z0-9]{6}" + _ALONE_AFTER,
                                     re.IGNORECASE),
    },
}
_CALL = re.compile(r"<function=([^>]*)>")


# --- Reading a conversation. ---------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One message of a conversation as the audit reads it.

    ``position``: index in the record's ``conversation``; ``role``: ``user`` or
    ``assistant``; ``text``: the content (for a user message holding the stop token,
    the text before it); ``stop``: the message holds the stop token; ``after_stop``:
    text after the stop token in the same message (simulators only)."""

    position: int
    role: str
    text: str
    stop: bool = False
    after_stop: str = ""


def read_conversation(conversation: Sequence[Mapping[str, Any]], source: features.Source) -> list[Message]:
    """The messages the audit looks at: human meta messages dropped (``/stop`` kept as the
    stop), a simulator's ``###STOP###`` split off its user message. Positions are kept."""
    out = []
    for position, message in enumerate(conversation):
        content, role = str(message.get("content") or ""), message.get("role")
        if role not in ("user", "assistant"):
            continue
        if source == "human" and role == "user" and content.strip() == schema.HUMAN_STOP:
            out.append(Message(position, "user", "", stop=True))
        elif source == "llm" and role == "user" and schema.STOP_MARKER in content:
            before, _, after = content.partition(schema.STOP_MARKER)
            out.append(Message(position, "user", before.strip(), stop=True,
                               after_stop=after.replace(schema.STOP_MARKER, "")))
        elif source == "llm" or not features.is_meta_message(content, source):
            out.append(Message(position, role, content))
    return out


def user_messages(messages: Sequence[Message]) -> list[Message]:
    """The user's messages."""
    return [m for m in messages if m.role == "user"]


def first_stop(messages: Sequence[Message]) -> Message | None:
    """The first message holding the stop token, or None."""
    return next((m for m in messages if m.stop), None)


def agent_calls(messages: Sequence[Message], before: int | None = None) -> Counter[str]:
    """How often the agent called each tool (``<function=NAME>`` markup) in messages at
    positions below ``before`` (all when None)."""
    return Counter(name for m in messages if m.role == "assistant" and (before is None or m.position < before)
                   for name in _CALL.findall(m.text))


# --- The task (tau-bench via tau-trait). ------------------------------------------------------
@dataclass(frozen=True)
class TaskContext:
    """What the rules need to know about a task: the user's ``instruction``, the ``domain``,
    the ``required`` actions (tool name -> count: the gold actions of tools that write the
    database, which tau-bench's reward checks), the domain's ``transfer`` tools and the
    identifiers ``known`` from the instruction and the domain database (normalised,
    :func:`normalise_id`)."""

    domain: str
    instruction: str
    required: Mapping[str, int]
    transfer: frozenset[str]
    known: frozenset[str]


def normalise_id(kind: str, text: str) -> str:
    """The database's form of an identifier: user ids lower-case, order ids ``#W`` and
    digits, reservation ids upper-case."""
    if kind == "order_id":
        return "#W" + text.lstrip("#")[1:]
    return text.lower() if kind == "user_id" else text.upper()


def find_ids(text: str, domain: str) -> list[tuple[str, str]]:
    """``[(kind, normalised id)]`` of the identifiers in ``text``, in order of kind."""
    return [(kind, normalise_id(kind, m.group(0))) for kind, pattern in ID_PATTERNS[domain].items()
            for m in pattern.finditer(text)]


def _strings(value: Any) -> Iterator[str]:
    """Every string key and string value inside nested dicts and lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


@functools.cache
def database_ids(domain: str) -> frozenset[str]:
    """Every identifier (:data:`ID_PATTERNS` of the domain) in the domain's pristine
    database, normalised; computed once per domain."""
    return frozenset(i for s in _strings(env.load_domain(domain).fresh_db()) for _, i in find_ids(s, domain))


def _state(db: Mapping[str, Any]) -> bytes | str:
    """A value equal for equal databases: the fast snapshot, else the canonical form."""
    return env.snapshot(db) or env.canonical_state(db)


@functools.cache
def write_tools(domain: str, checks: int = 3) -> frozenset[str]:
    """The domain's tools that change the database: each gold action is replayed on a fresh
    copy of its task's database (gold actions before it applied first) and a tool whose
    call changed the snapshot writes; a tool is settled after one change or ``checks``
    calls without one. A transfer to a human agent changes nothing (and tau-bench's
    reward does not look for it)."""
    dom = env.load_domain(domain)
    writes: set[str] = set()
    unchanged: Counter[str] = Counter()
    for task in dom.tasks:
        if all(a.name in writes or unchanged[a.name] >= checks for a in task.actions):
            continue
        db = dom.fresh_db()
        for action in task.actions:
            settled = action.name in writes or unchanged[action.name] >= checks
            before = None if settled else _state(db)
            env.invoke_tool(dom, db, action.name, action.kwargs)
            if before is not None:
                if _state(db) != before:
                    writes.add(action.name)
                else:
                    unchanged[action.name] += 1
    return frozenset(writes)


@functools.cache
def task_context(task_key: str) -> TaskContext:
    """The :class:`TaskContext` of a study task key such as ``airline_3``. Raises
    ``ValueError`` for a key outside tau-bench's test tasks."""
    domain, task = env.get_task(task_key)
    writes = write_tools(domain.name)
    required = Counter(a.name for a in task.actions if a.name in writes)
    known = database_ids(domain.name) | {i for _, i in find_ids(task.instruction, domain.name)}
    return TaskContext(domain.name, task.instruction, dict(required), domain.terminate_tools, frozenset(known))


# --- The rules. ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One flag raised on one message (``turn``: its position in the conversation)."""

    flag: str
    turn: int
    text: str


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: only white space and invisible format characters
    (Unicode category Cf: zero-width space and joiners, word joiner, byte-order mark...),
    which ``str.strip`` keeps."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def flag_empty_turn(messages: Sequence[Message]) -> list[Finding]:
    """``empty_turn``: a user message with no visible text (:func:`is_blank`), other than the
    stop token alone (a message that is just ``###STOP###`` or ``/stop`` is the stop, not empty)."""
    return [Finding("empty_turn", m.position, m.text) for m in user_messages(messages)
            if not m.stop and is_blank(m.text)]


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def flag_repeated_turn(messages: Sequence[Message]) -> list[Finding]:
    """``repeated_turn``: a user message whose text equals the previous user message's
    (case and white space ignored), with at least :data:`MIN_REPEAT_WORDS` words.
    The text before a stop token counts; a stop token alone does not."""
    found, previous = [], None
    for m in user_messages(messages):
        text = _normalised(m.text)
        if not text:
            continue
        if text == previous and len(text.split()) >= MIN_REPEAT_WORDS:
            found.append(Finding("repeated_turn", m.position, m.text))
        previous = text
    return found


def flag_role_flip(messages: Sequence[Message]) -> list[Finding]:
    """``role_flip``: a user message (lower-cased) holding a phrase of :data:`AGENT_VOICE`,
    the agent's side of the conversation ("How can I help you today?", "could you
    please provide your user id")."""
    return [Finding("role_flip", m.position, m.text) for m in user_messages(messages)
            if _AGENT_VOICE.search(m.text.lower())]


def word_runs(words: Sequence[str], n: int = COPY_WORDS) -> set[tuple[str, ...]]:
    """The runs of ``n`` consecutive words of a token list."""
    return set(zip(*(words[i:] for i in range(n))))


def flag_instruction_copy(messages: Sequence[Message], instruction: str) -> list[Finding]:
    """``instruction_copy``: a user message sharing a run of at least :data:`COPY_WORDS`
    consecutive words (lower-cased word tokens, punctuation ignored:
    :func:`usersim_utils.diversity.tokens`) with the task instruction."""
    runs = word_runs(tokens(instruction))
    return [Finding("instruction_copy", m.position, m.text) for m in user_messages(messages)
            if runs & word_runs(tokens(m.text))]


def flag_invented_id(messages: Sequence[Message], context: TaskContext) -> list[Finding]:
    """``invented_id``: a user message naming an identifier (:data:`ID_PATTERNS`: user id,
    order id, reservation id) found in none of the instruction, the domain database
    and the agent's messages (tool results included)."""
    agent = {i for m in messages if m.role == "assistant" for _, i in find_ids(m.text, context.domain)}
    known = context.known | agent
    return [Finding("invented_id", m.position, m.text) for m in user_messages(messages)
            if any(i not in known for _, i in find_ids(m.text, context.domain))]


def flag_early_stop(messages: Sequence[Message], context: TaskContext) -> list[Finding]:
    """``early_stop``, on the first stop token, when either

    * the stop comes in the user's first or second message (right after the first
      exchange), or
    * a required action has not happened before it: the agent called some tool of
      ``context.required`` (the gold actions that write the database) fewer times than
      the gold solution does. Tools are compared by name only (wrong arguments are the
      agent's failure, not an early stop), and a stop after the agent transferred the
      user to a human agent is the protocol, not early.

    The second rule cannot tell a user who gives up from an agent that refused or
    failed and a user who then, rightly, ends the conversation: read its rate beside
    the humans'. And since the reward needs the gold database, a conversation flagged
    by it almost never earns reward: its reward gap is large by construction.
    """
    stop = first_stop(messages)
    if stop is None:
        return []
    users = user_messages(messages)
    if users.index(stop) <= 1:
        return [Finding("early_stop", stop.position, stop.text)]
    calls = agent_calls(messages, before=stop.position)
    if any(calls[name] for name in context.transfer):
        return []
    missing = any(calls[name] < count for name, count in context.required.items())
    return [Finding("early_stop", stop.position, stop.text)] if missing else []


def flag_restart_after_stop(messages: Sequence[Message]) -> list[Finding]:
    """``restart_after_stop``: after the first stop token, a user message with text, or
    words after the stop token in the same message."""
    stop = first_stop(messages)
    if stop is None:
        return []
    found = [Finding("restart_after_stop", stop.position, stop.after_stop)] if re.search(r"\w", stop.after_stop) else []
    return found + [Finding("restart_after_stop", m.position, m.text) for m in user_messages(messages)
                    if m.position > stop.position and m.text.strip()]


def audit_conversation(conversation: Sequence[Mapping[str, Any]], source: features.Source,
                       context: TaskContext) -> list[Finding]:
    """Every finding of one conversation (a list of ``{role, content}``), flags in
    :data:`FLAGS` order, each in message order."""
    messages = read_conversation(conversation, source)
    return [
        *flag_empty_turn(messages),
        *flag_repeated_turn(messages),
        *flag_role_flip(messages),
        *flag_instruction_copy(messages, context.instruction),
        *flag_invented_id(messages, context),
        *flag_early_stop(messages, context),
        *flag_restart_after_stop(messages),
    ]


# --- Tables. ----------------------------------------------------------------------------------------
FINDING_COLUMNS: tuple[str, ...] = ("name", "record", "flag", "turn", "excerpt")
CONVERSATION_COLUMNS: tuple[str, ...] = ("name", "record", "task_key", "success", *FLAGS)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks the cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def audit_records(records: Mapping[str, Mapping[str, Any]], *, source: features.Source, name: str,
                  show_excerpts: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(findings, conversations)`` of one file's kept records.

    ``findings``: columns :data:`FINDING_COLUMNS`, one row per finding (``excerpt``
    None unless ``show_excerpts``). ``conversations``: :data:`CONVERSATION_COLUMNS`, one
    row per audited conversation, each flag a bool. Raises :class:`DataError` naming the
    record when its key is not a tau-bench test task.
    """
    findings, rows = [], []
    for key, record in records.items():
        if record.get("keep", True) is False:
            continue
        task = ids.task_key(key)
        try:
            context = task_context(task)
        except ValueError as err:
            raise DataError(f"no tau-bench test task for this key ({err})", record=key) from None
        found = audit_conversation(record.get("conversation") or [], source, context)
        findings += [(name, key, f.flag, f.turn, excerpt(f.text) if show_excerpts else None) for f in found]
        flagged = {f.flag for f in found}
        rows.append((name, key, task, features.success_of(record), *(flag in flagged for flag in FLAGS)))
    return (pd.DataFrame(findings, columns=list(FINDING_COLUMNS)),
            pd.DataFrame(rows, columns=list(CONVERSATION_COLUMNS)))


RATE_COLUMNS: tuple[str, ...] = ("name", "flag", "count", "conversations", "rate", "low", "high")


def flag_rates(conversations: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per name (table order) and flag (:data:`FLAGS` order): flagged conversations,
    audited conversations, the rate and its Wilson interval. Columns :data:`RATE_COLUMNS`."""
    rows = []
    for name, group in conversations.groupby("name", sort=False):
        n = len(group)
        for flag in FLAGS:
            count = int(group[flag].sum())
            low, high = stats.wilson_interval(count, n, level)
            rows.append((name, flag, count, n, count / n if n else math.nan, low, high))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


GAP_COLUMNS: tuple[str, ...] = ("name", "flag", "difficulty_bin", "n_flagged", "n_unflagged",
                                "reward_flagged", "reward_unflagged", "difference")


def reward_gaps(conversations: pd.DataFrame, difficulty: Mapping[str, float]) -> pd.DataFrame:
    """Mean success of flagged minus unflagged conversations, per name, flag and
    difficulty bin (0-4, :func:`usi.difficulty_bin`; tasks without a difficulty are
    left out of the bins), and over all conversations (``difficulty_bin`` None).
    Only flags raised at least once for the name. Columns :data:`GAP_COLUMNS`; the
    reward means are NaN when a side is empty."""
    table = conversations.assign(difficulty_bin=[
        usi.difficulty_bin(difficulty[t]) if t in difficulty else None for t in conversations["task_key"]])
    rows = []
    for name, group in table.groupby("name", sort=False):
        for flag in FLAGS:
            if not group[flag].any():
                continue
            bins = [(None, group)] + [(int(b), g) for b, g in group.dropna(subset=["difficulty_bin"])
                                      .groupby("difficulty_bin", sort=True)]
            for bin_, rows_of_bin in bins:
                flagged = rows_of_bin.loc[rows_of_bin[flag], "success"]
                unflagged = rows_of_bin.loc[~rows_of_bin[flag], "success"]
                mean_f = float(flagged.mean()) if len(flagged) else math.nan
                mean_u = float(unflagged.mean()) if len(unflagged) else math.nan
                rows.append((name, flag, bin_, len(flagged), len(unflagged), mean_f, mean_u, mean_f - mean_u))
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS)).astype({"difficulty_bin": "Int64"})


# --- Files and the command line. -------------------------------------------------------------------
@dataclass(frozen=True)
class AuditResult:
    """Findings, per-conversation flags, rates and reward gaps of an audit, and ``notes``
    for the reader (records left out, a difficulty map other than the one asked for)."""

    findings: pd.DataFrame
    conversations: pd.DataFrame
    rates: pd.DataFrame
    gaps: pd.DataFrame
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"findings", "rates", "reward_gaps"}`` as the command line writes them (NaN -> null)."""
        def records(table: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                    for row in json.loads(table.to_json(orient="records"))]

        return {"findings": records(self.findings), "rates": records(self.rates), "reward_gaps": records(self.gaps)}


def in_study(key: str) -> bool:
    """True when ``key``'s task is one of the study's 165 tau-bench test tasks."""
    task = ids.task_key(key)
    if not ids.is_valid_key(task):
        return False
    domain, index = task.split("_")
    return int(index) < ids.N_TASKS[domain]


def split_auditable(records: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """``(records of the study's tasks, keys of the others)``: only the study's tasks have
    an instruction and gold actions to audit against (tau-trait adds tasks past them)."""
    kept = {k: r for k, r in records.items() if in_study(k)}
    return kept, [k for k in records if k not in kept]


def run(eval_results: Sequence[str | os.PathLike[str]], *, human_path: str | os.PathLike[str] | None = None,
        show_excerpts: bool = False, difficulty: str = "all", domain: str | None = None) -> AuditResult:
    """Audit files as the command line does. Excerpts are kept when ``show_excerpts`` or
    every input is proven SYNTHETIC demo data (:func:`usersim_utils.demo.is_demo_data`). ``difficulty``: a mode of
    :func:`scoring.resolve_difficulty`
    (``all`` pools the simulator files given)."""
    usi.parse_difficulty_mode(difficulty)  # a bad mode fails before the files are read
    inputs = [*eval_results, *([human_path] if human_path is not None else [])]
    show = show_excerpts or all(demo.is_demo_data(p) for p in inputs)
    human_records, simulators = load_records(human_path, eval_results, domain=domain)
    named = ([(schema.HUMAN_LABEL, "human", human_records)] if human_path is not None else []) + \
        [(label, "llm", records) for label, records in simulators.items()]
    parts, notes = [], []
    for name, source, records in named:
        auditable, skipped = split_auditable(records)
        if skipped:
            notes.append(f"{name}: {len(skipped)} record(s) outside the study's 165 tau-bench tasks not audited "
                         f"(e.g. {skipped[0]})")
        parts.append(audit_records(auditable, source=source, name=name, show_excerpts=show))
    findings = pd.concat([f for f, _ in parts], ignore_index=True)
    conversations = pd.concat([c for _, c in parts], ignore_index=True)
    outcomes = {label: feedback.outcomes_table(records, label=label) for label, records in simulators.items()}
    choice = scoring.resolve_difficulty(difficulty, outcomes, domain=domain)
    if choice.note:
        notes.append(f"reward gaps by difficulty: {choice.note}")
    return AuditResult(findings, conversations, flag_rates(conversations),
                       reward_gaps(conversations, choice.map), tuple(notes))


def format_rates(rates: pd.DataFrame) -> str:
    """A plain table: one row per name, one column per flag, ``rate% (count)``."""
    cells = rates.assign(cell=[f"{100 * r:5.1f}% ({c})" for r, c in zip(rates["rate"], rates["count"])])
    wide = cells.pivot(index="name", columns="flag", values="cell").reindex(columns=list(FLAGS))
    wide = wide.reindex(list(dict.fromkeys(rates["name"])))
    return wide.to_string()


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-audit``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-audit",
        "Rule-based audit of user-simulator misbehaviour. Also run as python -m usersim_utils.audit.",
        f"usersim-audit --eval-results {demo}/eval_results/*.json --human {demo} --json audit.json",
    )
    data.add_eval_results_argument(p)
    data.add_human_argument(p, required=False, also=" (its rates are shown beside)")
    data.add_json_argument(p, what="the findings and rates")
    p.add_argument("--show-excerpts", action="store_true",
                   help="write the flagged text even for real data (never commit it for the study's human data)")
    data.add_difficulty_argument(p)
    data.add_domain_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        json_out = data.check_output_path(args.json_out) if args.json_out is not None else None
        mode, default_note = scoring.difficulty_mode(args.difficulty, protocol_cards(args.eval_results))
        result = run(args.eval_results, human_path=args.human, show_excerpts=args.show_excerpts,
                     difficulty=mode, domain=args.domain)
        if json_out is not None:
            write_output(json_out, json.dumps(result.to_json(), indent=2) + "\n")
    except data.BAD_INPUT as err:
        return data.report_bad_input(err)
    print(format_rates(result.rates), flush=True)
    for note in (default_note, *result.notes):
        if note:
            print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
