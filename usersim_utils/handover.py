"""What one notebook writes and a later one reads: every hand-over file, in one place.

Under ``data/processed/`` (:data:`usersim_utils.paths.PROCESSED_DIR`; ``$USERSIM_OUTPUT_DIR``
moves it):

* ``human/``: ``sessions.parquet``, ``turns.parquet``, ``surveys.parquet`` and
  ``study.json`` (where the data came from), written by notebook 01
  (:func:`write_tables`) for whoever wants the tables without the JSON (no notebook
  reads them yet);
* ``rollouts/``: ``eval_results_<label>.json`` and ``survey_comparable_<label>.json``,
  written by notebook 02 (:mod:`usersim_utils.rollout`), listed for notebooks 03-05 by
  :func:`simulator_files` and :func:`survey_files`;
* ``features/<label>.parquet`` (``human.parquet`` for the human sessions): one features
  table per file, written by notebook 03 (:func:`write_feature_tables`), read by
  notebooks 04 and 06 (:func:`read_feature_tables`);
* ``matched_gaps.json``: notebook 04's matched comparison of every simulator with the human
  ceiling (:func:`write_matched_gaps`), read by notebook 07's fidelity forecast
  (:func:`read_matched_gaps`).

File names come from :mod:`usersim_utils.schema`; every write is atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import paths, schema
from .atomic import atomic_write, atomic_write_text
from .errors import DataError

if TYPE_CHECKING:  # for annotations only: writing the tables needs none of the readers
    from .data.study import Study


def write_tables(study: Study, dest: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write the study's tables for later notebooks, atomically, into ``dest``
    (default ``data/processed/human``): ``sessions.parquet``, ``turns.parquet``,
    ``surveys.parquet`` and ``study.json`` (root, synthetic flag, rollout and survey
    files). Returns ``{name: path}``."""
    dest = Path(dest) if dest is not None else paths.PROCESSED_DIR / schema.HUMAN_LABEL
    written: dict[str, Path] = {}
    for name, table in (("sessions", study.sessions), ("turns", study.turns), ("surveys", study.surveys)):
        target = dest / f"{name}.parquet"
        atomic_write(target, lambda tmp, t=table: t.to_parquet(tmp, index=False))
        written[name] = target
    meta = {
        "root": str(study.root),
        "synthetic": study.synthetic,
        "n_sessions": len(study.sessions),
        "eval_results": {k: str(v) for k, v in study.eval_results.items()},
        "simulator_surveys": {k: str(v) for k, v in study.simulator_surveys.items()},
        "rerating_path": str(study.rerating_path) if study.rerating_path else None,
    }
    target = dest / "study.json"
    atomic_write(target, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"))
    written["study"] = target
    return written


def simulator_files(study: Study, *, include_rollouts: bool = True,
                    rollouts_dir: Path | None = None) -> dict[str, Path]:
    """``{label: eval_results file}``: the study's simulators (published or demo), then
    the rollouts of notebook 02 (``data/processed/rollouts``) when asked."""
    files = dict(study.eval_results)
    if include_rollouts:
        folder = rollouts_dir or paths.ROLLOUTS_DIR
        for path in sorted(folder.glob(schema.EVAL_RESULTS_GLOB)):
            files.setdefault(schema.label_of(path), path)
    return files


def survey_files(study: Study, *, include_rollouts: bool = True,
                 rollouts_dir: Path | None = None) -> dict[str, Path]:
    """``{label: survey_comparable file}`` for the study's simulators and the rollouts."""
    files = dict(study.simulator_surveys)
    if include_rollouts:
        folder = rollouts_dir or paths.ROLLOUTS_DIR
        for path in sorted(folder.glob(schema.SURVEY_GLOB)):
            files.setdefault(schema.label_of(path, schema.SURVEY_PREFIX), path)
    return files


def write_feature_tables(tables: dict[str, pd.DataFrame], dest: Path | None = None) -> dict[str, Path]:
    """Write each features table to ``<dest>/<label>.parquet`` atomically (dest:
    ``data/processed/features``), removing tables of labels no longer present."""
    dest = dest or paths.FEATURES_DIR
    dest.mkdir(parents=True, exist_ok=True)
    written = {}
    for label, table in tables.items():
        out = dest / f"{label}.parquet"
        atomic_write(out, lambda tmp, table=table: table.to_parquet(tmp, index=False))
        written[label] = out
    for stale in set(dest.glob("*.parquet")) - set(written.values()):
        stale.unlink()
    return written


def read_feature_tables(source: Path | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """``(human table, {label: simulator table})`` written by notebook 03.

    Raises ``DataError`` when notebook 03 has not been run."""
    source = source or paths.FEATURES_DIR
    human_path = source / f"{schema.HUMAN_LABEL}.parquet"
    if not human_path.exists():
        raise DataError("no features tables: run notebooks/03_extract_behavioral_features.ipynb first",
                        file=source)
    sims = {p.stem: pd.read_parquet(p) for p in sorted(source.glob("*.parquet")) if p.stem != schema.HUMAN_LABEL}
    return pd.read_parquet(human_path), sims


#: The matched comparison's file under ``data/processed`` and the columns it keeps.
MATCHED_GAPS_FILE = "matched_gaps.json"
MATCHED_GAP_COLUMNS = ("name", "runs", "metric", "gap", "low", "high")


def write_matched_gaps(table: pd.DataFrame, dest: Path | None = None) -> Path:
    """Write :data:`MATCHED_GAP_COLUMNS` of a ``matched_comparison.compare`` table, a row per
    simulator and metric, atomically to ``dest`` (default ``data/processed/matched_gaps.json``)."""
    dest = dest or paths.PROCESSED_DIR / MATCHED_GAPS_FILE
    kept = table[list(MATCHED_GAP_COLUMNS)]
    rows = kept.astype(object).where(kept.notna(), None).to_dict("records")  # undefined: null
    atomic_write_text(dest, json.dumps(rows, allow_nan=False) + "\n")
    return dest


def read_matched_gaps(source: Path | None = None) -> pd.DataFrame | None:
    """The table :func:`write_matched_gaps` wrote (undefined gaps as NaN), or ``None`` when
    notebook 04 has not been run."""
    source = source or paths.PROCESSED_DIR / MATCHED_GAPS_FILE
    if not source.is_file():
        return None
    try:
        rows = json.loads(source.read_text(encoding="utf-8"))
        return pd.DataFrame(rows, columns=list(MATCHED_GAP_COLUMNS)).astype({"gap": float, "low": float,
                                                                              "high": float})
    except (ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise DataError(f"not the matched comparison notebook 04 writes ({err}); run notebook 04 again",
                        file=source) from None
