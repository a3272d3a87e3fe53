"""usersim-calibrate: the split, the directives, the SCRIPTED simulator, and the
known answer offline: from a polite, verbose, cooperative scripted card the default
proposer raises the held-out matched USI by at least 10 points and brings at least 5
features inside people's interval; it leaves an already human-like card alone (held-out
gain inside its interval of 0); it never touches the held-out tasks before the report.
The embedded SmolLM2 runs the real rollout path (slow; its scores mean nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from usersim_utils import data, demo, ids, paths, published
from usersim_utils.calibrate import budget, cards, cli, directives, scripted_user, split, targets
from usersim_utils.rollout import card as card_mod

SCRIPTED_CARD = paths.REPO_ROOT / "cards" / "scripted-polite-verbose.toml"
SMALL_EMBEDDED_CARD = """name = "smollm2-small"
[simulator]
model = "local/smollm2-135m"
prompt_style = "transcript"
[agent]
model = "local/smollm2-135m"
harness = "function-calling"
[protocol]
max_user_turns = 1
max_agent_rounds = 1
"""
QUICK = ["--rounds", "2", "--candidates", "3", "--n-boot", "300"]


@pytest.fixture(scope="module")
def demo_dir() -> Path:
    return Path(demo.ensure_demo_panel())


@pytest.fixture(scope="module")
def records(demo_dir: Path) -> dict:
    return data.load_human_sessions(data.human_file(demo_dir))


def run(args: list[str]) -> tuple[int, dict | None]:
    status = cli.main(args)
    out = Path(args[args.index("--out") + 1])
    report = out / cli.REPORT_JSON
    return status, json.loads(report.read_text()) if report.is_file() else None


@pytest.fixture(scope="module")
def known_answer(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("known") / "out"
    status, report = run(["--card", str(SCRIPTED_CARD), "--human", str(demo_dir), "--out", str(out),
                          "--budget-usd", "0", *QUICK])
    assert status == 0 and report is not None
    return out, report


# --- split ------------------------------------------------------------------------------------
def test_split_is_seeded_stratified_and_disjoint(records: dict) -> None:
    difficulty = published.published_difficulty()
    tasks = split.human_tasks(records)
    a = split.stratified_split(tasks, difficulty, np.random.default_rng(3), seed=3)
    b = split.stratified_split(tasks, difficulty, np.random.default_rng(3), seed=3)
    c = split.stratified_split(tasks, difficulty, np.random.default_rng(4), seed=4)
    assert a == b and a.tuning != c.tuning
    assert set(a.tuning) | set(a.held_out) == set(tasks) and not set(a.tuning) & set(a.held_out)
    assert abs(len(a.tuning) - len(tasks) / 2) <= 1
    for stratum in set(a.strata.values()):  # every stratum split as evenly as it can be
        n_tune = sum(a.strata[t] == stratum for t in a.tuning)
        n_held = sum(a.strata[t] == stratum for t in a.held_out)
        assert abs(n_tune - n_held) <= 1, stratum
    tuning, held = split.partition(records, a)
    assert {ids.task_key(k) for k in tuning} <= set(a.tuning)
    assert {ids.task_key(k) for k in held.open()} <= set(a.held_out)
    with pytest.raises(ValueError, match="cannot be split"):
        split.stratified_split(tasks[:1], difficulty, np.random.default_rng(0), seed=0)


def test_a_resumed_search_refuses_another_split(tmp_path: Path, records: dict) -> None:
    difficulty = published.published_difficulty()
    tasks = split.human_tasks(records)
    split.resume_or_save(split.stratified_split(tasks, difficulty, np.random.default_rng(0), seed=0), tmp_path)
    with pytest.raises(ValueError, match="another split"):
        split.resume_or_save(split.stratified_split(tasks, difficulty, np.random.default_rng(1), seed=1), tmp_path)


# --- directives and the scripted simulator ---------------------------------------------------
def test_directives_round_trip_and_replace_the_old_block() -> None:
    values = {"length": 6.0, "polite": 0.12, "hedge": 0.051, "survey": 0.43}
    prompt = directives.with_directives("{instruction}\n\nBe nice.", values)
    assert directives.parse(prompt) == pytest.approx(values, abs=1e-3)
    again = directives.with_directives(prompt, {"length": 9.0})
    assert directives.parse(again) == {"length": 9.0} and again.count(directives.HEADER) == 1
    assert directives.parse("{instruction} about 6 words per message") == {}  # outside a block: not a directive


def test_the_scripted_simulator_follows_its_directives(records: dict) -> None:
    tasks = split.human_tasks(records)[:10]
    difficulty = published.published_difficulty()
    base = scripted_user.play("{instruction}", tasks, 2, difficulty)
    assert base == scripted_user.play("{instruction}", tasks, 2, difficulty)  # seeded
    short = directives.with_directives("{instruction}", {"length": 5.0, "hedge": 0.2, "survey": 0.3})
    er, sv = scripted_user.play(short, tasks, 2, difficulty)
    p0, p1 = targets.profile(*base, "base"), targets.profile(er, sv, "short")
    assert p1.features["user_words_per_turn"] < p0.features["user_words_per_turn"] / 2
    assert p1.features["uncertainty_rate"] > p0.features["uncertainty_rate"] + 5
    assert p1.positivity < p0.positivity - 0.3


# --- the known answer ---------------------------------------------------------------------------
def test_calibration_raises_the_held_out_matched_usi(known_answer: tuple[Path, dict]) -> None:
    out, report = known_answer
    gain = report["difference"]["usi"]
    assert gain["difference"] >= 10 and gain["low"] > 0, gain
    assert len(report["brought_inside"]) >= 5, report["brought_inside"]
    start, chosen = report["cards"][report["start"]]["usi"], report["cards"][report["chosen"]]["usi"]
    assert chosen["simulator"] - start["simulator"] == pytest.approx(gain["difference"], abs=1e-6)
    assert report["optimism"] == pytest.approx(report["tuning_gain"] - report["held_out_gain"])
    labels = {row["label"] for row in report["success_inflation"]}
    assert labels == {report["start"], report["chosen"]}


def test_the_report_carries_the_two_sample_test_on_the_held_out_tasks(known_answer: tuple[Path, dict],
                                                                      records: dict) -> None:
    """The classifier tells the polite, verbose start from people and not the chosen card, on
    the held-out tasks only (grouped by task), with the human reference beside them."""
    out, report = known_answer
    rows = {row["name"]: row for row in report["two_sample"]}
    assert list(rows) == ["human", report["start"], report["chosen"]]
    start, chosen, people = rows[report["start"]], rows[report["chosen"]], rows["human"]
    assert start["low"] > 0.8 and start["p_value"] < 0.05 and not start["equivalent"], start
    assert chosen["low"] < 0.5 < chosen["high"] and chosen["p_value"] > 0.05, chosen
    assert people["low"] < 0.5 < people["high"]
    held_out = set(split.load_split(out / split.SPLIT_FILE).held_out)
    kept = sum(1 for k, r in records.items() if ids.task_key(k) in held_out and r.get("keep", True) is not False)
    assert all(row["n_tasks"] == len(held_out) for row in rows.values())
    assert start["n_human"] == chosen["n_human"] == people["n_human"] <= kept
    text = (out / cli.REPORT_TEXT).read_text()
    assert f"classifier two-sample test, {report['start']} against people: AUC 1.00" in text


def test_the_report_says_whether_each_card_covers_people(known_answer: tuple[Path, dict]) -> None:
    """Population coverage: the verbose start lies far from people, the chosen card about as far
    as people lie from each other; outcome agreement is reported task by task for both."""
    _, report = known_answer
    rows = {row["label"]: row for row in report["predictive"]}
    assert list(rows) == [report["start"], report["chosen"]]
    start, chosen = rows[report["start"]]["coverage"], rows[report["chosen"]]["coverage"]
    assert start["low"] > 2 and chosen["low"] < start["low"] and chosen["relative"] < 1.5, (start, chosen)
    assert all(row["agreement"]["n_tasks"] > 0 and -1 <= row["agreement"]["kappa"] <= 1 for row in rows.values())


def test_the_chosen_card_is_a_normal_card_with_its_lineage(known_answer: tuple[Path, dict]) -> None:
    from usersim_utils.rollout import __main__ as rollout_cli

    out, report = known_answer
    path = Path(report["chosen_card"])
    chosen = card_mod.read_card(path)
    assert chosen["simulator.model"] == scripted_user.SCRIPTED_MODEL
    assert directives.parse(chosen["simulator.prompt_text"])
    assert rollout_cli.main(["--card", str(path), "--domains", "retail:0", "--dry-run"]) == 0
    lineage = json.loads(path.with_name(f"{chosen['name']}.lineage.json").read_text())
    assert lineage["prompt_sha256"] == card_mod.sha256_text(chosen["simulator.prompt_text"])
    assert lineage["parent_card"] == str(SCRIPTED_CARD) and lineage["chain"][-1]["round"] == 0
    assert Path(lineage["split"]["file"]).is_file() and lineage["directives"]
    saved = split.load_split(out / split.SPLIT_FILE)
    assert set(report["held_out_tasks"]) and {ids.task_key(k) for k in report["held_out_tasks"]} == set(saved.held_out)


def test_an_already_human_like_card_is_not_harmed(known_answer: tuple[Path, dict], demo_dir: Path,
                                                  tmp_path: Path) -> None:
    """The card the first calibration chose, calibrated again on another split."""
    _, first = known_answer
    status, report = run(["--card", first["chosen_card"], "--human", str(demo_dir), "--out", str(tmp_path / "o"),
                          "--budget-usd", "0", "--seed", "7", *QUICK])
    assert status == 0 and report is not None
    gain = report["difference"]["usi"]
    assert gain["low"] <= 0 <= gain["high"], gain
    assert abs(gain["difference"]) < 5


def test_held_out_tasks_are_never_read_before_the_report(demo_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, frozenset[str]]] = []
    original_open, original_play = split.HeldOut.open, scripted_user.play

    def opened(self: split.HeldOut) -> dict:
        events.append(("open", frozenset(self.tasks)))
        return original_open(self)

    def played(prompt: str, tasks: list[str], *args: object, **kwargs: object) -> tuple[dict, dict]:
        events.append(("play", frozenset(tasks)))
        return original_play(prompt, tasks, *args, **kwargs)

    seen: list[frozenset[str]] = []
    original_targets = targets.human_targets

    def targeted(recs: dict, *args: object, **kwargs: object) -> targets.Targets:
        seen.append(frozenset(ids.task_key(k) for k in recs))
        return original_targets(recs, *args, **kwargs)

    monkeypatch.setattr(split.HeldOut, "open", opened)
    monkeypatch.setattr("usersim_utils.calibrate.play.play_scripted", played)
    monkeypatch.setattr("usersim_utils.calibrate.cli.targets.human_targets", targeted)
    out = tmp_path / "o"
    assert cli.main(["--card", str(SCRIPTED_CARD), "--human", str(demo_dir), "--out", str(out), "--budget-usd", "0",
                     "--rounds", "1", "--candidates", "2", "--n-boot", "50"]) == 0
    saved = split.load_split(out / split.SPLIT_FILE)
    first_open = events.index(("open", frozenset(saved.held_out)))
    assert all(kind == "play" and tasks == frozenset(saved.tuning) for kind, tasks in events[:first_open])
    assert all(tasks == frozenset(saved.held_out) for _, tasks in events[first_open + 1:])
    assert seen[0] == frozenset(saved.tuning)  # the targets: tuning sessions only
    search_log = json.loads((out / "search.json").read_text())
    assert search_log["rounds"] and all(c["rungs"] for r in search_log["rounds"] for c in r["candidates"])


# --- errors, budget, unusual studies --------------------------------------------------------------
def test_bad_input_is_one_error_line(demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[simulator]\nmodle = "y"\n')
    base = ["--human", str(demo_dir), "--out", str(tmp_path / "o"), "--budget-usd", "1"]
    assert cli.main(["--card", str(bad), *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "modle" in err[0] and "bad.toml" in err[0]
    study = paths.REPO_ROOT / "cards" / "study-protocol.toml"
    assert cli.main(["--card", str(study), *base[:-1], "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "too small" in err[0]
    assert not (tmp_path / "o").exists()  # refused before anything was written
    assert cli.main(["--card", str(SCRIPTED_CARD), "--human", str(tmp_path / "nothing"), "--out",
                     str(tmp_path / "o"), "--budget-usd", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_failing_proposer_is_one_error_line(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from usersim_utils.calibrate import proposer

    def refuse(**kwargs: object) -> None:
        raise ConnectionError("no route to the proposer\nsecond line")

    original = proposer.llm_proposals

    def with_refusing_model(*args: object, **kwargs: object) -> list[str]:
        return original(*args, **{**kwargs, "completion_fn": refuse})  # litellm's place, without importing it

    monkeypatch.setattr(proposer, "llm_proposals", with_refusing_model)
    out = tmp_path / "o"
    assert cli.main(["--card", str(SCRIPTED_CARD), "--human", str(demo_dir), "--out", str(out), "--budget-usd", "0",
                     "--rounds", "1", "--candidates", "2", "--proposer", "openai/some-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: proposer openai/some-model failed: no route to the proposer"
    assert (out / "proposer" / "round1_prompts.txt").read_text().count("{instruction}") >= 1  # its prompt is saved
    assert (out / "search.json").is_file()  # round 0 is kept


def test_dry_run_prices_a_hosted_search_and_refuses_what_cannot_fit(demo_dir: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    study = str(paths.REPO_ROOT / "cards" / "study-protocol.toml")
    out = tmp_path / "o"
    assert cli.main(["--card", study, "--human", str(demo_dir), "--out", str(out), "--budget-usd", "1000",
                     "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("estimated_calls=") and not out.exists()
    low, high = (float(x) for x in lines[-1].split("estimated_cost_usd=")[1].split("-"))
    assert 0 < low < high
    assert cli.main(["--card", study, "--human", str(demo_dir), "--out", str(out), "--budget-usd",
                     f"{low / 2:.2f}", "--dry-run"]) == 2
    assert "too small" in capsys.readouterr().err


def test_the_plan_halves_the_candidates() -> None:
    assert budget.survivors(4, 3) == [4, 2, 1] and budget.survivors(1, 3) == [1, 1, 1]
    p = budget.plan(10, 10, rounds=2, candidates=4, runs=3)
    assert (p.start, p.per_round, p.report, p.total) == (30, 70, 60, 30 + 140 + 60)


@pytest.mark.parametrize("shape", ["airline-only", "one-batch"])
def test_unusual_studies(shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = demo.write_demo_panel(tmp_path / "study", shape=demo.UNUSUAL_SHAPES[shape])
    status, report = run(["--card", str(SCRIPTED_CARD), "--human", str(study), "--out", str(tmp_path / "o"),
                          "--budget-usd", "0", "--rounds", "1", "--candidates", "2", "--n-boot", "100"])
    if shape == "one-batch":  # the matched comparison needs two human batches
        assert status == 2 and "at least two" in capsys.readouterr().err
        return
    assert status == 0 and report is not None and report["difference"]["usi"]["difference"] > 10
    assert all(ids.domain_of(k) == "airline" for k in report["held_out_tasks"])


def test_cards_write_every_field_they_read(tmp_path: Path) -> None:
    start = cards.starting_candidate(card_mod.read_card(paths.REPO_ROOT / "cards" / "persona-example.toml"))
    new = cards.child(start, "x-r1c0", {"length": 6.0}, 1, "test")
    path = cards.write_card(tmp_path, new, {"parent_card": "p"})
    again = card_mod.read_card(path)
    for key, value in start.card.items():
        if key not in ("name", "card_file", "simulator.prompt_file", "simulator.prompt_text"):
            assert again[key] == value, key
    assert directives.parse(again["simulator.prompt_text"]) == {"length": 6.0}


@pytest.mark.slow
def test_the_embedded_model_runs_a_round_of_two_candidates(demo_dir: Path, records: dict, tmp_path: Path) -> None:
    """The real rollout path with SmolLM2-135M on two tasks (its scores mean nothing; the search's
    rounds and halving are tested with scripted models above, in a fraction of the time)."""
    tasks = split.human_tasks(records)
    spec = ",".join(t.replace("_", ":") for t in tasks[:1] + tasks[-1:])
    card = tmp_path / "small.toml"  # the shipped embedded card, one turn and one agent round (CPU time)
    card.write_text(SMALL_EMBEDDED_CARD)
    out = tmp_path / "o"
    args = ["--card", str(card), "--human", str(demo_dir), "--out", str(out),
            "--budget-usd", "0", "--rounds", "1", "--candidates", "2", "--runs", "1", "--tasks", spec,
            "--n-boot", "100"]
    status, report = run(args)
    assert status == 0 and report is not None
    log = json.loads((out / "search.json").read_text())
    assert [r["round"] for r in log["rounds"]] == [0, 1]
    assert all(len(r["candidates"]) == 2 for r in log["rounds"][1:])
    assert (out / "rollouts" / ".cache" / "responses").is_dir()
    status, again = run(args)  # resumed: every call replayed from the cache
    assert status == 0 and again is not None and again["difference"] == report["difference"]
