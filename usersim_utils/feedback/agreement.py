"""Agreement of simulated with human survey answers: the index's Eval term item by
item (the same walk and the same imputation draws as :func:`usersim_utils.usi.eval_agreements`),
and chance-corrected (weighted kappa) and rank (Spearman) views of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import usi
from ..stats import pearson_spearman, weighted_kappa
from ..survey import ITEM_VALUES, SURVEY_ITEMS, item_distances
from .answers import label_item_groups


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

    ``pairs``: :func:`usersim_utils.feedback.pair_surveys`. ``kappa`` is the quadratic weighted Cohen's
    kappa over the item's ordinal values (:func:`usersim_utils.stats.weighted_kappa`); ``spearman`` is
    scipy's rho (NaN when a side is constant).
    Columns: ``label``, ``item``, ``n``, ``kappa``, ``spearman``, ``spearman_p``.
    """
    records = []
    for label, item, rows in label_item_groups(pairs, "sim_value"):
        h, s = rows["human_value"].to_numpy(), rows["sim_value"].to_numpy()
        kappa = weighted_kappa(list(h), list(s), [float(v) for v in ITEM_VALUES[item]])
        _, _, rho, rho_p = pearson_spearman(h, s)
        records.append({"label": label, "item": item, "n": len(rows), "kappa": kappa,
                        "spearman": rho, "spearman_p": rho_p})
    return pd.DataFrame.from_records(records, columns=["label", "item", "n", "kappa", "spearman", "spearman_p"])
