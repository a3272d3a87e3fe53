"""Is a simulator as close to people as people are to each other? An equivalence test
on the matched gap.

"The simulator's USI lies inside the human ceiling's interval" does not say that it is as
close to people as people are: an interval that is wide because the study is small holds
almost anything, and the unmatched ceiling is beaten by a simulator that is the human process
just by averaging its runs (``docs/method.md`` §14). The question needs the matched gap
(:func:`usersim_utils.matched_comparison.compare`: each run scored against a human batch as one batch
is scored against another) and a test whose *alternative* is "close":

* **Two one-sided tests (TOST).** With an equivalence margin δ stated in advance, the null
  "|gap| ≥ δ" is rejected at level α when both "gap ≤ −δ" and "gap ≥ δ" are, which happens
  exactly when the (1 − 2α) interval of the gap lies inside (−δ, δ) (Schuirmann 1987). A
  study too small to tell therefore says "cannot tell", never "equivalent".
* **Different.** The (1 − α) interval of the gap excludes 0.

Each simulator gets one verdict: ``equivalent`` (within ±δ), ``different`` (the gap is not
0), both when a real but small gap is resolved inside the margin (``equivalent, different``),
or ``cannot tell``. The margin is the reader's choice and belongs in the text beside the
verdict; the notebook states its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .features import DIMENSIONS
from .matched_comparison import compare
from .matched_design import MatchedArrays
from .uncertainty import Dimensions

#: Level of each one-sided test (the equivalence interval is then at 1 − 2·ALPHA = 90 %).
ALPHA = 0.05
VERDICT_COLUMNS = ("name", "runs", "metric", "gap", "margin", "equivalence_low", "equivalence_high", "low",
                   "high", "equivalent", "different", "verdict")


def tost_equivalent(low: np.ndarray, high: np.ndarray, margin: float) -> np.ndarray:
    """TOST decision from the (1 − 2α) interval ``[low, high]`` (arrays of one shape):
    True where it lies strictly inside ``(−margin, margin)``; False where undefined (NaN)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    with np.errstate(invalid="ignore"):
        return (low > -margin) & (high < margin)


def verdict(equivalent: bool, different: bool) -> str:
    """One word for the pair of decisions (see the module docstring)."""
    if equivalent and different:
        return "equivalent, different"
    if equivalent:
        return "equivalent"
    return "different" if different else "cannot tell"


def matched_verdicts(
    matched: MatchedArrays,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    margin: float,
    metric: str = "usi",
    alpha: float = ALPHA,
    n_boot: int = 1000,
    difficulty_by_label: Mapping[str, Mapping[str, float]] | None = None,
    dimensions: Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """A row per simulator (:data:`VERDICT_COLUMNS`): the matched ``gap`` of ``metric``,
    its (1 − 2α) interval (``equivalence_low/high``) and TOST decision against ``margin``,
    its (1 − α) interval (``low``/``high``) and whether it excludes 0.

    Both intervals come from the same ``n_boot`` task resamples (one draw from ``rng``),
    taken as :func:`matched_comparison.compare` takes them.
    """
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, not {margin}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), not {alpha}")
    state = rng.bit_generator.state
    narrow = compare(matched, difficulty, rng, n_boot=n_boot, level=1.0 - 2.0 * alpha,
                     difficulty_by_label=difficulty_by_label, dimensions=dimensions)
    rng.bit_generator.state = state  # the same resamples for the (1 − α) interval
    wide = compare(matched, difficulty, rng, n_boot=n_boot, level=1.0 - alpha,
                   difficulty_by_label=difficulty_by_label, dimensions=dimensions)
    narrow, wide = (t.loc[t["metric"] == metric].reset_index(drop=True) for t in (narrow, wide))
    equivalent = tost_equivalent(narrow["low"], narrow["high"], margin)
    with np.errstate(invalid="ignore"):
        different = ((wide["low"] > 0) | (wide["high"] < 0)).to_numpy()
    table = pd.DataFrame({
        "name": narrow["name"], "runs": narrow["runs"], "metric": metric, "gap": narrow["gap"], "margin": margin,
        "equivalence_low": narrow["low"], "equivalence_high": narrow["high"], "low": wide["low"],
        "high": wide["high"], "equivalent": equivalent, "different": different,
    })
    table["verdict"] = [verdict(e, d) for e, d in zip(table["equivalent"], table["different"])]
    return table[list(VERDICT_COLUMNS)]
