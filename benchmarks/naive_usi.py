"""A naive reading of spec usi.md from files, for timing only: the yardstick of
``bench_scoring.py``.

``json.load`` of each file, then plain Python loops over the records with the
spec's patterns (the independent oracle of ``tests/oracle_usi.py``, which shares
nothing with the package but the lexicon strings). The one liberty taken is that
the features of each conversation are computed once, not once per human batch it
is compared with: recomputing them would make the yardstick three times slower and
flatter every ratio. No validation (which makes it faster than a real command).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import oracle_usi as oracle  # noqa: E402 (tests/ is not a package)

FEATURE_NAMES = oracle.D1 + oracle.D2 + oracle.D3 + oracle.D4


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _with_features(records: dict, source: str) -> dict:
    """``{key: (record, features or None)}``: each conversation's features, once."""
    return {k: (r, oracle.features(r["conversation"], source)) for k, r in records.items()}


def _row(pairs: list) -> dict:
    found = [f for _, f in pairs if f is not None]
    return {k: sum(f[k] for f in found) / len(found) * (1 if k in oracle.NOT_SCALED else 100)
            for k in FEATURE_NAMES}


def _human_batch(human: dict, batch: int) -> dict:
    return {oracle.batch_of(k)[0]: p for k, p in human.items() if oracle.batch_of(k)[1] == batch and oracle.kept(p[0])}


def _score_sim(human: dict, sim: dict, diff: dict, ev) -> dict:
    runs = oracle.split_runs(sim)
    ece_runs: dict = {}
    for k, (r, _) in sim.items():
        if oracle.kept(r):
            run = k.rsplit("_", 1)[1] if oracle.re.match(r"^(airline|retail)_\d+_\d+", k) else "1"
            ece_runs.setdefault(run, {})[oracle.tkey(k)] = oracle.succ(r)
    per = []
    for b in (1, 2, 3):
        hb = _human_batch(human, b)
        rows, union = [], set()
        for run in runs.values():
            overlap = [i for i, p in run.items() if oracle.kept(p[0]) and i in hb]
            if overlap:
                rows.append(_row([run[i] for i in overlap]))
                union.update(overlap)
        if not rows:
            continue
        hr = _row([hb[i] for i in sorted(union)])
        pooled = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        d = oracle.dims(hr, pooled)
        hm = {i: oracle.succ(p[0]) for i, p in hb.items()}
        es = [e for e in (oracle.ece(m, hm, diff) for m in ece_runs.values()) if e is not None]
        e = sum(es) / len(es) if es else None
        per.append((d, e, oracle.usi_of(d, e, ev)))
    return oracle.cells(per, ev)


def _score_human(human: dict, diff: dict, ev) -> dict:
    per = []
    for a, b in ((1, 2), (1, 3), (2, 3)):
        ha, hb = _human_batch(human, a), _human_batch(human, b)
        common = sorted(set(ha) & set(hb))
        if common:
            d = oracle.dims(_row([ha[i] for i in common]), _row([hb[i] for i in common]))
            e = oracle.ece({i: oracle.succ(ha[i][0]) for i in common}, {i: oracle.succ(hb[i][0]) for i in common},
                           diff)
            per.append((d, e, oracle.usi_of(d, e, ev)))
    return oracle.cells(per, ev)


def score_study(human_path: Path, eval_files: list[Path], survey_dir: Path) -> dict[str, dict]:
    """``{name: {D1..D4, eval, ece, usi: (mean, std) or None}}``, the human ceiling as ``"human"``,
    difficulty pooled over every file (the paper's setting)."""
    human_records = _load(human_path)
    sims = {p.stem.removeprefix("eval_results_"): _load(p) for p in eval_files}
    diff = oracle.difficulty(sims.values())
    human = _with_features(human_records, "human")
    rerating = survey_dir / "survey_comparable_human-eval-100.json"
    out = {"human": _score_human(human, diff, oracle.ceiling_eval(human_records, _load(rerating))
                                 if rerating.exists() else None)}
    for label, records in sims.items():
        survey_file = survey_dir / f"survey_comparable_{label}.json"
        ev = oracle.sim_eval(human_records, _load(survey_file)) if survey_file.exists() else None
        out[label] = _score_sim(human, _with_features(records, "llm"), diff, ev)
    return out
