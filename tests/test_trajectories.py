"""tau-bench trajectories -> rollout records (usersim_utils.trajectories)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from usersim_utils import data, features, ids, paths, trajectories
from usersim_utils.data import cli
from usersim_utils.errors import DataError, DataWarning

#: tau-trait's runs are listed when the tests are collected (one test each), so their
#: folder is named here; single files come from the ``shared_file`` fixture.
TAU_TRAIT = paths.REPO_ROOT.parent / "shared" / "data" / "tau-trait"

AIRLINE_SYSTEM = "# Airline Agent Policy\n\nThe current time is 2024-05-15 15:00:00 EST."
RETAIL_SYSTEM = "# Retail agent policy\n\nAs a retail agent, you can help users cancel or modify pending orders."


def _call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def _traj(system: str | None = AIRLINE_SYSTEM) -> list[dict[str, Any]]:
    traj: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
    return traj + [
        {"role": "user", "content": "Hi, I want to cancel my trip."},
        {"role": "assistant", "content": "Sure. What is your user id?"},
        {"role": "user", "content": "mia_li_3668"},
        {"role": "assistant", "content": None,
         "tool_calls": [_call("get_reservation_details", {"reservation_id": "ABC123", "count": 2})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_reservation_details", "content": '{"status": "ok"}'},
        {"role": "assistant", "content": "Found it. Cancel ABC123 (yes/no)?"},
        {"role": "user", "content": "yes"},
        {"role": "assistant", "content": "Cancelling now.",
         "tool_calls": [_call("cancel_reservation", {"reservation_id": "ABC123"}, "call_2")], "function_call": None},
        {"role": "tool", "tool_call_id": "call_2", "name": "cancel_reservation", "content": "done"},
        {"role": "assistant", "content": "Your trip is cancelled."},
        {"role": "user", "content": "Thanks! ###STOP###"},
    ]


def _item(task_id: int = 3, trial: int = 0, reward: Any = 1.0, traj: Any = None) -> dict[str, Any]:
    return {"task_id": task_id, "trial": trial, "reward": reward, "info": {"task": {"user_id": "mia_li_3668"}},
            "traj": _traj() if traj is None else traj}


# --- keys and runs ------------------------------------------------------------------------------
def test_single_trial_per_task_gives_plain_keys() -> None:
    records = trajectories.from_tau_bench([_item(3), _item(7, reward=0)])
    assert list(records) == ["airline_3", "airline_7"]
    record = records["airline_3"]
    assert record["instance_id"] == "airline_3"
    assert record["reward"] == 1.0 and isinstance(records["airline_7"]["reward"], float)
    assert record["keep"] is True and record["source"] == "tau-bench" and record["trial"] == 0


def test_several_trials_become_runs() -> None:
    items = [_item(t, trial=k, reward=float(k % 2)) for t in (0, 1) for k in range(3)]
    records = trajectories.from_tau_bench(items)
    assert sorted(records) == [f"airline_{t}_{k}" for t in (0, 1) for k in (1, 2, 3)]
    assert all(r["trial"] + 1 == int(key.rsplit("_", 1)[1]) for key, r in records.items())
    assert ids.suffix_run_split(list(records)) == {
        run: {f"airline_{t}": f"airline_{t}_{run}" for t in (0, 1)} for run in ("1", "2", "3")
    }


def test_one_task_with_several_trials_makes_every_key_a_run() -> None:
    records = trajectories.from_tau_bench([_item(0), _item(1, trial=0), _item(1, trial=1)])
    assert list(records) == ["airline_0_1", "airline_1_1", "airline_1_2"]


# --- the conversation --------------------------------------------------------------------------
def test_conversation_roles_markup_and_stop() -> None:
    conv = trajectories.from_tau_bench([_item()])["airline_3"]["conversation"]
    assert conv[0] == {"role": "assistant", "content": trajectories.GREETING}
    assert [m["role"] for m in conv] == ["assistant", "user", "assistant", "user", "assistant", "user", "assistant",
                                         "user"]
    # A tool call, its result and the following text make ONE agent turn.
    assert conv[4]["content"] == (
        '<function=get_reservation_details><parameter=reservation_id>ABC123</parameter>'
        '<parameter=count>2</parameter></function>\n<|tool|>{"status": "ok"}<|/tool|>\n'
        "Found it. Cancel ABC123 (yes/no)?"
    )
    assert conv[6]["content"] == (
        "Cancelling now.\n<function=cancel_reservation><parameter=reservation_id>ABC123</parameter></function>"
        "\n<|tool|>done<|/tool|>\nYour trip is cancelled."
    )
    assert conv[-1] == {"role": "user", "content": "Thanks! ###STOP###"}
    assert all(AIRLINE_SYSTEM not in m["content"] for m in conv)


def test_converted_conversation_scores_like_a_rollout() -> None:
    conv = trajectories.from_tau_bench([_item()])["airline_3"]["conversation"]
    turns, n_turns = features.clean_conversation(conv, "llm")
    assert turns == ["Hi, I want to cancel my trip.", "mia_li_3668", "yes", "Thanks! ###STOP###"]
    assert n_turns == 8
    assert features.conversation_features(conv, "llm")["opening_words"] == 7


def test_non_string_arguments_are_json_and_dict_arguments_are_accepted() -> None:
    traj = _traj()
    traj[4]["tool_calls"] = [{"function": {"name": "book_reservation",
                                           "arguments": {"flights": [{"n": "HAT1"}], "insurance": "no"}}}]
    conv = trajectories.from_tau_bench([_item(traj=traj)])["airline_3"]["conversation"]
    assert conv[4]["content"].startswith(
        '<function=book_reservation><parameter=flights>[{"n": "HAT1"}]</parameter>'
        "<parameter=insurance>no</parameter></function>"
    )


def test_output_passes_the_rollout_validator(tmp_path: Path) -> None:
    items = [_item(t, trial=k) for t in (0, 1) for k in range(2)]
    data.validate_eval_results(trajectories.from_tau_bench(items), file="converted")
    path = tmp_path / "run.json"
    path.write_text(json.dumps(items))
    assert sorted(data.load_eval_results(path)) == ["airline_0_1", "airline_0_2", "airline_1_1", "airline_1_2"]


# --- the domain ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("system", "tool", "expected"),
    [
        (AIRLINE_SYSTEM, "get_reservation_details", "airline"),
        (RETAIL_SYSTEM, "get_reservation_details", "retail"),  # the policy heading wins
        (None, "get_reservation_details", "airline"),
        (None, "get_order_details", "retail"),
        ("You are a helpful agent.", "find_user_id_by_email", "retail"),
    ],
)
def test_domain_is_recognised(system: str | None, tool: str, expected: str) -> None:
    traj = _traj(system)
    for message in traj:
        for call in message.get("tool_calls") or ():
            call["function"]["name"] = tool
        if message["role"] == "tool":
            message["name"] = tool
    assert trajectories.recognise_domain(traj) == expected
    assert list(trajectories.from_tau_bench([_item(traj=traj)])) == [f"{expected}_3"]


def test_explicit_domain_wins_and_unrecognisable_domain_is_an_error() -> None:
    bare = [m for m in _traj(None) if m["role"] == "user"]
    assert trajectories.recognise_domain(bare) is None
    assert list(trajectories.from_tau_bench([_item(traj=bare)], domain="retail")) == ["retail_3"]
    with pytest.raises(DataError) as err:
        trajectories.from_tau_bench([_item(), _item(4, traj=bare)], file="run.json")
    assert (err.value.file, err.value.record, err.value.field) == ("run.json", "item 1", "traj")
    assert "domain" in str(err.value)
    mixed = _traj(None) + [{"role": "assistant", "content": None, "tool_calls": [_call("get_order_details", {})]}]
    assert trajectories.recognise_domain(mixed) is None
    with pytest.raises(DataError, match="unknown domain"):
        trajectories.from_tau_bench([_item()], domain="telecom")


# --- errors -------------------------------------------------------------------------------------
def _broken(change) -> list[dict[str, Any]]:
    item = _item()
    change(item)
    return [_item(0), item]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda it: it.pop("task_id"), "task_id", "missing"),
        (lambda it: it.update(task_id="3"), "task_id", "integer"),
        (lambda it: it.update(task_id=-1), "task_id", "integer"),
        (lambda it: it.pop("trial"), "trial", "missing"),
        (lambda it: it.update(trial=True), "trial", "integer"),
        (lambda it: it.pop("reward"), "reward", "missing"),
        (lambda it: it.update(reward=None), "reward", "number"),
        (lambda it: it.update(reward="1"), "reward", "number"),
        (lambda it: it.update(reward=float("nan")), "reward", "number"),
        (lambda it: it.update(reward=float("inf")), "reward", "expected a finite number, got float inf"),
        (lambda it: it.update(reward=-float("inf")), "reward", "expected a finite number, got float -inf"),
        (lambda it: it.update(reward=10**400), "reward", "expected a finite number, got int 1000"),
        (lambda it: it.update(task_id="x" * 1_000_000), "task_id", "…(1,000,002 chars)"),
        (lambda it: it.update(info=[]), "info", "object"),
        (lambda it: it.pop("traj"), "traj", "missing"),
        (lambda it: it.update(traj={"role": "user"}), "traj", "list"),
        (lambda it: it["traj"].__setitem__(2, "hello"), "traj[2]", "message"),
        (lambda it: it["traj"][2].pop("role"), "traj[2].role", "missing"),
        (lambda it: it["traj"][2].update(role="human"), "traj[2].role", "unknown role"),
        (lambda it: it["traj"][1].update(content=None), "traj[1].content", "user message"),
        (lambda it: it["traj"][1].update(content=["hi"]), "traj[1].content", "string"),
        (lambda it: it["traj"].insert(1, {"role": "tool", "content": "x"}), "traj[1]", "no assistant"),
        (lambda it: it["traj"][4].update(tool_calls={}), "traj[4].tool_calls", "list"),
        (lambda it: it["traj"][4]["tool_calls"][0].pop("function"), "traj[4].tool_calls[0].function", "missing"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(name=""),
         "traj[4].tool_calls[0].function.name", "tool name"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(arguments="{bad"),
         "traj[4].tool_calls[0].function.arguments", "JSON"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(arguments="[1]"),
         "traj[4].tool_calls[0].function.arguments", "object"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(arguments="[" * 100_000 + "]" * 100_000),
         "traj[4].tool_calls[0].function.arguments", "nested too deeply"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(arguments='{"a": ' + "[" * 40 + "]" * 40 + "}"),
         "traj[4].tool_calls[0].function.arguments", "nested too deeply: more than 32 levels"),
        (lambda it: it["traj"][4]["tool_calls"][0]["function"].update(arguments='{"n": ' + "9" * 5000 + "}"),
         "traj[4].tool_calls[0].function.arguments", "Exceeds the limit (4300 digits)"),
    ],
)
def test_bad_items_name_file_item_and_field(change, field: str, problem: str) -> None:
    with pytest.raises(DataError) as err:
        trajectories.from_tau_bench(_broken(change), file="runs/gpt.json")
    assert (err.value.file, err.value.record, err.value.field) == ("runs/gpt.json", "item 1", field)
    message = str(err.value)
    assert problem in message and "\n" not in message and len(message) < 300
    assert message.startswith("runs/gpt.json: record 'item 1': field ")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 399])
def test_non_finite_reward_in_a_file_is_one_line(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps([_item(0), _item(reward="__R__")]).replace('"__R__"', literal))
    with pytest.raises(DataError) as err:
        data.load_eval_results(path)
    assert str(err.value).startswith(f"{path}: record 'item 1': field 'reward': expected a finite number, got ")
    assert cli.main(["validate", str(path)]) == 2


def test_an_item_survey_is_kept_and_its_invalid_answers_are_warnings(tmp_path: Path) -> None:
    good = {"reuse": {"question": "q", "answer": "Yes"}}
    bad = {"reuse": {"question": "q", "answer": 7}, "efficiency": "fast"}
    items = [{**_item(0), "survey": good}, {**_item(1), "survey": bad}, _item(2)]
    records = trajectories.from_tau_bench(items)
    assert records["airline_0"]["survey"] == good and records["airline_1"]["survey"] == bad
    assert "survey" not in records["airline_2"]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(items))
    found: list[DataWarning] = []
    assert data.load_eval_results(path, warnings=found) == records
    expected = [("airline_1", "survey.reuse.answer"), ("airline_1", "survey.efficiency")]
    assert [(w.record, w.field) for w in found] == expected
    message = "^" + str(path) + ": record 'airline_1': field 'survey.reuse.answer': 7 is not"
    with pytest.raises(DataError, match=message):
        data.load_eval_results(path, strict=True)
    items[1]["survey"] = ["Yes"]  # a survey that is not an object is still an error
    path.write_text(json.dumps(items))
    with pytest.raises(DataError, match="field 'survey': expected an object"):
        data.load_eval_results(path)


def test_non_object_items_duplicates_and_non_lists_are_errors() -> None:
    with pytest.raises(DataError) as err:
        trajectories.from_tau_bench([_item(), 5], file="f.json")
    assert err.value.record == "item 1"
    with pytest.raises(DataError) as err:
        trajectories.from_tau_bench([_item(2, trial=1), _item(2, trial=0), _item(2, trial=1)], file="f.json")
    assert (err.value.record, err.value.field) == ("item 2", "trial") and "duplicate" in str(err.value)
    with pytest.raises(DataError, match="list of tau-bench"):
        trajectories.from_tau_bench({"airline_0": {}}, file="f.json")  # type: ignore[arg-type]


def test_input_is_not_modified() -> None:
    items = [_item(t, trial=k) for t in (0, 1) for k in range(2)]
    before = copy.deepcopy(items)
    trajectories.from_tau_bench(items)
    assert items == before


def test_detect_format() -> None:
    assert trajectories.detect_format({"airline_0": {"conversation": []}}) == "rollout"
    assert trajectories.detect_format([_item()]) == "tau-bench"
    with pytest.raises(DataError) as err:
        trajectories.detect_format("text", file="x.json")
    assert err.value.file == "x.json"


# --- real trajectories (MIT, ../shared/data) ------------------------------------------------------
def test_real_gpt4o_airline_run(shared_file) -> None:
    path = shared_file("data/tau-bench/gpt-4o-airline.json")
    records = trajectories.from_tau_bench(json.loads(path.read_text()), file=path)
    assert len(records) == 200
    assert set(ids.suffix_run_split(list(records))) == {"1", "2", "3", "4"}
    assert {ids.task_key(k) for k in records} == {f"airline_{i}" for i in range(50)}
    assert sum(r["reward"] for r in records.values()) == pytest.approx(84)
    for record in records.values():
        conv = record["conversation"]
        assert {m["role"] for m in conv} == {"user", "assistant"}
        assert conv[0]["content"] == trajectories.GREETING
        assert all(a["role"] != b["role"] for a, b in zip(conv, conv[1:]))  # agent turns are merged
        assert features.conversation_features(conv, "llm") is not None
    data.validate_eval_results(records, file=path)


@pytest.mark.parametrize("name", sorted(p.name for p in TAU_TRAIT.glob("*.json")) if TAU_TRAIT.is_dir() else [])
def test_real_tau_trait_runs(name: str) -> None:
    path = TAU_TRAIT / name
    items = json.loads(path.read_text())
    records = trajectories.from_tau_bench(items, file=path)
    domain = path.stem.rsplit("_", 1)[1]
    assert list(records) == [f"{domain}_{it['task_id']}" for it in items]
    assert all(r["trial"] == 0 for r in records.values())
    markup = "".join(m["content"] for r in records.values() for m in r["conversation"] if m["role"] == "assistant")
    assert "<function=" in markup and "<|tool|>" in markup
