"""tau-bench (v1) retail and airline environments, taken from the ``tau-trait`` package.

``tau-trait`` (MIT) ships tau-bench's v1 databases, tools, policies (wikis) and test
tasks unchanged; its test task lists begin with the original 115 retail and 50
airline tasks, so index ``i`` here is the study's ``<domain>_<i>``. (Its airline
instructions carry tau-bench's later wording "Your user id is <id>" where the first
release wrote "You are <id>"; user, gold actions and outputs are identical, as a test
checks against tau-bench's own GPT-4o trajectories.)

Only tau-trait's data, tools and task lists are used, never its user simulators or
agents: its ``Env`` constructor builds an LLM user that calls a model at once, and
its package import pulls in litellm (seconds of start-up), creates two OpenAI clients
that demand ``OPENAI_API_KEY`` and reads a ``.env`` file two folders above the
working directory. The data, task and tool modules are therefore imported without
the packages' ``__init__`` (:func:`_packages_without_init`), and the import is also
*contained*: a clearly fake placeholder key is set only if none is present, and the
process environment is restored afterwards (the placeholder and anything the
``.env`` file added are removed, changed values are put back), so no key leaks in
and no placeholder leaks out. Those clients are never used; nothing here touches
the network.

The reward is tau-bench's rule-based reward (``Env.calculate_reward``): the final
database must equal the one obtained by replaying the task's gold actions on a
fresh database, and every required output must appear in some agent reply. tau-bench
compares ``sha256(str(to_hashable(data)))``; this module compares a canonical JSON
serialisation (sorted keys), which distinguishes the same things (``1`` from ``1.0``,
strings from numbers, key sets, order of lists) and is about ten times faster. It
compares record by record: a byte-equal ``marshal`` snapshot of a record (types,
values and order all equal) settles its equality; only a record whose snapshot
differs is compared in canonical form, because the same fields inserted in another
order are still the same record.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import json
import marshal
import os
import pickle
import sys
import threading
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ids

# Must precede the tau-trait import, which imports litellm (spec: no network at import).
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

#: The placeholder the contained import sets when no key is present; never a real key.
PLACEHOLDER_OPENAI_KEY = "sk-placeholder-usersim-not-a-real-key"
#: tau-bench's name for "the agent says something to the user".
RESPOND_ACTION = "respond"


@contextlib.contextmanager
def contained_environment() -> Iterator[None]:
    """Run a block with a fake ``OPENAI_API_KEY`` (if none is set), then restore
    ``os.environ`` exactly: keys added inside are removed, changed ones restored."""
    before = dict(os.environ)
    os.environ.setdefault("OPENAI_API_KEY", PLACEHOLDER_OPENAI_KEY)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        for name, value in before.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


#: tau-trait packages whose ``__init__`` imports its environments (LLM users, litellm:
#: seconds of start-up); the data, task and tool modules below need none of it.
_TAU_TRAIT_PACKAGES = ("tau_trait", "tau_trait.envs", "tau_trait.envs.retail", "tau_trait.envs.airline")


@contextlib.contextmanager
def _packages_without_init(names: tuple[str, ...]) -> Iterator[None]:
    """Import submodules of the packages ``names`` without running the packages'
    ``__init__``: empty placeholder packages (right ``__path__``) stand in for them
    during the block and are removed afterwards, so that a later ``import tau_trait``
    (tests compare with tau-trait's own reward) runs the real ones. Packages already
    imported are left alone."""
    placed = []
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{name} is not installed")
        module = types.ModuleType(name)
        module.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = module
        placed.append(name)
    try:
        yield
    finally:
        for name in placed:
            sys.modules.pop(name, None)


with contained_environment(), _packages_without_init(_TAU_TRAIT_PACKAGES):
    from tau_trait.envs.airline.data import load_data as _load_airline_data
    from tau_trait.envs.airline.tasks_test import TASKS as _AIRLINE_TASKS
    from tau_trait.envs.airline.tools import ALL_TOOLS as _AIRLINE_TOOLS
    from tau_trait.envs.airline.wiki import WIKI as _AIRLINE_WIKI
    from tau_trait.envs.retail.data import load_data as _load_retail_data
    from tau_trait.envs.retail.tasks_test import TASKS_TEST as _RETAIL_TASKS
    from tau_trait.envs.retail.tools import ALL_TOOLS as _RETAIL_TOOLS
    from tau_trait.envs.retail.wiki import WIKI as _RETAIL_WIKI

_SOURCES: dict[str, tuple[Any, list[Any], list[Any], str]] = {
    "retail": (_load_retail_data, _RETAIL_TASKS, _RETAIL_TOOLS, _RETAIL_WIKI),
    "airline": (_load_airline_data, _AIRLINE_TASKS, _AIRLINE_TOOLS, _AIRLINE_WIKI),
}


@dataclass(frozen=True)
class GoldAction:
    """One action of a task's gold solution: a tool ``name`` and its ``kwargs``."""

    name: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """One tau-bench test task: the user's ``instruction`` (what the simulator is told),
    the gold ``actions`` and the ``outputs`` the agent must state to the user."""

    key: str
    user_id: str
    instruction: str
    actions: tuple[GoldAction, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    """A domain's policy (``wiki``), tools (OpenAI function schemas) and pristine database."""

    name: str
    wiki: str
    tools_info: tuple[dict[str, Any], ...]
    tool_classes: Mapping[str, Any]
    #: Tools that end tau-bench's episode (a transfer to a human agent).
    terminate_tools: frozenset[str]
    tasks: tuple[Task, ...]
    #: The pristine database, pickled: unpickling is the fastest fresh copy.
    pristine_db: bytes = field(repr=False)

    def fresh_db(self) -> dict[str, Any]:
        """A new, independent copy of the pristine database. The copy (~10^5 containers,
        never cyclic, freed by reference counting) is moved to the collector's permanent
        generation (``gc.freeze``), so that full collections do not rescan every live
        conversation's database; cyclic garbage frozen with it waits for ``gc.unfreeze()``,
        which the runner calls at the end of a run."""
        with _gc_paused():
            db = pickle.loads(self.pristine_db)
            gc.freeze()
            return db


_gc_pause_lock = threading.Lock()
_gc_pause_depth = 0  # conversations (threads) inside _gc_paused() right now
_gc_was_enabled = True


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: unpickling a database allocates ~10^5
    containers, and the collections this triggers make a copy 2-4x slower.

    Thread-safe: with several conversations copying at once, the collector comes
    back (if it was on) when the last of them is done, not when the first is."""
    global _gc_pause_depth, _gc_was_enabled
    with _gc_pause_lock:
        if _gc_pause_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pause_depth += 1
    try:
        yield
    finally:
        with _gc_pause_lock:
            _gc_pause_depth -= 1
            if _gc_pause_depth == 0 and _gc_was_enabled:
                gc.enable()


@functools.cache
def load_domain(name: str) -> Domain:
    """The ``retail`` or ``airline`` domain with its first 115 / 50 test tasks."""
    if name not in _SOURCES:
        raise ValueError(f"unknown domain {name!r}: expected one of {sorted(_SOURCES)}")
    load_data, raw_tasks, tools, wiki = _SOURCES[name]
    tasks = tuple(
        Task(
            key=f"{name}_{i}",
            user_id=t.user_id,
            instruction=t.instruction,
            actions=tuple(GoldAction(a.name, dict(a.kwargs)) for a in t.actions),
            outputs=tuple(t.outputs),
        )
        for i, t in enumerate(raw_tasks[: ids.N_TASKS[name]])
    )
    infos = tuple(tool.get_info() for tool in tools)
    return Domain(
        name=name,
        wiki=wiki,
        tools_info=infos,
        tool_classes={info["function"]["name"]: tool for info, tool in zip(infos, tools)},
        terminate_tools=frozenset({"transfer_to_human_agents"}),
        tasks=tasks,
        pristine_db=pickle.dumps(load_data(), protocol=pickle.HIGHEST_PROTOCOL),
    )


def get_task(task_key: str) -> tuple[Domain, Task]:
    """Domain and task of a study task key such as ``retail_12``."""
    if not ids.is_valid_key(task_key) or ids.task_key(task_key) != task_key:
        raise ValueError(f"bad task key {task_key!r}: expected <airline|retail>_<i>")
    domain_name, index = task_key.split("_")
    domain = load_domain(domain_name)
    if int(index) >= len(domain.tasks):
        raise ValueError(f"task {task_key!r} outside {domain_name} 0-{len(domain.tasks) - 1}")
    return domain, domain.tasks[int(index)]


def canonical_state(db: Any) -> str:
    """A canonical serialisation of a database (or of one of its records): equal strings <=> equal databases in
    tau-bench's sense (its ``consistent_hash(to_hashable(data))``)."""
    return json.dumps(db, sort_keys=True, separators=(",", ":"), check_circular=False)


def invoke_tool(
    domain: Domain, db: dict[str, Any], name: str, kwargs: Mapping[str, Any], error_prefix: str = "Error: "
) -> str:
    """Run tool ``name`` on ``db`` (mutating it) exactly as tau-bench's ``Env.step`` does:
    a failing tool returns ``"Error: <message>"`` (``error_prefix`` replaces ``"Error: "``),
    an unknown one ``"Unknown action <name>"``."""
    tool = domain.tool_classes.get(name)
    if tool is None:
        return f"Unknown action {name}"
    try:
        return str(tool.invoke(data=db, **kwargs))
    except Exception as exc:  # tau-bench turns every tool failure into an observation
        return f"{error_prefix}{exc}"


def snapshot(db: Mapping[str, Any]) -> bytes | None:
    """A fast exact snapshot of a database: equal bytes imply equal databases (not the
    converse). ``None`` when the database holds something ``marshal`` cannot write."""
    try:
        return marshal.dumps(db)
    except ValueError:
        return None


#: A database as per-record snapshots: ``{table: {record id: bytes}}`` for tables that
#: are mappings, ``{table: bytes}`` for the others (a list, a scalar).
RecordSnapshots = dict[str, "dict[Any, bytes] | bytes"]


def record_snapshots(db: Mapping[str, Any]) -> RecordSnapshots | None:
    """:func:`snapshot` of every record of every table (of a whole table when it is not a
    mapping); ``None`` when something cannot be snapshotted."""
    try:
        return {
            name: {key: marshal.dumps(record) for key, record in table.items()}
            if isinstance(table, dict)
            else marshal.dumps(table)
            for name, table in db.items()
        }
    except ValueError:
        return None


class GoldState:
    """The database after a task's gold actions, as per-record snapshots (its canonical
    form is computed on first need).

    Comparing a conversation's database record by record costs about one ``marshal``
    pass over it; only records whose bytes differ are serialised canonically, and the
    first that differs settles the answer. Serialising the whole database canonically
    (tens of milliseconds) happens only when the tables or record ids differ."""

    def __init__(self, db: dict[str, Any]) -> None:
        self.records = record_snapshots(db)
        self._canonical = None if self.records is not None else canonical_state(db)

    def _database(self) -> dict[str, Any]:
        assert self.records is not None
        return {
            name: {key: marshal.loads(b) for key, b in table.items()}
            if isinstance(table, dict)
            else marshal.loads(table)
            for name, table in self.records.items()
        }

    def canonical(self) -> str:
        """The canonical serialisation (see :func:`canonical_state`)."""
        if self._canonical is None:
            with _gc_paused():
                self._canonical = canonical_state(self._database())
        return self._canonical

    def matches(self, db: Mapping[str, Any]) -> bool:
        """Whether ``db`` equals the gold database in tau-bench's sense."""
        gold = self.records
        if gold is None or db.keys() != gold.keys():
            return canonical_state(db) == self.canonical()
        for name, table in db.items():
            gold_table = gold[name]
            if isinstance(gold_table, dict) and isinstance(table, dict):
                if table.keys() != gold_table.keys():
                    return canonical_state(db) == self.canonical()
                pairs = ((record, gold_table[key]) for key, record in table.items())
            else:
                pairs = iter([(table, gold_table)])
            for value, gold_bytes in pairs:
                if snapshot(value) != gold_bytes and canonical_state(value) != _canonical_of(gold_bytes):
                    return False
        return True


def _canonical_of(snapshot_bytes: bytes | dict[Any, bytes]) -> str:
    """The canonical serialisation of a snapshotted value."""
    assert isinstance(snapshot_bytes, bytes)
    return canonical_state(marshal.loads(snapshot_bytes))


@functools.lru_cache(maxsize=64)
def gold_state(task_key: str) -> GoldState:
    """The database after replaying the gold actions of ``task_key`` on a fresh one
    (tau-bench replays every gold action except the terminating transfer)."""
    domain, task = get_task(task_key)
    db = domain.fresh_db()
    for action in task.actions:
        if action.name != RESPOND_ACTION and action.name not in domain.terminate_tools:
            invoke_tool(domain, db, action.name, action.kwargs)
    return GoldState(db)


@dataclass(frozen=True)
class RewardResult:
    """tau-bench's reward and its parts: ``r_actions`` (final database equals the gold
    one) and ``outputs`` ({required output: found in an agent reply})."""

    reward: float
    r_actions: bool
    outputs: dict[str, bool]


class TaskEnv:
    """The state of one conversation on one task: a private database the agent's tool
    calls mutate, and the agent's replies (for the required-outputs check)."""

    def __init__(self, task_key: str) -> None:
        self.domain, self.task = get_task(task_key)
        self.db = self.domain.fresh_db()
        self.replies: list[str] = []
        self.transferred = False

    @property
    def tools_info(self) -> list[dict[str, Any]]:
        """The domain's tools as OpenAI function schemas."""
        return [dict(info) for info in self.domain.tools_info]

    def call_tool(self, name: str, kwargs: Mapping[str, Any], error_prefix: str = "Error: ") -> str:
        """Run one tool call against the database and return its observation (a failure:
        ``error_prefix`` and the exception's message)."""
        if name in self.domain.terminate_tools:
            self.transferred = True
        return invoke_tool(self.domain, self.db, name, kwargs, error_prefix)

    def record_reply(self, content: str) -> None:
        """Remember a message the agent sent to the user."""
        self.replies.append(content)

    def reward(self) -> RewardResult:
        """tau-bench's rule-based reward of the current state."""
        r_actions = gold_state(self.task.key).matches(self.db)
        outputs = {
            out: any(out.lower() in reply.lower().replace(",", "") for reply in self.replies)
            for out in self.task.outputs
        }
        ok = r_actions and all(outputs.values())
        return RewardResult(reward=1.0 if ok else 0.0, r_actions=r_actions, outputs=outputs)
