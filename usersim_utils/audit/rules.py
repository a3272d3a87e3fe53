"""The audit's rules: how a conversation is read, what a task requires, the seven flags
(one documented rule each, :data:`FLAGS`) and the per-conversation tables of a file's
records (:func:`audit_records`). See :mod:`usersim_utils.audit`."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import features, ids, schema
from .. import taubench as env
from ..diversity import tokens
from ..errors import DataError

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
