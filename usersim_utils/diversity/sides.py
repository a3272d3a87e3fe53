"""One side of a comparison (the humans, or one simulator) on the compared tasks: its
per-task values, its equal-size subsamples of conversations, and its corpus statistics
under task resamples.

Shapes: n conversations of the side, T compared tasks, B task resamples; ``codes`` (n,)
gives each conversation's task (0..T−1), ``counts`` (B, T) how often each task is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .lexical import distinct_n, ngrams, per_text_values, tokens

#: Subsamples averaged over when a side has more conversations of a task than the other:
#: every subset when there are at most this many, else this many drawn at random.
N_SUBSAMPLES = 10


@dataclass(frozen=True)
class Side:
    """A side's usable conversations: ``task_keys`` (n,), ``texts`` and ``token_lists`` (n of
    each), ``per_text`` ``{measure: (n,)}`` (:func:`~usersim_utils.diversity.lexical.per_text_values`),
    ``grams`` ``{n: n-gram ids of each conversation}`` (:func:`gram_ids`, n = 1, 2)."""

    task_keys: np.ndarray
    texts: list[str]
    token_lists: list[list[str]]
    per_text: dict[str, np.ndarray]
    grams: dict[int, list[np.ndarray]]


def make_side(task_keys: Sequence[str], texts: Sequence[str]) -> Side:
    """The :class:`Side` of conversations (``task_keys``, ``texts``)."""
    token_lists = [tokens(t) for t in texts]
    return Side(np.asarray(task_keys, dtype=object), list(texts), token_lists, per_text_values(token_lists),
                {n: gram_ids(token_lists, n) for n in (1, 2)})


def on_tasks(side: Side, tasks: Sequence[str]) -> tuple[Side, np.ndarray]:
    """``(side restricted to the conversations of tasks, their codes (n',) into tasks)``."""
    position = {t: i for i, t in enumerate(tasks)}
    keep = np.flatnonzero([k in position for k in side.task_keys])
    kept = Side(side.task_keys[keep], [side.texts[i] for i in keep], [side.token_lists[i] for i in keep],
                {name: values[keep] for name, values in side.per_text.items()},
                {n: [ids[i] for i in keep] for n, ids in side.grams.items()})
    return kept, np.array([position[k] for k in kept.task_keys], dtype=int)


# --- TF-IDF over the pool of both sides. ---------------------------------------------------------------
def pooled_tfidf(texts: Sequence[str]) -> sparse.csr_matrix:
    """Unit-length TF-IDF rows (len(texts), their vocabulary): sublinear counts (1 + ln tf)
    times ln(N / df) + 1, N and df over ``texts`` themselves (scikit-learn's
    ``TfidfVectorizer``, unsmoothed: every word's df counts at least its own text)."""
    vectoriser = TfidfVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False, sublinear_tf=True,
                                 smooth_idf=False)
    return vectoriser.fit_transform(texts).tocsr()


def cosine_matrix(vectors: sparse.csr_matrix) -> np.ndarray:
    """(n, n) cosine similarities of unit-length rows (n, V)."""
    return (vectors @ vectors.T).toarray()


def pooled_similarities(sim_texts: Sequence[str], human_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(simulator's (n_s, n_s), humans' (n_h, n_h))`` cosine similarities of :func:`pooled_tfidf`
    over both sides' texts together. One pool makes every conversation's weights the same
    function of the same texts: with the weights learnt from the humans alone, a human's own
    words counted in their df and a simulator's did not, which moved a simulator of the human
    process off the humans (across-task similarity 6% lower, within-task 5% higher)."""
    vectors = pooled_tfidf([*sim_texts, *human_texts])
    n = len(sim_texts)
    return cosine_matrix(vectors[:n]), cosine_matrix(vectors[n:])


# --- Per task. ----------------------------------------------------------------------------------------
def task_means(values: np.ndarray, codes: np.ndarray, n_tasks: int) -> np.ndarray:
    """(T,) mean of each task's defined values (n,); NaN for a task with none."""
    defined = ~np.isnan(values)
    sums = np.bincount(codes[defined], values[defined], n_tasks)
    numbers = np.bincount(codes[defined], minlength=n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(numbers > 0, sums / np.maximum(numbers, 1), np.nan)


def rows_of_tasks(codes: np.ndarray, n_tasks: int) -> list[np.ndarray]:
    """The conversations (indices into codes (n,)) of each of the T tasks, in order."""
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.searchsorted(codes[order], np.arange(1, n_tasks)))


def task_pair_similarity(similarity: np.ndarray, codes: np.ndarray, n_tasks: int) -> np.ndarray:
    """(T,) mean cosine similarity of the distinct pairs of one task's conversations; NaN for
    a task with fewer than two (the mean over pairs does not depend on how many there are)."""
    out = np.full(n_tasks, np.nan)
    for t, rows in enumerate(rows_of_tasks(codes, n_tasks)):
        k = len(rows)
        if k >= 2:
            block = similarity[np.ix_(rows, rows)]
            out[t] = (block.sum() - np.trace(block)) / (k * (k - 1))
    return out


def subsets(k: int, m: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Subsets of size m of range(k) to average over: all of them when there are at most
    :data:`N_SUBSAMPLES`, else that many drawn uniformly (``rng``, with repeats possible)."""
    if math.comb(k, m) <= N_SUBSAMPLES:
        return list(combinations(range(k), m))
    return [tuple(sorted(rng.choice(k, m, replace=False))) for _ in range(N_SUBSAMPLES)]


def task_distinct(token_lists: Sequence[Sequence[str]], codes: np.ndarray, sizes: np.ndarray, n: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(T,) distinct-n of each task's pooled text on ``sizes[t]`` of its conversations (T,),
    averaged over :func:`subsets` of that size; NaN where no subset has an n-gram."""
    out = np.full(len(sizes), np.nan)
    for t, (m, rows) in enumerate(zip(sizes, rows_of_tasks(codes, len(sizes)))):
        if m == 0 or len(rows) == 0:
            continue
        values = [distinct_n([token_lists[rows[i]] for i in subset], n) for subset in subsets(len(rows), m, rng)]
        defined = [v for v in values if not math.isnan(v)]
        out[t] = float(np.mean(defined)) if defined else np.nan
    return out


# --- Corpus statistics under task resamples. --------------------------------------------------------
def corpus_subsample(codes: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of a random ``sizes[t]`` conversations of each task t (all of a task that has
    no more): one ``rng.random`` draw of shape (n,)."""
    keys = rng.random(len(codes))
    order = np.lexsort((keys, codes))
    first = np.searchsorted(codes[order], np.arange(len(sizes)))
    rank = np.arange(len(order)) - first[codes[order]]
    return np.sort(order[rank < sizes[codes[order]]])


def gram_ids(token_lists: Sequence[Sequence[str]], n: int) -> list[np.ndarray]:
    """Each token list's n-grams (repeats kept) as integer ids (one vocabulary for all the lists)."""
    vocabulary: dict[tuple[str, ...], int] = {}
    return [np.array([vocabulary.setdefault(g, len(vocabulary)) for g in ngrams(words, n)], dtype=np.int64)
            for words in token_lists]


def corpus_distinct(ids: Sequence[np.ndarray], codes: np.ndarray, n_tasks: int, counts: np.ndarray,
                    chunk: int = 100) -> tuple[float, np.ndarray]:
    """Corpus distinct-n (distinct n-grams / n-grams of all the texts; ``ids`` of
    :func:`gram_ids`) and its replicates (B,): a resample holds the n-grams of every task
    drawn at least once, and counts each task's n-grams as often as it was drawn. An n-gram
    of one task only is present exactly when that task is drawn (a product of counts); the
    others go through a sparse product."""
    lengths = np.array([len(g) for g in ids], dtype=np.int64)
    totals = np.bincount(codes, weights=lengths, minlength=n_tasks)
    if totals.sum() == 0:
        return float("nan"), np.full(len(counts), np.nan)
    grams = np.concatenate(list(ids))
    base = int(grams.max()) + 1
    pairs = np.unique(np.repeat(codes.astype(np.int64), lengths) * base + grams)  # distinct (task, n-gram)
    task_of, gram_of = np.divmod(pairs, base)
    _, gram_index, tasks_per_gram = np.unique(gram_of, return_inverse=True, return_counts=True)
    single = tasks_per_gram[gram_index] == 1
    only_here = np.bincount(task_of[single], minlength=n_tasks).astype(float)  # (T,)
    shared_rows = np.unique(gram_index[~single], return_inverse=True)[1]
    shared = sparse.csr_matrix((np.ones(len(shared_rows)), (shared_rows, task_of[~single])),
                               shape=(int(shared_rows.max(initial=-1)) + 1, n_tasks))  # (V', T)
    drawn = (counts > 0).astype(float)
    distinct = drawn @ only_here
    for start in range(0, len(counts), chunk):
        hits = shared @ drawn[start:start + chunk].T  # (V', chunk)
        distinct[start:start + chunk] += (np.asarray(hits) > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(len(tasks_per_gram) / totals.sum()), distinct / (counts @ totals)


def matched_corpus_distinct(ids: Sequence[np.ndarray], codes: np.ndarray, sizes: np.ndarray, counts: np.ndarray,
                            rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """:func:`corpus_distinct` on ``sizes[t]`` conversations of each task (T,): the estimate
    averaged over :data:`N_SUBSAMPLES` random subsamples (:func:`corpus_subsample`; one, all
    conversations, when no task has more than its size), the replicates (B,) of the first
    subsample shifted by the difference of the estimates. Those replicates spread a little
    more than an average over subsamples would (the interval errs wide), and cost one
    bootstrap instead of ten."""
    per_task = np.bincount(codes, minlength=len(sizes))
    if np.all(per_task <= sizes):
        return corpus_distinct(ids, codes, len(sizes), counts)
    draws = [corpus_subsample(codes, sizes, rng) for _ in range(N_SUBSAMPLES)]
    first, replicates = corpus_distinct([ids[i] for i in draws[0]], codes[draws[0]], len(sizes), counts)
    estimate = float(np.mean([first, *(distinct_share([ids[i] for i in rows]) for rows in draws[1:])]))
    return estimate, replicates + (estimate - first)


def distinct_share(ids: Sequence[np.ndarray]) -> float:
    """Distinct n-grams / n-grams of :func:`gram_ids` lists; NaN when there is none."""
    grams = np.concatenate([*ids, np.zeros(0, dtype=np.int64)])
    return float(np.unique(grams).size / grams.size) if grams.size else float("nan")


def across_similarity(similarity: np.ndarray, codes: np.ndarray, n_tasks: int,
                      counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean similarity of pairs of conversations of different tasks and its replicates (B,):
    a pair weighs the product of its two tasks' counts. ``similarity`` (n, n)."""
    onehot = np.zeros((len(codes), n_tasks))
    onehot[np.arange(len(codes)), codes] = 1.0
    block_sums = onehot.T @ similarity @ onehot  # (T, T)
    sizes = onehot.sum(axis=0)
    block_pairs = np.outer(sizes, sizes)
    np.fill_diagonal(block_sums, 0.0)
    np.fill_diagonal(block_pairs, 0.0)
    estimate = float(block_sums.sum() / block_pairs.sum()) if block_pairs.sum() else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        num = ((counts @ block_sums) * counts).sum(axis=1)  # Σ_tu c_bt s_tu c_bu
        den = ((counts @ block_pairs) * counts).sum(axis=1)
        return estimate, num / den

