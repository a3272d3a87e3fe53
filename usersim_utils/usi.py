"""The User-Sim Index (docs/method.md §5-8), as pure functions over features tables.

Inputs are the tables of :func:`usersim_utils.features.features_table` (one row per
conversation: ``key``, ``task_key``, ``batch``, ``keep``, ``success``,
``has_features`` and the 19 features) and, for Eval, survey mappings
``{instance id: record with "survey"}``.

The defaults reproduce the authors' scorer to 1e-9, quirks included; options that
change a number (``run_split="suffix"``) are named and never the default.

The command line and the file I/O live in :mod:`usersim_utils.scoring`
(``usersim-usi --help``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import ids, schema
from .features import DIMENSIONS, FEATURE_SCALE, FEATURES
from .schema import BATCHES
from .survey import agreement

RunSplit = Literal["reference", "suffix"]
Cell = tuple[float, float]  # (mean, population std) over batches or pairs

DIMENSION_NAMES: tuple[str, ...] = tuple(DIMENSIONS)
#: Columns of a leaderboard, in the order of the JSON output.
METRICS: tuple[str, ...] = (*DIMENSION_NAMES, "eval_agree", "ece", "usi")
HUMAN_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (2, 3))
#: Difficulty bins: value < 0.2 -> 0, < 0.4 -> 1, < 0.6 -> 2, < 0.8 -> 3, else 4.
BIN_EDGES: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
MIN_DIFFICULTY_SAMPLES = 10
_SCALE = pd.Series(FEATURE_SCALE)


# --- Rows and Dice (docs/method.md §5). ---------------------------------------------------------------
def feature_row(table: pd.DataFrame) -> pd.Series | None:
    """Mean of each feature over the rows with ``has_features``, in a row's unit
    (:data:`~usersim_utils.features.FEATURE_SCALE`: rates and ``info_frontload``
    x 100). ``None`` when no row has features."""
    with_features = table.loc[table["has_features"], list(FEATURES)]
    if with_features.empty:
        return None
    return with_features.mean() * _SCALE


def dice(h: float, m: float) -> float:
    """Dice similarity 2·min(|h|, |m|) / (|h| + |m|); 1.0 when both are 0."""
    h, m = abs(h), abs(m)
    return 1.0 if h + m == 0 else 2.0 * min(h, m) / (h + m)


def dimension_scores(
    human_row: Mapping[str, float], sim_row: Mapping[str, float],
    dimensions: Mapping[str, Sequence[str]] = DIMENSIONS,
) -> dict[str, float]:
    """``{D1_conv, D2_info, D3_clarif, D4_react}``: 100 x mean Dice of each group's features."""
    return {
        name: 100.0 * float(np.mean([dice(human_row[f], sim_row[f]) for f in feats]))
        for name, feats in dimensions.items()
    }


# --- Outcome calibration (docs/method.md §6). --------------------------------------------------------
def success_by_task(table: pd.DataFrame) -> dict[str, int]:
    """``{task_key: success}`` of the kept rows (a later duplicate overrides an earlier one)."""
    kept = table.loc[table["keep"]]
    return dict(zip(kept["task_key"], kept["success"].astype(int)))


def pooled_difficulty(
    tables: Iterable[pd.DataFrame], *, min_samples: int = MIN_DIFFICULTY_SAMPLES
) -> dict[str, float]:
    """Difficulty of each task: mean success over every kept entry of every run of
    every simulator in the pool; only tasks with at least ``min_samples`` entries."""
    frames = [t.loc[t["keep"], ["task_key", "success"]] for t in tables]
    if not frames:
        return {}
    pooled = pd.concat(frames).groupby("task_key")["success"].agg(["mean", "size"])
    pooled = pooled[pooled["size"] >= min_samples]
    return {k: float(v) for k, v in pooled["mean"].items()}


def difficulty_bin(value: float, edges: Sequence[float] = BIN_EDGES) -> int:
    """Index of the first edge that ``value`` is below, else ``len(edges)``."""
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(edges)


def ece(
    sim_success: Mapping[str, float],
    human_success: Mapping[str, float],
    difficulty: Mapping[str, float],
    edges: Sequence[float] = BIN_EDGES,
) -> float | None:
    """Σ_bins (n_b / n)·|mean sim success − mean human success| over the tasks in all
    three maps, binned by difficulty; ``None`` when no task is shared."""
    return binned_ece(sim_success, human_success, task_bins(difficulty, edges))


def task_bins(difficulty: Mapping[str, float], edges: Sequence[float] = BIN_EDGES) -> dict[str, int]:
    """``{task_key: difficulty bin}`` (:func:`difficulty_bin`), computed once for many ECEs."""
    return {task: difficulty_bin(value, edges) for task, value in difficulty.items()}


def binned_ece(
    sim_success: Mapping[str, float], human_success: Mapping[str, float], bin_of: Mapping[str, int]
) -> float | None:
    """:func:`ece` with the tasks' bins given (``bin_of``: :func:`task_bins`)."""
    bins: dict[int, list[str]] = defaultdict(list)
    for task in sim_success:
        if task in human_success and task in bin_of:
            bins[bin_of[task]].append(task)
    n = sum(len(tasks) for tasks in bins.values())
    if n == 0:
        return None
    total = 0.0
    for tasks in bins.values():
        sim_mean = sum(sim_success[t] for t in tasks) / len(tasks)
        human_mean = sum(human_success[t] for t in tasks) / len(tasks)
        total += len(tasks) / n * abs(sim_mean - human_mean)
    return total


def ece_runs(sim: pd.DataFrame) -> dict[str, dict[str, int]]:
    """``{run: {task_key: success}}`` of a simulator's kept rows, runs read from the
    ``_<run>`` suffix of keys like ``retail_5_2`` (else run ``"1"``), as the reference does."""
    runs: dict[str, dict[str, int]] = defaultdict(dict)
    for key, task, success, kept in zip(sim["key"].tolist(), sim["task_key"].tolist(), sim["success"].tolist(),
                                        sim["keep"].tolist()):
        if kept:
            runs[ids.ece_run_index(key)][task] = int(success)
    return dict(runs)


# --- Evaluative agreement (docs/method.md §7). -------------------------------------------------------
def _survey_of(record: Any) -> Any:
    return record.get("survey") if isinstance(record, Mapping) else None


def eval_pairs(
    human_records: Mapping[str, Mapping[str, Any]],
    sim_surveys: Mapping[str, Mapping[str, Any]],
) -> list[tuple[int, str, Any, Any]]:
    """``(batch, base id, human survey, simulator survey)`` in the reference walk order:
    batches 1, 2, 3 and, within each, the base ids in both the kept human batch and
    the simulator's survey batch, string-sorted (docs/method.md §7)."""
    human_by_batch: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, record in human_records.items():
        if record.get("keep", True) is not False:
            base, batch = ids.split_batch(key)
            human_by_batch[batch][base] = _survey_of(record)
    sim_by_batch: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, record in sim_surveys.items():
        base, batch = ids.split_batch(key)
        sim_by_batch[batch][base] = _survey_of(record)
    return [
        (batch, base, human_by_batch[batch][base], sim_by_batch[batch][base])
        for batch in BATCHES
        for base in sorted(set(human_by_batch[batch]) & set(sim_by_batch[batch]))
    ]


def eval_agreements(
    human_records: Mapping[str, Mapping[str, Any]],
    sim_surveys: Mapping[str, Mapping[str, Any]],
    *,
    seed: int = 42,
) -> pd.DataFrame:
    """Per-task agreement of a simulator's surveys with the humans' (docs/method.md §7).

    ``human_records``: the human sessions (``{id: {survey, keep, ...}}``);
    ``sim_surveys``: the simulator's survey file, keyed like the human sessions.
    One ``default_rng(seed)`` follows :func:`eval_pairs`.
    Columns: ``batch``, ``task_key``, ``agreement`` (undefined agreements dropped).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for batch, base, human, sim in eval_pairs(human_records, sim_surveys):
        value = agreement(human, sim, rng)
        if value is not None:
            rows.append((batch, base, value))
    return pd.DataFrame(rows, columns=["batch", "task_key", "agreement"])


def eval_cell(agreements: pd.DataFrame) -> Cell | None:
    """Eval = (mean, population std) over batches of the batch-mean agreement."""
    if agreements.empty:
        return None
    per_batch = agreements.groupby("batch", sort=True)["agreement"].mean()
    return float(per_batch.mean()), float(np.std(per_batch.to_numpy()))


def ceiling_agreements(
    human_records: Mapping[str, Mapping[str, Any]],
    rerating: Mapping[str, Mapping[str, Any]],
    *,
    seed: int = 42,
) -> pd.DataFrame:
    """Agreement of each kept batch-1 survey with its re-rating, in re-rating file order.

    Columns: ``task_key``, ``agreement``."""
    rng = np.random.default_rng(seed)
    batch1 = {
        k: r for k, r in human_records.items()
        if ids.split_batch(k)[1] == 1 and r.get("keep", True) is not False
    }
    rows = []
    for key, record in rerating.items():
        if key in batch1:
            value = agreement(_survey_of(batch1[key]), _survey_of(record), rng)
            if value is not None:
                rows.append((key, value))
    return pd.DataFrame(rows, columns=["task_key", "agreement"])


def ceiling_eval_cell(agreements: pd.DataFrame) -> Cell | None:
    """The human Eval ceiling: (mean, population std) over re-rated tasks."""
    if agreements.empty:
        return None
    values = agreements["agreement"].to_numpy()
    return float(values.mean()), float(np.std(values))


# --- The index (docs/method.md §8). --------------------------------------------------------------------
@dataclass(frozen=True)
class BatchScore:
    """One human batch (or, for the ceiling, one batch pair) of a leaderboard row."""

    batch: int | tuple[int, int]
    dimensions: dict[str, float]
    ece: float | None
    usi: float | None
    overlap: tuple[str, ...] = ()  # the task keys the rows were computed on


@dataclass(frozen=True)
class Score:
    """A leaderboard row: each metric's (mean, population std) or ``None``."""

    name: str
    cells: dict[str, Cell | None]
    batches: tuple[BatchScore, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "D1_conv", ..., "usi"}`` with ``[mean, std]`` or ``null`` cells."""
        return {"name": self.name, **{m: (list(c) if c else None) for m, c in self.cells.items()}}


#: The index's two variants (docs/method.md §8): six terms with the survey's Eval, five without.
INDEX_VARIANTS: tuple[str, ...] = ("USI6", "USI5")


def index_variant(cells: Mapping[str, Cell | None]) -> str | None:
    """Which index a row's USI is: ``"USI6"`` (with Eval), ``"USI5"`` (no survey term),
    ``None`` without a USI. The two are not comparable: report the variant beside the value."""
    if cells.get("usi") is None:
        return None
    return "USI6" if cells.get("eval_agree") is not None else "USI5"


def index_terms(cells: Mapping[str, Cell | None]) -> tuple[str, ...]:
    """The terms a row's USI averages: D1-D4, ``eval_agree`` when the simulator has surveys,
    and ``ece``; empty without a USI."""
    if cells.get("usi") is None:
        return ()
    return (*DIMENSION_NAMES, *(("eval_agree",) if cells.get("eval_agree") is not None else ()), "ece")


def _cell(values: Sequence[float | None]) -> Cell | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return float(np.mean(present)), float(np.std(present))


def usi_value(dimensions: Mapping[str, float], ece_value: float | None, eval_mean: float | None) -> float | None:
    """(D1 + D2 + D3 + D4 [+ Eval] + 100·(1 − ECE)) / (6 or 5); ``None`` without ECE."""
    if ece_value is None:
        return None
    terms = [*dimensions.values(), 100.0 * (1.0 - ece_value)]
    if eval_mean is not None:
        terms.append(eval_mean)
    return float(sum(terms) / len(terms))


def row_runs(sim: pd.DataFrame, run_split: RunSplit = "reference") -> dict[str, pd.DataFrame]:
    """The simulator's kept rows per run for the behaviour rows, indexed by the id
    they match in a human batch (``{run: table indexed by id}``).

    ``"reference"`` splits like the authors' scorer (only files of more than 170
    entries, kept or not, are split by run suffix); ``"suffix"`` always splits.
    """
    by_key = sim.set_index("key")
    out = {}
    for run, (run_ids, positions) in _run_positions(sim, run_split).items():
        rows = by_key.iloc[positions]
        rows.index = pd.Index(run_ids, name="id")
        out[run] = rows
    return out


def _run_positions(sim: pd.DataFrame, run_split: RunSplit) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{run: (ids, row positions)}`` of the kept rows of each run (see :func:`row_runs`)."""
    split = ids.reference_run_split if run_split == "reference" else ids.suffix_run_split
    keys = sim["key"].tolist()
    position = {key: i for i, key in enumerate(keys)}
    keep = sim["keep"].to_numpy(dtype=bool)
    out = {}
    for run, id_to_key in split(keys).items():
        pairs = [(i, position[k]) for i, k in id_to_key.items() if keep[position[k]]]
        out[run] = ([i for i, _ in pairs], np.array([p for _, p in pairs], dtype=np.intp))
    return out


@dataclass(frozen=True)
class FeatureArrays:
    """A features table as arrays, for the index's many small means: ``values`` (n, 19) the
    features in :data:`~usersim_utils.features.FEATURES` order, ``has_features`` (n,) and
    ``success`` (n,) 0/1."""

    values: np.ndarray
    has_features: np.ndarray
    success: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame) -> FeatureArrays:
        """The arrays of a features table."""
        values = np.column_stack([table[f].to_numpy(dtype=float) for f in FEATURES])
        return cls(values.reshape(len(table), len(FEATURES)), table["has_features"].to_numpy(dtype=bool),
                   table["success"].to_numpy(dtype=int))

    def mean_row(self, positions: np.ndarray) -> dict[str, float] | None:
        """:func:`feature_row` of the rows at ``positions``."""
        rows = positions[self.has_features[positions]]
        if rows.size == 0:
            return None
        return dict(zip(FEATURES, (self.values[rows].mean(axis=0) * _SCALE_VALUES).tolist()))


_SCALE_VALUES = _SCALE[list(FEATURES)].to_numpy()


def _kept_batch_positions(human: pd.DataFrame, batch: int) -> dict[str, int]:
    """``{task_key: row position}`` of the kept rows of one human batch."""
    mask = (human["keep"].to_numpy(dtype=bool) & (human["batch"].to_numpy() == batch)).tolist()
    return {task: i for i, (task, kept) in enumerate(zip(human["task_key"].tolist(), mask)) if kept}


def _kept_batch(human: pd.DataFrame, batch: int) -> pd.DataFrame:
    rows = human.loc[human["keep"] & (human["batch"] == batch)]
    return rows.set_index("task_key")


def score_batch(
    human: FeatureArrays,
    human_batch: Mapping[str, int],
    sim: FeatureArrays,
    runs: Mapping[str, tuple[Sequence[str], np.ndarray]],
    ece_maps: Mapping[str, Mapping[str, int]],
    bin_of: Mapping[str, int],
    eval_mean: float | None,
    batch: int,
    dimensions: Mapping[str, Sequence[str]] = DIMENSIONS,
) -> BatchScore | None:
    """Steps 1-6 of docs/method.md §8 for one human batch: ``human_batch`` maps the batch's kept
    task keys to rows of ``human``, ``runs`` each run's ids and rows of ``sim`` (kept only),
    ``bin_of`` each task's difficulty bin (:func:`task_bins`).

    ``None`` when no run overlaps the batch (the batch then contributes nothing).
    """
    run_rows, overlap = [], set()
    for run_ids, positions in runs.values():
        shared = [i for i, run_id in enumerate(run_ids) if run_id in human_batch]
        if not shared:
            continue
        row = sim.mean_row(positions[shared])
        if row is not None:
            run_rows.append(row)
            overlap.update(run_ids[i] for i in shared)
    if not run_rows:
        return None
    human_row = human.mean_row(np.array([human_batch[t] for t in sorted(overlap)], dtype=np.intp))
    if human_row is None:
        return None
    pooled = {f: float(np.mean([row[f] for row in run_rows])) for f in FEATURES}
    dims = dimension_scores(human_row, pooled, dimensions)
    human_success = {task: int(human.success[p]) for task, p in human_batch.items()}
    eces = [binned_ece(m, human_success, bin_of) for m in ece_maps.values()]
    eces = [e for e in eces if e is not None]
    ece_b = float(np.mean(eces)) if eces else None
    return BatchScore(batch, dims, ece_b, usi_value(dims, ece_b, eval_mean), tuple(sorted(overlap)))


def _assemble(name: str, batches: Sequence[BatchScore], eval_c: Cell | None,
              dimensions: Iterable[str] = DIMENSION_NAMES) -> Score:
    cells: dict[str, Cell | None] = {d: _cell([b.dimensions[d] for b in batches]) for d in dimensions}
    cells["eval_agree"] = eval_c
    cells["ece"] = _cell([b.ece for b in batches])
    cells["usi"] = _cell([b.usi for b in batches])
    return Score(name, cells, tuple(batches))


def score_simulator(
    name: str,
    human: pd.DataFrame,
    sim: pd.DataFrame,
    difficulty: Mapping[str, float],
    *,
    eval_c: Cell | None = None,
    run_split: RunSplit = "reference",
    dimensions: Mapping[str, Sequence[str]] = DIMENSIONS,
    edges: Sequence[float] = BIN_EDGES,
) -> Score:
    """The leaderboard row of one simulator against the three human batches.

    ``human`` and ``sim`` are features tables; ``eval_c`` the simulator's Eval cell
    (:func:`eval_cell`), or ``None`` when it has no survey file. ``dimensions`` and
    ``edges`` (difficulty bins) default to the reference; other values are for
    sensitivity analyses only.
    """
    runs = _run_positions(sim, run_split)
    ece_maps = ece_runs(sim)
    eval_mean = eval_c[0] if eval_c else None
    human_arrays, sim_arrays, bin_of = FeatureArrays.of(human), FeatureArrays.of(sim), task_bins(difficulty, edges)
    batches = []
    for batch in BATCHES:
        result = score_batch(human_arrays, _kept_batch_positions(human, batch), sim_arrays, runs, ece_maps,
                             bin_of, eval_mean, batch, dimensions)
        if result is not None:
            batches.append(result)
    return _assemble(name, batches, eval_c, dimensions)


def human_ceiling(
    human: pd.DataFrame,
    difficulty: Mapping[str, float],
    *,
    eval_c: Cell | None = None,
    name: str = schema.HUMAN_LABEL,
    dimensions: Mapping[str, Sequence[str]] = DIMENSIONS,
    edges: Sequence[float] = BIN_EDGES,
) -> Score:
    """Inter-annotator agreement: each batch pair scored like a simulator against
    the other, on their common kept tasks; ``eval_c`` is the re-rating ceiling."""
    eval_mean = eval_c[0] if eval_c else None
    pairs = []
    for a, b in HUMAN_PAIRS:
        rows_a, rows_b = _kept_batch(human, a), _kept_batch(human, b)
        common = sorted(set(rows_a.index) & set(rows_b.index))
        if not common:
            continue
        row_a, row_b = feature_row(rows_a.loc[common]), feature_row(rows_b.loc[common])
        if row_a is None or row_b is None:
            continue
        dims = dimension_scores(row_a, row_b, dimensions)
        success_a = dict(zip(common, rows_a.loc[common, "success"].astype(int)))
        success_b = dict(zip(common, rows_b.loc[common, "success"].astype(int)))
        ece_ab = ece(success_a, success_b, difficulty, edges)
        pairs.append(BatchScore((a, b), dims, ece_ab, usi_value(dims, ece_ab, eval_mean), tuple(common)))
    return _assemble(name, pairs, eval_c, dimensions)


def leaderboard(scores: Sequence[Score], *, rank_together: bool = False) -> pd.DataFrame:
    """Scores as a table: a row per simulator, columns ``<metric>`` and ``<metric>_std``, then
    ``index`` (:func:`index_variant`: USI6 or USI5) and ``rank``.

    The human ceiling comes first, then the USI6 rows by USI (highest first), then the USI5
    rows by USI, then the rows without USI. A five-term USI is not comparable with a six-term
    one, so each variant is ranked on its own: ``rank`` counts within the row's variant (1 =
    best). With ``rank_together`` every simulator is ranked by USI alone, whatever its
    variant. The human row and rows without USI have no rank."""
    human = [s for s in scores if s.name == schema.HUMAN_LABEL]
    variant_order = {variant: 0 if rank_together else i for i, variant in enumerate(INDEX_VARIANTS)}
    others = sorted(
        (s for s in scores if s.name != schema.HUMAN_LABEL),
        key=lambda s: (s.cells["usi"] is None, variant_order.get(index_variant(s.cells), 0),
                       -(s.cells["usi"] or (0.0, 0.0))[0], s.name),
    )
    ranked: dict[str | None, int] = defaultdict(int)
    records = []
    for s in [*human, *others]:
        rec: dict[str, Any] = {"name": s.name}
        for metric in METRICS:
            cell = s.cells.get(metric)
            rec[metric] = cell[0] if cell else math.nan
            rec[f"{metric}_std"] = cell[1] if cell else math.nan
        rec["index"] = index_variant(s.cells)
        rec["rank"] = pd.NA
        if s.name != schema.HUMAN_LABEL and rec["index"] is not None:
            group = None if rank_together else rec["index"]
            ranked[group] += 1
            rec["rank"] = ranked[group]
        records.append(rec)
    table = pd.DataFrame.from_records(records, columns=["name", *(c for m in METRICS for c in (m, f"{m}_std")),
                                                        "index", "rank"])
    return table.astype({"rank": "Int64"})


# --- Scoring a set of simulators. ---------------------------------------------------------
#: Difficulty modes without an argument: pools of simulators (``"all"``: every simulator
#: scored, the paper's setting; ``"study"``: the study's own simulators) and the published map.
POOL_MODES: tuple[str, ...] = ("all", "study")


def parse_difficulty_mode(spec: str) -> tuple[str, str | None]:
    """``"all"`` | ``"study"`` | ``"published"`` | ``"frozen:PATH"`` | ``"baselines:DIR"``
    -> ``(mode, argument)``.

    Raises ``ValueError`` listing the modes."""
    mode, _, arg = spec.partition(":")
    if mode in (*POOL_MODES, "published") and not arg:
        return mode, None
    if mode in ("frozen", "baselines") and arg:
        return mode, arg
    raise ValueError(
        "--difficulty (difficulty_pool) must be all, study, published, frozen:PATH or "
        f"baselines:DIR, not {spec!r}"
    )


def difficulty_map_from_json(obj: Any) -> dict[str, float]:
    """A frozen difficulty map: ``{"difficulty": {task_key: value}}`` or a flat map.

    Raises ``ValueError`` naming the bad task key."""
    if isinstance(obj, Mapping) and isinstance(obj.get("difficulty"), Mapping):
        obj = obj["difficulty"]
    if not isinstance(obj, Mapping):
        raise ValueError("expected {task_key: value} or {'difficulty': {task_key: value}}")
    out = {}
    for key, value in obj.items():
        if not ids.is_valid_key(key):
            raise ValueError(f"task key {key!r} is not <airline|retail>_<i>")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"difficulty of {key!r} must be a number in [0, 1], not {value!r}")
        out[ids.task_key(key)] = float(value)
    return out


def score_all(
    human: pd.DataFrame,
    simulators: Mapping[str, pd.DataFrame],
    difficulty: Mapping[str, float],
    *,
    evals: Mapping[str, Cell | None] | None = None,
    ceiling_eval: Cell | None = None,
    run_split: RunSplit = "reference",
    dimensions: Mapping[str, Sequence[str]] = DIMENSIONS,
    edges: Sequence[float] = BIN_EDGES,
) -> list[Score]:
    """The human ceiling, then one row per simulator (features tables keyed by label)."""
    evals = evals or {}
    scores = [human_ceiling(human, difficulty, eval_c=ceiling_eval, dimensions=dimensions, edges=edges)]
    for label, table in simulators.items():
        scores.append(score_simulator(label, human, table, difficulty, eval_c=evals.get(label),
                                      run_split=run_split, dimensions=dimensions, edges=edges))
    return scores


def format_leaderboard(scores: Sequence[Score], *, rank_together: bool = False) -> str:
    """A plain-text table in the order of :func:`leaderboard`: human ceiling first, then the
    simulators by USI, each index variant (column ``index``: USI6, USI5) ranked apart unless
    ``rank_together``."""
    board = leaderboard(scores, rank_together=rank_together)
    header = ["name", "D1_conv", "D2_info", "D3_clarif", "D4_react", "Eval", "ECE", "USI", "index"]
    lines = []
    for _, r in board.iterrows():
        cells = [str(r["name"])]
        for metric in METRICS:
            mean, std = r[metric], r[f"{metric}_std"]
            digits = 3 if metric == "ece" else 1
            cells.append("-" if math.isnan(mean) else f"{mean:.{digits}f}±{std:.{digits}f}")
        cells.append(r["index"] if isinstance(r["index"], str) else "-")  # None, or NaN in a column of Nones
        lines.append(cells)
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(header), *(fmt(row) for row in lines)])
