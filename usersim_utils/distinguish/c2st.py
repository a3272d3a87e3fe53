"""The behavioural test: problems from features tables, the interval over tasks, the rows,
and studies with a known answer (the design: :mod:`usersim_utils.distinguish`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import features, schema, stats
from . import two_sample
from .crossval import Model, OutOfFold, Problem, behavioural_out_of_fold, fold_auc

N_BOOT = 1000
#: Task resamples on which the classifiers are refitted (the first ones of the N_BOOT).
N_REFIT = 30
#: Share of the interval's variance taken from the refitted resamples (the rest from the fixed
#: ones): one half for a simulator, all of it for the human reference (module docstring).
REFIT_WEIGHT = 0.5
REFERENCE_REFIT_WEIGHT = 1.0
#: Within-task label permutations of the p-value (smallest p-value 0.01); about 0.5 s per
#: simulator with the logistic model, all at once (module docstring).
N_PERMUTATIONS = 99
#: Give-aways reported per row: the most important features with a positive importance.
N_GIVEAWAYS = 5


# --- The interval over tasks. -----------------------------------------------------------------------
@dataclass(frozen=True)
class AucInterval:
    """The AUC (mean over the problems), its ``level`` interval [``low``, ``high``] and the
    (1 − 2α) one of the equivalence test [``tost_low``, ``tost_high``] (α = 1 − ``level``);
    ``se_fixed``, ``se_refit`` and ``se_null`` are the standard deviations of the
    fixed-classifier, refitted and permuted replicates, ``effect`` the design effect used."""

    auc: float
    low: float
    high: float
    tost_low: float
    tost_high: float
    se_fixed: float
    se_refit: float
    se_null: float
    effect: float


def _sd(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.std(values, ddof=1)) if len(values) >= 2 else math.nan


def auc_interval(estimate: float, fixed: np.ndarray, refit: np.ndarray, null: np.ndarray, n_positive: int,
                 n_negative: int, level: float = 0.95, *, refit_weight: float = REFIT_WEIGHT) -> AucInterval:
    """The interval of the cross-validated AUC ``estimate`` from its replicates: ``fixed`` (B,)
    over task resamples with the classifiers held fixed, ``refit`` (R,) with them refitted,
    and ``null`` (P,) under within-task label permutations; ``n_positive``, ``n_negative``:
    the rows of each class.

    The resampled variance is (1 − w)·var(fixed) + w·var(refit), w = ``refit_weight`` (the
    module docstring says why). Its design effect over independent rows
    (:func:`~usersim_utils.distinguish.two_sample.design_effect`), or that of the permuted
    AUCs at 0.5 if larger, sets a score interval
    (:func:`~usersim_utils.distinguish.two_sample.score_interval`): the null's effect is
    exact under exchangeability and defined even when every resample gives an AUC of 1.
    NaN replicates are ignored; with fewer than 2 defined refits, or neither effect
    defined, the interval is NaN."""
    se_fixed, se_refit, se_null = _sd(fixed), _sd(refit), _sd(null)
    resampled = (1.0 - refit_weight) * se_fixed**2 + refit_weight * se_refit**2
    effects = [two_sample.design_effect(resampled, estimate, n_positive, n_negative),
               two_sample.design_effect(se_null**2, 0.5, n_positive, n_negative)]
    defined = [e for e in effects if not math.isnan(e)]
    if math.isnan(estimate) or math.isnan(se_refit) or not defined:
        return AucInterval(estimate, *[math.nan] * 4, se_fixed, se_refit, se_null, math.nan)
    effect = max(defined)
    low, high = two_sample.score_interval(estimate, effect, n_positive, n_negative, level)
    tost_low, tost_high = two_sample.score_interval(estimate, effect, n_positive, n_negative, 2.0 * level - 1.0)
    return AucInterval(estimate, low, high, tost_low, tost_high, se_fixed, se_refit, se_null, effect)


# --- Rows. ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class C2STRow:
    """One row of the test: the AUC and its interval [``low``, ``high``]; ``p_value`` of the
    within-task permutation test of "at chance"; ``equivalent``: the equivalence test
    (TOST) finds the AUC within :data:`~usersim_utils.distinguish.two_sample.EQUIVALENCE_MARGIN`
    of 0.5; ``giveaways`` = ``((feature, importance), ...)``, most important first, only when
    told apart (``p_value`` below α), else empty; ``note`` says why a row is undefined (its
    numbers NaN), empty otherwise."""

    name: str
    auc: float
    low: float
    high: float
    giveaways: tuple[tuple[str, float], ...]
    n_human: int
    n_simulator: int
    n_tasks: int
    p_value: float
    equivalent: bool
    note: str = ""

    @classmethod
    def undefined(cls, name: str, note: str) -> C2STRow:
        """A row that could not be computed, saying why."""
        return cls(name, math.nan, math.nan, math.nan, (), 0, 0, 0, math.nan, False, note)

    @property
    def indistinguishability(self) -> float:
        """100·(1 − |2·AUC − 1|); below 100 even for a perfect simulator, by an amount that
        depends on the numbers of tasks and runs (the module docstring)."""
        return two_sample.indistinguishability(self.auc)

    @property
    def indistinguishability_interval(self) -> tuple[float, float]:
        """The indistinguishability's interval, from the AUC's."""
        return two_sample.indistinguishability_interval(self.low, self.high)

    def to_json(self) -> dict[str, Any]:
        """The row as written by the command line (NaN -> null; ``note`` only when there is one)."""
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {"name": self.name, "auc": num(self.auc), "low": num(self.low), "high": num(self.high),
                "indistinguishability": num(self.indistinguishability),
                "indistinguishability_low": num(self.indistinguishability_interval[0]),
                "indistinguishability_high": num(self.indistinguishability_interval[1]),
                "p_value": num(self.p_value), "equivalent": self.equivalent,
                "giveaways": [{"feature": f, "importance": float(v)} for f, v in self.giveaways],
                "n_human": self.n_human, "n_simulator": self.n_simulator, "n_tasks": self.n_tasks,
                **({"note": self.note} if self.note else {})}


def top_giveaways(names: Sequence[str], importance: np.ndarray, n: int = N_GIVEAWAYS) -> tuple[tuple[str, float], ...]:
    """The ``n`` names of largest positive ``importance`` (same length as ``names``), largest first."""
    order = np.argsort(-importance, kind="stable")[:n]
    return tuple((names[i], float(importance[i])) for i in order if importance[i] > 0)


def usable_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Kept rows with features of a features table (:func:`features.features_table`)."""
    return table.loc[table["keep"] & table["has_features"]]


def shared_rows(human: pd.DataFrame, sim: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable rows of both tables restricted to the tasks both have."""
    human, sim = usable_rows(human), usable_rows(sim)
    shared = set(human["task_key"]) & set(sim["task_key"])
    return human[human["task_key"].isin(shared)], sim[sim["task_key"].isin(shared)]


def simulator_problem(human: pd.DataFrame, sim: pd.DataFrame, columns: Sequence[str] = features.FEATURES) -> Problem:
    """The problem "simulator (1) or human (0)" on the shared tasks; ``X`` (n, len(columns))."""
    h, s = shared_rows(human, sim)
    both = pd.concat([h, s], ignore_index=True)
    y = np.r_[np.zeros(len(h), dtype=int), np.ones(len(s), dtype=int)]
    return Problem(both[list(columns)].to_numpy(dtype=float), y, both["task_key"].to_numpy())


def batch_problems(human: pd.DataFrame, columns: Sequence[str] = features.FEATURES) -> list[Problem]:
    """One problem per human batch present: "this batch (1) or another batch (0)"."""
    rows = usable_rows(human)
    X, tasks = rows[list(columns)].to_numpy(dtype=float), rows["task_key"].to_numpy()
    batches = rows["batch"].to_numpy()
    return [Problem(X, (batches == b).astype(int), tasks) for b in sorted(set(batches))]


def task_resamples(problems: Sequence[Problem], rng: np.random.Generator, n_boot: int,
                   n_refit: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(counts (n_boot, T), [row codes (n,) per problem])``: one draw of task resamples
    (:func:`usersim_utils.stats.resample_counts`) over the T tasks of ``problems``, shared by all of
    them, and each row's task index; ``counts[:, codes]`` are row weights. Raises
    ``ValueError`` unless 2 <= ``n_refit`` <= ``n_boot``."""
    if not 2 <= n_refit <= n_boot:
        raise ValueError(f"need 2 <= n_refit <= n_boot, got n_refit={n_refit}, n_boot={n_boot}")
    all_tasks = np.unique(np.concatenate([p.tasks for p in problems]))
    counts = stats.resample_counts(len(all_tasks), n_boot, rng)
    return counts, [np.searchsorted(all_tasks, p.tasks) for p in problems]


def label_permutations(problems: Sequence[Problem], n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_permutations, n)`` within-task permutations of the rows of ``problems`` (which
    share their rows and tasks: a simulator's one problem, or the human batches'), one draw
    for all of them. Raises ``ValueError`` unless ``n_permutations`` >= 1."""
    if n_permutations < 1:
        raise ValueError(f"need at least 1 permutation, got n_permutations={n_permutations}")
    return two_sample.within_task_permutations(problems[0].tasks, n_permutations, rng)


def c2st_row(name: str, parts: Sequence[tuple[Problem, OutOfFold]], counts: np.ndarray, codes: Sequence[np.ndarray],
             giveaways: tuple[tuple[str, float], ...], level: float) -> C2STRow:
    """A row from the cross-validations of one problem (a simulator) or several (the human
    batches, which share their rows: only the labels differ; every value is their mean,
    and the p-value compares the mean AUC with the mean under each shared permutation)."""
    estimate = float(np.mean([fold_auc(oof.scores, p.y, oof.folds, np.ones(len(p.y)))[0] for p, oof in parts]))
    fixed = np.mean([fold_auc(oof.scores, p.y, oof.folds, counts[:, c]) for (p, oof), c in zip(parts, codes)], axis=0)
    null = np.mean([oof.null for _, oof in parts], axis=0)  # the same permutation in every problem
    p_value = two_sample.permutation_p_value(float(np.mean([oof.statistic for _, oof in parts])), null)
    is_human = name == schema.HUMAN_LABEL
    first = parts[0][0]
    n_positive = int(first.y.sum())
    interval = auc_interval(estimate, fixed, np.mean([oof.refit for _, oof in parts], axis=0), null, n_positive,
                            len(first.y) - n_positive, level,
                            refit_weight=REFERENCE_REFIT_WEIGHT if is_human else REFIT_WEIGHT)
    alpha = round(1.0 - level, 12)  # 1 - 0.95 is 0.05000000000000004: p = 0.05 is not below it
    return C2STRow(name, interval.auc, interval.low, interval.high, giveaways if p_value < alpha else (),
                   n_human=len(first.y) if is_human else len(first.y) - n_positive,
                   n_simulator=0 if is_human else n_positive, n_tasks=len(np.unique(first.tasks)),
                   p_value=p_value, equivalent=two_sample.equivalent(interval.tost_low, interval.tost_high))


def _behavioural_row(name: str, problems: Sequence[Problem], rng: np.random.Generator, model: Model,
                     n_boot: int, n_refit: int, n_permutations: int, level: float) -> C2STRow:
    counts, codes = task_resamples(problems, rng, n_boot, n_refit)
    permutations = label_permutations(problems, n_permutations, rng)
    parts = [(p, behavioural_out_of_fold(p, rng, model=model, refit_counts=counts[:n_refit, c],
                                         permutations=permutations)) for p, c in zip(problems, codes)]
    importance = np.mean([oof.importance for _, oof in parts], axis=0)
    return c2st_row(name, parts, counts, codes, top_giveaways(features.FEATURES, importance), level)


def check_shared(name: str, problem: Problem) -> Problem:
    n_tasks = len(np.unique(problem.tasks))
    if n_tasks < 2:
        raise ValueError(f"{name}: shares {n_tasks} task(s) with the human sessions; "
                         "task-grouped cross-validation needs at least 2")
    return problem


def check_batches(problems: list[Problem]) -> list[Problem]:
    if len(problems) < 2:
        raise ValueError("the human reference needs sessions of at least 2 batches")
    return problems


def c2st_simulator(human: pd.DataFrame, sim: pd.DataFrame, name: str, rng: np.random.Generator, *,
                   model: Model = "logistic", n_boot: int = N_BOOT, n_refit: int = N_REFIT,
                   n_permutations: int = N_PERMUTATIONS, level: float = 0.95) -> C2STRow:
    """The behavioural test of one simulator (features tables of :func:`features.features_table`).

    Raises ``ValueError`` when the two share fewer than 2 tasks."""
    problem = check_shared(name, simulator_problem(human, sim))
    return _behavioural_row(name, [problem], rng, model, n_boot, n_refit, n_permutations, level)


def c2st_human(human: pd.DataFrame, rng: np.random.Generator, *, model: Model = "logistic",
               n_boot: int = N_BOOT, n_refit: int = N_REFIT, n_permutations: int = N_PERMUTATIONS,
               level: float = 0.95) -> C2STRow:
    """The human reference: each batch against the others (mean AUC), named ``human``.

    Raises ``ValueError`` with fewer than 2 batches or 2 tasks."""
    return _behavioural_row(schema.HUMAN_LABEL, check_batches(batch_problems(human)), rng, model, n_boot,
                            n_refit, n_permutations, level)


def row_or_note(name: str, strict: bool, compute: Callable[..., C2STRow], *args: Any, **kwargs: Any) -> C2STRow:
    """``compute(*args, **kwargs)``, or with ``strict`` False an undefined row naming the
    ``ValueError`` it raised."""
    try:
        return compute(*args, **kwargs)
    except ValueError as err:
        if strict:
            raise
        return C2STRow.undefined(name, str(err))


def distinguish_all(human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], rng: np.random.Generator, *,
                    model: Model = "logistic", n_boot: int = N_BOOT, n_refit: int = N_REFIT,
                    n_permutations: int = N_PERMUTATIONS, level: float = 0.95, strict: bool = True) -> list[C2STRow]:
    """The human reference, then one row per simulator (in the order given).

    Each comparison gets its own child of ``rng`` (``rng.spawn``), in that order. A comparison
    that cannot be made (fewer than 2 shared tasks or human batches) raises ``ValueError``,
    or with ``strict`` False gives :meth:`C2STRow.undefined` with the reason."""
    children = rng.spawn(1 + len(simulators))
    settings = {"model": model, "n_boot": n_boot, "n_refit": n_refit, "n_permutations": n_permutations,
                "level": level}
    rows = [row_or_note(schema.HUMAN_LABEL, strict, c2st_human, human, children[0], **settings)]
    for child, (name, sim) in zip(children[1:], simulators.items()):
        rows.append(row_or_note(name, strict, c2st_simulator, human, sim, name, child, **settings))
    return rows


# --- Studies with a known answer (tests and benchmarks). -------------------------------------------
def known_answer_tables(rng: np.random.Generator, tasks: Sequence[str], sim_means: Mapping[str, float], *,
                        task_effect: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(human, simulator)`` synthetic features tables
    (:func:`usersim_utils.demo.feature_tables.synthetic_table`): three human batches around
    :data:`~usersim_utils.demo.feature_tables.SYNTHETIC_HUMAN_MEANS` (3 % not kept) and
    three simulator runs around ``sim_means``, on ``tasks``. ``task_effect`` > 0 adds to
    every feature of every conversation of a task the same normal shift (standard deviation
    ``task_effect`` times the feature's), on both sides: tasks then differ, as real ones do.
    Pass ``SYNTHETIC_HUMAN_MEANS`` for a simulator drawn from the human process."""
    from ..demo import feature_tables  # tests and benchmarks only: the analysis never loads the generator

    human = feature_tables.synthetic_table(
        rng, schema.HUMAN_LABEL, [f"{t}{s}" for s in schema.BATCH_SUFFIX.values() for t in tasks],
        feature_tables.SYNTHETIC_HUMAN_MEANS, dict.fromkeys(tasks, 0.5), source="human", drop_rate=0.03)
    sim = feature_tables.synthetic_table(rng, "simulator", [f"{t}_{run}" for run in (1, 2, 3) for t in tasks],
                                      sim_means, dict.fromkeys(tasks, 0.5))
    if task_effect > 0:
        shifts = pd.DataFrame(rng.normal(0.0, task_effect, (len(tasks), len(features.FEATURES))),
                              index=list(tasks), columns=list(features.FEATURES))
        scale = pd.concat([human, sim])[list(features.FEATURES)].std()
        for table in (human, sim):
            table[list(features.FEATURES)] += shifts.loc[table["task_key"]].to_numpy() * scale.to_numpy()
    return human, sim


