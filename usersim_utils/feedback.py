"""Simulated versus human feedback, and rule-based reward versus human judgement.

Pure statistics for notebook 05 (issue 5); no file is read or written here.

The inputs are the long survey tables of :func:`usersim_utils.data.surveys_table`
(columns ``label``, ``instance_id``, ``task_key``, ``batch``, ``item``, ``answer``,
``value``, ``value_norm``, ``keep``), the human sessions table of
:func:`usersim_utils.data.sessions_table` (``instance_id``, ``success``, ``keep``...)
and outcome tables (:func:`outcomes_table`, the outcome columns of
:func:`usersim_utils.features.features_table`: ``label``, ``key``, ``task_key``,
``keep``, ``success``).

Pairing follows the index's Eval (spec usi.md §6): a simulator survey keyed ``x``,
``x_ann2`` or ``x_ann3`` is compared with the *kept* human session of the same key;
the simulator's own ``keep`` is not looked at (the index does not either).

Every resampling statistic takes an explicit ``numpy.random.Generator`` and
consumes it in a documented order (simulators in table order, then items in
:data:`usersim_utils.survey.SURVEY_ITEMS` order), so the same parameters give the
same numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import ids, usi
from .errors import DataError
from .features import success_of
from .published import PUBLISHED_OVERRATING, match_published
from .survey import (
    FREE_TEXT_ITEMS, ITEM_VALUES, SURVEY_ITEMS, SURVEY_OPTIONS, item_distances, normalise,
)

# --- Generic statistics. ---------------------------------------------------------------------


def _z(level: float) -> float:
    """Two-sided standard-normal quantile of a confidence ``level`` (0.95 -> 1.96)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), not {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    ``(nan, nan)`` when ``n`` is 0. With z the two-sided normal quantile:
    centre = (p + z²/2n) / (1 + z²/n), half-width = z/(1 + z²/n)·sqrt(p(1−p)/n + z²/4n²).
    """
    if n == 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], not {successes}")
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Pearson correlation ``r`` on ``n`` pairs by Fisher's
    z-transform: tanh(atanh(r) ± z/sqrt(n − 3)). ``(nan, nan)`` when ``n < 4`` or ``r``
    is NaN; ``(r, r)`` when ``|r| = 1``."""
    if n < 4 or math.isnan(r):
        return math.nan, math.nan
    if abs(r) >= 1:
        return r, r
    half = _z(level) / math.sqrt(n - 3)
    centre = math.atanh(r)
    return math.tanh(centre - half), math.tanh(centre + half)


def _percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    lo, hi = np.quantile(samples, [alpha, 1 - alpha])
    return float(lo), float(hi)


def bootstrap_mean_interval(
    values: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    *,
    clusters: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` with a percentile bootstrap interval.

    With ``clusters`` (one label per value, e.g. the task key) whole clusters are
    resampled with replacement and the statistic is the pooled mean of the values
    they hold (a cluster bootstrap: the batches of one task are not independent).
    Without, every value is its own cluster. One ``rng.integers`` call of shape
    ``(n_boot, n_clusters)``. ``(nan, nan, nan)`` for no values.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    if clusters is None:
        sums, counts = values, np.ones_like(values)
    else:
        codes, _ = pd.factorize(pd.Series(list(clusters)), sort=True)
        if len(codes) != values.size:
            raise ValueError("clusters must have one label per value")
        sums = np.bincount(codes, weights=values)
        counts = np.bincount(codes).astype(float)
    draws = rng.integers(0, sums.size, size=(n_boot, sums.size))
    boot = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = _percentile_interval(boot, level)
    return float(values.mean()), lo, hi


def sign_flip_test(
    differences: Sequence[float] | np.ndarray, rng: np.random.Generator, *, n_perm: int = 1000
) -> float:
    """Two-sided paired permutation p-value of "mean difference = 0".

    Under the null each difference is as likely to have either sign; the statistic
    is |mean|. When 2**n <= ``n_perm`` every sign vector is enumerated (exact,
    ``rng`` unused); otherwise ``n_perm`` random sign vectors are drawn (one
    ``rng.choice`` call) and p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm).
    1.0 when every difference is 0; NaN for no differences.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    if n == 0:
        return math.nan
    observed = abs(d.mean())
    if np.all(d == 0):
        return 1.0
    tolerance = 1e-12 * max(1.0, observed)  # float sums of permuted signs must still count as ties
    if 2**n <= n_perm:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        permuted = np.abs((signs * d).mean(axis=1))
        return float(np.mean(permuted >= observed - tolerance))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, n))
    permuted = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(permuted >= observed - tolerance)) / (1 + n_perm))


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (scipy, zero differences dropped);
    1.0 when every difference is 0, NaN for no differences."""
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def weighted_kappa(
    rater_a: Sequence[Any], rater_b: Sequence[Any], categories: Sequence[Any], *, weights: str = "quadratic"
) -> float:
    """Weighted Cohen's kappa of two raters over ordered ``categories``.

    From the confusion matrix O (proportions, rows = ``rater_a``) and the product of
    its margins E: kappa = 1 − Σ W·O / Σ W·E with W_ij = ((i − j)/(k − 1))²
    (``"quadratic"``) or |i − j|/(k − 1) (``"linear"``). NaN when there are no
    ratings or Σ W·E = 0 (both raters always give the same single category).
    Raises :class:`DataError` for a rating outside ``categories``.
    """
    if len(rater_a) != len(rater_b):
        raise ValueError("the two raters must rate the same number of items")
    k = len(categories)
    if k < 2 or len(rater_a) == 0:
        return math.nan
    index = {c: i for i, c in enumerate(categories)}
    observed = np.zeros((k, k))
    for a, b in zip(rater_a, rater_b):
        for rating in (a, b):
            if rating not in index:
                raise DataError(f"rating {rating!r} is not one of the categories {list(categories)!r}")
        observed[index[a], index[b]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if weights == "quadratic":
        w = ((i - j) / (k - 1)) ** 2
    elif weights == "linear":
        w = np.abs(i - j) / (k - 1)
    else:
        raise ValueError(f"weights must be 'quadratic' or 'linear', not {weights!r}")
    chance = float((w * expected).sum())
    if chance == 0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance


def bootstrap_spearman_interval(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho, resampling pairs (one
    ``rng.integers`` call). Resamples where a side is constant are skipped.
    ``(nan, nan)`` for fewer than 3 pairs."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3:
        return math.nan, math.nan
    draws = rng.integers(0, x.size, size=(n_boot, x.size))
    rx = stats.rankdata(x[draws], axis=1)
    ry = stats.rankdata(y[draws], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)
    return _percentile_interval(rho, level)


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """(pearson r, its p, spearman rho, its p); NaN when a side is constant or n < 3."""
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan, math.nan
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    return float(pearson.statistic), float(pearson.pvalue), float(spearman.statistic), float(spearman.pvalue)


# --- 1. Per survey item: simulator versus human answers. ---------------------------------------

PAIR_COLUMNS: tuple[str, ...] = (
    "label", "instance_id", "task_key", "batch", "item",
    "human_answer", "sim_answer", "human_value", "sim_value", "human_norm", "sim_norm",
)


def pair_surveys(human: pd.DataFrame, simulators: pd.DataFrame) -> pd.DataFrame:
    """Match simulator survey answers with the human's on the same session.

    ``human``: long survey table of the human sessions (label ``"human"``);
    ``simulators``: long survey tables of one or more simulators, concatenated
    (their ``label`` tells them apart). Only the 8 ordinal items; only kept human
    sessions with a valid human answer (the index skips the others). The
    simulator's answer may be missing or invalid (``sim_value`` NaN).

    Columns: :data:`PAIR_COLUMNS` (``*_value`` ordinal, ``*_norm`` in [0, 1]).
    """
    kept = human[human["keep"] & human["item"].isin(SURVEY_ITEMS) & human["value"].notna()]
    kept = kept[["instance_id", "task_key", "batch", "item", "answer", "value", "value_norm"]].rename(
        columns={"answer": "human_answer", "value": "human_value", "value_norm": "human_norm"}
    )
    sims = simulators[simulators["item"].isin(SURVEY_ITEMS)]
    sims = sims[["label", "instance_id", "item", "answer", "value", "value_norm"]].rename(
        columns={"answer": "sim_answer", "value": "sim_value", "value_norm": "sim_norm"}
    )
    pairs = sims.merge(kept, on=["instance_id", "item"], how="inner")
    return pairs[list(PAIR_COLUMNS)].reset_index(drop=True)


def answer_distribution(pairs: pd.DataFrame) -> pd.DataFrame:
    """Answer shares of the human and of each simulator on the same sessions.

    ``pairs``: :func:`pair_surveys`. Only the (session, item) pairs present for
    *every* simulator label are used, so all rows describe the same sessions; the
    human row is computed once on them. Shares are over valid answers.

    Columns: ``rater`` (``"human"`` or a simulator label), ``item``, ``answer``,
    ``value_norm`` (of the answer), ``option_rank`` (position in the item's option
    list), ``n`` (answers of this option), ``share`` (n / valid answers of the
    rater on the item), ``n_valid``, ``n_missing`` (missing or invalid answers).
    """
    labels = list(dict.fromkeys(pairs["label"]))
    if labels:
        per_label = [set(zip(g["instance_id"], g["item"])) for _, g in pairs.groupby("label", sort=False)]
        common = set.intersection(*per_label)
        keys = pd.Series(list(zip(pairs["instance_id"], pairs["item"])), index=pairs.index)
        pairs = pairs[keys.isin(common)]
    first = pairs[pairs["label"] == labels[0]] if labels else pairs
    raters = [("human", first["item"], first["human_answer"], first["human_value"])]
    for label in labels:
        rows = pairs[pairs["label"] == label]
        raters.append((label, rows["item"], rows["sim_answer"], rows["sim_value"]))
    records = []
    for rater, items, answers, values in raters:
        frame = pd.DataFrame({"item": items.to_numpy(), "answer": answers.to_numpy(),
                              "valid": values.notna().to_numpy()})
        for item in SURVEY_ITEMS:
            on_item = frame[frame["item"] == item]
            if on_item.empty:
                continue
            valid = on_item[on_item["valid"]]
            counts = valid["answer"].value_counts()
            for rank, (option, value) in enumerate(SURVEY_OPTIONS[item].items()):
                n = int(counts.get(option, 0))
                records.append({
                    "rater": rater, "item": item, "answer": option,
                    "value_norm": normalise(item, value), "option_rank": rank, "n": n,
                    "share": n / len(valid) if len(valid) else math.nan,
                    "n_valid": len(valid), "n_missing": len(on_item) - len(valid),
                })
    columns = ["rater", "item", "answer", "value_norm", "option_rank", "n", "share", "n_valid", "n_missing"]
    return pd.DataFrame.from_records(records, columns=columns)


def per_task_differences(pairs: pd.DataFrame) -> pd.DataFrame:
    """Simulator minus human normalized answer, averaged over the batches of each task.

    ``pairs``: :func:`pair_surveys` (pairs with an invalid simulator answer are dropped).
    Columns: ``label``, ``item``, ``task_key``, ``difference``, ``n_pairs``.
    """
    valid = pairs[pairs["sim_norm"].notna()].assign(difference=lambda d: d["sim_norm"] - d["human_norm"])
    out = valid.groupby(["label", "item", "task_key"], sort=False)["difference"].agg(["mean", "size"])
    return out.reset_index().rename(columns={"mean": "difference", "size": "n_pairs"})


def _label_item_groups(pairs: pd.DataFrame, sim_column: str):
    """``(label, item, rows)`` for each simulator (table order) and survey item with at
    least one pair whose ``sim_column`` is valid."""
    valid = pairs[pairs[sim_column].notna()]
    for label in dict.fromkeys(pairs["label"]):
        for item in SURVEY_ITEMS:
            rows = valid[(valid["label"] == label) & (valid["item"] == item)]
            if not rows.empty:
                yield label, item, rows


def mean_differences(
    pairs: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    n_perm: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """How much each simulator over- (> 0) or under-rates (< 0) the agent, per item.

    ``pairs``: :func:`pair_surveys`; pairs with an invalid simulator answer are
    dropped. ``mean_diff`` = mean over pairs of (sim_norm − human_norm), i.e. the
    gap as a fraction of the item's scale (0.55 = 55% of the scale). Its interval
    is a cluster bootstrap over tasks (:func:`bootstrap_mean_interval`). The paired
    tests use one difference per task (the mean over its batches): Wilcoxon
    signed-rank and a sign-flip permutation test. ``rng`` is consumed label by
    label (table order), item by item: bootstrap then permutation.

    Columns: ``label``, ``item``, ``n_pairs``, ``n_tasks``, ``human_mean``,
    ``sim_mean`` (mean normalized answers on those pairs), ``mean_diff``,
    ``ci_low``, ``ci_high``, ``wilcoxon_p``, ``sign_flip_p``.
    """
    per_task = per_task_differences(pairs)
    records = []
    for label, item, rows in _label_item_groups(pairs, "sim_norm"):
        diffs = (rows["sim_norm"] - rows["human_norm"]).to_numpy()
        mean, lo, hi = bootstrap_mean_interval(diffs, rng, clusters=rows["task_key"].to_numpy(),
                                               n_boot=n_boot, level=level)
        task_diffs = per_task.loc[(per_task["label"] == label) & (per_task["item"] == item), "difference"]
        records.append({
            "label": label, "item": item, "n_pairs": len(rows), "n_tasks": rows["task_key"].nunique(),
            "human_mean": float(rows["human_norm"].mean()), "sim_mean": float(rows["sim_norm"].mean()),
            "mean_diff": mean, "ci_low": lo, "ci_high": hi,
            "wilcoxon_p": wilcoxon_p(task_diffs.to_numpy()),
            "sign_flip_p": sign_flip_test(task_diffs.to_numpy(), rng, n_perm=n_perm),
        })
    columns = ["label", "item", "n_pairs", "n_tasks", "human_mean", "sim_mean", "mean_diff",
               "ci_low", "ci_high", "wilcoxon_p", "sign_flip_p"]
    return pd.DataFrame.from_records(records, columns=columns)


#: The study's over-rating figure (spec usi.md §8): GPT-5.1's mean normalized
#: difference (simulator − human), as a fraction of the item's scale.
def beside_published(differences: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`mean_differences` whose simulator and item have a published
    over-rating (:data:`PUBLISHED_OVERRATING`; labels matched by
    :func:`usersim_utils.published.match_published`).
    Columns: ``label``, ``published_name``, ``item``, ``mean_diff``, ``published``, ``difference``."""
    records = []
    for row in differences.itertuples(index=False):
        name = match_published(row.label)
        published = PUBLISHED_OVERRATING.get(name or "", {}).get(row.item)
        if published is not None:
            records.append({"label": row.label, "published_name": name, "item": row.item,
                            "mean_diff": row.mean_diff, "published": published,
                            "difference": row.mean_diff - published})
    return pd.DataFrame.from_records(
        records, columns=["label", "published_name", "item", "mean_diff", "published", "difference"])


# --- 2. Agreement: the Eval term per item and overall. -------------------------------------------


def eval_overall(
    human_records: Mapping[str, Mapping[str, Any]], sim_surveys: Mapping[str, Mapping[str, Any]], *, seed: int = 42
) -> usi.Cell | None:
    """The simulator's Eval exactly as the index computes it:
    ``usi.eval_cell(usi.eval_agreements(human_records, sim_surveys, seed=seed))``."""
    return usi.eval_cell(usi.eval_agreements(human_records, sim_surveys, seed=seed))


ITEM_AGREEMENT_COLUMNS: tuple[str, ...] = ("batch", "task_key", "item", "human_norm", "sim_norm", "imputed", "abs_diff")


def eval_item_agreements(
    human_records: Mapping[str, Mapping[str, Any]],
    sim_surveys: Mapping[str, Mapping[str, Any]],
    *,
    seed: int = 42,
) -> pd.DataFrame:
    """The Eval walk of :func:`usersim_utils.usi.eval_agreements`, item by item.

    Same inputs, same order (batches 1-3; within a batch the base ids in both the
    kept human batch and the survey batch, string-sorted; items in table order),
    and the same single ``default_rng(seed)``: each missing or invalid simulator
    answer is replaced by the same ``rng.choice`` draw the index makes. So the
    mean of ``abs_diff`` over a task's rows gives exactly the index's per-task
    agreement (:func:`task_agreements_from_items`). Items the human did not answer
    validly have no row, as in the index.

    Columns: ``batch``, ``task_key``, ``item``, ``human_norm``, ``sim_norm`` (drawn
    when ``imputed``), ``imputed`` (bool), ``abs_diff`` = |human_norm − sim_norm|.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for batch, base, human, sim in usi.eval_pairs(human_records, sim_surveys):
        for item, h_norm, l_norm, drawn in item_distances(human, sim, rng):
            rows.append((batch, base, item, h_norm, l_norm, drawn, abs(h_norm - l_norm)))
    return pd.DataFrame(rows, columns=list(ITEM_AGREEMENT_COLUMNS))


def task_agreements_from_items(item_agreements: pd.DataFrame) -> pd.DataFrame:
    """Per-task agreement 100·(1 − mean |diff|) from :func:`eval_item_agreements`;
    equals :func:`usersim_utils.usi.eval_agreements` (columns ``batch``, ``task_key``,
    ``agreement``, same row order)."""
    rows = []
    for (batch, task), group in item_agreements.groupby(["batch", "task_key"], sort=False):
        rows.append((batch, task, 100.0 * (1.0 - float(np.mean(group["abs_diff"].to_numpy())))))
    return pd.DataFrame(rows, columns=["batch", "task_key", "agreement"])


def eval_by_item(item_agreements: pd.DataFrame) -> pd.DataFrame:
    """The Eval term restricted to each item: per batch the mean of 100·(1 − |diff|)
    over the tasks, then (mean, population std) over batches, as
    :func:`usersim_utils.usi.eval_cell` does for all items.

    Imputed simulator answers count, as in the index. When every session has all 8
    human answers, the mean over items of ``eval_mean`` equals the overall Eval.
    Columns: ``item``, ``eval_mean``, ``eval_std``, ``n_pairs``, ``n_imputed``.
    """
    records = []
    for item in SURVEY_ITEMS:
        rows = item_agreements[item_agreements["item"] == item]
        if rows.empty:
            continue
        per_batch = (100.0 * (1.0 - rows["abs_diff"])).groupby(rows["batch"], sort=True).mean().to_numpy()
        records.append({"item": item, "eval_mean": float(per_batch.mean()), "eval_std": float(np.std(per_batch)),
                        "n_pairs": len(rows), "n_imputed": int(rows["imputed"].sum())})
    return pd.DataFrame.from_records(records, columns=["item", "eval_mean", "eval_std", "n_pairs", "n_imputed"])


def agreement_views(pairs: pd.DataFrame) -> pd.DataFrame:
    """Chance-corrected and rank views of agreement, per simulator and item, on the
    pairs where both answers are valid (no imputation).

    ``pairs``: :func:`pair_surveys`. ``kappa`` is the quadratic weighted Cohen's
    kappa over the item's ordinal values (:func:`weighted_kappa`); ``spearman`` is
    scipy's rho (NaN when a side is constant).
    Columns: ``label``, ``item``, ``n``, ``kappa``, ``spearman``, ``spearman_p``.
    """
    records = []
    for label, item, rows in _label_item_groups(pairs, "sim_value"):
        h, s = rows["human_value"].to_numpy(), rows["sim_value"].to_numpy()
        kappa = weighted_kappa(list(h), list(s), [float(v) for v in ITEM_VALUES[item]])
        _, _, rho, rho_p = _correlations(h, s)
        records.append({"label": label, "item": item, "n": len(rows), "kappa": kappa,
                        "spearman": rho, "spearman_p": rho_p})
    return pd.DataFrame.from_records(records, columns=["label", "item", "n", "kappa", "spearman", "spearman_p"])


# --- 3. Rule-based reward versus human judgement. -------------------------------------------------

#: ``task_success`` values the human counts as a success ("Yes - Task completed",
#: "Fully - Exceeded expectations"); a failure explained by policy (2) is not one.
REPORTED_SUCCESS_MIN_VALUE = 4


def reward_with_answers(sessions: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """Each kept human session's reward beside its own survey answers.

    ``sessions``: sessions table (``instance_id``, ``success``, ``keep``);
    ``surveys``: the human long survey table. Ordinal items only.
    Columns: ``instance_id``, ``task_key``, ``batch``, ``success`` (0/1), ``item``,
    ``answer``, ``value``, ``value_norm`` (NaN when not answered validly).
    """
    kept = sessions.loc[sessions["keep"], ["instance_id", "success"]]
    answers = surveys[surveys["item"].isin(SURVEY_ITEMS)]
    answers = answers[["instance_id", "task_key", "batch", "item", "answer", "value", "value_norm"]]
    merged = kept.merge(answers, on="instance_id", how="inner")
    return merged[["instance_id", "task_key", "batch", "success", "item", "answer", "value", "value_norm"]]


def reward_correlations(
    reward_answers: pd.DataFrame, rng: np.random.Generator, *, n_boot: int = 1000, level: float = 0.95
) -> pd.DataFrame:
    """Correlation of the binary reward with each survey item, over kept sessions
    with a valid answer.

    ``reward_answers``: :func:`reward_with_answers`. ``point_biserial`` is Pearson's r
    of the 0/1 reward with ``value_norm`` (Fisher-z interval); ``spearman`` is
    Spearman's rho (percentile bootstrap over sessions; ``rng`` consumed item by item).
    Columns: ``item``, ``n``, ``point_biserial``, ``pb_low``, ``pb_high``, ``pb_p``,
    ``spearman``, ``sp_low``, ``sp_high``, ``sp_p``.
    """
    records = []
    for item in SURVEY_ITEMS:
        rows = reward_answers[(reward_answers["item"] == item) & reward_answers["value_norm"].notna()]
        x = rows["success"].to_numpy(dtype=float)
        y = rows["value_norm"].to_numpy(dtype=float)
        r, r_p, rho, rho_p = _correlations(x, y)
        pb_low, pb_high = fisher_interval(r, len(rows), level)
        sp_low, sp_high = (bootstrap_spearman_interval(x, y, rng, n_boot=n_boot, level=level)
                           if not math.isnan(rho) else (math.nan, math.nan))
        records.append({"item": item, "n": len(rows), "point_biserial": r, "pb_low": pb_low, "pb_high": pb_high,
                        "pb_p": r_p, "spearman": rho, "sp_low": sp_low, "sp_high": sp_high, "sp_p": rho_p})
    columns = ["item", "n", "point_biserial", "pb_low", "pb_high", "pb_p", "spearman", "sp_low", "sp_high", "sp_p"]
    return pd.DataFrame.from_records(records, columns=columns)


NO_ANSWER = "(no valid answer)"


def reward_by_reported_success(reward_answers: pd.DataFrame) -> pd.DataFrame:
    """Cross-table of the rule-based reward against the human's own ``task_success``
    answer: rows = reward (0, 1), columns = the five options in order, then
    :data:`NO_ANSWER`; cells = number of kept sessions. Margins not included."""
    rows = reward_answers[reward_answers["item"] == "task_success"]
    answers = rows["answer"].where(rows["value"].notna(), NO_ANSWER)
    columns = [*SURVEY_OPTIONS["task_success"], NO_ANSWER]
    table = pd.crosstab(rows["success"].astype(int), pd.Categorical(answers, categories=columns), dropna=False)
    table = table.reindex(index=[0, 1], columns=columns, fill_value=0)
    table.index.name, table.columns.name = "reward", "task_success"
    return table.astype(int)


def reward_disagreements(reward_answers: pd.DataFrame) -> pd.DataFrame:
    """Sessions where the reward and the human's ``task_success`` answer disagree:
    reward 1 while the human reports no success (value < 4), or reward 0 while the
    human reports success (value >= 4). Sessions without a valid answer are left out.

    Columns: ``instance_id``, ``task_key``, ``batch``, ``success``, ``task_success``
    (the answer), ``overall_score`` (the answer, or None), ``kind``
    (``"reward 1, human: not done"`` or ``"reward 0, human: done"``); sorted by kind
    then instance id.
    """
    wide = reward_answers.pivot_table(index=["instance_id", "task_key", "batch", "success"], columns="item",
                                      values="answer", aggfunc="first").reset_index()
    values = reward_answers[reward_answers["item"] == "task_success"].set_index("instance_id")["value"]
    wide["ts_value"] = wide["instance_id"].map(values)
    wide = wide[wide["ts_value"].notna()]
    reported = wide["ts_value"] >= REPORTED_SUCCESS_MIN_VALUE
    disagree = wide[(wide["success"] == 1) != reported].copy()
    disagree["kind"] = np.where(disagree["success"] == 1, "reward 1, human: not done", "reward 0, human: done")
    if "overall_score" not in disagree:
        disagree["overall_score"] = None
    out = disagree[["instance_id", "task_key", "batch", "success", "task_success", "overall_score", "kind"]]
    return out.sort_values(["kind", "instance_id"], ignore_index=True)


# --- 4. "Easy mode": success with humans versus with simulators. ---------------------------------


def outcomes_table(records: Mapping[str, Mapping[str, Any]], *, label: str) -> pd.DataFrame:
    """The outcome columns of :func:`usersim_utils.features.features_table` without
    computing the 19 features (easy mode needs only these): one row per record.

    ``records``: human sessions or rollouts (``{key: {reward, keep, ...}}``).
    Columns: ``label``, ``key``, ``task_key``, ``keep`` (missing -> True),
    ``success`` (1 if reward > 0, null -> 0; :func:`usersim_utils.features.success_of`).
    """
    rows = [(label, key, ids.task_key(key), record.get("keep", True) is not False, success_of(record))
            for key, record in records.items()]
    table = pd.DataFrame(rows, columns=["label", "key", "task_key", "keep", "success"])
    return table.astype({"keep": bool, "success": int})


def outcomes_with_difficulty(outcomes: pd.DataFrame, difficulty: Mapping[str, float]) -> pd.DataFrame:
    """Kept rows of outcome or features tables (:func:`outcomes_table`: ``label``,
    ``key``, ``task_key``, ``keep``, ``success``), concatenated, with ``domain``,
    ``difficulty`` (NaN when the task has none) and
    ``difficulty_bin`` (:func:`usersim_utils.usi.difficulty_bin`, nullable Int64).

    Columns: ``label``, ``key``, ``task_key``, ``domain``, ``success``,
    ``difficulty``, ``difficulty_bin``.
    """
    kept = outcomes.loc[outcomes["keep"], ["label", "key", "task_key", "success"]].copy()
    kept["domain"] = kept["task_key"].map(ids.domain_of)
    kept["difficulty"] = kept["task_key"].map(lambda t: difficulty.get(t, math.nan)).astype(float)
    kept["difficulty_bin"] = pd.array(
        [pd.NA if math.isnan(d) else usi.difficulty_bin(d) for d in kept["difficulty"]], dtype="Int64"
    )
    columns = ["label", "key", "task_key", "domain", "success", "difficulty", "difficulty_bin"]
    return kept[columns].reset_index(drop=True)


def success_rates(table: pd.DataFrame, by: Sequence[str] = ("label",), *, level: float = 0.95) -> pd.DataFrame:
    """Success rate with a Wilson interval for each group of ``by`` columns.

    ``table``: :func:`outcomes_with_difficulty` (or any table with ``success``);
    rows whose ``by`` value is missing (e.g. a task without difficulty) are left
    out. The interval treats conversations as independent (tasks repeat across
    batches and runs, so it is somewhat too narrow).
    Columns: the ``by`` columns, ``n``, ``successes``, ``rate``, ``ci_low``, ``ci_high``.
    """
    by = list(by)
    grouped = table.dropna(subset=by).groupby(by, sort=True)["success"].agg(["size", "sum"]).reset_index()
    grouped = grouped.rename(columns={"size": "n", "sum": "successes"})
    intervals = [wilson_interval(int(s), int(n), level) for s, n in zip(grouped["successes"], grouped["n"])]
    grouped["rate"] = grouped["successes"] / grouped["n"]
    grouped["ci_low"] = [lo for lo, _ in intervals]
    grouped["ci_high"] = [hi for _, hi in intervals]
    return grouped[[*by, "n", "successes", "rate", "ci_low", "ci_high"]]


def success_gap(
    table: pd.DataFrame,
    rng: np.random.Generator,
    *,
    human_label: str = "human",
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired "easy mode" gap: for each simulator, the mean over the tasks it shares
    with the humans of (its success rate on the task − the humans' rate on the task),
    with a bootstrap interval over tasks (``rng`` consumed simulator by simulator).

    ``table``: :func:`outcomes_with_difficulty`. Columns: ``label``, ``n_tasks``,
    ``human_rate``, ``sim_rate`` (means of the per-task rates), ``gap``, ``ci_low``, ``ci_high``.
    """
    per_task = table.groupby(["label", "task_key"], sort=False)["success"].mean()
    if human_label not in per_task.index.get_level_values("label"):
        raise DataError(f"no rows labelled {human_label!r} to compare the simulators with", field="label")
    human = per_task.loc[human_label]
    records = []
    for label in dict.fromkeys(table["label"]):
        if label == human_label:
            continue
        sim = per_task.loc[label]
        shared = sim.index.intersection(human.index)
        diffs = (sim.loc[shared] - human.loc[shared]).to_numpy()
        gap, lo, hi = bootstrap_mean_interval(diffs, rng, n_boot=n_boot, level=level)
        records.append({"label": label, "n_tasks": len(shared),
                        "human_rate": float(human.loc[shared].mean()) if len(shared) else math.nan,
                        "sim_rate": float(sim.loc[shared].mean()) if len(shared) else math.nan,
                        "gap": gap, "ci_low": lo, "ci_high": hi})
    columns = ["label", "n_tasks", "human_rate", "sim_rate", "gap", "ci_low", "ci_high"]
    return pd.DataFrame.from_records(records, columns=columns)


# --- 5. Free-text answers. --------------------------------------------------------------------------

#: A small keyword lexicon of feedback themes. Each entry is a list of word stems;
#: a stem ending in ``*`` matches any word that starts with it, otherwise the whole
#: word must match. Matching is case-insensitive on word boundaries; an answer
#: mentions a theme when any of its stems occurs. English only, deliberately small:
#: counts are indicative, not a content analysis.
THEMES: dict[str, tuple[str, ...]] = {
    "speed": ("fast*", "quick*", "slow*", "speed*", "time", "timely", "wait*", "long", "delay*", "prompt*"),
    "clarity": ("clear*", "unclear", "confus*", "understand*", "explain*", "explanation*", "vague", "concise"),
    "politeness": ("polite*", "friendly", "rude*", "courteous", "kind", "respectful", "tone", "warm*",
                   "empath*", "apolog*"),
    "errors": ("error*", "mistake*", "wrong", "incorrect*", "fail*", "bug*", "glitch*", "broken", "inaccura*"),
    "human_like": ("human*", "robot*", "natural*", "personal*", "bot", "scripted", "automated", "mechanical"),
    "questions": ("question*", "ask*", "repeat*", "clarif*"),
}


def _theme_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    parts = [re.escape(s[:-1]) + r"\w*" if s.endswith("*") else re.escape(s) for s in stems]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


_THEME_PATTERNS: dict[str, re.Pattern[str]] = {name: _theme_pattern(stems) for name, stems in THEMES.items()}


def themes_of(text: str) -> dict[str, bool]:
    """``{theme: mentioned}`` for one free-text answer (see :data:`THEMES`)."""
    return {name: bool(pattern.search(text)) for name, pattern in _THEME_PATTERNS.items()}


def free_text_answers(surveys: pd.DataFrame) -> pd.DataFrame:
    """The non-blank free-text answers of long survey tables (any labels), with
    their length and themes. Filter ``keep`` before calling if needed.

    Columns: ``label``, ``instance_id``, ``task_key``, ``batch``, ``item``, ``text``,
    ``n_words`` (white-space words), ``n_chars``, then one bool column per theme.
    """
    rows = surveys[surveys["item"].isin(FREE_TEXT_ITEMS)]
    rows = rows[rows["answer"].map(lambda a: isinstance(a, str) and bool(a.strip()))]
    out = rows[["label", "instance_id", "task_key", "batch", "item"]].copy()
    out["text"] = rows["answer"].str.strip()
    out["n_words"] = out["text"].str.split().str.len().astype(int)
    out["n_chars"] = out["text"].str.len().astype(int)
    for name, pattern in _THEME_PATTERNS.items():
        out[name] = out["text"].map(lambda t, p=pattern: bool(p.search(t))).astype(bool)
    return out.reset_index(drop=True)


def free_text_summary(answers: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """Length of the free-text answers per rater and item.

    ``answers``: :func:`free_text_answers` of ``surveys`` (the long tables it came
    from, to count the blank or missing answers).
    Columns: ``label``, ``item``, ``n_records``, ``n_answers``, ``answer_rate``,
    ``mean_words``, ``median_words``, ``mean_chars``.
    """
    records = surveys[surveys["item"].isin(FREE_TEXT_ITEMS)].groupby(["label", "item"], sort=False).size()
    records = records.rename("n_records").reset_index()
    lengths = answers.groupby(["label", "item"], sort=False).agg(
        n_answers=("text", "size"), mean_words=("n_words", "mean"), median_words=("n_words", "median"),
        mean_chars=("n_chars", "mean"),
    ).reset_index()
    out = records.merge(lengths, on=["label", "item"], how="left")
    out["n_answers"] = out["n_answers"].fillna(0).astype(int)
    out["answer_rate"] = out["n_answers"] / out["n_records"]
    return out[["label", "item", "n_records", "n_answers", "answer_rate", "mean_words", "median_words", "mean_chars"]]


def theme_shares(answers: pd.DataFrame) -> pd.DataFrame:
    """Share of answers mentioning each theme, per rater and item.

    ``answers``: :func:`free_text_answers`. Columns: ``label``, ``item``, ``theme``,
    ``n_answers``, ``n_mentions``, ``share``.
    """
    records = []
    for (label, item), group in answers.groupby(["label", "item"], sort=False):
        for theme in THEMES:
            n_mentions = int(group[theme].sum())
            records.append({"label": label, "item": item, "theme": theme, "n_answers": len(group),
                            "n_mentions": n_mentions, "share": n_mentions / len(group)})
    return pd.DataFrame.from_records(records, columns=["label", "item", "theme", "n_answers", "n_mentions", "share"])
