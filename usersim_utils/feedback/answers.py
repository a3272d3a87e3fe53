"""Simulated versus human survey answers, item by item: the pairs, the answer shares,
how much each simulator over-rates the agent, and the paper's over-rating beside ours.

Pairing follows the index's Eval (docs/method.md §7): a simulator survey keyed ``x``,
``x_ann2`` or ``x_ann3`` is compared with the *kept* human session of the same key;
the simulator's own ``keep`` is not looked at (the index does not either).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from ..published import PUBLISHED_OVERRATING, resolve_name
from ..schema import HUMAN_LABEL
from ..stats import adjust_table, bootstrap_mean_interval, sign_flip_test, wilcoxon_p
from ..survey import SURVEY_ITEMS, SURVEY_OPTIONS, normalise

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


def paired_answer_distribution(pairs: pd.DataFrame) -> pd.DataFrame:
    """Answer shares of the human and of each simulator on the same sessions (the
    shares of one survey table alone are :func:`usersim_utils.overview.answer_distribution`).

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
    raters = [(HUMAN_LABEL, first["item"], first["human_answer"], first["human_value"])]
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


def label_item_groups(pairs: pd.DataFrame, sim_column: str) -> Iterator[tuple[str, str, pd.DataFrame]]:
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
    is a cluster bootstrap over tasks (:func:`usersim_utils.stats.bootstrap_mean_interval`). The paired
    tests use one difference per task (the mean over its batches): Wilcoxon
    signed-rank and a sign-flip permutation test. ``rng`` is consumed label by
    label (table order), item by item: bootstrap then permutation.

    Columns: ``label``, ``item``, ``n_pairs``, ``n_tasks``, ``human_mean``,
    ``sim_mean`` (mean normalized answers on those pairs), ``mean_diff``,
    ``ci_low``, ``ci_high``, ``wilcoxon_p``, ``sign_flip_p``.
    """
    per_task = per_task_differences(pairs)
    records = []
    for label, item, rows in label_item_groups(pairs, "sim_norm"):
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


def beside_published(differences: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`mean_differences` whose simulator and item have a published
    over-rating (:data:`PUBLISHED_OVERRATING`; labels matched by
    :func:`usersim_utils.published.resolve_name`, as everywhere else).
    Columns: ``label``, ``published_name``, ``item``, ``mean_diff``, ``published``, ``difference``."""
    records = []
    for row in differences.itertuples(index=False):
        name = resolve_name(row.label)
        published = PUBLISHED_OVERRATING.get(name or "", {}).get(row.item)
        if published is not None:
            records.append({"label": row.label, "published_name": name, "item": row.item,
                            "mean_diff": row.mean_diff, "published": published,
                            "difference": row.mean_diff - published})
    return pd.DataFrame.from_records(
        records, columns=["label", "published_name", "item", "mean_diff", "published", "difference"])


def overrating(
    pairs: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    n_perm: int = 1000,
    level: float = 0.95,
    by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`mean_differences` (over-rating per simulator and item, its
    interval clustered by task) with Holm and BH adjusted ``wilcoxon_p`` and
    ``sign_flip_p``: every (simulator, item) row is one family per test, or one
    family per group of ``by`` (e.g. ``["label"]``: the 8 items of a simulator)."""
    table = mean_differences(pairs, rng, n_boot=n_boot, n_perm=n_perm, level=level)
    return adjust_table(table, ["wilcoxon_p", "sign_flip_p"], by=by)
