"""Scoring files with :mod:`usersim_utils.usi` (which stays pure): the difficulty modes
(:func:`resolve_difficulty`), the notes a leaderboard needs, and the command line,
``usersim-usi`` or ``python -m usersim_utils.scoring``::

    usersim-usi --human PATH --eval-results FILE [FILE ...]
        [--survey-dir DIR] [--difficulty {all | published | frozen:PATH | baselines:DIR}] [--json OUT]

``--human`` is the human-sessions file or a study folder (``data/…`` inside).
``--eval-results`` takes the study's ``eval_results_<label>.json`` files and
tau-bench trajectory files alike (converted on the fly; ``--domain`` when the
domain cannot be recognised, checked against the trajectories' content).
Bad input ends with one ``error:`` line, exit 2, before anything else is printed;
what the table cannot show (an undefined ECE, a simulator that matched no human
session, a five-term USI beside six-term ones, a protocol that is unknown) is explained by
``note:`` lines on stderr. Each index (USI6, USI5: no survey) is ranked on its own unless
``--rank-together``. The files are read by
:mod:`usersim_utils.data.inputs`, the simulator cards by :mod:`usersim_utils.rollout.comparability`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import command_line, data, ids, paths, published, schema, usi
from .atomic import write_output
from .errors import DataError
from .features import features_table
from .rollout import card as rollout_card  # light: reads cards without importing litellm
from .rollout.comparability import protocol_cards
from .schema import label_of

#: What to do when no task has a difficulty (ECE, hence USI, undefined).
DIFFICULTY_REMEDY = ("use --difficulty published (difficulty_pool=\"published\"), a frozen map (frozen:PATH), "
                     "baselines:DIR, or score more simulators together")


@dataclass(frozen=True)
class DifficultyChoice:
    """The difficulty map the index uses, and how it was chosen.

    ``map``: ``{task_key: difficulty in [0, 1]}``; empty means ECE, hence USI, is
    undefined for every row. ``mode_used``: the mode that made ``map`` (``"all"``,
    ``"study"``, ``"published"``, ``"frozen:PATH"`` or ``"baselines:DIR"``), which is
    ``"published"`` after a fallback; ``requested``: the mode as asked; ``note``: one
    line for the reader when the map is not what was asked for, or is empty.
    """

    map: dict[str, float]
    mode_used: str
    requested: str
    note: str | None = None

    @property
    def fell_back(self) -> bool:
        """True when the requested pool was too small and the published map is used."""
        return self.mode_used == "published" and usi.parse_difficulty_mode(self.requested)[0] != "published"


def _frozen_map(path: str) -> dict[str, float]:
    try:
        return usi.difficulty_map_from_json(data.read_json(path))
    except ValueError as err:
        if isinstance(err, DataError):
            raise
        raise DataError(str(err), file=path) from None


def _baseline_pool(folder: str, domain: str | None) -> list[pd.DataFrame]:
    files = sorted(Path(folder).glob(schema.EVAL_RESULTS_GLOB))
    if not files:
        raise DataError(f"no {schema.EVAL_RESULTS_GLOB} files for the baseline pool", file=folder)
    return [features_table(data.load_simulator_file(f, domain=domain), source="llm", label=label_of(f)) for f in files]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def resolve_difficulty(
    mode: str,
    simulators: Mapping[str, pd.DataFrame],
    *,
    study_labels: Sequence[str] | None = None,
    domain: str | None = None,
) -> DifficultyChoice:
    """The difficulty map of a mode, shared by the command line and the notebooks.

    ``mode`` (see :func:`usi.parse_difficulty_mode`): ``"all"`` pools every simulator in
    ``simulators`` (features tables by label; the paper's setting), ``"study"`` pools those
    of ``study_labels`` (the study's published simulators), ``"baselines:DIR"`` the
    ``eval_results_<label>.json`` files of DIR, ``"published"`` is the authors' frozen map
    (:func:`usersim_utils.published.published_difficulty`), ``"frozen:PATH"`` a map
    read from a file. A pool too small to give ANY task a difficulty (each task
    under :data:`usi.MIN_DIFFICULTY_SAMPLES` pooled entries) falls back to the
    published map and says so in ``note``; an explicit map is used as it is, and
    ``note`` says when it is empty. Raises :class:`DataError` / ``ValueError``.
    """
    kind, arg = usi.parse_difficulty_mode(mode)
    if kind == "published":
        return DifficultyChoice(published.published_difficulty(), "published", mode)
    if kind == "frozen":
        difficulty = _frozen_map(arg)
        note = None if difficulty else (
            f"the frozen difficulty map {arg} holds no task, so ECE, hence USI, is undefined "
            f"(the other terms are shown); {DIFFICULTY_REMEDY}")
        return DifficultyChoice(difficulty, f"frozen:{arg}", mode, note)
    if kind == "all":
        pool, what, used = list(simulators.values()), f"the {_plural(len(simulators), 'simulator')} scored", "all"
    elif kind == "study":
        if study_labels is None:
            raise ValueError("difficulty mode 'study' pools the study's own simulators and needs their labels; "
                             "on the command line use all, published, frozen:PATH or baselines:DIR")
        missing = [label for label in study_labels if label not in simulators]
        if missing:
            raise ValueError(f"study simulators without a features table: {', '.join(missing)}")
        pool = [simulators[label] for label in study_labels]
        what, used = f"the {_plural(len(pool), 'study simulator')}", "study"
    else:
        pool = _baseline_pool(arg, domain)
        what, used = f"the {_plural(len(pool), 'baseline file')} in {arg}", f"baselines:{arg}"
    difficulty = usi.pooled_difficulty(pool)
    if difficulty:
        return DifficultyChoice(difficulty, used, mode)
    return DifficultyChoice(
        published.published_difficulty(), "published", mode,
        f"the difficulty pool ({what}) gives no task the {usi.MIN_DIFFICULTY_SAMPLES} pooled entries a difficulty "
        "needs, so ECE uses the published difficulty map instead (31 published simulators, 165 tasks; "
        "--difficulty published)",
    )


def difficulty_for(
    spec: str,
    simulators: Mapping[str, pd.DataFrame],
    *,
    study_labels: Sequence[str] | None = None,
    domain: str | None = None,
) -> dict[str, float]:
    """The difficulty map of a mode: ``resolve_difficulty(...).map`` (its note dropped)."""
    return resolve_difficulty(spec, simulators, study_labels=study_labels, domain=domain).map


def score_files(
    human_path: str | os.PathLike[str],
    eval_results: Sequence[str | os.PathLike[str]],
    *,
    survey_dir: str | os.PathLike[str] | None = None,
    difficulty: str = "all",
    run_split: usi.RunSplit = "reference",
    domain: str | None = None,
) -> list[usi.Score]:
    """The human ceiling and one score per file, exactly as the command line computes them."""
    usi.parse_difficulty_mode(difficulty)  # a bad mode fails before the files are read
    inputs = data.load_inputs(human_path, eval_results, survey_dir=survey_dir, domain=domain)
    choice = resolve_difficulty(difficulty, inputs.simulators, domain=domain)
    return usi.score_all(inputs.human, inputs.simulators, choice.map, evals=inputs.evals,
                         ceiling_eval=inputs.ceiling_eval, run_split=run_split)


def write_json(
    scores: Sequence[usi.Score],
    out: str | os.PathLike[str],
    cards: Mapping[str, Mapping | None] | None = None,
    *,
    rank_together: bool = False,
) -> Path:
    """Write the rows in the order of :func:`usersim_utils.usi.leaderboard` as a JSON list,
    atomically. Each row says which ``index`` its USI is (USI6 with the survey term, USI5
    without), the ``terms`` it averages and its ``rank`` among the rows of its index (among
    all rows with ``rank_together``; ``null`` for the human ceiling and rows without USI). With
    ``cards`` (:func:`usersim_utils.rollout.comparability.protocol_cards`), each simulator's row
    also says which ``protocol`` produced it (:func:`usersim_utils.rollout.card.protocol_label`:
    ``study protocol (published): agent gpt-5.2 (study)`` without a card, ``protocol unknown (...)`` for a tau-bench
    trajectory file).

    Raises :class:`DataError` naming ``out`` when it cannot be written."""
    board = usi.leaderboard(scores, rank_together=rank_together).set_index("name")
    by_name = {s.name: s for s in scores}
    rows = []
    for name, rank in board["rank"].items():
        score = by_name[name]
        row = {**score.to_json(), "index": usi.index_variant(score.cells), "terms": list(usi.index_terms(score.cells)),
               "rank": None if pd.isna(rank) else int(rank)}
        if cards is not None and name in cards:
            row["protocol"] = rollout_card.protocol_label(cards[name])
        rows.append(row)
    return write_output(out, json.dumps(rows, indent=2) + "\n")


def _has_run_suffix(key: str) -> bool:
    match = ids.KEY_RE.match(key)
    return bool(match and match.group(3) and match.group(3).isdigit())


def unmatched_reason(sim: pd.DataFrame, human: pd.DataFrame, run_split: usi.RunSplit = "reference") -> str:
    """Why a simulator's row is empty (no human batch matched it), in a few words.

    ``sim`` and ``human`` are features tables. The reasons, first that applies: no
    kept conversation has a user turn; a small file (reference split) whose
    ``<domain>_<i>_<run>`` keys would match with ``--run-split suffix``; no task shared
    with the kept human sessions."""
    kept = sim.loc[sim["keep"]]
    if not kept["has_features"].any():
        return ("no kept conversation has a user turn" if len(kept) else "no conversation is kept") + \
            ", so there is nothing to compare with the humans"
    human_tasks = set(human.loc[human["keep"], "task_key"])
    shared = human_tasks & set(kept.loc[kept["has_features"], "task_key"])
    split_by_suffix = run_split == "reference" and len(sim) <= 170 and any(map(_has_run_suffix, kept["key"]))
    if shared and split_by_suffix:
        return ("its keys are <domain>_<i>_<run> in a file of at most 170 entries, which the reference split "
                "keeps whole: use --run-split suffix")
    return "none of its tasks with user turns is among the kept human sessions"


def score_notes(
    scores: Sequence[usi.Score],
    choice: DifficultyChoice,
    simulators: Mapping[str, pd.DataFrame],
    human: pd.DataFrame,
    run_split: usi.RunSplit = "reference",
    *,
    cards: Mapping[str, Mapping | None] | None = None,
    rank_together: bool = False,
) -> list[str]:
    """One line per thing the leaderboard cannot show by itself: the difficulty
    choice's note, every simulator no human batch matched (:func:`unmatched_reason`),
    rows whose ECE, hence USI, is undefined although a difficulty map exists, and a human
    ceiling that is 100 ± 0 on a dimension (people's rows identical in every batch, as when
    all their turns are empty): a ceiling that measures nothing."""
    notes = [choice.note] if choice.note else []
    human_row = next((s for s in scores if s.name == schema.HUMAN_LABEL), None)
    perfect = [d for d in usi.DIMENSION_NAMES
               if human_row is not None and human_row.cells.get(d) is not None
               and human_row.cells[d][0] >= 100.0 - 1e-9 and human_row.cells[d][1] <= 1e-9]
    if perfect:
        notes.append(f"the human ceiling is 100.0 ± 0.0 on {', '.join(perfect)}: people's feature rows are "
                     "identical in every batch (for example all their turns empty), so it measures no agreement "
                     "and the simulators' gaps to it mean nothing; check the human file")
    for score in scores:
        if score.name != schema.HUMAN_LABEL and not score.batches:
            reason = unmatched_reason(simulators[score.name], human, run_split)
            notes.append(f"{score.name}: no row (every term undefined): {reason}")
    without_ece = [s.name for s in scores if s.batches and s.cells["ece"] is None]
    if choice.map and without_ece:
        notes.append(f"ECE, hence USI, is undefined for {', '.join(without_ece)}: none of the tasks they share "
                     f"with the humans has a difficulty in the {choice.mode_used} map; {DIFFICULTY_REMEDY}")
    notes.extend(row_kind_notes(scores, cards or {}, rank_together=rank_together))
    return notes


#: How to rank rows of both index variants together, in a notebook and on the command line.
RANK_TOGETHER_REMEDY = "--rank-together, or rank_together=True in a notebook, ranks all rows by USI alone"


def row_kind_notes(
    scores: Sequence[usi.Score], cards: Mapping[str, Mapping | None], *, rank_together: bool = False
) -> list[str]:
    """One line per simulator row the table cannot explain by itself: a five-term USI (no
    survey, so no Eval) while other rows average six terms, and a protocol that is unknown (a
    tau-bench trajectory file: ``cards`` from
    :func:`usersim_utils.rollout.comparability.protocol_cards`)."""
    variants = {usi.index_variant(s.cells) for s in scores}
    notes = []
    for score in scores:
        parts = []
        if usi.index_variant(score.cells) == "USI5" and "USI6" in variants:
            terms = ", ".join(usi.index_terms(score.cells))
            ranking = ("ranked with the USI6 rows as asked" if rank_together
                       else f"ranked apart from the USI6 rows ({RANK_TOGETHER_REMEDY})")
            parts.append(f"USI5, the mean of five terms ({terms}: no survey, so no Eval), not comparable with "
                         f"the six-term USI6 rows; {ranking}")
        if rollout_card.is_unknown_protocol(cards.get(score.name)):
            parts.append(rollout_card.UNKNOWN_PROTOCOL)
        if parts:
            notes.append(f"{score.name}: " + "; ".join(parts))
    return notes


def default_difficulty(cards: Mapping[str, Mapping | None]) -> str:
    """``"published"`` when any file did not run the study's published protocol (a new rollout,
    with its card, or a tau-bench trajectory file), so that its successes never move the bins
    and its ECE sits on those of the 31 published simulators; else ``"all"`` (the paper's setting)."""
    return "published" if any(card is not None for card in cards.values()) else "all"


#: The line a command prints when ``--difficulty`` was not given and :func:`default_difficulty` chose the
#: published map.
DEFAULT_PUBLISHED_NOTE = ("results not produced under the study's published protocol (new rollouts with a simulator "
                          "card, tau-bench trajectory files) are scored on the published difficulty map, the bins of "
                          "the 31 published simulators (--difficulty to choose another)")


def difficulty_mode(requested: str | None, cards: Mapping[str, Mapping | None]) -> tuple[str, str | None]:
    """``(mode, note)``: the ``--difficulty`` of every command, ``requested`` or, when it was not
    given, :func:`default_difficulty` of the files' ``cards``
    (:func:`usersim_utils.rollout.comparability.protocol_cards`); ``note`` is
    :data:`DEFAULT_PUBLISHED_NOTE` when that default chose the published map, else ``None``."""
    if requested is not None:
        return requested, None
    mode = default_difficulty(cards)
    return mode, DEFAULT_PUBLISHED_NOTE if mode == "published" else None


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (help text stays short)."""
    return str(path.relative_to(paths.REPO_ROOT)) if path.is_relative_to(paths.REPO_ROOT) else str(path)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-usi``."""
    DEMO = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-usi",
        "Score user simulators with the User-Sim Index (Zhou et al., 2026). Also run as python -m "
        "usersim_utils.scoring.",
        f"usersim-usi --human {DEMO} --eval-results {DEMO}/eval_results/*.json --survey-dir {DEMO}/survey_data "
        "--json usi.json",
    )
    data.add_human_argument(p)
    data.add_eval_results_argument(p)
    data.add_survey_dir_argument(p)
    data.add_difficulty_argument(p)
    p.add_argument("--allow-mixed-protocols", action="store_true",
                   help="score results of different protocols (agent, harness, turns, tasks, survey prompt) "
                        "without the warning")
    p.add_argument("--rank-together", action="store_true",
                   help="rank five-term (USI5: no survey) and six-term (USI6) rows in one ranking; by default "
                        "each index is ranked apart, since the two are not comparable")
    data.add_run_split_argument(p)
    data.add_domain_argument(p)
    data.add_json_argument(p)
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="folder of the features cache: each file's features and Eval cells, keyed by its content "
                        f"digest, the package version and the lexicons (default: ${data.CACHE_DIR_ENV}, else "
                        f"{_shown(data.DEFAULT_CACHE_DIR)})")
    p.add_argument("--no-cache", action="store_true", help="read every file again; neither use nor fill the cache")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:  # every check before any output: an error is the only line printed
        if args.difficulty and usi.parse_difficulty_mode(args.difficulty)[0] == "study":
            raise ValueError("--difficulty study is for the notebooks (the study's own simulators); "
                             "use all, published, frozen:PATH or baselines:DIR")
        json_out = data.check_output_path(args.json_out) if args.json_out is not None else None
        cards = protocol_cards(args.eval_results)
        difficulty, default_note = difficulty_mode(args.difficulty, cards)
        cache = None if args.no_cache else data.ScoreCache(args.cache_dir or data.default_cache_dir())
        inputs = data.load_inputs(args.human, args.eval_results, survey_dir=args.survey_dir, domain=args.domain,
                                  cache=cache)
        choice = resolve_difficulty(difficulty, inputs.simulators, domain=args.domain)
        scores = usi.score_all(inputs.human, inputs.simulators, choice.map, evals=inputs.evals,
                               ceiling_eval=inputs.ceiling_eval, run_split=args.run_split)
        if json_out is not None:
            write_json(scores, json_out, cards, rank_together=args.rank_together)
    except data.BAD_INPUT as err:
        return data.report_bad_input(err)
    try:
        print(usi.format_leaderboard(scores, rank_together=args.rank_together), flush=True)
    except BrokenPipeError:  # `... | head`: the reader has gone; no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    warning = None if args.allow_mixed_protocols else rollout_card.protocol_warning(cards)
    if warning:
        print(warning, file=sys.stderr)
    if default_note:
        print(f"note: {default_note}", file=sys.stderr)
    for note in score_notes(scores, choice, inputs.simulators, inputs.human, args.run_split, cards=cards,
                            rank_together=args.rank_together):
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # python -m usersim_utils.scoring
    sys.exit(main())
