"""tau-bench trajectories -> the study's rollout format (``docs/method.md`` §10).

tau-bench (and tau-trait) store a run as a JSON list; each item has ``task_id``,
``trial``, ``reward``, ``info`` and ``traj`` (OpenAI chat messages: a system
message with the policy, ``user``, ``assistant`` with optional ``tool_calls``,
``tool``). The study's rollouts are an object keyed by ``<domain>_<i>`` (one run)
or ``<domain>_<i>_<run>``, each ``{instance_id, conversation, reward, keep}``
with ``user``/``assistant`` messages only, the agent's tool use embedded as
markup. Converting one into the other lets any tau-bench run be scored by the
same code as the published simulators.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from . import ids
from .errors import MAX_NESTING, DataError, excerpt, first_clause, is_finite_number, nesting_depth
from .schema import GREETING

SOURCE = "tau-bench"

#: Policy headings of tau-bench v1's system prompts (matched lower-cased).
_POLICY_HEADINGS: dict[str, str] = {"airline agent policy": "airline", "retail agent policy": "retail"}
#: Tools only one domain has (``get_user_details``, ``think``, ``calculate`` and
#: ``transfer_to_human_agents`` are shared and say nothing).
_DOMAIN_TOOLS: dict[str, frozenset[str]] = {
    "airline": frozenset({
        "book_reservation", "cancel_reservation", "get_reservation_details", "list_all_airports",
        "search_direct_flight", "search_onestop_flight", "send_certificate", "update_reservation_baggages",
        "update_reservation_flights", "update_reservation_passengers",
    }),
    "retail": frozenset({
        "cancel_pending_order", "exchange_delivered_order_items", "find_user_id_by_email",
        "find_user_id_by_name_zip", "get_order_details", "get_product_details", "list_all_product_types",
        "modify_pending_order_address", "modify_pending_order_items", "modify_pending_order_payment",
        "modify_user_address", "return_delivered_order_items",
    }),
}
_ROLES = ("system", "user", "assistant", "tool")


def detect_format(obj: Any, *, file: str | Path | None = None) -> Literal["rollout", "tau-bench"]:
    """``"rollout"`` for an object keyed by instance id, ``"tau-bench"`` for a list of
    trajectories; anything else raises :class:`DataError` naming ``file``."""
    if isinstance(obj, Mapping):
        return "rollout"
    if isinstance(obj, list):
        return "tau-bench"
    raise DataError(
        f"top level is {type(obj).__name__}: expected an object of rollouts keyed by instance id "
        "or a list of tau-bench trajectories",
        file=file,
    )


#: Bytes read from the start of a file to tell a JSON list from an object (leading white space is rare).
_PEEK_BYTES = 4096


def is_trajectory_file(path: str | Path) -> bool:
    """True when ``path`` is a regular file whose JSON starts as a list: the layout of a
    tau-bench trajectory file (the study's rollouts are objects). Only the first bytes are
    read, and nothing but a regular file is opened (a FIFO would block); whether the list
    really holds trajectories is the loader's check."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            start = handle.read(_PEEK_BYTES)
    except OSError:
        return False
    return start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def recognise_domain(traj: Sequence[Any]) -> str | None:
    """The domain of a trajectory: from the system message's policy heading, else
    from the domain-specific tools it calls; ``None`` when neither tells."""
    for message in traj:
        if isinstance(message, Mapping) and message.get("role") == "system":
            content = str(message.get("content") or "").lower()
            for heading, domain in _POLICY_HEADINGS.items():
                if heading in content:
                    return domain
    used = set()
    for message in traj:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "tool" and isinstance(message.get("name"), str):
            used.add(message["name"])
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                used.add(function["name"])
    found = [domain for domain, tools in _DOMAIN_TOOLS.items() if used & tools]
    return found[0] if len(found) == 1 else None


def function_markup(name: str, arguments: Mapping[str, Any]) -> str:
    """``<function=NAME><parameter=K>V</parameter>...</function>``; a non-string value
    is written as JSON."""
    params = "".join(
        f"<parameter={key}>{value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}</parameter>"
        for key, value in arguments.items()
    )
    return f"<function={name}>{params}</function>"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _require_int(item: Mapping[str, Any], name: str, err: dict[str, Any]) -> int:
    if name not in item:
        raise DataError("missing", field=name, **err)
    value = item[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DataError(f"expected a non-negative integer, got {_type_name(value)} {excerpt(value)}", field=name, **err)
    return value


def _require_reward(item: Mapping[str, Any], err: dict[str, Any]) -> float:
    if "reward" not in item:
        raise DataError("missing", field="reward", **err)
    value = item["reward"]
    if not is_finite_number(value):  # NaN, Infinity, 1e400 and a 400-digit integer included
        raise DataError(f"expected a finite number, got {_type_name(value)} {excerpt(value)}", field="reward", **err)
    return float(value)


def _tool_calls(message: Mapping[str, Any], where: str, err: dict[str, Any]) -> list[str]:
    """The markup of an assistant message's ``tool_calls`` (absent or null: none)."""
    calls = message.get("tool_calls")
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise DataError(f"expected a list, got {_type_name(calls)}", field=f"{where}.tool_calls", **err)
    markup = []
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}].function"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            raise DataError("missing or not an object", field=at, **err)
        name, arguments = function.get("name"), function.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise DataError(f"expected a tool name, got {_type_name(name)}", field=f"{at}.name", **err)
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON: {exc.msg}", field=f"{at}.arguments", **err) from None
            except RecursionError:
                raise DataError("not readable JSON: nested too deeply", field=f"{at}.arguments", **err) from None
            except ValueError as exc:  # an integer beyond Python's digit limit, for one
                raise DataError(f"not readable JSON: {first_clause(exc)}", field=f"{at}.arguments", **err) from None
        if not isinstance(arguments, Mapping):
            raise DataError(
                f"expected a JSON object of arguments, got {_type_name(arguments)}", field=f"{at}.arguments", **err
            )
        if nesting_depth(arguments) > MAX_NESTING:
            raise DataError(
                f"nested too deeply: more than {MAX_NESTING} levels of arrays and objects",
                field=f"{at}.arguments",
                **err,
            )
        markup.append(function_markup(name, arguments))
    return markup


def convert_traj(traj: Any, *, err: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """The rollout conversation of one ``traj``.

    It opens with the agent's greeting (:data:`~usersim_utils.schema.GREETING`:
    tau-bench sends it to the user simulator but leaves it out of the trajectory);
    system messages are dropped; user messages are kept as they are (the final
    ``###STOP###`` one included); each agent turn (consecutive assistant and tool
    messages) becomes ONE assistant message: text, tool calls as ``<function=…>``
    markup and tool results as ``<|tool|>…<|/tool|>``, in order, joined by new
    lines. ``err`` carries the file and record named by a :class:`DataError`.
    """
    err = dict(err or {})
    if not isinstance(traj, list):
        raise DataError(f"expected a list of messages, got {_type_name(traj)}", field="traj", **err)
    conversation: list[dict[str, str]] = [{"role": "assistant", "content": GREETING}]
    agent_parts: list[str] | None = None  # the open agent turn, if any
    for i, message in enumerate(traj):
        where = f"traj[{i}]"
        if not isinstance(message, Mapping):
            raise DataError(f"expected a message object, got {_type_name(message)}", field=where, **err)
        role = message.get("role")
        if role not in _ROLES:
            expected = f"expected one of {', '.join(_ROLES)}"
            problem = "missing" if role is None else f"unknown role {excerpt(role)} ({expected})"
            raise DataError(problem, field=f"{where}.role", **err)
        content = message.get("content")
        if role == "system":
            continue
        if content is not None and not isinstance(content, str):
            raise DataError(f"expected a string, got {_type_name(content)}", field=f"{where}.content", **err)
        if role == "user":
            if content is None:
                raise DataError("missing (a user message needs text)", field=f"{where}.content", **err)
            agent_parts = None
            conversation.append({"role": "user", "content": content})
            continue
        if role == "tool" and agent_parts is None:
            raise DataError("a tool result with no assistant turn before it", field=where, **err)
        if agent_parts is None:
            agent_parts = []
            conversation.append({"role": "assistant", "content": ""})
        if role == "assistant":
            agent_parts += ([content] if content else []) + _tool_calls(message, where, err)
        else:
            agent_parts.append(f"<|tool|>{content or ''}<|/tool|>")
        conversation[-1]["content"] = "\n".join(agent_parts)
    return conversation


def from_tau_bench(
    items: list, *, domain: str | None = None, file: str | Path | None = None
) -> dict[str, dict]:
    """Rollout records of a tau-bench trajectory list (``docs/method.md`` §10).

    Each item becomes ``{instance_id, conversation, reward, keep: True, source:
    "tau-bench", trial}`` (plus the item's ``survey``, when it has one, as it is:
    the rollout validator checks it), keyed ``<domain>_<task_id>`` when every task has a single
    trial, else ``<domain>_<task_id>_<trial + 1>`` (each trial is a run). The domain
    is ``domain`` or recognised per item (:func:`recognise_domain`). Raises
    :class:`DataError` naming ``file``, the item (``item <index>``) and the field
    when a field is missing or of the wrong type, the domain cannot be told, or two
    items have the same task and trial.
    """
    if not isinstance(items, list):
        raise DataError(f"expected a list of tau-bench trajectories, got {_type_name(items)}", file=file)
    if domain is not None and domain not in ids.DOMAINS:
        raise DataError(f"unknown domain {excerpt(domain)} (expected one of {', '.join(ids.DOMAINS)})", file=file)
    parsed = []
    for index, item in enumerate(items):
        err = {"file": file, "record": f"item {index}"}
        if not isinstance(item, Mapping):
            raise DataError(f"expected a trajectory object, got {_type_name(item)}", **err)
        task_id, trial = _require_int(item, "task_id", err), _require_int(item, "trial", err)
        reward = _require_reward(item, err)
        if "traj" not in item:
            raise DataError("missing", field="traj", **err)
        if not isinstance(item.get("info", {}), Mapping):
            raise DataError(f"expected an object, got {_type_name(item['info'])}", field="info", **err)
        conversation = convert_traj(item["traj"], err=err)
        item_domain = domain or recognise_domain(item["traj"])
        if item_domain is None:
            raise DataError(
                "cannot recognise the domain (no airline/retail policy heading in the system message and "
                "no domain-specific tool); pass the domain explicitly",
                field="traj",
                **err,
            )
        parsed.append((index, item_domain, task_id, trial, reward, conversation, item))
    trials = Counter((d, t) for _, d, t, *_ in parsed)
    several = any(n > 1 for n in trials.values())
    records: dict[str, dict] = {}
    for index, item_domain, task_id, trial, reward, conversation, item in parsed:
        key = f"{item_domain}_{task_id}" + (f"_{trial + 1}" if several else "")
        if key in records:
            raise DataError(
                f"duplicate: task_id {task_id} trial {trial} already seen", file=file, record=f"item {index}",
                field="trial",
            )
        records[key] = {
            "instance_id": key,
            "conversation": conversation,
            "reward": reward,
            "keep": True,
            "source": SOURCE,
            "trial": trial,
        }
        if "survey" in item:
            records[key]["survey"] = item["survey"]
    return records

