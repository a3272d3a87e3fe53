"""The study the notebooks use: found, loaded and validated once (:func:`resolve_study`),
with its human sessions as tables and its simulator files listed (:class:`Study`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import demo, paths, schema
from ..errors import DataError, DataWarning
from .tables import count_warnings, sessions_table, surveys_table, turns_table
from .validate import load_human_sessions, load_survey_records


@dataclass(frozen=True, eq=False)
class Study:
    """The study's data, loaded and validated (see :func:`resolve_study`).

    ``records`` are the raw human sessions; ``sessions``, ``turns``, ``surveys`` the
    tables of :func:`sessions_table`, :func:`turns_table` and :func:`surveys_table`
    (label ``"human"``). ``eval_results`` and ``simulator_surveys`` map a label to
    its file; the rollout files are listed, not read (they are large). ``warnings``
    are the invalid survey answers of the human file, the simulator survey files and
    the re-ratings (all read and checked): kept, and scored as missing by the index
    (:attr:`invalid_answers` counts them per file and field).
    """

    root: Path
    synthetic: bool
    records: dict[str, dict]
    sessions: pd.DataFrame
    turns: pd.DataFrame
    surveys: pd.DataFrame
    eval_results: dict[str, Path]
    simulator_surveys: dict[str, Path]
    rerating_path: Path | None
    warnings: tuple[DataWarning, ...] = ()

    @property
    def invalid_answers(self) -> pd.DataFrame:
        """Invalid survey answers per file and field (:func:`count_warnings`)."""
        return count_warnings(self.warnings)

    def banner(self) -> str:
        """Markdown to show above any result: a loud warning on the synthetic demo
        panel, else where the data came from and its terms."""
        if self.synthetic:
            return (
                "## ⚠️ SYNTHETIC DEMO DATA ⚠️\n\n"
                f"**These results come from the generated demo panel (`{_display_path(self.root)}`), "
                "not from the human study.** They show that the method runs end to end; they "
                "say nothing about real users or real simulators. For the real data, accept "
                f"the terms at {schema.HF_DATASET_URL}, run `make download` (needs `HF_TOKEN`) or set "
                f"`${paths.STUDY_DIR_ENV}` / the `study_dir` parameter to a local copy."
            )
        return (
            f"**Data: the human study `{schema.HF_REPO_ID}`** from `{_display_path(self.root)}` "
            f"({len(self.sessions)} sessions, {len(self.eval_results)} simulator rollout files).\n\n"
            f"**Terms.** {schema.TERMS} Do not commit executed notebooks that show its rows."
        )


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def _labelled_files(folder: Path, prefix: str) -> dict[str, Path]:
    """``{label: file}`` for ``folder/<prefix><label>.json``, sorted by label."""
    if not folder.is_dir():
        return {}
    found = {schema.label_of(p, prefix): p for p in folder.glob(f"{prefix}*.json") if p.is_file()}
    return dict(sorted(found.items()))


def resolve_study(study_dir: str | os.PathLike[str] | None = None, *, allow_demo: bool = True) -> Study:
    """Find, load and validate the study.

    The folder is ``study_dir``, else ``$USERSIM_TAU_USI_DIR``, else
    ``data/raw/tau-usi`` (:func:`usersim_utils.paths.study_dir`). When it holds no
    ``data/tau_bench_tasks_unified.json``: an explicit ``study_dir`` or environment
    variable is an error (:class:`DataError` naming the path); otherwise the
    SYNTHETIC demo panel is generated if needed and used (``allow_demo``).
    """
    root = paths.study_dir(study_dir)
    if not (root / schema.HUMAN_FILE).is_file():
        explicit = bool(study_dir) or bool(os.environ.get(paths.STUDY_DIR_ENV))
        if explicit:
            origin = "study_dir" if study_dir else f"${paths.STUDY_DIR_ENV}"
            raise DataError(
                f"no {schema.HUMAN_FILE.as_posix()} in this folder (given by {origin}); "
                f"point it at a copy of {schema.HF_REPO_ID} or run `make download`",
                file=root,
            )
        if not allow_demo:
            raise DataError(
                f"no {schema.HUMAN_FILE.as_posix()} here; run `make download` (needs accepted "
                f"terms and HF_TOKEN) or set ${paths.STUDY_DIR_ENV}",
                file=root,
            )
        root = Path(demo.ensure_demo_panel())
    return load_study(root)


def load_study(root: str | os.PathLike[str]) -> Study:
    """Load and validate the study in ``root`` (which must hold the human file): the
    human file, and every survey file (simulators and re-ratings) for its warnings."""
    root = Path(root)
    found: list[DataWarning] = []
    records = load_human_sessions(root / schema.HUMAN_FILE, warnings=found)
    surveys_dir = root / schema.SURVEY_SUBDIR
    simulator_surveys = _labelled_files(surveys_dir, schema.SURVEY_PREFIX)
    rerating = simulator_surveys.pop(schema.RERATING_LABEL, None)
    for path in [*simulator_surveys.values(), *([rerating] if rerating else [])]:
        load_survey_records(path, warnings=found)
    return Study(
        root=root,
        synthetic=demo.is_demo_data(root),
        records=records,
        sessions=sessions_table(records),
        turns=turns_table(records, source="human"),
        surveys=surveys_table(records, label=schema.HUMAN_LABEL),
        eval_results=_labelled_files(root / schema.EVAL_RESULTS_SUBDIR, schema.EVAL_PREFIX),
        simulator_surveys=simulator_surveys,
        rerating_path=rerating,
        warnings=tuple(found),
    )


def show_banner(study: Study) -> None:
    """Display the study's banner: rendered markdown in IPython, plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(study.banner())
        return
    if get_ipython() is None:
        print(study.banner())
    else:
        display(Markdown(study.banner()))

