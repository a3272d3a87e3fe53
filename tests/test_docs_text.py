"""The prose stays true to the code (a reader follows it): the files it names exist, the README's
layout lists the package as it is, the teaching plan says why the demo's numbers are not the
paper's, and the README says where the SYNTHETIC label is as the figures carry it."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd

from usersim_utils import figures, paths

README = paths.REPO_ROOT / "README.md"
DOCS = (README, paths.REPO_ROOT / "data" / "README.md", *sorted((paths.REPO_ROOT / "docs").glob("*.md")))
PACKAGE = paths.REPO_ROOT / "usersim_utils"


def test_every_file_of_the_package_the_docs_name_exists() -> None:
    named = {(doc.name, path) for doc in DOCS for path in re.findall(r"usersim_utils/[\w/.]*\w/?",
                                                                     doc.read_text(encoding="utf-8"))}
    assert named, "no path found: the pattern is wrong"
    assert sorted(entry for entry in named if not (paths.REPO_ROOT / entry[1]).exists()) == []


def layout_entries() -> list[str]:
    """The module and package names the README's layout lists under ``usersim_utils/``."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    lines = block.split("usersim_utils/", 1)[1].split("\ndata/", 1)[0].splitlines()[1:]
    names = []
    for line in lines:
        if line.startswith("  ") and not line.startswith("   "):  # an entry, not a wrapped description
            first = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            names += [word for word in first.split() if word.endswith((".py", "/"))]
    return names


def test_the_readme_layout_lists_the_package_as_it_is() -> None:
    listed = layout_entries()
    assert "scoring.py" in listed and "data/" in listed
    assert [name for name in listed if not (PACKAGE / name).exists()] == []
    actual = {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert actual - set(listed) == set()  # every subpackage is listed


def test_the_teaching_plan_says_the_demo_numbers_are_not_the_papers() -> None:
    text = (paths.REPO_ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    first_step = text.split("### 0:00-0:05", 1)[1].split("\n### ", 1)[0]
    assert "92.9" in first_step and "76.0" in first_step and "paper" in first_step
    assert "SYNTHETIC" in first_step and "not the paper's" in first_step


def test_the_readme_puts_the_synthetic_label_where_the_figures_carry_it(tmp_path) -> None:
    """The label is inside each demo figure (its caption), not in the figure's file name."""
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_point().encode(x="x:Q", y="y:Q")
    figures.save(chart, "01_reward_rate", synthetic=True, caption="A caption.", folder=tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["01_reward_rate.png", "01_reward_rate.svg"]
    assert figures.SYNTHETIC_PREFIX.strip(" -") in (tmp_path / "01_reward_rate.svg").read_text(encoding="utf-8")
    claim = README.read_text(encoding="utf-8").split("labelled as such", 1)[1].split("docs/method.md §10", 1)[0]
    labels_in_file_names = "SYNTHETIC" in " ".join(written)
    assert ("every banner, file name" in " ".join(claim.split())) == labels_in_file_names
    assert "inside every figure" in " ".join(claim.split())
