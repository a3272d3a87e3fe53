"""Is a simulator as varied as people, or does it say the same thing every time?

Three scales, each reported beside the humans' value with an interval over tasks:

* **Within a conversation**: ``mattr``, the moving-average type-token ratio of the
  user's words (Covington & McFall 2010): the mean, over every window of
  :data:`MATTR_WINDOW` consecutive tokens, of (distinct tokens / window); a text
  shorter than the window gets its plain type-token ratio. Unlike the plain ratio it
  does not fall as a text grows, so short human turns and long simulator turns compare.
* **Across conversations of the same task** (a human's three sessions of a task, a
  simulator's runs of it): ``distinct_1_task`` / ``distinct_2_task``, the distinct-n
  of the task's pooled user text (distinct n-grams / n-grams, n-grams never crossing
  a conversation), and ``similarity_task``, the mean TF-IDF cosine similarity of the
  user texts of two conversations of the task; each averaged over tasks.
* **Across tasks**: ``distinct_1_all`` / ``distinct_2_all`` over all the label's user
  text, and ``similarity_across``, the mean cosine similarity of two conversations
  of different tasks: a simulator that phrases every task alike scores high.

Tokens are lower-cased words, :data:`TOKEN_PATTERN` (letters and digits, with an inner
apostrophe kept: "don't"). TF-IDF: sublinear term counts times an inverse document
frequency learnt from the **human** conversations only (smoothed: ln((1 + N) / (1 + df))
+ 1, so a word no human used gets the largest weight), then unit length. One weighting
for every label keeps the similarities comparable, and a simulator's value depends on
itself and the humans only.

Caveats. Distinct-n falls as a text grows (more tokens, more repeats), so a verbose
simulator scores lower than terse people even when equally varied: read it beside
MATTR, which does not. ``distinct_*_all`` is a corpus statistic: resampling tasks with
replacement repeats whole tasks, which lowers it, so its interval is the *centred*
bootstrap interval (:func:`usersim_utils.stats.centred_interval`), used for every
metric here for uniformity (for the means it equals the percentile interval up to noise).
Each simulator is compared on the tasks it shares with the humans; kept conversations
with at least one user turn only.

Randomness: one ``numpy.random.Generator``; one task resample per label (labels in the
order of the table), shared by all its metrics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from . import schema, stats
from .distinguish import TEXT_COLUMNS, usable_rows, user_texts

MATTR_WINDOW = 25
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z0-9]+)?"
_TOKEN = re.compile(TOKEN_PATTERN)
N_BOOT = 1000
METRICS: tuple[str, ...] = (
    "mattr", "distinct_1_task", "distinct_2_task", "similarity_task",
    "distinct_1_all", "distinct_2_all", "similarity_across",
)
#: Which scale each metric describes.
SCALES: dict[str, str] = {
    "mattr": "within a conversation",
    "distinct_1_task": "same task", "distinct_2_task": "same task", "similarity_task": "same task",
    "distinct_1_all": "across tasks", "distinct_2_all": "across tasks", "similarity_across": "across tasks",
}
#: For each metric, whether a higher value means more varied (similarity: lower is more varied).
HIGHER_IS_MORE_VARIED: dict[str, bool] = {m: not m.startswith("similarity") for m in METRICS}


# --- Per text. ----------------------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (:data:`TOKEN_PATTERN`)."""
    return _TOKEN.findall(text.lower())


def mattr(words: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio of ``words`` (n,): mean over the n − window + 1
    windows of distinct/window; the plain type-token ratio when n < window; NaN when n = 0.
    Linear time (counts updated as the window slides)."""
    n = len(words)
    if n == 0:
        return float("nan")
    if n <= window:
        return len(set(words)) / n
    counts: dict[str, int] = {}
    for w in words[:window]:
        counts[w] = counts.get(w, 0) + 1
    total = len(counts)
    for i in range(window, n):
        old, new = words[i - window], words[i]
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        counts[new] = counts.get(new, 0) + 1
        total += len(counts)
    return total / ((n - window + 1) * window)


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of one token list (len(words) − n + 1 of them, none when shorter)."""
    return list(zip(*(words[i:] for i in range(n))))


def distinct_n(token_lists: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams / n-grams over several token lists (n-grams within each list);
    NaN when there is no n-gram."""
    grams = [g for words in token_lists for g in ngrams(words, n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


# --- TF-IDF with the humans' document frequencies. --------------------------------------------------
def human_idf_vectors(texts: Sequence[str], human_texts: Sequence[str]) -> sparse.csr_matrix:
    """Unit-length TF-IDF rows (len(texts), vocabulary of ``texts``): sublinear counts
    (1 + ln tf) times ln((1 + N) / (1 + df)) + 1, with N and df counted over ``human_texts``."""
    vectoriser = CountVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False)
    counts = vectoriser.fit_transform(texts).astype(float).tocsr()
    human_df = np.asarray((vectoriser.transform(human_texts) > 0).sum(axis=0)).ravel()
    idf = np.log((1.0 + len(human_texts)) / (1.0 + human_df)) + 1.0
    counts.data = 1.0 + np.log(counts.data)
    return normalize(counts.multiply(idf).tocsr())


def cosine_matrix(vectors: sparse.csr_matrix) -> np.ndarray:
    """(n, n) cosine similarities of unit-length rows (n, V)."""
    return (vectors @ vectors.T).toarray()


# --- One label's values per task, and their resampling. ---------------------------------------------
def _task_codes(task_keys: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(pd.Series(list(task_keys)), sort=True)
    return codes, list(uniques)


def _weighted_ratio(num: np.ndarray, den: np.ndarray, counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Estimate Σ num / Σ den over tasks (T,), and its replicates (B,) under task ``counts`` (B, T)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(num.sum() / den.sum()), (counts @ num) / (counts @ den)


def _within_pairs(similarity: np.ndarray, codes: np.ndarray, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per task (T,): sum of the cosine similarities of its distinct conversation pairs, and their number."""
    sums, pairs = np.zeros(n_tasks), np.zeros(n_tasks)
    for t in range(n_tasks):
        rows = np.flatnonzero(codes == t)
        block = similarity[np.ix_(rows, rows)]
        k = len(rows)
        sums[t] = (block.sum() - np.trace(block)) / 2.0
        pairs[t] = k * (k - 1) / 2.0
    return sums, pairs


def _across_replicates(similarity: np.ndarray, codes: np.ndarray, n_tasks: int,
                       counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean similarity of pairs of conversations of different tasks; replicates weigh a pair by
    the product of its two tasks' counts. ``similarity`` (n, n), ``counts`` (B, T)."""
    onehot = np.zeros((len(codes), n_tasks))
    onehot[np.arange(len(codes)), codes] = 1.0
    block_sums = onehot.T @ similarity @ onehot  # (T, T)
    sizes = onehot.sum(axis=0)
    block_pairs = np.outer(sizes, sizes)
    np.fill_diagonal(block_sums, 0.0)
    np.fill_diagonal(block_pairs, 0.0)
    estimate = float(block_sums.sum() / block_pairs.sum()) if block_pairs.sum() else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        num = np.einsum("bt,tu,bu->b", counts, block_sums, counts)
        den = np.einsum("bt,tu,bu->b", counts, block_pairs, counts)
        return estimate, num / den


def _distinct_all_replicates(token_lists: Sequence[Sequence[str]], codes: np.ndarray, n_tasks: int, n: int,
                             counts: np.ndarray, chunk: int = 100) -> tuple[float, np.ndarray]:
    """Corpus distinct-n and its replicates: a resample holds the n-grams of every task drawn
    at least once, and counts each task's n-grams as often as it was drawn."""
    vocabulary: dict[tuple[str, ...], int] = {}
    rows, cols = [], []
    totals = np.zeros(n_tasks)
    for words, task in zip(token_lists, codes):
        grams = ngrams(words, n)
        totals[task] += len(grams)
        for g in grams:
            rows.append(task)
            cols.append(vocabulary.setdefault(g, len(vocabulary)))
    if not vocabulary:
        return float("nan"), np.full(len(counts), np.nan)
    presence = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_tasks, len(vocabulary)))
    presence.data[:] = 1.0  # the constructor summed repeated n-grams: presence, not counts
    distinct = np.empty(len(counts))
    drawn = (counts > 0).astype(float)
    for start in range(0, len(counts), chunk):
        hits = (presence.T @ drawn[start:start + chunk].T)  # (V, chunk)
        distinct[start:start + chunk] = (np.asarray(hits) > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(len(vocabulary) / totals.sum()), distinct / (counts @ totals)


def label_replicates(texts: pd.DataFrame, human_texts: Sequence[str], counts: np.ndarray
                     ) -> dict[str, tuple[float, np.ndarray]]:
    """``{metric: (estimate, replicates (B,))}`` of one label.

    ``texts``: usable rows of one label (columns ``task_key``, ``text``); ``counts`` (B, T):
    how often each of its tasks (sorted) is drawn in each resample."""
    codes, task_list = _task_codes(texts["task_key"])
    n_tasks = len(task_list)
    token_lists = [tokens(t) for t in texts["text"]]
    out: dict[str, tuple[float, np.ndarray]] = {}
    values = np.array([mattr(w) for w in token_lists])
    defined = ~np.isnan(values)
    out["mattr"] = _weighted_ratio(np.bincount(codes[defined], values[defined], n_tasks),
                                   np.bincount(codes[defined], minlength=n_tasks).astype(float), counts)
    for n in (1, 2):
        per_task = np.array([distinct_n([w for w, c in zip(token_lists, codes) if c == t], n) for t in range(n_tasks)])
        has = ~np.isnan(per_task)
        out[f"distinct_{n}_task"] = _weighted_ratio(np.where(has, per_task, 0.0), has.astype(float), counts)
    similarity = cosine_matrix(human_idf_vectors(list(texts["text"]), human_texts))
    sums, pairs = _within_pairs(similarity, codes, n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pair = np.where(pairs > 0, sums / np.where(pairs > 0, pairs, 1.0), 0.0)
    out["similarity_task"] = _weighted_ratio(mean_pair, (pairs > 0).astype(float), counts)
    for n in (1, 2):
        out[f"distinct_{n}_all"] = _distinct_all_replicates(token_lists, codes, n_tasks, n, counts)
    out["similarity_across"] = _across_replicates(similarity, codes, n_tasks, counts)
    return out


# --- The table. ---------------------------------------------------------------------------------------
def diversity_table(texts: pd.DataFrame, rng: np.random.Generator, *, human_label: str = schema.HUMAN_LABEL,
                    n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """Every metric of every label with its centred bootstrap interval over tasks.

    ``texts``: :func:`usersim_utils.distinguish.user_texts` tables concatenated (columns
    :data:`usersim_utils.distinguish.TEXT_COLUMNS`), one of them labelled ``human_label``.
    Kept rows with a user turn; each simulator restricted to the tasks it shares with
    the humans. Labels in table order, the humans first; one
    :func:`stats.resample_counts` draw per label. Columns: ``label``, ``scale``,
    ``metric``, ``value``, ``low``, ``high``, ``n_conversations``, ``n_tasks``.
    Raises ``ValueError`` without human rows.
    """
    rows = usable_rows(texts)
    human = rows[rows["label"] == human_label]
    if human.empty:
        raise ValueError(f"no usable conversation labelled {human_label!r} to compare with")
    human_texts = list(human["text"])
    records = []
    for label in [human_label, *(x for x in dict.fromkeys(rows["label"]) if x != human_label)]:
        mine = rows[(rows["label"] == label) & rows["task_key"].isin(set(human["task_key"]))]
        n_tasks = mine["task_key"].nunique()
        if n_tasks == 0:
            continue
        counts = stats.resample_counts(n_tasks, n_boot, rng)
        for metric, (estimate, replicates) in label_replicates(mine, human_texts, counts).items():
            low, high = stats.centred_interval(replicates, estimate, level)
            records.append((label, SCALES[metric], metric, estimate, low, high, len(mine), n_tasks))
    columns = ["label", "scale", "metric", "value", "low", "high", "n_conversations", "n_tasks"]
    return pd.DataFrame.from_records(records, columns=columns)


def beside_humans(table: pd.DataFrame, *, human_label: str = schema.HUMAN_LABEL) -> pd.DataFrame:
    """Each simulator's metric beside the humans' value: the rows of :func:`diversity_table`
    other than the humans', with ``human``, ``human_low``, ``human_high`` and
    ``more_varied`` (True when the simulator is more varied than the humans by the
    point values; see :data:`HIGHER_IS_MORE_VARIED`)."""
    human = table[table["label"] == human_label].set_index("metric")[["value", "low", "high"]]
    human.columns = ["human", "human_low", "human_high"]
    out = table[table["label"] != human_label].join(human, on="metric")
    higher = out["metric"].map(HIGHER_IS_MORE_VARIED)
    out["more_varied"] = np.where(higher, out["value"] > out["human"], out["value"] < out["human"])
    return out.reset_index(drop=True)


def diversity_of_records(human_records: Mapping[str, Mapping[str, Any]],
                         simulators: Mapping[str, Mapping[str, Mapping[str, Any]]], rng: np.random.Generator,
                         *, n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """:func:`diversity_table` of raw records: human sessions and ``{label: rollouts}``."""
    tables = [user_texts(human_records, source="human", label=schema.HUMAN_LABEL)]
    tables += [user_texts(records, source="llm", label=label) for label, records in simulators.items()]
    texts = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TEXT_COLUMNS))
    return diversity_table(texts, rng, n_boot=n_boot, level=level)
