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
compares ``sha256(str(to_hashable(data)))``; this module compares record by record and
distinguishes the same things (``1`` from ``1.0``, strings from numbers, key sets, order
of lists, but not the order in which a record's fields were inserted).

A conversation's database is *copied on lookup* (:class:`CopyOnLookupTable`): it starts
as the pristine records, shared by every conversation, and a record gets its own copy
the first time a tool looks it up by id (or sets or deletes it). A fresh database then
costs microseconds instead of a full copy (~10^5 containers), and the reward compares
only the records the conversation or the gold actions looked up: the others are the
pristine ones on both sides. tau-bench's tools read whole tables only to search them
(``users.items()`` in ``find_user_id_by_email``, ``flights.values()`` in the flight
searches) and never change a record reached that way; a test replays every task's gold
actions and each of those searches and checks that the pristine records are unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import marshal
import os
import sys
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ids

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


class CopyOnLookupTable(dict):  # type: ignore[type-arg]
    """One table of a conversation's database (``{record id: record}``), copied on lookup.

    It starts holding the pristine records, shared with every other conversation. The
    first lookup of a record by id (``table[id]``, ``get``), and any write (set, delete,
    ``pop``, ``setdefault``, ``update``, ``clear``), gives the table its own copy of that
    record (decoded from its pristine ``marshal`` bytes) and adds the id to ``changed``.
    Reading the whole table (``items()``, ``values()``, iteration, ``in``, ``len``)
    copies nothing and may return pristine records: they must not be changed."""

    __slots__ = ("_pristine", "changed")

    def __init__(self, records: Mapping[Any, Any], pristine: Mapping[Any, bytes]) -> None:
        super().__init__(records)
        #: ``marshal`` bytes of every pristine record, by id.
        self._pristine = pristine
        #: Ids of the records this table may have changed (looked up, set or deleted).
        self.changed: set[Any] = set()

    def pristine_bytes(self, key: Any) -> bytes:
        """The ``marshal`` bytes of the pristine record ``key``."""
        return self._pristine[key]

    def _own(self, key: Any) -> None:
        if key not in self.changed and dict.__contains__(self, key):
            self.changed.add(key)
            blob = self._pristine.get(key)
            if blob is not None:
                dict.__setitem__(self, key, marshal.loads(blob))

    def __getitem__(self, key: Any) -> Any:
        self._own(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._own(key)
        return dict.get(self, key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.changed.add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self.changed.add(key)
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        self._own(key)
        self.changed.add(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[Any, Any]:
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> CopyOnLookupTable:
        self.update(other)
        return self

    def clear(self) -> None:
        self.changed.update(self)
        dict.clear(self)

    def __reduce__(self) -> Any:  # a copy or pickle is a plain dict of the current records
        return (dict, (dict(self.items()),))


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
    #: The pristine database ``{table: {record id: record}}``, shared: never changed.
    pristine_db: Mapping[str, dict[Any, Any]] = field(repr=False)
    #: ``marshal`` bytes of every pristine record: ``{table: {record id: bytes}}``.
    pristine_records: Mapping[str, dict[Any, bytes]] = field(repr=False)

    def fresh_db(self) -> dict[str, CopyOnLookupTable]:
        """A new database for one conversation, equal to the pristine one and independent
        of it and of every other: each table is a :class:`CopyOnLookupTable`."""
        return {name: CopyOnLookupTable(table, self.pristine_records[name]) for name, table in self.pristine_db.items()}


def _pristine_records(name: str, db: Mapping[str, Any]) -> dict[str, dict[Any, bytes]]:
    """``marshal`` bytes of every record of ``db``; ``TypeError`` when a table is not a
    mapping of records (tau-bench v1's never are)."""
    bad = [table for table, records in db.items() if not isinstance(records, dict)]
    if bad:
        raise TypeError(f"the {name} database has tables that are not mappings of records: {bad}")
    return {table: {key: marshal.dumps(record) for key, record in records.items()} for table, records in db.items()}


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
    db = load_data()
    return Domain(
        name=name,
        wiki=wiki,
        tools_info=infos,
        tool_classes={info["function"]["name"]: tool for info, tool in zip(infos, tools)},
        terminate_tools=frozenset({"transfer_to_human_agents"}),
        tasks=tasks,
        pristine_db=db,
        pristine_records=_pristine_records(name, db),
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
    """A fast exact snapshot of a database (plain or copied on lookup): equal bytes imply
    equal databases (not the converse). ``marshal`` version 2 writes no back-references,
    so a record and its copy give the same bytes whatever their reference counts. ``None``
    when the database holds something ``marshal`` cannot write."""
    try:
        return marshal.dumps({name: dict(t.items()) if isinstance(t, dict) else t for name, t in db.items()}, 2)
    except ValueError:
        return None


@dataclass(frozen=True)
class _GoldTable:
    """A table of the gold database: its record ids, the canonical form of the records that
    may differ from the pristine ones (all of them for a plain table) and, for a table
    copied on lookup, that table (its pristine records stand for the others)."""

    ids: frozenset[Any]
    records: dict[Any, str]
    copied_from: CopyOnLookupTable | None

    @classmethod
    def of(cls, table: dict[Any, Any]) -> _GoldTable:
        lookup = table if isinstance(table, CopyOnLookupTable) else None
        keys = table.changed & table.keys() if lookup is not None else table.keys()
        return cls(frozenset(table), {k: canonical_state(dict.__getitem__(table, k)) for k in keys}, lookup)

    def ids_to_compare(self, table: dict[Any, Any]) -> Iterable[Any]:
        """Ids of ``table`` (same ids as this one) whose records may differ from the gold ones:
        all of them, unless both are copied from the same pristine records (then those
        either side changed)."""
        if isinstance(table, CopyOnLookupTable) and self.copied_from is not None:
            if table._pristine is self.copied_from._pristine:
                return (table.changed | self.records.keys()) & self.ids
        return self.ids

    def canonical(self, key: Any) -> str:
        """The canonical form of gold record ``key``."""
        if key in self.records:
            return self.records[key]
        assert self.copied_from is not None
        return canonical_state(marshal.loads(self.copied_from.pristine_bytes(key)))


class GoldState:
    """The database after a task's gold actions, kept for comparison: per table, its record
    ids and the canonical form of the records that may differ from the pristine ones.

    :meth:`matches` serialises only the records either side looked up (a handful, for a
    database copied on lookup), and the first that differs settles the answer."""

    def __init__(self, db: Mapping[str, Any]) -> None:
        self.tables: dict[str, _GoldTable | str] = {
            name: _GoldTable.of(value) if isinstance(value, dict) else canonical_state(value)
            for name, value in db.items()
        }

    def matches(self, db: Mapping[str, Any]) -> bool:
        """Whether ``db`` equals the gold database in tau-bench's sense."""
        if db.keys() != self.tables.keys():
            return False
        for name, value in db.items():
            gold = self.tables[name]
            if not isinstance(gold, _GoldTable):
                if isinstance(value, dict) or canonical_state(value) != gold:
                    return False
            elif not isinstance(value, dict) or value.keys() != gold.ids:
                return False
            elif any(
                canonical_state(dict.__getitem__(value, key)) != gold.canonical(key)
                for key in gold.ids_to_compare(value)
            ):
                return False
        return True


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
