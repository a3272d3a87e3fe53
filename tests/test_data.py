"""Tests of the study loader and validator (usersim_utils.data) on hand-made files."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usersim_utils import data, handover, ids, overview, paths, schema, survey
from usersim_utils.data import cli
from usersim_utils.errors import DataError, DataWarning, excerpt, is_finite_number

_OMIT = object()

GOOD_ANSWERS: dict[str, Any] = {
    "task_success": "Yes - Task completed",
    "efficiency": "About right",
    "question_amount_preference": "Too few",
    "answer_effort_time": "Low",
    "human_like": "Partially",
    "interaction_flow": "Smooth",
    "overall_score": "4 (Good)",
    "reuse": "Yes",
    "specific_examples": "It found my order quickly.",
    "improvement_suggestions": "",
}
#: Platform meta messages every fixture session carries (removed before counting turns).
N_META = 6


def make_survey(**overrides: Any) -> dict[str, dict[str, Any]]:
    answers = {**GOOD_ANSWERS, **overrides}
    return {
        item: {"question": survey.SURVEY_QUESTIONS.get(item, item), "answer": answer}
        for item, answer in answers.items()
    }


def make_session(
    key: str,
    user_turns: list[str],
    *,
    reward: Any = 1.0,
    keep: Any = True,
    answers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A human session shaped like the study's: meta messages around the dialogue."""
    domain, index = key.split("_")[:2]
    conversation = [
        {"role": "user", "content": f"\\tau task_index:{domain}-{index} model:gpt-5.2"},
        {"role": "assistant", "content": "<|canvas|>Your task...<|/canvas|>Hi! How can I help you today?"},
    ]
    for turn in user_turns:
        conversation.append({"role": "user", "content": turn})
        conversation.append(
            {
                "role": "assistant",
                "content": "<|think|>look it up<|/think|>One moment."
                "<function=get_user_details><parameter=user_id>x</parameter></function>",
            }
        )
    conversation += [
        {"role": "user", "content": " /stop\n"},
        {"role": "assistant", "content": "<|highlight|>Thanks!<|survey|>...<|/survey|>"},
        {"role": "user", "content": "\\reward"},
        {"role": "assistant", "content": "\\reward 1.0"},
    ]
    session: dict[str, Any] = {
        "task_id": 17,
        "instance_id": key,
        "agent_id": "agent-origin",
        "conversation": conversation,
        "survey": make_survey(**(answers or {})),
        "quality_score": 85.0,
        "quality_passed": True,
        "llm_reasoning": "followed the instructions",
        "human_score": None,
        "human_reasoning": None,
        "reward": reward,
    }
    if keep is not _OMIT:
        session["keep"] = keep
    return session


def human_records() -> dict[str, dict[str, Any]]:
    """Two tasks x three batches, with a null reward, a missing and a false ``keep``."""
    return {
        "airline_0": make_session("airline_0", ["hi i need to cancel my flight", "mia_li_3668"]),
        "retail_4": make_session("retail_4", ["where is my order", "#W2378156", "ok thanks"], reward=0.0),
        "airline_0_ann2": make_session("airline_0_ann2", ["cancel reservation 4WQ150 please"], reward=None, keep=_OMIT),
        "retail_4_ann2": make_session("retail_4_ann2", ["exchange a keyboard"], keep=False),
        "airline_0_ann3": make_session("airline_0_ann3", ["hello", "yes", "no"], reward=1),
        "retail_4_ann3": make_session(
            "retail_4_ann3",
            ["i want a refund"],
            reward=0.0,
            answers={"efficiency": None, "reuse": "", "human_like": None},
        ),
    }


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def make_study(root: Path) -> Path:
    """A tiny study folder in the dataset's layout."""
    write_json(root / paths.HUMAN_FILE, human_records())
    rollout = {
        "airline_0_1": {
            "instance_id": "airline_0",
            "conversation": [
                {"role": "assistant", "content": "Hi! How can I help you today?"},
                {"role": "user", "content": "I want to cancel."},
                {"role": "user", "content": "###STOP###"},
            ],
            "reward": 1.0,
        }
    }
    write_json(root / "eval_results" / "eval_results_zeta.json", rollout)
    write_json(root / "eval_results" / "eval_results_alpha.json", rollout)
    surveys = {"airline_0": {"survey": make_survey()}, "retail_4_ann2": {"survey": make_survey(reuse="Definitely")}}
    write_json(root / "survey_data" / "survey_comparable_alpha.json", surveys)
    write_json(root / "survey_data" / "survey_comparable_human-eval-100.json", surveys)
    return root


# ------------------------------------------------------------------ bad human files
def _mutate(change) -> str:
    records = human_records()
    change(records)
    return json.dumps(records)


def _set(key: str, value: Any):
    return lambda r: r.__setitem__(key, value)


def _del_field(key: str, field: str):
    return lambda r: r[key].pop(field)


def _set_field(key: str, field: str, value: Any):
    return lambda r: r[key].__setitem__(field, value)


def _del_message_field(key: str, position: int, field: str):
    return lambda r: r[key]["conversation"][position].pop(field)


def _set_answer(key: str, item: str, answer: Any):
    return lambda r: r[key]["survey"][item].__setitem__("answer", answer)


def _set_entry(key: str, item: str, entry: Any):
    return lambda r: r[key]["survey"].__setitem__(item, entry)


def _literal(key: str, field: str, literal: str) -> str:
    """The fixture's text with ``records[key][field]`` written as the JSON ``literal``
    (for numbers ``json.dumps`` cannot write, such as ``1e400``)."""
    records = human_records()
    records[key][field] = "__LITERAL__"
    return json.dumps(records).replace('"__LITERAL__"', literal)


def _nested(levels: int) -> list:
    """``[[[...]]]``, ``levels`` lists deep."""
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


GOOD_TEXT = json.dumps(human_records())
EFFICIENCY_OPTIONS = ", ".join(repr(o) for o in survey.SURVEY_OPTIONS["efficiency"])
MEGABYTE = "x" * 1_000_000

# (case id, file text, expected one-line message after "<file>: ")
BAD_HUMAN_FILES = [
    ("not_json", "airline_0,reward\n1,0\n", "not valid JSON: Expecting value at line 1, column 1"),
    ("truncated", GOOD_TEXT[: len(GOOD_TEXT) // 2], "truncated JSON"),
    (
        "truncated_in_structure",
        '{"airline_0": {"conversation": [',
        "truncated JSON: the text ends at line 1, column 33",
    ),
    ("empty", "  \n", "empty file, expected JSON"),
    ("top_level_number", "42", "top level is a number, expected an object keyed by instance id"),
    ("top_level_string", '"airline_0"', "top level is a string, expected an object keyed by instance id"),
    ("empty_object", "{}", "no records: the top-level object is empty"),
    (
        "record_not_object",
        _mutate(_set("retail_4", ["not", "a", "record"])),
        "record 'retail_4': expected an object, got an array",
    ),
    (
        "no_conversation",
        _mutate(_del_field("retail_4_ann2", "conversation")),
        "record 'retail_4_ann2': field 'conversation': missing",
    ),
    (
        "conversation_not_list",
        _mutate(_set_field("airline_0", "conversation", "user: hi")),
        "record 'airline_0': field 'conversation': expected a list of messages, got a string",
    ),
    (
        "message_without_role",
        _mutate(_del_message_field("airline_0", 3, "role")),
        "record 'airline_0': field 'conversation[3].role': missing",
    ),
    (
        "message_without_content",
        _mutate(_del_message_field("retail_4", 2, "content")),
        "record 'retail_4': field 'conversation[2].content': missing",
    ),
    (
        "message_content_not_text",
        _mutate(lambda r: r["retail_4"]["conversation"][2].__setitem__("content", 5)),
        "record 'retail_4': field 'conversation[2].content': expected a string, got a number",
    ),
    (
        "message_not_object",
        _mutate(lambda r: r["retail_4"]["conversation"].__setitem__(1, "hello")),
        "record 'retail_4': field 'conversation[1]': expected a {role, content} object, got a string",
    ),
    (
        "survey_not_object",
        _mutate(_set_field("airline_0", "survey", ["Yes"])),
        "record 'airline_0': field 'survey': expected an object",
    ),
    (
        "key_bad_domain",
        _mutate(_set("flights_3", make_session("airline_3", ["hi"]))),
        "record 'flights_3': key is not <domain>_<i>",
    ),
    (
        "key_bad_suffix",
        _mutate(_set("airline_3_ann4", make_session("airline_3", ["hi"]))),
        "record 'airline_3_ann4': key is not <domain>_<i>",
    ),
    (
        "key_no_index",
        _mutate(_set("airline", make_session("airline_3", ["hi"]))),
        "record 'airline': key is not <domain>_<i>",
    ),
    (
        "key_run_suffix_in_human_file",
        _mutate(_set("airline_3_2", make_session("airline_3", ["hi"]))),
        "record 'airline_3_2': key is not <domain>_<i> (domain airline or retail) with an optional _ann2/_ann3 suffix",
    ),
    (
        "keep_not_bool",
        _mutate(_set_field("retail_4", "keep", "yes")),
        "record 'retail_4': field 'keep': expected a boolean or null, got a string 'yes'",
    ),
    (
        "reward_not_number",
        _mutate(_set_field("retail_4", "reward", "1.0")),
        "record 'retail_4': field 'reward': expected a number or null",
    ),
    # hostile files (a reader of a study has only the message to go on): each one line, none a traceback
    (
        "nested_100000_deep",
        '{"airline_0": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nested too deeply: arrays and objects more than about",
    ),
    (
        "reward_integer_of_400_digits",
        _literal("retail_4", "reward", "1" + "0" * 399),
        "record 'retail_4': field 'reward': expected a finite number or null, got 1000000000",
    ),
    (
        "integer_of_5000_digits",
        _literal("retail_4", "reward", "9" * 5000),
        "not readable as JSON: Exceeds the limit (4300 digits) for integer string conversion",
    ),
    (
        "reward_nan",
        _literal("retail_4", "reward", "NaN"),
        "record 'retail_4': field 'reward': expected a finite number or null, got nan",
    ),
    (
        "reward_infinity",
        _literal("retail_4", "reward", "Infinity"),
        "record 'retail_4': field 'reward': expected a finite number or null, got inf",
    ),
    (
        "reward_minus_infinity",
        _literal("airline_0", "reward", "-Infinity"),
        "record 'airline_0': field 'reward': expected a finite number or null, got -inf",
    ),
    (
        "reward_1e400",
        _literal("retail_4", "reward", "1e400"),
        "record 'retail_4': field 'reward': expected a finite number or null, got inf",
    ),
    (
        "quality_score_nan",
        _literal("retail_4", "quality_score", "NaN"),
        "record 'retail_4': field 'quality_score': expected a finite number or null, got nan",
    ),
    (
        "key_arabic_indic_digit",
        _mutate(_set("airline_\u0663", make_session("airline_3", ["hi"]))),
        "record 'airline_\u0663': key is not <domain>_<i>",
    ),
    (
        "key_trailing_newline",
        _mutate(_set("retail_0\n", make_session("retail_0", ["hi"]))),
        "record 'retail_0\\n': key is not <domain>_<i>",
    ),
    (
        "key_batch_then_newline",
        _mutate(_set("retail_0_ann2\n", make_session("retail_0", ["hi"]))),
        "record 'retail_0_ann2\\n': key is not <domain>_<i>",
    ),
    (
        "duplicate_instance_id",
        GOOD_TEXT[:-1] + ', "retail_4": ' + json.dumps(make_session("retail_4", ["again"])) + "}",
        "record 'retail_4': the same key twice in the top-level object, at line 1, column ",
    ),
    (
        "duplicate_key_inside_a_record",
        _literal("retail_4", "reward", '0.0, "reward": 1.0'),
        "record 'retail_4': the key 'reward' twice in one object (its entries ",
    ),
    (
        "answer_nested_40_deep",  # parses, but recursive code (json.dumps) must never meet it
        _mutate(_set_answer("airline_0", "reuse", _nested(40))),
        "record 'airline_0': field 'survey.reuse.answer': nested too deeply: more than 32 levels of arrays and objects",
    ),
    (
        "megabyte_value_quoted",
        _mutate(_set_field("retail_4", "reward", MEGABYTE)),
        f"record 'retail_4': field 'reward': expected a number or null, got a string '{'x' * 79}…(1,000,002 chars)",
    ),
    (
        "megabyte_key_quoted",
        _mutate(_set("airline_0" + MEGABYTE, make_session("airline_0", ["hi"]))),
        f"record 'airline_0{'x' * 70}…(1,000,011 chars): key is not <domain>_<i>",
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD_HUMAN_FILES, ids=[c[0] for c in BAD_HUMAN_FILES])
def test_bad_human_file_raises_data_error_naming_file_record_field(
    tmp_path: Path, case: str, text: str, expected: str
) -> None:
    path = tmp_path / paths.HUMAN_FILE.name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        data.load_human_sessions(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {expected}")
    assert "\n" not in message
    assert len(message) < len(str(path)) + 400  # a quoted value is an excerpt, never the whole


@pytest.mark.parametrize(("case", "text", "expected"), BAD_HUMAN_FILES, ids=[c[0] for c in BAD_HUMAN_FILES])
def test_cli_validate_bad_human_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, expected: str
) -> None:
    # A neutral name: the kind is detected from the content.
    path = tmp_path / "sessions.json"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}: {expected}")
    # The notebook path raises the same error with the same message.
    with pytest.raises(DataError) as info:
        cli.validate_file(path)
    assert err == f"error: {info.value}\n"


# ------------------------------------------- invalid answers: warnings, not errors
# (case id, change, record, field, problem): the record is kept, the index skips the answer
INVALID_HUMAN_ANSWERS = [
    ("not_an_option", _set_answer("airline_0_ann3", "efficiency", "Super fast"), "airline_0_ann3",
     "survey.efficiency.answer", f"'Super fast' is not one of the options ({EFFICIENCY_OPTIONS})"),
    ("mis_cased", _set_answer("retail_4", "human_like", "yes"), "retail_4", "survey.human_like.answer",
     "'yes' is not one of the options ('No', 'Partially', 'Yes')"),
    ("number", _set_answer("airline_0", "overall_score", 4), "airline_0", "survey.overall_score.answer",
     "4 is not one of the options"),
    ("list", _set_answer("airline_0", "reuse", ["Yes"]), "airline_0", "survey.reuse.answer",
     "['Yes'] is not one of the options"),
    ("object", _set_answer("airline_0", "reuse", {"text": "Yes"}), "airline_0", "survey.reuse.answer",
     "{'text': 'Yes'} is not one of the options"),
    ("boolean", _set_answer("retail_4_ann2", "efficiency", True), "retail_4_ann2", "survey.efficiency.answer",
     "True is not one of the options"),
    ("flat_number_entry", _set_entry("airline_0_ann2", "task_success", 5), "airline_0_ann2", "survey.task_success",
     "5 is not one of the options"),
    ("flat_list_entry", _set_entry("airline_0_ann2", "task_success", [1, 2]), "airline_0_ann2", "survey.task_success",
     "[1, 2] is not one of the options"),
    ("nested_32_deep", _set_answer("airline_0", "reuse", _nested(32)), "airline_0", "survey.reuse.answer",
     "[[[[...]]]] is not one of the options"),
    ("free_text_not_text", _set_answer("airline_0", "specific_examples", 3), "airline_0",
     "survey.specific_examples.answer", "expected free text (a string), got a number"),
    ("megabyte_answer", _set_answer("airline_0", "reuse", MEGABYTE), "airline_0", "survey.reuse.answer",
     f"'{'x' * 79}…(1,000,002 chars) is not one of the options"),
]


@pytest.mark.parametrize(
    ("case", "change", "record", "field", "problem"), INVALID_HUMAN_ANSWERS, ids=[c[0] for c in INVALID_HUMAN_ANSWERS]
)
def test_invalid_answer_keeps_its_record_with_one_warning(
    tmp_path: Path, case: str, change, record: str, field: str, problem: str
) -> None:
    records = human_records()
    change(records)
    path = write_json(tmp_path / paths.HUMAN_FILE.name, records)
    found: list[DataWarning] = []
    loaded = data.load_human_sessions(path, warnings=found)
    assert loaded == records  # every record kept, unchanged
    assert len(found) == 1
    warning = found[0]
    assert (warning.file, warning.record, warning.field) == (str(path), record, field)
    assert str(warning).startswith(f"{path}: record {record!r}: field {field!r}: {problem}")
    assert "\n" not in str(warning) and len(str(warning)) < len(str(path)) + 300
    assert data.load_human_sessions(path) == records  # no collector: the same records, quietly
    with pytest.raises(DataError) as info:
        data.load_human_sessions(path, strict=True)
    assert str(info.value) == str(warning)
    item = field.split(".")[1]
    if item in survey.SURVEY_OPTIONS:  # the answer counts as missing in the tables, as in the index
        cell = data.surveys_table(loaded, label="human").set_index(["instance_id", "item"]).loc[(record, item)]
        assert math.isnan(cell["value"])


@pytest.mark.parametrize(
    ("case", "change", "record", "field", "problem"), INVALID_HUMAN_ANSWERS, ids=[c[0] for c in INVALID_HUMAN_ANSWERS]
)
def test_cli_validate_invalid_answer_warns_and_exits_0_or_2_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, change, record: str, field: str, problem: str
) -> None:
    records = human_records()
    change(records)
    path = write_json(tmp_path / "sessions.json", records)
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: valid human-study file\n") and "human sessions: 6 (5 kept)" in out
    assert err.count("\n") == 1 and err.startswith(f"warning: {path}: record {record!r}: field {field!r}: {problem}")
    assert cli.main(["validate", "--strict", str(path)]) == 2
    out, strict_err = capsys.readouterr()
    assert out == "" and strict_err == err.replace("warning: ", "error: ", 1)


def test_warning_lines_are_distinct_and_capped() -> None:
    warnings = [
        DataWarning("not an option", file="f.json", record=f"airline_{i}", field="survey.reuse") for i in range(25)
    ]
    lines = cli.warning_lines(warnings + warnings[:3])  # repeats are listed once
    assert len(lines) == cli.MAX_WARNING_LINES + 1
    assert lines[0] == "f.json: record 'airline_0': field 'survey.reuse': not an option"
    assert lines[-1] == "... and 5 more warnings"
    assert cli.warning_lines(warnings[:2]) == [str(warnings[0]), str(warnings[1])]
    assert cli.warning_lines(warnings[:21])[-1] == "... and 1 more warning"
    assert cli.warning_lines([]) == []


def test_human_summary_counts_invalid_answers_only_when_there_are_some() -> None:
    records = human_records()
    assert "not an option" not in overview.summarise_human(records)
    _set_answer("airline_0", "reuse", "Definitely")(records)
    _set_entry("retail_4", "efficiency", 2)(records)
    assert ("; 5 of 48 answers missing (2 of them not an option, skipped by the index)"
            in overview.summarise_human(records))


def test_count_warnings_by_file_and_field() -> None:
    warnings = [
        DataWarning("p", file=Path("x/survey_comparable_b.json"), record="airline_1", field="survey.reuse.answer"),
        DataWarning("p", file="x/tau_bench_tasks_unified.json", record="airline_1", field="survey.efficiency.answer"),
        DataWarning("p", file="x/survey_comparable_b.json", record="airline_2", field="survey.reuse.answer"),
        DataWarning("p", file="x/survey_comparable_b.json", record="airline_2", field="survey.efficiency.answer"),
    ]
    table = data.count_warnings(warnings)
    assert table.values.tolist() == [
        ["survey_comparable_b.json", "survey.efficiency.answer", 1],
        ["survey_comparable_b.json", "survey.reuse.answer", 2],
        ["tau_bench_tasks_unified.json", "survey.efficiency.answer", 1],
    ]
    assert data.count_warnings([]).columns.tolist() == ["file", "field", "n"] and data.count_warnings([]).empty


def test_duplicate_keys_are_located(tmp_path: Path) -> None:
    indented = tmp_path / "sessions.json"
    indented.write_text('{\n  "airline_0": {"conversation": []},\n  "retail_1": {},\n    "airline_0": {}\n}\n')
    with pytest.raises(DataError) as info:
        data.read_json(indented)
    assert str(info.value) == (
        f"{indented}: record 'airline_0': the same key twice in the top-level object, at line 2, column 3 "
        "and at line 4, column 5 (a JSON reader keeps only the last)"
    )
    trajectories = tmp_path / "run.json"  # a list: records are named by item, as tau-bench errors are
    trajectories.write_text('[{"task_id": 0}, {"task_id": 1, "trial": 0, "trial": 1}]')
    with pytest.raises(DataError) as info:
        data.read_json(trajectories)
    assert str(info.value) == (
        f"{trajectories}: record 'item 1': the key 'trial' twice in one object (its entries 2 and 3; "
        "a JSON reader keeps only the last)"
    )


# ------------------------------------------------------- files that are not files
def test_read_json_refuses_a_device_without_reading_it() -> None:
    with pytest.raises(DataError, match=r"^/dev/null: not a regular file \(a FIFO, device or socket\)"):
        data.read_json("/dev/null")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_read_json_refuses_a_fifo_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "eval_results_pipe.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            data.read_json(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)  # opening a FIFO would block: never join forever
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "read_json waited on a FIFO"
    assert len(outcome) == 1 and isinstance(outcome[0], DataError)
    assert str(outcome[0]) == f"{fifo}: not a regular file (a FIFO, device or socket), expected a JSON file"


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="POSIX only")
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_cli_validate_refuses_unbounded_files_in_one_line(tmp_path: Path, special: str) -> None:
    target = tmp_path / "x.json"
    if special == "fifo":
        os.mkfifo(target)
    else:
        target = Path(special)
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "  # no runaway reads
    done = subprocess.run(
        [sys.executable, "-c", limit + "from usersim_utils.data.cli import main; raise SystemExit(main())",
         "validate", str(target)],
        capture_output=True, text=True, cwd=paths.REPO_ROOT, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {target}: not a regular file (a FIFO, device or socket), expected a JSON file\n"


# ------------------------------------------------------------ one-line excerpts, keys
def test_excerpt_keeps_short_values_and_cuts_long_ones() -> None:
    assert excerpt("Super fast") == "'Super fast'" and excerpt(4) == "4" and excerpt(None) == "None"
    cut = excerpt(MEGABYTE)
    assert cut == f"'{'x' * 79}…(1,000,002 chars)"
    deep: Any = []
    for _ in range(100_000):  # built without recursion; repr() of it would overflow the stack
        deep = [deep]
    assert len(excerpt(deep)) <= 100 and len(excerpt({"a": [MEGABYTE] * 1000})) <= 100
    assert excerpt(10**400).endswith("…(401 chars)") and "bits" in excerpt(10**5000)
    assert len(str(DataError("bad", file="f.json", record=MEGABYTE, field=MEGABYTE))) < 250


def test_is_finite_number() -> None:
    assert all(is_finite_number(v) for v in (0, 1, -2.5, 1e308, 10**300))
    assert not any(is_finite_number(v) for v in (math.nan, math.inf, -math.inf, 10**400, True, "1", None))


def test_keys_are_ascii_digits_and_matched_whole() -> None:
    for bad in ("airline_\u0663", "retail_0\n", "retail_0_ann2\n", "retail_\uff11", "retail_1_\u0662", "airline_3 "):
        assert not ids.is_valid_key(bad), repr(bad)
        assert ids.task_key(bad) == bad
        assert ids.KEY_RE.match(bad) is None  # match is a whole-key test too
    assert ids.suffix_run_split(["retail_1_\u0662", "retail_1_2"]) == {"1": {"retail_1_\u0662": "retail_1_\u0662"},
                                                                     "2": {"retail_1": "retail_1_2"}}
    # The run of a key for ECE stays the reference's prefix match, over ASCII digits.
    assert ids.ece_run_index("retail_1_2") == "2" and ids.ece_run_index("retail_1_2_3") == "3"
    assert ids.ece_run_index("retail_\u0661_2") == "1" and ids.ece_run_index("retail_1") == "1"


def test_cli_as_a_module_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_mutate(_del_message_field("airline_0", 3, "role")), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "usersim_utils.data", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"error: {path}: record 'airline_0': field 'conversation[3].role': missing\n"


def test_read_json_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        data.read_json(tmp_path / "absent.json")
    with pytest.raises(DataError, match="is a directory"):
        data.read_json(tmp_path)


def test_truncated_inside_a_string_is_reported_as_truncated(tmp_path: Path) -> None:
    path = write_json(tmp_path / "x.json", {"airline_0": {}})
    path.write_text('{"airline_0": {"conversation": "hel', encoding="utf-8")
    with pytest.raises(DataError, match=r"truncated JSON: a string opened at line 1, column 32 is never closed"):
        data.read_json(path)


def test_validate_human_sessions_rejects_an_array_top_level() -> None:
    with pytest.raises(DataError, match="^f.json: top level is an array, expected an object keyed by instance id$"):
        data.validate_human_sessions([{"conversation": []}], file="f.json")


def test_cli_array_that_is_not_tau_bench_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path / "x.json", [1, 2])
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: top level is an array but not a tau-bench trajectory list " \
        "(each item needs 'task_id' and 'traj'); expected an object keyed by instance id\n"


def test_missing_file_through_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.json'}: no such file\n"


# ------------------------------------------------------------ good human files / tables
def test_sessions_table_columns_values_and_meta_removal() -> None:
    table = data.sessions_table(human_records())
    assert tuple(table.columns) == data.SESSION_COLUMNS
    assert list(table["instance_id"]) == [
        "airline_0", "retail_4", "airline_0_ann2", "retail_4_ann2", "airline_0_ann3", "retail_4_ann3",
    ]
    row = table.set_index("instance_id")
    assert set(table["batch"]) == {1, 2, 3}
    assert row.loc["retail_4_ann2", "batch"] == 2 and row.loc["airline_0_ann3", "batch"] == 3
    assert row.loc["retail_4", "task_key"] == "retail_4" and row.loc["retail_4_ann3", "task_key"] == "retail_4"
    assert row.loc["retail_4_ann3", "task_index"] == 4 and row.loc["retail_4_ann3", "domain"] == "retail"
    # keep: missing -> True, false honoured
    assert bool(row.loc["airline_0_ann2", "keep"]) is True
    assert bool(row.loc["retail_4_ann2", "keep"]) is False
    # reward: null -> NaN reward and success 0; integer 1 -> success 1
    assert math.isnan(row.loc["airline_0_ann2", "reward"]) and row.loc["airline_0_ann2", "success"] == 0
    assert row.loc["airline_0_ann3", "success"] == 1 and row.loc["retail_4", "success"] == 0
    # meta messages are counted in n_messages but not in n_user_turns
    assert row.loc["retail_4", "n_messages"] == N_META + 2 * 3
    assert row.loc["retail_4", "n_user_turns"] == 3
    assert row.loc["airline_0", "n_user_words"] == len("hi i need to cancel my flight".split()) + 1
    assert table["task_index"].dtype == "int64" and table["success"].dtype == "int64"
    assert table["quality_score"].tolist() == [85.0] * 6


def test_turns_table_flags_each_meta_message() -> None:
    records = human_records()
    turns = data.turns_table(records)
    assert tuple(turns.columns) == data.TURN_COLUMNS
    assert len(turns) == sum(len(r["conversation"]) for r in records.values())
    assert turns.groupby("instance_id")["is_meta"].sum().eq(N_META).all()
    airline = turns[turns["instance_id"] == "airline_0"]
    assert airline["position"].tolist() == list(range(len(airline)))
    kept_user = airline[(airline["role"] == "user") & ~airline["is_meta"]]["content"].tolist()
    assert kept_user == ["hi i need to cancel my flight", "mia_li_3668"]


def test_turns_table_for_rollouts_drops_only_stop() -> None:
    records = {"retail_1": {"conversation": [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "\\tau not a meta message here"},
        {"role": "user", "content": " ###STOP### "},
        {"role": "assistant", "content": None},
    ]}}
    turns = data.turns_table(records, source="llm")
    assert turns["is_meta"].tolist() == [False, False, True, False]
    assert turns["content"].iloc[3] == ""


def test_surveys_table_maps_answers_to_ordinal_values() -> None:
    table = data.surveys_table(human_records(), label="human")
    assert tuple(table.columns) == data.SURVEY_COLUMNS
    assert len(table) == 6 * len(data.SURVEY_TABLE_ITEMS)
    assert set(table["label"]) == {"human"}
    cell = table.set_index(["instance_id", "item"])
    # "Too few" scores like "Too many": 1 of 1-2, normalised to 0
    assert cell.loc[("airline_0", "question_amount_preference"), "value"] == 1.0
    assert cell.loc[("airline_0", "question_amount_preference"), "value_norm"] == 0.0
    assert cell.loc[("airline_0", "efficiency"), "value"] == 3.0
    assert cell.loc[("airline_0", "efficiency"), "value_norm"] == pytest.approx(2 / 3)
    assert cell.loc[("airline_0", "overall_score"), "value_norm"] == pytest.approx(0.75)
    # free text keeps its answer but has no value
    assert cell.loc[("airline_0", "specific_examples"), "answer"] == "It found my order quickly."
    assert math.isnan(cell.loc[("airline_0", "specific_examples"), "value"])
    # null and blank answers are missing, not errors
    for item in ("efficiency", "reuse", "human_like"):
        assert math.isnan(cell.loc[("retail_4_ann3", item), "value"])
    assert pd.isna(cell.loc[("retail_4_ann3", "efficiency"), "answer"])
    assert cell.loc[("retail_4_ann2", "task_success"), "batch"] == 2
    assert not cell.loc[("retail_4_ann2", "task_success"), "keep"]


def test_surveys_table_takes_keep_from_the_given_mapping() -> None:
    records = {"retail_4_ann2": {"survey": make_survey(reuse="Definitely")}, "airline_9": {"survey": {}}}
    table = data.surveys_table(records, label="sim", keep={"retail_4_ann2": False})
    keep = table.groupby("instance_id")["keep"].first()
    assert not keep["retail_4_ann2"] and keep["airline_9"]
    reuse = table.set_index(["instance_id", "item"]).loc[("retail_4_ann2", "reuse")]
    assert reuse["answer"] == "Definitely" and math.isnan(reuse["value"])


def test_meta_kind_names_each_meta_message_and_agrees_with_features() -> None:
    turns = data.turns_table(human_records())
    kinds = turns["content"].map(overview.meta_kind)
    assert (kinds.notna() == turns["is_meta"]).all()
    per_session = kinds.dropna().groupby(turns["instance_id"]).value_counts().unstack()
    assert per_session.columns.tolist() == sorted(overview.META_KINDS)
    expected = {"task header": 1, "instructions canvas": 1, "stop": 1, "survey prompt": 1, "reward check": 2}
    assert per_session.eq(pd.Series(expected)).all().all()


def test_answer_distribution_counts_kept_valid_answers_per_option() -> None:
    table = data.surveys_table(human_records(), label="human")
    dist = overview.answer_distribution(table)
    assert list(dist.columns) == ["item", "answer", "rank", "value", "n", "share"]
    assert len(dist) == sum(len(o) for o in survey.SURVEY_OPTIONS.values())
    efficiency = dist[dist["item"] == "efficiency"].set_index("answer")
    # 5 kept sessions, one of which left efficiency unanswered
    assert efficiency.loc["About right", "n"] == 4 and efficiency.loc["About right", "share"] == 1.0
    assert efficiency.loc["Very efficient", "n"] == 0 and efficiency["rank"].tolist() == [0, 1, 2, 3]
    assert dist.groupby("item")["share"].sum().round(12).eq(1.0).all()


def test_cli_validate_good_human_file_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path / "sessions.json", human_records())
    assert cli.main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: valid human-study file\n")
    assert "human sessions: 6 (5 kept)" in out
    assert "batch 1: airline 1, retail 1" in out and "batch 3: airline 1, retail 1" in out
    assert "reward rate (kept sessions): 0.400" in out  # kept: 1, 0, null->0, 1, 0
    assert "all 8 ordinal items answered in 5/6 sessions; 3 of 48 answers missing" in out


# --------------------------------------------------------------- rollouts and surveys
def test_eval_results_validation_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = {
        f"{task}_{run}": {
            "instance_id": task,
            "conversation": [
                {"role": "assistant", "content": "Hi! How can I help you today?"},
                {"role": "user", "content": "cancel it"},
                {"role": "assistant", "content": None},
                {"role": "user", "content": "###STOP###"},
            ],
            "reward": float(run == 1),
            "survey": {"efficiency": {"answer": "fast-ish"}},  # invalid simulator answer: allowed
        }
        for task in ("airline_1", "retail_2")
        for run in (1, 2, 3)
    }
    path = write_json(tmp_path / "eval_results_sim.json", records)
    found: list[DataWarning] = []
    assert data.load_eval_results(path, warnings=found) == records
    assert [str(w) for w in found] == [
        f"{path}: record {key!r}: field 'survey.efficiency.answer': 'fast-ish' is not one of the options "
        f"({EFFICIENCY_OPTIONS})"
        for key in records
    ]
    summary = overview.rollouts_overview(records)
    assert summary == {
        "entries": 6, "kept": 6, "runs": 3, "tasks": 2, "domains": ["airline", "retail"],
        "reward_rate": pytest.approx(1 / 3), "with_survey": 6,
    }
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: valid rollout file (eval_results)\n")
    assert "rollouts: 6 entries (6 kept), 3 run(s), 2 tasks (airline, retail)" in out
    assert "reward rate (kept entries): 0.333" in out
    assert err.splitlines() == [f"warning: {w}" for w in found]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            {"airline_1_run2": {"conversation": []}},
            "record 'airline_1_run2': key is not <domain>_<i> (domain airline or retail) "
            "with an optional _ann2/_ann3 or run suffix",
        ),
        ({"airline_1_2": {"reward": 1.0}}, "record 'airline_1_2': field 'conversation': missing"),
        (
            {"airline_1_2": {"conversation": [{"content": "hi"}]}},
            "record 'airline_1_2': field 'conversation[0].role': missing",
        ),
        ({"airline_1_2": "hi"}, "record 'airline_1_2': expected an object, got a string"),
        (
            {"airline_1_2": {"conversation": [], "reward": math.nan}},
            "record 'airline_1_2': field 'reward': expected a finite number or null, got nan",
        ),
        (
            {"airline_1_2": {"conversation": [], "reward": math.inf}},
            "record 'airline_1_2': field 'reward': expected a finite number or null, got inf",
        ),
        (
            {"airline_1_2": {"conversation": [], "reward": 10**400}},
            "record 'airline_1_2': field 'reward': expected a finite number or null, got 1000",
        ),
        ({"airline_1_2\n": {"conversation": []}}, "record 'airline_1_2\\n': key is not <domain>_<i>"),
        ({"airline_1_\u0662": {"conversation": []}}, "record 'airline_1_\u0662': key is not <domain>_<i>"),
        (
            {"airline_1_2": {"conversation": [], "survey": ["Yes"]}},
            "record 'airline_1_2': field 'survey': expected an object",
        ),
    ],
)
def test_bad_eval_results(tmp_path: Path, capsys: pytest.CaptureFixture[str], records: dict, expected: str) -> None:
    path = write_json(tmp_path / "eval_results_sim.json", records)
    with pytest.raises(DataError) as info:
        data.load_eval_results(path)
    assert str(info.value).startswith(f"{path}: {expected}")
    assert cli.main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {info.value}\n"


def test_cli_bad_tau_bench_list_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path / "run.json", [{"task_id": 0, "trial": 0, "traj": [{"role": "user", "content": "hi"}]}])
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: record 'item 0': field 'reward'") and err.count("\n") == 1


def test_survey_file_accepts_invalid_simulator_answers_but_needs_a_survey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {"airline_0": {"survey": make_survey(efficiency="Quick")}, "airline_0_ann2": {"survey": {"reuse": "Yes"}}}
    path = write_json(tmp_path / "survey_comparable_sim.json", good)
    found: list[DataWarning] = []
    assert data.load_survey_records(path, warnings=found) == good
    assert [(w.record, w.field) for w in found] == [("airline_0", "survey.efficiency.answer")]
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {found[0]}\n"
    assert "surveys (sim): 2 records (batch 1: 1, batch 2: 1)" in out
    assert "ordinal answers: 8 valid, 1 not an option (scored as missing), 7 missing, of 16" in out
    with pytest.raises(DataError, match="not one of the options"):
        data.validate_survey_records(good, file="s.json", strict=True)
    bad = write_json(tmp_path / "survey_comparable_bad.json", {"airline_0": {"answers": {}}})
    assert cli.main(["validate", str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {bad}: record 'airline_0': field 'survey': missing\n"


def test_detect_kind() -> None:
    human = human_records()
    assert data.detect_kind(human, "whatever.json") == "human"
    assert data.detect_kind({"airline_0": {"survey": {}}}, "x.json") == "survey"
    assert data.detect_kind({"airline_0_ann2": {"survey": {}}}, "x.json") == "survey"
    assert data.detect_kind({"airline_0_1": {"conversation": []}}, "x.json") == "eval_results"
    assert data.detect_kind([{"task_id": 0, "traj": []}], "x.json") == "tau_bench"
    assert data.detect_kind(human, "eval_results_a.json") == "eval_results"
    assert data.detect_kind(human, "survey_comparable_a.json") == "survey"
    assert data.detect_kind([], "tau_bench_tasks_unified.json") == "human"


# ---------------------------------------------------------------------- the study
def test_resolve_study_uses_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_study(tmp_path / "tau-usi")
    monkeypatch.setenv(paths.STUDY_DIR_ENV, str(root))
    study = data.resolve_study()
    assert study.root == root.resolve()
    assert not study.synthetic
    assert len(study.sessions) == 6 and len(study.records) == 6
    assert set(study.surveys["label"]) == {"human"}
    assert list(study.eval_results) == ["alpha", "zeta"]
    assert list(study.simulator_surveys) == ["alpha"]
    assert study.rerating_path == root.resolve() / "survey_data" / "survey_comparable_human-eval-100.json"
    banner = study.banner()
    assert "SYNTHETIC" not in banner and "CC-BY-NC-4.0" in banner and "train language models" in banner
    # an explicit parameter beats the env var
    other = make_study(tmp_path / "other")
    assert data.resolve_study(str(other)).root == other.resolve()


def test_resolve_study_falls_back_to_the_synthetic_demo_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.STUDY_DIR_ENV, raising=False)
    monkeypatch.setattr(paths, "RAW_STUDY_DIR", tmp_path / "raw" / "tau-usi")
    study = data.resolve_study()
    assert study.synthetic and study.root == paths.DEMO_STUDY_DIR
    assert "SYNTHETIC DEMO DATA" in study.banner()
    assert set(study.sessions["batch"]) == {1, 2, 3}
    assert study.eval_results and all(label.startswith("SYNTHETIC-") for label in study.eval_results)
    assert study.rerating_path is not None and study.rerating_path.is_file()


def test_resolve_study_explicit_folder_without_the_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(paths.STUDY_DIR_ENV, raising=False)
    expected = f"{tmp_path}: no data/tau_bench_tasks_unified.json in this folder (given by study_dir)"
    with pytest.raises(DataError, match="^" + re.escape(expected)):
        data.resolve_study(str(tmp_path))
    monkeypatch.setenv(paths.STUDY_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=r"given by \$USERSIM_TAU_USI_DIR"):
        data.resolve_study()


def test_resolve_study_without_demo_and_data_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.STUDY_DIR_ENV, raising=False)
    monkeypatch.setattr(paths, "RAW_STUDY_DIR", tmp_path / "raw" / "tau-usi")
    with pytest.raises(DataError, match="run `make download`"):
        data.resolve_study(allow_demo=False)


def test_the_demo_panel_gets_the_loud_banner_and_a_synthetic_name_alone_does_not(
        tmp_path: Path, demo_study: data.Study, capsys: pytest.CaptureFixture[str]) -> None:
    assert not data.load_study(make_study(tmp_path / "SYNTHETIC-tau-usi")).synthetic  # no generator's stamp
    study = demo_study
    assert study.synthetic
    assert study.banner().startswith("## ⚠️ SYNTHETIC DEMO DATA")
    data.show_banner(study)  # outside IPython: plain text
    assert "SYNTHETIC DEMO DATA" in capsys.readouterr().out


def test_write_tables_round_trips_atomically(tmp_path: Path) -> None:
    study = data.load_study(make_study(tmp_path / "study"))
    written = handover.write_tables(study, tmp_path / "out")
    assert set(written) == {"sessions", "turns", "surveys", "study"}
    pd.testing.assert_frame_equal(pd.read_parquet(written["sessions"]), study.sessions)
    pd.testing.assert_frame_equal(pd.read_parquet(written["turns"]), study.turns)
    pd.testing.assert_frame_equal(pd.read_parquet(written["surveys"]), study.surveys)
    assert json.loads(written["study"].read_text())["synthetic"] is False
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "sessions.parquet", "study.json", "surveys.parquet", "turns.parquet",
    ]


def test_cli_describe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_study(tmp_path / "study")
    assert cli.main(["describe", "--study-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "human sessions: 6 (5 kept)" in out and "simulator rollouts: 2 (alpha, zeta)" in out


# ---------------------------------------------------------------------- download
@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any network call, or any Hub download, fails the test."""
    import huggingface_hub

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def test_download_is_a_no_op_when_the_files_are_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: None
) -> None:
    root = make_study(tmp_path / "tau-usi")
    assert data.download(root) == root.resolve()
    out = capsys.readouterr().out
    assert out.startswith("Terms of cmu-lti/tau-usi:") and "nothing downloaded" in out
    assert cli.main(["download", "--dest", str(root)]) == 0


def test_download_defaults_to_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    root = make_study(tmp_path / "tau-usi")
    monkeypatch.setenv(paths.STUDY_DIR_ENV, str(root))
    assert data.download() == root.resolve()


def test_download_failures_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls: list[dict[str, Any]] = []

    def offline(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise LocalEntryNotFoundError("offline\nsecond line")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert cli.main(["download", "--dest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: the files are not there and the Hub client is offline (HF_HUB_")
    assert "`make download`" in err and err.count("\n") == 1
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # on, but no network
    assert cli.main(["download", "--dest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached (no network?)" in err and "HF_TOKEN" in err and "offline" not in err
    assert calls == [
        {
            "repo_id": "cmu-lti/tau-usi",
            "repo_type": "dataset",
            "local_dir": tmp_path.resolve(),
            "token": "hf_test_token",
            "force_download": False,
        }
    ] * 2

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("connection reset\nmore")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", broken)
    with pytest.raises(DataError, match=r"download failed: RuntimeError: connection reset$"):
        data.download(tmp_path, force=True)


def test_download_without_a_token_says_to_set_hf_token_before_any_network_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_network: None
) -> None:
    """Before: offline and without a token, the error named HF_HUB_OFFLINE, which
    `make download` had already turned off, and never HF_TOKEN."""
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # no stored `hf auth login` either
    assert cli.main(["download", "--dest", str(tmp_path / "tau-usi")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Hugging Face token" in err
    assert "export HF_TOKEN=" in err and schema.HF_DATASET_URL in err and "hf auth login" in err


# ------------------------------------------------------- real tau-bench trajectories
def test_load_eval_results_converts_real_tau_bench_trajectories(
    capsys: pytest.CaptureFixture[str], shared_file
) -> None:
    tau_bench = shared_file("data/tau-bench/gpt-4o-airline.json")
    raw = json.loads(tau_bench.read_text())
    records = data.load_eval_results(tau_bench, domain="airline")
    assert len(records) == len(raw) == 200
    assert {ids.task_key(k) for k in records} == {f"airline_{i}" for i in range(50)}
    success = [int((r.get("reward") or 0) > 0) for r in records.values()]
    assert sum(success) == sum(int(x["reward"] > 0) for x in raw)
    assert cli.main(["validate", str(tau_bench)]) == 0
    out = capsys.readouterr().out
    assert "valid tau-bench trajectory list" in out and "rollouts: 200 entries (200 kept), 4 run(s), 50 tasks" in out
