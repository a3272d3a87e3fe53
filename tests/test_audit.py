"""The misbehaviour audit: each rule on small conversations, each flag planted in a real
tau-bench trajectory, the flag rates on the unmodified trajectories, and the command."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usersim_utils import audit, data, ids, paths, stats

from seeded_study import make_study as make_panel

SHARED_TAU_BENCH = paths.REPO_ROOT.parent / "shared" / "data" / "tau-bench" / "gpt-4o-airline.json"
needs_shared = pytest.mark.skipif(not SHARED_TAU_BENCH.exists(), reason="../shared/data is absent")
#: Highest rate of each flag tolerated on the unmodified GPT-4o trajectories. early_stop
#: also fires when the agent never made the required change and the user, rightly, ends.
FLAG_RATE_BOUNDS = {"early_stop": 0.30, "instruction_copy": 0.10}
DEFAULT_BOUND = 0.02

CONTEXT = audit.TaskContext(
    domain="airline",
    instruction="You are mia_li_3668. You want to fly from New York to Seattle on May 20 (one way) in economy "
                "and you do not want to fly before 11am est.",
    required={"book_reservation": 1},
    transfer=frozenset({"transfer_to_human_agents"}),
    known=frozenset({"mia_li_3668", "ZFA04Y"}),
)


def _conv(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


def _flags(conversation, source="llm", context=CONTEXT) -> list[tuple[str, int]]:
    return [(f.flag, f.turn) for f in audit.audit_conversation(conversation, source, context)]


OK = _conv(("assistant", "Hi! How can I help you today?"),
           ("user", "I want to book a flight to Seattle."),
           ("assistant", "Sure, what is your user id?"),
           ("user", "It is mia_li_3668."),
           ("assistant", '<function=book_reservation><parameter=user_id>mia_li_3668</parameter></function>'
                         "<|tool|>{}<|/tool|>Booked."),
           ("user", "Thanks! ###STOP###"))


# --- Each rule. ------------------------------------------------------------------------------------
def test_a_clean_conversation_raises_nothing() -> None:
    assert _flags(OK) == []


def test_empty_turn_but_not_a_bare_stop() -> None:
    conv = OK[:3] + _conv(("user", "  \n")) + OK[3:]
    assert ("empty_turn", 3) in _flags(conv)
    assert not [f for f in _flags(OK[:5] + _conv(("user", "###STOP###"))) if f[0] == "empty_turn"]
    invisible = OK[:3] + _conv(("user", "\u200b\u200d \ufeff\u2060")) + OK[3:]  # zero-width characters only
    assert ("empty_turn", 3) in _flags(invisible)
    assert not [f for f in _flags(OK[:3] + _conv(("user", "ok\u200b")) + OK[3:]) if f[0] == "empty_turn"]


def test_repeated_turn_needs_the_same_long_text_twice_in_a_row() -> None:
    conv = OK[:3] + _conv(("user", "I want to BOOK a flight  to Seattle."), ("assistant", "Your id?")) + OK[3:]
    assert ("repeated_turn", 3) in _flags(conv)
    short = OK[:2] + _conv(("user", "yes please"), ("assistant", "ok?"), ("user", "yes please")) + OK[2:]
    assert not [f for f in _flags(short) if f[0] == "repeated_turn"]


def test_role_flip_on_agent_phrases_only() -> None:
    conv = copy.deepcopy(OK)
    conv[3]["content"] = "It is mia_li_3668. How can I assist you today?"
    assert ("role_flip", 3) in _flags(conv)
    conv[3]["content"] = "Could you please provide your user id?"
    assert ("role_flip", 3) in _flags(conv)
    conv[3]["content"] = "Would you like my user id? I see that the flight is late."  # customer phrasing
    assert not [f for f in _flags(conv) if f[0] == "role_flip"]


def test_instruction_copy_needs_twelve_consecutive_words() -> None:
    conv = copy.deepcopy(OK)
    conv[1]["content"] = "Hello. You want to fly from New York to Seattle on May 20 (one way) in economy!"
    assert ("instruction_copy", 1) in _flags(conv)
    conv[1]["content"] = "I want to fly from New York to Seattle on May 20, please."  # 11 words shared
    assert not [f for f in _flags(conv) if f[0] == "instruction_copy"]


def test_invented_id_is_one_found_nowhere() -> None:
    conv = copy.deepcopy(OK)
    conv[3]["content"] = "It is mia_li_3668 and the reservation is QX7Z9K."
    assert ("invented_id", 3) in _flags(conv)
    conv[2]["content"] = "Your reservation QX7Z9K was found."  # the agent named it first
    assert not [f for f in _flags(conv) if f[0] == "invented_id"]
    conv[3]["content"] = "Reservation zfa04y, email mia.li2399@example.com."  # in the database; not an id
    conv[2]["content"] = "Your id?"
    assert not [f for f in _flags(conv) if f[0] == "invented_id"]


def test_early_stop_after_the_first_exchange_or_before_the_required_action() -> None:
    assert _flags(OK[:3] + _conv(("user", "###STOP###"))) == [("early_stop", 3)]
    before_booking = OK[:4] + _conv(("assistant", "Let me look."), ("user", "Never mind. ###STOP###"))
    assert ("early_stop", 5) in _flags(before_booking)
    transferred = OK[:4] + _conv(("assistant", "<function=transfer_to_human_agents></function>"),
                                 ("user", "###STOP###"))
    assert not [f for f in _flags(transferred) if f[0] == "early_stop"]


def test_restart_after_stop_in_a_later_message_or_after_the_marker() -> None:
    assert ("restart_after_stop", 6) in _flags(OK + _conv(("user", "Wait, one more thing.")))
    conv = copy.deepcopy(OK)
    conv[5]["content"] = "Thanks! ###STOP### Actually, can you add a bag?"
    assert ("restart_after_stop", 5) in _flags(conv)
    conv[5]["content"] = "Thanks! ###STOP###."
    assert not [f for f in _flags(conv) if f[0] == "restart_after_stop"]


def test_human_sessions_drop_meta_messages_and_stop_at_slash_stop() -> None:
    session = _conv(("user", "\\tau task_index:airline-0 model:gpt-5.2"),
                    ("assistant", "<|canvas|>the task<|/canvas|>Hi! How can I help you today?"),
                    *[(m["role"], m["content"].replace(" ###STOP###", "")) for m in OK[1:]],
                    ("user", "/stop"), ("assistant", "<|survey|>{}<|/survey|>"), ("user", "\\reward"))
    assert _flags(session, "human") == []
    assert ("restart_after_stop", 10) in _flags(session + _conv(("user", "hello again")), "human")
    messages = audit.read_conversation(session, "human")
    assert [m.position for m in messages if m.stop] == [7] and 0 not in [m.position for m in messages]


def test_ids_are_normalised_to_the_database_form() -> None:
    assert audit.find_ids("order w1234567 and #W7654321, user Mia_Li_3668", "retail") == [
        ("user_id", "mia_li_3668"), ("order_id", "#W1234567"), ("order_id", "#W7654321")]
    assert audit.find_ids("zfa04y, HAT136, IFOYYZ", "airline") == [
        ("reservation_id", "ZFA04Y"), ("reservation_id", "HAT136")]


def test_task_context_comes_from_tau_bench() -> None:
    context = audit.task_context("airline_0")
    assert context.instruction.startswith("Your user id is mia_li_3668") or "mia_li_3668" in context.instruction
    assert dict(context.required) == {"book_reservation": 1}
    assert {"mia_li_3668", "HAT136"} <= context.known
    assert "get_user_details" not in audit.write_tools("airline")
    assert {"cancel_pending_order", "return_delivered_order_items"} <= audit.write_tools("retail")


# --- Planted in a real trajectory (tau-bench, MIT; ../shared, read-only). ------------------------------
@pytest.fixture(scope="module")
def trajectories() -> dict[str, dict]:
    if not SHARED_TAU_BENCH.exists():
        pytest.skip("../shared/data is absent")
    return data.load_eval_results(SHARED_TAU_BENCH)


def _clean_base(trajectories: dict[str, dict]) -> tuple[str, list[dict]]:
    """A trajectory with no finding, a required action and at least 4 user turns."""
    for key, record in trajectories.items():
        conv = record["conversation"]
        context = audit.task_context(ids.task_key(key))
        users = [m for m in conv if m["role"] == "user"]
        if context.required and len(users) >= 4 and not audit.audit_conversation(conv, "llm", context):
            return key, conv
    raise AssertionError("no clean trajectory")


def _plant(flag: str, conv: list[dict], context: audit.TaskContext) -> tuple[list[dict], int]:
    """The conversation with ``flag`` planted, and the position where it must be found."""
    conv = copy.deepcopy(conv)
    users = [i for i, m in enumerate(conv) if m["role"] == "user"]
    second = users[1]
    if flag == "empty_turn":
        conv.insert(second, {"role": "user", "content": ""})
        return conv, second
    if flag == "repeated_turn":
        long_turn = next(i for i in users[:-1] if len(conv[i]["content"].split()) >= audit.MIN_REPEAT_WORDS)
        conv.insert(long_turn + 2, {"role": "user", "content": conv[long_turn]["content"]})
        return conv, long_turn + 2
    if flag == "role_flip":
        conv[second]["content"] += " Is there anything else I can help you with?"
        return conv, second
    if flag == "instruction_copy":
        conv[second]["content"] += " " + " ".join(context.instruction.split()[:15])
        return conv, second
    if flag == "invented_id":
        assert "QX7Z9K" not in context.known
        conv[second]["content"] += " My other reservation is QX7Z9K."
        return conv, second
    if flag == "early_stop":
        write = next(i for i, m in enumerate(conv) if m["role"] == "assistant"
                     and any(f"<function={name}>" in m["content"] for name in context.required))
        return conv[:write] + [{"role": "user", "content": "###STOP###"}], write
    assert flag == "restart_after_stop"
    conv.append({"role": "user", "content": "Actually, could you also add one checked bag?"})
    return conv, len(conv) - 1


@needs_shared
@pytest.mark.parametrize("flag", audit.FLAGS)
def test_every_flag_is_found_when_planted_in_a_real_trajectory(trajectories, flag: str) -> None:
    key, conv = _clean_base(trajectories)
    context = audit.task_context(ids.task_key(key))
    planted, position = _plant(flag, conv, context)
    found = [(f.flag, f.turn) for f in audit.audit_conversation(planted, "llm", context)]
    assert (flag, position) in found, found


@needs_shared
def test_a_stop_right_after_the_first_exchange_of_a_real_trajectory(trajectories) -> None:
    key, conv = _clean_base(trajectories)
    assert [m["role"] for m in conv[:3]] == ["assistant", "user", "assistant"]
    cut = conv[:3] + [{"role": "user", "content": "Thanks, bye! ###STOP###"}]
    found = audit.audit_conversation(cut, "llm", audit.task_context(ids.task_key(key)))
    assert [(f.flag, f.turn) for f in found] == [("early_stop", 3)]


@needs_shared
def test_flag_rates_on_the_unmodified_trajectories_are_low(trajectories) -> None:
    _, conversations = audit.audit_records(trajectories, source="llm", name="gpt-4o-airline")
    rates = audit.flag_rates(conversations, np.random.default_rng(0)).set_index("flag")["rate"]
    print("\nflag rates on the 200 unmodified GPT-4o airline trajectories:", rates.round(3).to_dict())
    assert len(conversations) == 200
    for flag, rate in rates.items():
        assert rate <= FLAG_RATE_BOUNDS.get(flag, DEFAULT_BOUND), (flag, rate)
    # an early stop by the missing-action rule means the gold database was not reached
    assert conversations.loc[conversations["early_stop"], "success"].sum() == 0


# --- Rates, differences and reward gaps. ----------------------------------------------------------------
def clustered_study(rng: np.random.Generator, name: str, task_rates: np.ndarray, per_task: int, *,
                    drop: float = 0.0, extra: float = 0.0, success: np.ndarray | None = None,
                    cost: float = 0.0, first_task: int = 0) -> pd.DataFrame:
    """Conversations of one label as :func:`audit.audit_records` tables them, ``early_stop``
    the only flag raised: task t's conversations are flagged with probability ``task_rates[t]``
    (or, independently, ``extra``), succeed with ``success[t]`` minus ``cost`` when flagged;
    a share ``drop`` of them is left out (never a task's first). Tasks are numbered from
    ``first_task``."""
    n_tasks = len(task_rates)
    flagged = (rng.random((n_tasks, per_task)) < task_rates[:, None]) | (rng.random((n_tasks, per_task)) < extra)
    chance = np.full(n_tasks, 0.5) if success is None else success
    wins = rng.random((n_tasks, per_task)) < chance[:, None] - cost * flagged
    kept = rng.random((n_tasks, per_task)) >= drop
    kept[:, 0] = True
    task, copy_ = np.nonzero(kept)
    return pd.DataFrame({"name": name, "record": [f"{name}_{t}_{c}" for t, c in zip(task, copy_)],
                         "task_key": [f"retail_{first_task + t}" for t in task],
                         "success": wins[task, copy_].astype(int),
                         **{flag: flagged[task, copy_] if flag == "early_stop" else False for flag in audit.FLAGS}})


def beta_rates(rng: np.random.Generator, n_tasks: int, rate: float, correlation: float) -> np.ndarray:
    """Per-task flag probabilities from a Beta of mean ``rate`` whose within-task correlation
    of two conversations' flags is ``correlation`` (1 / (a + b + 1))."""
    total = 1.0 / correlation - 1.0
    return rng.beta(rate * total, (1.0 - rate) * total, size=n_tasks)


def test_rates_count_conversations_and_tasks_and_every_flag() -> None:
    conversations = pd.DataFrame({"name": ["a"] * 4, "record": list("wxyz"),
                                  "task_key": ["retail_1"] * 2 + ["retail_2"] * 2, "success": [1, 0, 0, 1],
                                  **{f: [False] * 4 for f in audit.FLAGS}})
    conversations.loc[[1, 2], "early_stop"] = True
    rates = audit.flag_rates(conversations, np.random.default_rng(0))
    assert list(rates.columns) == list(audit.RATE_COLUMNS) and list(rates["flag"]) == list(audit.FLAGS)
    row = rates.set_index("flag").loc["early_stop"]
    assert (row["count"], row["conversations"], row["tasks"], row["rate"]) == (2, 4, 2, 0.5)
    assert row["low"] < 0.5 < row["high"]
    none = rates.set_index("flag").loc["role_flip"]
    # no flag at all: the largest design effect (one observation per task), so Wilson's interval on 2
    assert none["design_effect"] == 2.0
    assert (none["low"], none["high"]) == pytest.approx(stats.wilson_interval(0, 2))


def test_clustered_rate_intervals_cover_at_their_level_where_wilson_does_not() -> None:
    """300 simulated studies (60 tasks x 3 conversations, a flag's per-task probability drawn
    from a Beta of mean 0.3 and within-task correlation 0.8), stacked as 300 names."""
    rng = np.random.default_rng(7)
    n_studies, rate = 300, 0.3
    studies = pd.concat([clustered_study(rng, f"study {i}", beta_rates(rng, 60, rate, 0.8), 3)
                         for i in range(n_studies)], ignore_index=True)
    rates = audit.flag_rates(studies, rng).query("flag == 'early_stop'")
    covered = float(((rates["low"] <= rate) & (rate <= rates["high"])).mean())
    wilson = [stats.wilson_interval(c, n) for c, n in zip(rates["count"], rates["conversations"])]
    wilson_covered = float(np.mean([low <= rate <= high for low, high in wilson]))
    monte_carlo_se = math.sqrt(0.95 * 0.05 / n_studies)
    print(f"\ncoverage of the true rate: clustered {covered:.3f}, Wilson {wilson_covered:.3f} "
          f"(Monte Carlo SE {monte_carlo_se:.3f})")
    assert abs(covered - 0.95) < 3.5 * monte_carlo_se
    assert wilson_covered < 0.95 - 3.5 * monte_carlo_se  # the setting is one where counting conversations fails


def test_a_difference_made_by_dropped_sessions_alone_is_no_difference() -> None:
    """Every conversation of a task flagged alike on both sides, people's sessions of unflagged
    tasks dropped: pooled over conversations people look rarer, task by task they are equal."""
    rng = np.random.default_rng(1)
    task_rates = (np.arange(30) % 3 == 0).astype(float)  # a third of the tasks always flagged
    human = clustered_study(rng, "human", task_rates, 3)
    unflagged = human.index[~human["early_stop"]]
    human = human.drop(unflagged[::4])
    simulator = clustered_study(rng, "sim", task_rates, 3)
    row = audit.rate_differences(pd.concat([human, simulator]), rng).set_index("flag").loc["early_stop"]
    assert human["early_stop"].mean() > simulator["early_stop"].mean()
    assert (row["diff"], row["low"], row["high"]) == (0.0, 0.0, 0.0)
    assert not row["more_often"] and not row["less_often"]
    assert (row["tasks"], row["conversations"], row["human_conversations"]) == (30, 90, len(human))


def test_paired_differences_cover_zero_for_the_human_process_and_resolve_a_real_one() -> None:
    """200 studies of 60 tasks: people 3 sessions per task, 15% dropped; a simulator of the
    same task process (3 runs), and one that also flags 20% of its conversations at random.
    Each study has its own tasks, so one human label holds every study's people."""
    rng = np.random.default_rng(11)
    n_studies, n_tasks = 200, 60
    parts, truths = [], {}
    for i in range(n_studies):
        task_rates = beta_rates(rng, n_tasks, 0.3, 0.8)
        parts += [clustered_study(rng, "human", task_rates, 3, drop=0.15, first_task=i * n_tasks),
                  clustered_study(rng, f"same {i}", task_rates, 3, first_task=i * n_tasks),
                  clustered_study(rng, f"more {i}", task_rates, 3, extra=0.2, first_task=i * n_tasks)]
        truths[f"more {i}"] = 0.2 * (1.0 - task_rates.mean())
    rows = audit.rate_differences(pd.concat(parts, ignore_index=True), rng, n_boot=500).query("flag == 'early_stop'")
    same, more = rows[rows["name"].str.startswith("same")], rows[rows["name"].str.startswith("more")]
    assert (same["tasks"] == n_tasks).all() and len(same) == len(more) == n_studies
    false_verdicts = int((same["more_often"] | same["less_often"]).sum())
    resolved = int(more["more_often"].sum())
    truth = more["name"].map(truths)
    covered = int(((more["low"] <= truth) & (truth <= more["high"])).sum())
    monte_carlo_se = math.sqrt(0.95 * 0.05 / n_studies)
    print(f"\nhuman process told apart in {false_verdicts}/{n_studies}; more flags resolved in {resolved}/{n_studies}, "
          f"true difference covered in {covered}/{n_studies}")
    assert false_verdicts / n_studies < 0.05 + 3.5 * monte_carlo_se
    assert covered / n_studies > 0.95 - 3.5 * monte_carlo_se
    assert resolved / n_studies > 0.8


def test_no_difference_interval_on_few_shared_tasks_and_none_without_people() -> None:
    rng = np.random.default_rng(2)
    few = audit.MIN_INTERVAL_TASKS - 1
    human = clustered_study(rng, "human", np.full(few, 0.5), 3)
    simulator = clustered_study(rng, "sim", np.full(few, 1.0), 3)
    row = audit.rate_differences(pd.concat([human, simulator]), rng).set_index("flag").loc["early_stop"]
    assert row["diff"] > 0 and math.isnan(row["low"]) and not row["more_often"]
    assert audit.rate_differences(simulator, rng).empty


def test_reward_gaps_per_bin_count_conversations_and_tasks_with_clustered_intervals() -> None:
    rng = np.random.default_rng(3)
    conversations = clustered_study(rng, "sim", beta_rates(rng, 100, 0.4, 0.5), 3, cost=0.3,
                                    success=np.full(100, 0.7))
    difficulty = {f"retail_{t}": (0.1 if t < 80 else 0.9) for t in range(100)}  # bins 0 (80 tasks) and 4 (20)
    gaps = audit.reward_gaps(conversations, difficulty, rng)
    assert list(gaps.columns) == list(audit.GAP_COLUMNS) and set(gaps["flag"]) == {"early_stop"}
    overall, hard, easy = (gaps.iloc[i] for i in range(3))
    assert pd.isna(overall["difficulty_bin"]) and (hard["difficulty_bin"], easy["difficulty_bin"]) == (0, 4)
    in_hard = conversations[conversations["task_key"].map(difficulty) < 0.5]
    flagged = in_hard[in_hard["early_stop"]]
    assert (hard["n_flagged"], hard["tasks_flagged"]) == (len(flagged), flagged["task_key"].nunique())
    assert hard["n_flagged"] + hard["n_unflagged"] == len(in_hard)
    assert hard["difference"] == pytest.approx(flagged["success"].mean() - in_hard.loc[~in_hard["early_stop"],
                                                                                       "success"].mean())
    assert hard["low"] < hard["difference"] < hard["high"] and hard["high"] < 0  # a cost of 0.3 on 80 tasks
    # no interval on fewer than MIN_INTERVAL_TASKS tasks a side (coverage there was 45-93%)
    few = gaps[(gaps[["tasks_flagged", "tasks_unflagged"]].min(axis=1) < audit.MIN_INTERVAL_TASKS)]
    assert few["low"].isna().all() and gaps.loc[gaps["low"].isna()].index.isin(few.index).all()


def test_reward_gap_intervals_cover_the_cost_of_a_flag() -> None:
    """120 studies of 165 tasks x 3, flags with mean 0.3 and within-task correlation 0.5, a
    flagged conversation 0.3 less likely to succeed: the gap over all tasks is -0.3."""
    rng = np.random.default_rng(5)
    n_studies = 120
    studies = pd.concat([clustered_study(rng, f"study {i}", beta_rates(rng, 165, 0.3, 0.5), 3, cost=0.3,
                                         success=rng.beta(2, 2, size=165)) for i in range(n_studies)])
    gaps = audit.reward_gaps(studies, {}, rng, n_boot=500)
    covered = float(((gaps["low"] <= -0.3) & (-0.3 <= gaps["high"])).mean())
    print(f"\nreward gap -0.3 covered in {covered:.3f} of {n_studies} studies")
    assert len(gaps) == n_studies and covered > 0.95 - 3.5 * math.sqrt(0.95 * 0.05 / n_studies)


# --- The command line. -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    panel = make_panel()
    (root / "data").mkdir()
    (root / "data" / "tau_bench_tasks_unified.json").write_text(json.dumps(panel["human"]))
    (root / "eval_results_single.json").write_text(json.dumps(panel["sims"]["single"]))
    return root


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = audit.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_command_writes_findings_and_rates_without_excerpts(study: Path, tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "audit.json"
    code, out, err = _run(capsys, "--eval-results", str(study / "eval_results_single.json"),
                          "--human", str(study), "--json", str(out_json), "--difficulty", "published")
    assert code == 0, err
    result = json.loads(out_json.read_text())
    assert set(result) == {"findings", "rates", "differences", "reward_gaps"}
    assert {r["name"] for r in result["rates"]} == {"human", "single"}
    assert len(result["rates"]) == 2 * len(audit.FLAGS)
    assert set(result["rates"][0]) == set(audit.RATE_COLUMNS)
    assert [r["name"] for r in result["differences"]] == ["single"] * len(audit.FLAGS)
    assert set(result["differences"][0]) == set(audit.DIFFERENCE_COLUMNS)
    assert all(set(r) == set(audit.GAP_COLUMNS) for r in result["reward_gaps"])
    assert out.splitlines()[-2].startswith("raised more often than people")
    human_flips = [f for f in result["findings"] if f["name"] == "human" and f["flag"] == "role_flip"]
    assert human_flips, "the test panel's phrases include 'how can i help you'"
    assert all(set(f) == set(audit.FINDING_COLUMNS) and f["excerpt"] is None for f in result["findings"])
    assert out.splitlines()[0].split()[1:] == list(audit.FLAGS)
    code, _, _ = _run(capsys, "--eval-results", str(study / "eval_results_single.json"), "--human", str(study),
                      "--json", str(out_json), "--show-excerpts")
    shown = json.loads(out_json.read_text())["findings"]
    assert code == 0 and all(isinstance(f["excerpt"], str) for f in shown)
    assert any("how can i help you" in f["excerpt"] for f in shown if f["flag"] == "role_flip")


@needs_shared
def test_command_accepts_tau_bench_trajectories(tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "audit.json"
    code, _, err = _run(capsys, "--eval-results", str(SHARED_TAU_BENCH), "--json", str(out_json))
    assert code == 0, err
    assert "published difficulty map" in err  # one file cannot pool a difficulty: said on stderr
    rates = json.loads(out_json.read_text())["rates"]
    assert {r["name"] for r in rates} == {"gpt-4o-airline"} and rates[0]["conversations"] == 200


@pytest.mark.parametrize("case", ["missing", "human_as_rollouts", "bad_difficulty", "bad_record", "output_is_a_folder"])
def test_command_bad_input_is_one_line_exit_2(study: Path, tmp_path: Path, capsys, case: str) -> None:
    args = ["--json", str(tmp_path if case == "output_is_a_folder" else tmp_path / "o.json")]
    if case == "missing":
        args += ["--eval-results", str(tmp_path / "nope.json")]
    elif case == "output_is_a_folder":
        args += ["--eval-results", str(study / "eval_results_single.json")]
    elif case == "human_as_rollouts":
        args += ["--eval-results", str(study / "data" / "tau_bench_tasks_unified.json")]
    elif case == "bad_difficulty":
        args += ["--eval-results", str(study / "eval_results_single.json"), "--difficulty", "sometimes"]
    else:
        (tmp_path / "eval_results_bad.json").write_text(json.dumps({"retail_1": {"conversation": "hello"}}))
        args += ["--eval-results", str(tmp_path / "eval_results_bad.json")]
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "o.json").exists()
    assert ("folder" in err) == (case == "output_is_a_folder")
