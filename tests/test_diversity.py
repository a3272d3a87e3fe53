"""Diversity of the user's side: MATTR, distinct-n, TF-IDF similarity, beside the humans'."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from usersim_utils import distinguish, diversity, ids

TASKS = ids.parse_task_spec("retail:0-19,airline:0-9")
VOCABULARY = [f"w{i}" for i in range(400)]


def test_tokens_are_lower_cased_words_with_inner_apostrophes() -> None:
    assert diversity.tokens("I don't KNOW, order #W123!") == ["i", "don't", "know", "order", "w123"]


def _brute_mattr(words: list[str], window: int) -> float:
    if len(words) <= window:
        return len(set(words)) / len(words)
    return float(np.mean([len(set(words[i:i + window])) / window for i in range(len(words) - window + 1)]))


def test_mattr_known_values_and_brute_force() -> None:
    assert diversity.mattr(["a", "b", "c"]) == 1.0
    assert diversity.mattr(["a"] * 4) == 0.25
    assert math.isnan(diversity.mattr([]))
    assert diversity.mattr(["a", "b"] * 30, window=25) == pytest.approx(2 / 25)
    rng = np.random.default_rng(0)
    for n in (10, 25, 26, 80):
        words = list(rng.choice(["a", "b", "c", "d", "e", "f", "g"], n))
        assert diversity.mattr(words) == pytest.approx(_brute_mattr(words, diversity.MATTR_WINDOW))


def test_mattr_does_not_fall_as_a_text_grows() -> None:
    rng = np.random.default_rng(1)
    words = list(rng.choice(VOCABULARY, 2000))
    short, long = diversity.mattr(words[:100]), diversity.mattr(words)
    assert abs(short - long) < 0.02
    assert len(set(words)) / len(words) < 0.25 < long  # the plain ratio does fall


def test_distinct_n_counts_ngrams_within_each_list() -> None:
    assert diversity.distinct_n([["a", "b", "a", "b"]], 1) == 0.5
    assert diversity.distinct_n([["a", "b"], ["b", "a"]], 2) == 1.0  # no n-gram across lists
    assert diversity.distinct_n([["a", "b"], ["a", "b"]], 2) == 0.5
    assert math.isnan(diversity.distinct_n([["a"]], 2))


def test_tfidf_weights_come_from_the_humans_and_rows_are_unit_length() -> None:
    human = ["cancel my order", "cancel my flight", "cancel it"]
    vectors = diversity.human_idf_vectors(["cancel order", "cancel zebra"], human)
    assert np.allclose(np.sqrt(vectors.multiply(vectors).sum(axis=1)), 1.0)
    dense = vectors.toarray()
    names = ["cancel", "order", "zebra"]  # sorted vocabulary of the two texts
    cancel, order, zebra = (dense[:, names.index(n)] for n in names)
    assert order[0] > cancel[0]  # one human used "order", all three "cancel"
    assert zebra[1] > cancel[1]  # a word no human used weighs the most


def _records(rng: np.random.Generator, keys: list[str], words_of) -> dict[str, dict]:
    return {k: {"conversation": [{"role": "user", "content": " ".join(words_of(k, rng))} for _ in range(4)]}
            for k in keys}


def _human_keys() -> list[str]:
    return [f"{t}{s}" for s in ("", "_ann2", "_ann3") for t in TASKS]


def _sim_keys() -> list[str]:
    return [f"{t}_{r}" for r in (1, 2, 3) for t in TASKS]


def _varied(key: str, rng: np.random.Generator) -> list[str]:
    return list(rng.choice(VOCABULARY, int(rng.integers(5, 15))))


def _parrot(key: str, rng: np.random.Generator) -> list[str]:
    return "hello i would like some help with my request please".split()


def test_a_parrot_is_less_varied_on_every_scale_and_a_twin_is_not() -> None:
    rng = np.random.default_rng(2)
    human = _records(rng, _human_keys(), _varied)
    sims = {"twin": _records(rng, _sim_keys(), _varied), "parrot": _records(rng, _sim_keys(), _parrot)}
    table = diversity.diversity_of_records(human, sims, np.random.default_rng(3), n_boot=300)
    assert list(dict.fromkeys(table["label"])) == ["human", "twin", "parrot"]
    assert set(table["metric"]) == set(diversity.METRICS)
    beside = diversity.beside_humans(table).set_index(["label", "metric"])
    for metric in diversity.METRICS:
        parrot = beside.loc[("parrot", metric)]
        assert not parrot["more_varied"], metric
        assert not (parrot["low"] <= parrot["human"] <= parrot["high"]), metric
        twin = beside.loc[("twin", metric)]
        assert twin["low"] - 0.02 <= twin["human"] <= twin["high"] + 0.02, (metric, twin.to_dict())
    assert beside.loc[("parrot", "similarity_across"), "value"] == pytest.approx(1.0)
    assert beside.loc[("parrot", "similarity_task"), "value"] == pytest.approx(1.0)


def test_intervals_hold_the_estimate_and_the_seed_fixes_them() -> None:
    rng = np.random.default_rng(4)
    human = _records(rng, _human_keys(), _varied)
    a = diversity.diversity_of_records(human, {}, np.random.default_rng(5), n_boot=200)
    b = diversity.diversity_of_records(human, {}, np.random.default_rng(5), n_boot=200)
    pd.testing.assert_frame_equal(a, b)
    assert (a["low"] <= a["value"]).all() and (a["value"] <= a["high"]).all()
    assert (a["n_tasks"] == len(TASKS)).all()


def test_corpus_distinct_replicates_match_a_direct_count() -> None:
    token_lists = [["a", "b"], ["b", "c"], ["c", "d", "e"]]
    codes = np.array([0, 1, 2])
    counts = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    estimate, replicates = diversity._distinct_all_replicates(token_lists, codes, 3, 1, counts)
    assert estimate == pytest.approx(5 / 7)
    assert replicates == pytest.approx([5 / 7, 2 / 6, 4 / 7])


def test_across_task_similarity_leaves_out_pairs_of_one_task() -> None:
    similarity = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.3], [0.1, 0.3, 1.0]])
    codes = np.array([0, 0, 1])
    estimate, replicates = diversity._across_replicates(similarity, codes, 2, np.array([[1.0, 1.0], [2.0, 0.0]]))
    assert estimate == pytest.approx((0.1 + 0.3) / 2)
    assert replicates[0] == pytest.approx(estimate) and math.isnan(replicates[1])


def test_simulators_are_compared_on_the_tasks_they_share_with_the_humans() -> None:
    rng = np.random.default_rng(6)
    human = _records(rng, _human_keys(), _varied)
    sim = _records(rng, [*_sim_keys(), "retail_90_1", "retail_91_1"], _varied)
    table = diversity.diversity_of_records(human, {"sim": sim}, np.random.default_rng(0), n_boot=50)
    assert (table.loc[table["label"] == "sim", "n_tasks"] == len(TASKS)).all()


def test_no_human_conversation_is_an_error() -> None:
    texts = distinguish.user_texts({"retail_1_1": {"conversation": [{"role": "user", "content": "hi"}]}},
                                   source="llm", label="sim")
    with pytest.raises(ValueError, match="no usable conversation labelled 'human'"):
        diversity.diversity_table(texts, np.random.default_rng(0))


def test_pairs_within_a_task_are_distinct_conversations() -> None:
    similarity = np.eye(4) + 0.5 * (1 - np.eye(4))
    sums, pairs = diversity._within_pairs(similarity, np.array([0, 0, 0, 1]), 2)
    assert pairs.tolist() == [3.0, 0.0] and sums.tolist() == [1.5, 0.0]
