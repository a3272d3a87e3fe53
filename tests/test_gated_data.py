"""Whether data is the SYNTHETIC demo is proven by the generator's stamp, never by a path.

The attack: the gated human study copied under a folder whose name
contains SYNTHETIC was treated as the demo panel, so the audit wrote human excerpts, the
notebooks printed human turns and the site published them. Here a real-looking study
(the demo panel's files with a canary planted in every kind of text, the demo's stamp
copied along) sits under ``real-data-NOT-SYNTHETIC/``; every check that decides "may I
show its text?" must call it real: the study loader (notebooks 05 and 07 show examples
only when ``study.synthetic``), provenance, the audit and the site's quote filter.
The full notebooks-to-site run on the same attack is tests/test_site.py (slow).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from usersim_utils import audit, data, demo, paths, provenance

import site_sandbox

sys.path.insert(0, str(paths.REPO_ROOT / "docs"))
import build_site  # noqa: E402

CANARY = "CANARYc0ffee"


@pytest.fixture(scope="module")
def real_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``(study folder, {where: marker})``: the demo panel, stamp included, copied under a folder
    named SYNTHETIC-like, with markers planted in a human turn, a free-text answer and a rollout."""
    study = tmp_path_factory.mktemp("attack") / "real-data-NOT-SYNTHETIC" / "SYNTHETIC-tau-usi"
    shutil.copytree(demo.ensure_demo_panel(), study)
    assert (study / demo.STAMP_FILE).is_file()  # the demo's own stamp came along
    return study, site_sandbox.plant_markers(study, CANARY)


def test_the_demo_panel_is_proven_by_its_stamp_folder_and_files() -> None:
    panel = demo.ensure_demo_panel()
    assert demo.is_demo_data(panel)
    assert demo.is_demo_data(panel / paths.HUMAN_FILE)
    assert all(demo.is_demo_data(p) for p in (panel / paths.EVAL_RESULTS_SUBDIR).glob("*.json"))
    assert data.load_study(panel).synthetic


def test_a_real_study_under_a_synthetic_name_is_real_everywhere(real_study: tuple[Path, dict[str, str]]) -> None:
    study_dir, markers = real_study
    assert not demo.is_demo_data(study_dir)
    assert not demo.is_demo_data(study_dir / paths.HUMAN_FILE)  # its digest is not the stamp's
    study = data.load_study(study_dir)
    assert not study.synthetic and "SYNTHETIC DEMO DATA" not in study.banner()
    # provenance checks the folder again: an object that claims to be synthetic is not believed
    assert provenance.data_state(SimpleNamespace(root=study_dir, synthetic=True))["synthetic"] is False
    assert any(markers["turn"] in str(m["content"]) for r in study.records.values() for m in r["conversation"])


def test_the_audit_writes_no_excerpt_of_a_real_study(real_study: tuple[Path, dict[str, str]], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    study_dir, _ = real_study
    files = sorted(str(p) for p in (study_dir / paths.EVAL_RESULTS_SUBDIR).glob("*.json"))
    out = tmp_path / "audit.json"
    assert audit.main(["--eval-results", *files, "--human", str(study_dir), "--json", str(out)]) == 0
    written = out.read_text()
    printed = capsys.readouterr()
    findings = json.loads(written)["findings"]
    assert findings and all(f["excerpt"] is None for f in findings)
    assert CANARY not in written + printed.out + printed.err
    # the same files as the demo panel's: excerpts, because the stamp proves every input
    panel = demo.ensure_demo_panel()
    demo_files = [str(panel / paths.EVAL_RESULTS_SUBDIR / Path(f).name) for f in files]
    shown = audit.run(demo_files, human_path=panel)
    assert shown.findings["excerpt"].notna().any()


def test_edited_or_added_files_are_not_demo_data(tmp_path: Path) -> None:
    panel = shutil.copytree(demo.ensure_demo_panel(), tmp_path / "SYNTHETIC-copy")
    assert demo.is_demo_data(panel)  # a byte-identical copy is still the generator's output
    foreign = panel / paths.EVAL_RESULTS_SUBDIR / "eval_results_real-model.json"
    foreign.write_text("{}")
    assert not demo.is_demo_data(panel) and not demo.is_demo_data(foreign)
    foreign.unlink()
    human = panel / paths.HUMAN_FILE
    human.write_bytes(human.read_bytes().replace(b"order", b"ordeR", 1))
    assert not demo.is_demo_data(panel) and not demo.is_demo_data(human)
    assert not demo.is_demo_data(tmp_path)  # no stamp at all
    stamp = panel / demo.STAMP_FILE
    stamp.write_text("not json")
    assert not demo.is_demo_data(panel / paths.SURVEY_SUBDIR)


def test_an_unusual_study_is_proven_by_its_stamp_wherever_it_is_written(tmp_path: Path) -> None:
    dest = demo.write_demo_panel(tmp_path / "airline-only", shape=demo.UNUSUAL_SHAPES["airline-only"])
    assert demo.is_demo_data(dest) and not demo.is_current(dest)
    assert data.load_study(dest).synthetic


def _provenance(root: Path, synthetic: bool) -> dict[str, dict]:
    return {"01_load_human_study": {"data": {"root": str(root), "synthetic": synthetic, "files": {}}}}


def test_the_site_quotes_filter_runs_on_a_real_study_flagged_synthetic(real_study: tuple[Path, dict[str, str]]) -> None:
    study_dir, markers = real_study
    flagged = _provenance(study_dir, synthetic=True)  # a provenance file that says "synthetic"
    assert not build_site.is_synthetic(flagged)  # no demo banner for a real study
    finder = build_site.study_finder(flagged)
    assert finder is not None
    records = json.loads((study_dir / paths.HUMAN_FILE).read_text())
    planted = next(m["content"] for r in records.values() for m in r["conversation"] if markers["turn"] in m["content"])
    assert finder.find(f"<td>{planted}</td>") is not None  # the page that printed it is withheld
    panel = demo.ensure_demo_panel()
    assert build_site.is_synthetic(_provenance(panel, synthetic=True))
    assert build_site.study_finder(_provenance(panel, synthetic=True)) is None
    mixed = {**_provenance(panel, True), "05_compare_feedback": _provenance(study_dir, True)["01_load_human_study"]}
    assert build_site.real_roots(mixed) == [study_dir]  # the real study's quotes are filtered even beside the demo
