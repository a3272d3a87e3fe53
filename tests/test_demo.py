"""The SYNTHETIC demo panel: determinism, layout, realism and regeneration."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from usersim_utils import data, demo, features, ids, survey

SIM_LABELS = [s.label for s in demo.SIMULATORS]
EVAL_FILES = [f"eval_results/eval_results_{label}.json" for label in SIM_LABELS]
SURVEY_FILES = [f"survey_data/survey_comparable_{label}.json" for label in SIM_LABELS]
EXPECTED_FILES = sorted(
    [demo.README_FILE, "data/tau_bench_tasks_unified.json", demo.RERATING_PATH, *EVAL_FILES, *SURVEY_FILES]
)


@pytest.fixture(scope="module")
def panel() -> dict[str, object]:
    return demo.generate_demo_panel(np.random.default_rng(demo.DEMO_SEED), n_tasks=demo.DEMO_N_TASKS)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo.write_demo_panel(tmp_path_factory.mktemp("panel") / "SYNTHETIC-tau-usi")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _user_turns(record: dict, source: features.Source) -> list[str]:
    return features.clean_conversation(record["conversation"], source)[0]


# --- determinism and layout ------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_another_seed_differs(written: Path, tmp_path: Path) -> None:
    again = demo.write_demo_panel(tmp_path / "again")
    assert _files(again) == _files(written)
    other = _files(demo.write_demo_panel(tmp_path / "other", seed=demo.DEMO_SEED + 1))
    ours = _files(written)
    for rel in ("data/tau_bench_tasks_unified.json", *EVAL_FILES):
        assert other[rel] != ours[rel], rel


def test_layout_and_readme(written: Path) -> None:
    files = _files(written)
    assert sorted(rel for rel in files if rel != demo.STAMP_FILE) == EXPECTED_FILES
    assert all("SYNTHETIC" in rel for rel in [*EVAL_FILES, *SURVEY_FILES, demo.README_FILE])
    readme = files[demo.README_FILE].decode()
    assert "SYNTHETIC" in readme and "usersim_utils.demo" in readme
    assert str(demo.DEMO_SEED) in readme and "not study data" in readme
    # The study loader sees it as the synthetic demo, with all four simulators and the re-rating.
    study = data.load_study(written)
    assert study.synthetic
    assert sorted(study.eval_results) == sorted(SIM_LABELS)
    assert sorted(study.simulator_surveys) == sorted(SIM_LABELS)
    assert study.rerating_path is not None


def test_every_file_passes_the_data_validators(panel: dict[str, object]) -> None:
    data.validate_human_sessions(panel[demo.HUMAN_PATH], file="human")
    for rel in EVAL_FILES:
        data.validate_eval_results(panel[rel], file=rel)
    for rel in [*SURVEY_FILES, demo.RERATING_PATH]:
        data.validate_survey_records(panel[rel], file=rel)
    data.validate_survey_records(panel[demo.RERATING_PATH], file="rerating", strict=True)


def test_n_tasks_is_bounded_and_small_panels_work() -> None:
    for bad in (1, demo.MAX_TASKS + 1):
        with pytest.raises(ValueError, match="n_tasks"):
            demo.generate_demo_panel(np.random.default_rng(0), n_tasks=bad)
    small = demo.generate_demo_panel(np.random.default_rng(0), n_tasks=4)
    human = small[demo.HUMAN_PATH]
    assert len(human) == 12
    assert {ids.domain_of(k) for k in human} == {"airline", "retail"}
    assert all(len(small[rel]) == 8 * 3 for rel in EVAL_FILES)


def test_generation_is_fast() -> None:
    start = time.process_time()
    demo.generate_demo_panel(np.random.default_rng(1))
    assert time.process_time() - start < 2.0


# --- the human sessions ---------------------------------------------------------------------
def test_human_keys_batches_and_tasks(panel: dict[str, object]) -> None:
    human = panel[demo.HUMAN_PATH]
    batches: dict[int, set[str]] = {}
    for key in human:
        assert ids.KEY_RE.match(key), key
        base, batch = ids.split_batch(key)
        batches.setdefault(batch, set()).add(base)
    assert sorted(batches) == [1, 2, 3]
    assert batches[1] == batches[2] == batches[3]
    tasks = batches[1]
    assert len(tasks) == demo.DEMO_N_TASKS
    by_domain = {d: [int(t.split("_")[1]) for t in tasks if t.startswith(d)] for d in ids.DOMAINS}
    assert len(by_domain["retail"]) == 18 and len(by_domain["airline"]) == 12
    for domain, indexes in by_domain.items():
        assert all(0 <= i < ids.N_TASKS[domain] for i in indexes)


def test_human_records_look_like_the_study(panel: dict[str, object]) -> None:
    human = panel[demo.HUMAN_PATH]
    for key, record in human.items():
        assert record["instance_id"] == key and record["agent_id"] == "agent-origin"
        assert isinstance(record["task_id"], int)
        assert record["human_score"] is None and record["human_reasoning"] is None
        assert record["reward"] in (0.0, 1.0, None)
        assert isinstance(record["quality_passed"], bool) and isinstance(record["llm_reasoning"], str)
        conv = record["conversation"]
        domain, index = ids.task_key(key).split("_")
        assert conv[0] == {"role": "user", "content": f"\\tau task_index:{domain}-{index} model:gpt-5.2"}
        assert conv[1]["role"] == "assistant" and conv[1]["content"].startswith("<|canvas|>")
        assert conv[2] == {"role": "assistant", "content": demo.GREETING}
        contents = [m["content"] for m in conv]
        assert "/stop" in contents and "\\reward" in contents
        assert any("<|highlight|>" in c for c in contents) and any("<|survey|>" in c for c in contents)
        assert {m["role"] for m in conv} == {"user", "assistant"}
    agent = [m["content"] for r in human.values() for m in r["conversation"] if m["role"] == "assistant"]
    for markup in ("<|think|>", "<function=", "<parameter=", "<|tool|>"):
        assert any(markup in c for c in agent), markup
    assert 0 < sum(not r["keep"] for r in human.values()) <= 8
    assert sum(r["reward"] is None for r in human.values()) == 2


def test_human_surveys_are_all_valid(panel: dict[str, object]) -> None:
    for record in panel[demo.HUMAN_PATH].values():
        answers = survey.survey_answers(record["survey"])
        assert set(answers) == set(survey.SURVEY_ITEMS) | set(survey.FREE_TEXT_ITEMS)
        assert all(survey.answer_value(item, answers[item]) is not None for item in survey.SURVEY_ITEMS)
        assert all(isinstance(answers[item], str) for item in survey.FREE_TEXT_ITEMS)


@pytest.fixture(scope="module", params=[demo.DEMO_SEED, 1, 2], ids=lambda s: f"seed{s}")
def human_panel(request: pytest.FixtureRequest) -> dict[str, dict]:
    """The human sessions of the default panel and of two other seeds (the tables, not luck)."""
    return demo.generate_demo_panel(np.random.default_rng(request.param))[demo.HUMAN_PATH]


def test_every_lexicon_fires_in_the_human_panel(human_panel: dict[str, dict]) -> None:
    rows = [features.conversation_features(r["conversation"], "human") for r in human_panel.values()]
    assert all(row is not None for row in rows)
    fired = {f: sum(row[f] > 0 for row in rows) for f in features.FEATURES}
    for feature, lexicon in features.FEATURE_LEXICON.items():
        assert fired[feature] > 0, f"{lexicon} ({feature}) never fires"
    assert fired["formality_rate"] > 0  # em dashes, rarely
    assert fired["id_confuse_rate"] < len(rows) / 2  # talking like the agent stays rare


def test_every_feature_is_nonzero_somewhere_in_the_panel(panel: dict[str, object]) -> None:
    seen = {f: 0.0 for f in features.FEATURES}
    for rel, source in [(demo.HUMAN_PATH, "human"), *((rel, "llm") for rel in EVAL_FILES)]:
        for record in panel[rel].values():
            row = features.conversation_features(record["conversation"], source)
            for f in seen:
                seen[f] = max(seen[f], row[f])
    assert all(v > 0 for v in seen.values()), [f for f, v in seen.items() if v == 0]


def _lexicon_matches(lexicon: str, text: str) -> bool:
    pattern = features.LEXICONS[lexicon]
    if lexicon == "ACK":
        return re.match(r"^(" + pattern + r")[\s!.\-,]*$", text.strip()) is not None
    return re.search(r"\b(" + pattern + r")\b", text) is not None


def test_near_misses_do_not_match_and_occur(human_panel: dict[str, dict]) -> None:
    turns = [t.lower() for r in human_panel.values() for t in _user_turns(r, "human")]
    for lexicon, phrases in demo.NEAR_MISSES.items():
        for phrase in phrases:
            assert not _lexicon_matches(lexicon, phrase.lower()), (lexicon, phrase)
        present = [re.compile(r"(?<!\w)" + re.escape(p.lower()) + r"(?!\w)") for p in phrases]
        assert any(p.search(t) for p in present for t in turns), f"no {lexicon} near miss in the panel"


def test_human_turns_are_varied(panel: dict[str, object]) -> None:
    turns = [t for r in panel[demo.HUMAN_PATH].values() for t in _user_turns(r, "human")]
    lengths = np.array([len(t.split()) for t in turns])
    assert 0.2 < (lengths <= 3).mean() < 0.6
    assert lengths.max() >= 15
    assert len(set(turns)) > 0.5 * len(turns)
    assert any(t != t.lower() for t in turns) and any(t == t.lower() and t.strip() for t in turns)
    assert any(re.search(r"\w+_\w+_\d{4}", t) for t in turns)  # user ids
    assert any(re.search(r"#w\d{7}", t.lower()) for t in turns)  # order ids
    assert any("@example.com" in t for t in turns)


# --- the simulators -----------------------------------------------------------------------
def test_simulator_files_keys_runs_and_format(panel: dict[str, object]) -> None:
    human_tasks = {ids.task_key(k) for k in panel[demo.HUMAN_PATH]}
    for rel in EVAL_FILES:
        rollouts = panel[rel]
        assert len(rollouts) > 170
        runs = ids.reference_run_split(list(rollouts))
        assert sorted(runs) == ["1", "2", "3"]
        tasks = set(runs["1"])
        assert tasks == set(runs["2"]) == set(runs["3"])
        assert human_tasks < tasks and len(tasks) == 2 * demo.DEMO_N_TASKS
        for key, record in rollouts.items():
            assert re.fullmatch(r"(airline|retail)_\d+_[123]", key) and record["instance_id"] == key
            assert record["reward"] in (0.0, 1.0)
            conv = record["conversation"]
            assert conv[0] == {"role": "assistant", "content": demo.GREETING}
            assert conv[-1] == {"role": "user", "content": "###STOP###"}


def test_simulator_surveys_are_keyed_like_humans_and_partly_invalid(panel: dict[str, object]) -> None:
    human_keys = set(panel[demo.HUMAN_PATH])
    invalid = 0
    for rel in SURVEY_FILES:
        surveys = panel[rel]
        assert set(surveys) == human_keys
        for record in surveys.values():
            answers = survey.survey_answers(record["survey"])
            invalid += sum(survey.answer_value(item, answers.get(item)) is None for item in survey.SURVEY_ITEMS)
    assert 0 < invalid < 0.1 * len(SURVEY_FILES) * len(human_keys) * len(survey.SURVEY_ITEMS)


def _mean_rating(records: dict) -> tuple[float, float]:
    values = [
        survey.normalise(item, v)
        for r in records.values()
        for item, answer in survey.survey_answers(r["survey"]).items()
        if item in survey.SURVEY_OPTIONS and (v := survey.answer_value(item, answer)) is not None
    ]
    return float(np.mean(values)), float(np.std(values))


def test_simulators_rate_more_positively_and_more_uniformly_than_humans(panel: dict[str, object]) -> None:
    human_mean, human_std = _mean_rating(panel[demo.HUMAN_PATH])
    for rel in SURVEY_FILES:
        sim_mean, _ = _mean_rating(panel[rel])
        assert sim_mean > human_mean, rel
    eager_mean, eager_std = _mean_rating(panel[SURVEY_FILES[SIM_LABELS.index("SYNTHETIC-eager")]])
    assert eager_std < human_std


def test_rewards_follow_task_difficulty(panel: dict[str, object]) -> None:
    pooled: dict[str, list[float]] = {}
    for rel in EVAL_FILES:
        for key, record in panel[rel].items():
            pooled.setdefault(ids.task_key(key), []).append(record["reward"])
    human: dict[str, list[float]] = {}
    for key, record in panel[demo.HUMAN_PATH].items():
        human.setdefault(ids.task_key(key), []).append(record["reward"] or 0.0)
    tasks = sorted(human)
    difficulty = np.array([np.mean(pooled[t]) for t in tasks])
    assert min(len(v) for v in pooled.values()) >= 10  # every task gets a difficulty (spec §5)
    assert difficulty.min() < 0.3 and difficulty.max() > 0.8  # spread over the ECE bins
    assert np.corrcoef(difficulty, [np.mean(human[t]) for t in tasks])[0, 1] > 0.3


def test_rerating_covers_part_of_batch_one(panel: dict[str, object]) -> None:
    rerating = panel[demo.RERATING_PATH]
    batch_one = {k for k in panel[demo.HUMAN_PATH] if ids.split_batch(k)[1] == 1}
    assert set(rerating) <= batch_one and len(rerating) == 20
    assert list(rerating) != sorted(rerating)  # file order is not sorted order (spec §6 walks file order)


# --- writing, stamp and regeneration ---------------------------------------------------------
def test_stamp_records_version_seed_and_files(written: Path) -> None:
    stamp = json.loads((written / demo.STAMP_FILE).read_text())
    assert stamp["generator_version"] == demo.GENERATOR_VERSION and stamp["seed"] == demo.DEMO_SEED
    assert stamp["generator_source_sha256"] == demo.SOURCE_SHA256
    assert sorted(stamp["files"]) == EXPECTED_FILES
    assert demo.is_current(written)
    assert not demo.is_current(written, seed=demo.DEMO_SEED + 1)


def test_ensure_does_not_rewrite_an_up_to_date_panel(tmp_path: Path) -> None:
    dest = demo.write_demo_panel(tmp_path / "p")
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    assert demo.ensure_demo_panel(dest) == dest
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == before


def test_editing_the_generator_makes_panels_stale(written: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert demo.is_current(written)
    monkeypatch.setattr(demo.writer, "SOURCE_SHA256", "0" * 64)
    assert not demo.is_current(written)


def test_the_source_hash_covers_every_module_and_the_phrase_tables() -> None:
    """The stamp's hash is over the whole generator: its modules and its phrase tables."""
    import hashlib

    folder = Path(demo.__file__).parent
    parts = sorted(p for p in folder.iterdir() if p.suffix in {".py", ".json"})
    assert {p.name for p in parts} >= {"__init__.py", "phrases.json", "phrases.py", "writer.py", "study.py"}
    assert demo.SOURCE_SHA256 == hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()


def test_the_phrase_tables_are_tuples_with_the_near_misses_spliced_in() -> None:
    """phrases.json holds lists and references to NEAR_MISSES; the generator sees tuples
    (their order fixes the draws) with every near miss in place."""
    from usersim_utils.demo import phrases

    assert isinstance(phrases.CITIES, tuple) and all(isinstance(c, tuple) for c in phrases.CITIES)
    assert all(isinstance(v, tuple) for v in phrases.HUMAN_PHRASES.values())
    assert set(phrases.NEAR_MISSES["POLITE"]) <= set(phrases.HUMAN_PHRASES["close"])


def test_ensure_regenerates_missing_edited_or_stale_panels(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    demo.ensure_demo_panel(dest)  # missing -> written
    good = _files(dest)
    human = dest / "data" / "tau_bench_tasks_unified.json"
    human.write_text("{}")  # edited
    assert not demo.is_current(dest)
    demo.ensure_demo_panel(dest)
    assert _files(dest) == good
    (dest / EVAL_FILES[0]).unlink()  # incomplete
    demo.ensure_demo_panel(dest)
    assert _files(dest) == good
    stamp_path = dest / demo.STAMP_FILE
    stamp = json.loads(stamp_path.read_text())
    stamp["generator_version"] = "0"  # made by an older generator, which also wrote a file we no longer make
    stamp["files"]["eval_results/eval_results_SYNTHETIC-retired.json"] = {"bytes": 2, "sha256": "x"}
    (dest / "eval_results" / "eval_results_SYNTHETIC-retired.json").write_text("{}")
    stamp_path.write_text(json.dumps(stamp))
    demo.ensure_demo_panel(dest)
    assert _files(dest) == good


# --- the default panel's bytes, and the unusual studies ------------------------------------------
#: SHA-256 of the default panel's files. The nbval-checked notebook outputs are computed on
#: these bytes: change them only on purpose, then `make refresh` the notebooks.
DEFAULT_PANEL_SHA256 = {
    "SYNTHETIC_README.md":
        "2f1920a4c0f1abcc59574a7859f6a84f58770539ba17c07973d8a79fb1916853",
    "data/tau_bench_tasks_unified.json":
        "8e37e48b0f52368962a419ecab388d2151fd0eab79b731bb421beaad83ddfd71",
    "eval_results/eval_results_SYNTHETIC-agentlike.json":
        "7dafb6773e2e7811a0a0b3af67b458f8c975fa28a7f3549bc93cd8a05df8f10f",
    "eval_results/eval_results_SYNTHETIC-eager.json":
        "4fe6ce028ac53e029b0d912c020ee9f47f2fc11aaeb0891deba8c744f76cf7c4",
    "eval_results/eval_results_SYNTHETIC-humanlike.json":
        "ad6db3e1d69cd402ea2db5ffe99c496b0277046e37b8f61c36f2d7d8545bef1f",
    "eval_results/eval_results_SYNTHETIC-terse.json":
        "27996f660ade18659d8027e7eb5d60be0b26dd23b0285117264cf5752d41395b",
    "survey_data/survey_comparable_SYNTHETIC-agentlike.json":
        "b11dacaf646ac240e36f503bf00a05ce1411bcc944a179819a1746d516090c18",
    "survey_data/survey_comparable_SYNTHETIC-eager.json":
        "655f889f385f1b258217626be03b779b3ccc0d0010576ebf8ec23e4523a973c2",
    "survey_data/survey_comparable_SYNTHETIC-humanlike.json":
        "34705e442606f951d822903dbd3640f60d36f08b0996e26ca1a8d1e06e637673",
    "survey_data/survey_comparable_SYNTHETIC-terse.json":
        "89af618e56898170a1dd0c89cb2826be4e2767de10b7a294059d1c3e249996c7",
    "survey_data/survey_comparable_human-eval-100.json":
        "edd38cdc0e0e49d4ee53f4a7eadebff6a38ac12a601ca532dcfdf3698b5ef068",
}


def test_the_default_panel_keeps_its_bytes(written: Path) -> None:
    digests = {rel: hashlib.sha256(payload).hexdigest() for rel, payload in _files(written).items()
               if rel != demo.STAMP_FILE}
    assert digests == DEFAULT_PANEL_SHA256


@pytest.fixture(scope="module")
def unusual() -> dict[str, dict[str, object]]:
    return {name: demo.generate_demo_panel(np.random.default_rng(demo.DEMO_SEED),
                                           n_tasks=min(demo.DEMO_N_TASKS, shape.max_tasks()), shape=shape)
            for name, shape in demo.UNUSUAL_SHAPES.items()}


def _sim_files(panel: dict[str, object], kind: str) -> list[str]:
    prefix = "eval_results/eval_results_" if kind == "eval" else "survey_data/survey_comparable_SYNTHETIC-"
    return sorted(rel for rel in panel if rel.startswith(prefix))


def _answers(records: dict) -> list[object]:
    return [entry["answer"] for r in records.values() for item, entry in r["survey"].items()
            if item in survey.SURVEY_OPTIONS]


def test_unusual_studies_lack_what_they_say(panel: dict[str, object], unusual: dict[str, dict[str, object]]) -> None:
    two = unusual["two-simulators"]
    assert len(_sim_files(two, "eval")) == len(_sim_files(two, "survey")) == 2
    assert _sim_files(unusual["no-surveys"], "survey") == [] and demo.RERATING_PATH not in unusual["no-surveys"]
    assert demo.RERATING_PATH not in unusual["no-reratings"] and len(_sim_files(unusual["no-reratings"], "survey")) == 4
    assert {ids.domain_of(k) for k in unusual["airline-only"][demo.HUMAN_PATH]} == {"airline"}
    assert all(ids.domain_of(k) == "airline" for rel in _sim_files(unusual["airline-only"], "eval")
               for k in unusual["airline-only"][rel])
    assert {ids.split_batch(k)[1] for k in unusual["one-batch"][demo.HUMAN_PATH]} == {1}
    no_shared = unusual["no-shared-task"]
    human_tasks = {ids.task_key(k) for k in no_shared[demo.HUMAN_PATH]}
    for rel in _sim_files(no_shared, "eval"):
        assert not human_tasks & {ids.task_key(k) for k in no_shared[rel]}
    assert _sim_files(no_shared, "survey") == []
    # A file a shape leaves out is still drawn: the others are the demo panel's.
    for name in ("no-surveys", "no-reratings"):
        assert all(unusual[name][rel] == panel[rel] for rel in unusual[name]), name


def test_invalid_answers_are_in_every_survey_file_and_only_there(panel: dict[str, object],
                                                                 unusual: dict[str, dict[str, object]]) -> None:
    bad = unusual["invalid-answers"]
    survey_files = [demo.HUMAN_PATH, demo.RERATING_PATH, *_sim_files(bad, "survey")]
    assert len(survey_files) == 6
    for rel in survey_files:
        answers = _answers(bad[rel])
        invalid = [a for a in answers if a is not None and not any(
            survey.answer_value(item, a) is not None for item in survey.SURVEY_OPTIONS)]
        assert 0.05 * len(answers) < len(invalid) < 0.2 * len(answers), rel
        assert {type(a) for a in invalid} == {str, int}, rel
    for rel in _sim_files(bad, "eval"):
        assert bad[rel] == panel[rel]
    # Only answers changed: every human record, conversation and reward is the demo panel's.
    for key, record in bad[demo.HUMAN_PATH].items():
        assert {k: v for k, v in record.items() if k != "survey"} == \
            {k: v for k, v in panel[demo.HUMAN_PATH][key].items() if k != "survey"}


def test_an_unusual_study_is_written_as_synthetic_and_never_taken_for_the_demo(tmp_path: Path) -> None:
    shape = demo.UNUSUAL_SHAPES["airline-only"]
    dest = demo.write_demo_panel(tmp_path / "SYNTHETIC-airline-only", shape=shape)
    readme = (dest / demo.README_FILE).read_text()
    assert "UNUSUAL variant" in readme and "airline tasks only" in readme
    stamp = json.loads((dest / demo.STAMP_FILE).read_text())
    assert stamp["shape"]["domains"] == ["airline"] and stamp["shape"]["n_tasks"] == 25
    assert not demo.is_current(dest)  # ensure_demo_panel would rewrite it as the demo panel
    study = data.load_study(dest)
    assert study.synthetic and set(study.sessions["domain"]) == {"airline"}


@pytest.mark.parametrize("bad, match", [
    ({"n_simulators": 0}, "n_simulators"), ({"n_simulators": 5}, "n_simulators"), ({"n_batches": 4}, "n_batches"),
    ({"domains": ()}, "domains"), ({"domains": ("airline", "airline")}, "domains"), ({"domains": ("rail",)}, "domains"),
])
def test_panel_shape_refuses_impossible_studies(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        demo.PanelShape(**bad)


def test_one_domain_holds_fewer_tasks() -> None:
    shape = demo.PanelShape(domains=("airline",))
    assert shape.max_tasks() == ids.N_TASKS["airline"] // 2
    with pytest.raises(ValueError, match="n_tasks"):
        demo.generate_demo_panel(np.random.default_rng(0), n_tasks=30, shape=shape)
