"""The text test: the classifier two-sample test on character n-grams of the user's turns,
reported apart from the behavioural test (it can pick up how the text was collected)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from .. import features, ids, schema
from .c2st import (
    N_BOOT,
    N_GIVEAWAYS,
    N_REFIT,
    C2STRow,
    c2st_row,
    check_batches,
    check_shared,
    label_permutations,
    row_or_note,
    shared_rows,
    task_resamples,
    usable_rows,
)
from .crossval import OutOfFold, Problem, fold_auc, no_refit, permuted_fold_auc, refit_fold_auc, task_folds

#: Character n-grams of the text test (within word boundaries, case kept: casing is a
#: give-away too), and the least number of conversations an n-gram must occur in.
TEXT_NGRAMS = (2, 4)
TEXT_MIN_DF = 2
#: Label permutations of the text test's p-value (smallest p-value 0.025): each is one text
#: cross-validation, about 0.2 s at the study's size.
N_TEXT_PERMUTATIONS = 39
TEXT_COLUMNS: tuple[str, ...] = ("label", "key", "task_key", "batch", "keep", "has_features", "text")


def text_pipeline() -> Pipeline:
    """TF-IDF (sublinear counts) then logistic regression: the text classifier, fitted per fold."""
    return make_pipeline(TfidfTransformer(sublinear_tf=True), LogisticRegression(C=1.0, max_iter=1000))


def text_out_of_fold(problem: Problem, *, refit_counts: np.ndarray | None = None,
                     permutations: np.ndarray | None = None) -> tuple[OutOfFold, list[str]]:
    """Out-of-fold scores of the text classifier, and its n-grams with their mean
    logistic coefficient over folds (positive: the n-gram says "simulator").

    ``problem.X``: n texts. The vocabulary (character n-grams within word boundaries,
    :data:`TEXT_NGRAMS`, seen in at least :data:`TEXT_MIN_DF` texts) is built once on all
    texts, without labels; the TF-IDF weights and the classifier are fitted per fold
    on the training rows only (and refitted per resample, ``refit_counts`` (R, n) as in
    :func:`behavioural_out_of_fold`, and per within-task label permutation, ``permutations``
    (P, n), one cross-validation each). Deterministic. Returns ``(OutOfFold, n-grams)``
    with ``importance`` (vocabulary size,) aligned with the n-grams.
    """
    vectoriser = CountVectorizer(analyzer="char_wb", ngram_range=TEXT_NGRAMS, lowercase=False,
                                 min_df=min(TEXT_MIN_DF, len(problem.y)))
    counts = vectoriser.fit_transform(problem.X).tocsr()
    y = problem.y
    scores = np.full(len(y), np.nan)
    coefficients = np.zeros(counts.shape[1])
    folds = task_folds(problem.tasks)

    def fit_predict_labels(train: np.ndarray, test: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return text_pipeline().fit(counts[train], labels[train]).predict_proba(counts[test])[:, 1]

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return fit_predict_labels(train, test, y)

    with threadpool_limits(1):
        for train, test in folds:
            fitted = text_pipeline().fit(counts[train], y[train])
            scores[test] = fitted.predict_proba(counts[test])[:, 1]
            coefficients += fitted[-1].coef_[0] / len(folds)
        refit = refit_fold_auc(fit_predict, y, folds, no_refit(len(y)) if refit_counts is None else refit_counts)
        null = (np.zeros(0) if permutations is None else
                permuted_fold_auc(fit_predict_labels, y, folds, permutations))
    statistic = fold_auc(scores, y, folds, np.ones(len(y)))[0]  # the same deterministic fits as the null's
    return OutOfFold(folds, scores, coefficients, refit, null, float(statistic)), list(
        vectoriser.get_feature_names_out())



def user_texts(records: Mapping[str, Mapping[str, Any]], *, source: features.Source, label: str) -> pd.DataFrame:
    """The user side of every conversation as one text: columns :data:`TEXT_COLUMNS`, one row
    per record (file order). ``text`` = the cleaned user turns
    (:func:`features.clean_conversation`) joined by new lines; ``has_features`` is False
    when there is no user turn; ``batch`` and ``keep`` as in :func:`features.features_table`."""
    rows = []
    for key, record in records.items():
        turns, _ = features.clean_conversation(record.get("conversation") or [], source)
        rows.append((label, key, ids.task_key(key), ids.split_batch(key)[1] if source == "human" else 0,
                     record.get("keep", True) is not False, bool(turns), "\n".join(turns)))
    return pd.DataFrame(rows, columns=list(TEXT_COLUMNS))


def text_simulator_problem(human: pd.DataFrame, sim: pd.DataFrame) -> Problem:
    """"Simulator (1) or human (0)" on the shared tasks, from :func:`user_texts` tables; ``X``: texts."""
    h, s = shared_rows(human, sim)
    texts = [*h["text"], *s["text"]]
    y = np.r_[np.zeros(len(h), dtype=int), np.ones(len(s), dtype=int)]
    return Problem(texts, y, np.r_[h["task_key"].to_numpy(), s["task_key"].to_numpy()])


def text_batch_problems(human: pd.DataFrame) -> list[Problem]:
    """One text problem per human batch present: "this batch (1) or another (0)"."""
    rows = usable_rows(human)
    texts, tasks, batches = list(rows["text"]), rows["task_key"].to_numpy(), rows["batch"].to_numpy()
    return [Problem(texts, (batches == b).astype(int), tasks) for b in sorted(set(batches))]


def top_ngrams(ngrams: Sequence[str], coefficients: np.ndarray, n: int = N_GIVEAWAYS) -> tuple[tuple[str, float], ...]:
    """The ``n`` n-grams of largest |coefficient| with their signed coefficient (positive:
    says "simulator", or "this batch"), largest first."""
    order = np.argsort(-np.abs(coefficients), kind="stable")[:n]
    return tuple((ngrams[i], float(coefficients[i])) for i in order if coefficients[i] != 0)


def _text_row(name: str, problems: Sequence[Problem], rng: np.random.Generator, n_boot: int, n_refit: int,
              n_permutations: int, level: float) -> C2STRow:
    """A text row; its give-aways are those of the first problem (for the human reference:
    batch 1 against the others), see :func:`top_ngrams`."""
    counts, codes = task_resamples(problems, rng, n_boot, n_refit)
    permutations = label_permutations(problems, n_permutations, rng)
    parts, ngrams = [], []
    for problem, code in zip(problems, codes):
        oof, vocabulary = text_out_of_fold(problem, refit_counts=counts[:n_refit, code], permutations=permutations)
        parts.append((problem, oof))
        ngrams.append(vocabulary)
    return c2st_row(name, parts, counts, codes, top_ngrams(ngrams[0], parts[0][1].importance), level)


def _text_human_row(human: pd.DataFrame, rng: np.random.Generator, *settings: Any) -> C2STRow:
    return _text_row(schema.HUMAN_LABEL, check_batches(text_batch_problems(human)), rng, *settings)


def _text_simulator_row(human: pd.DataFrame, sim: pd.DataFrame, name: str, rng: np.random.Generator,
                        *settings: Any) -> C2STRow:
    return _text_row(name, [check_shared(name, text_simulator_problem(human, sim))], rng, *settings)


def text_distinguish_all(human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], rng: np.random.Generator,
                         *, n_boot: int = N_BOOT, n_refit: int = N_REFIT,
                         n_permutations: int = N_TEXT_PERMUTATIONS, level: float = 0.95,
                         strict: bool = True) -> list[C2STRow]:
    """The text test (tables of :func:`user_texts`): the human reference, then each simulator.

    Same rows, folds, interval, p-value and ``strict`` as :func:`distinguish_all` (fewer
    permutations by default: each costs a text cross-validation); children of ``rng`` in the
    same order."""
    children = rng.spawn(1 + len(simulators))
    settings = (n_boot, n_refit, n_permutations, level)
    rows = [row_or_note(schema.HUMAN_LABEL, strict, _text_human_row, human, children[0], *settings)]
    for child, (name, sim) in zip(children[1:], simulators.items()):
        rows.append(row_or_note(name, strict, _text_simulator_row, human, sim, name, child, *settings))
    return rows


