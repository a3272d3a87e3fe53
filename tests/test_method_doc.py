"""docs/method.md is the method in the repository's own words, and the only reference the
code cites: every lexicon and survey option of the code appears in it verbatim."""

from __future__ import annotations

import re

import pytest

from usersim_utils import features, paths, survey

METHOD = paths.REPO_ROOT / "docs" / "method.md"
TEXT = METHOD.read_text(encoding="utf-8")
#: Outside documents the code used to cite; a clone of the repository does not have them.
OUTSIDE_SPEC = re.compile(r"usi\.md|data-formats\.md|study-harness\.md")
SECTION_HEADING = re.compile(r"^## (\d+)\. ", re.MULTILINE)
CITED_SECTION = re.compile(r"docs/method\.md §(\d+)")


def _section(title: str) -> str:
    """The text of the ``### title`` subsection (up to the next heading of level 2 or 3)."""
    start = TEXT.index(f"### {title}\n")
    end = re.compile(r"^##", re.MULTILINE).search(TEXT, start + 4)
    return TEXT[start:end.start() if end else len(TEXT)]


def _code_lexicons() -> dict[str, str]:
    """Every pattern of features.py as it must appear: IDS alternative by alternative."""
    out = {name: pattern for name, pattern in features.LEXICONS.items() if name != "IDS"}
    out.update({f"IDS[{i}]": alt for i, alt in enumerate(features.IDS_ALTERNATIVES)})
    return out


@pytest.mark.parametrize(("name", "pattern"), sorted(_code_lexicons().items()))
def test_every_lexicon_appears_verbatim_as_a_whole_line(name: str, pattern: str) -> None:
    assert f"\n{pattern}\n" in TEXT, f"{name} is not in docs/method.md exactly as in features.py"


def test_the_lexicon_section_holds_no_other_pattern() -> None:
    blocks = re.findall(r"```text\n(.*?)\n```", _section("Lexicons"), flags=re.DOTALL)
    assert sorted(blocks) == sorted(_code_lexicons().values())
    ids_joined = "|".join(features.IDS_ALTERNATIVES)
    assert features.LEXICONS["IDS"] == ids_joined  # the doc shows the alternatives of this join


@pytest.mark.parametrize("item", survey.SURVEY_ITEMS)
def test_every_survey_item_row_lists_its_options_in_order_with_values(item: str) -> None:
    rows = [line for line in TEXT.splitlines() if line.startswith(f"| `{item}` |")]
    assert len(rows) == 1, f"no single table row for {item}"
    expected = ", ".join(f'"{option}" = {value}' for option, value in survey.SURVEY_OPTIONS[item].items())
    assert f"| {survey.SURVEY_QUESTIONS[item]} | {expected} |" in rows[0]


def test_every_feature_and_dimension_is_described() -> None:
    for name, group in features.DIMENSIONS.items():
        rows = [line for line in TEXT.splitlines() if f"(`{name}`)" in line]
        assert len(rows) == 1, name
        assert re.findall(r"`(\w+)`", rows[0].split("|")[2]) == list(group), name
    for feature in features.FEATURES:
        assert re.search(rf"^\| D\d [a-z]+ \| `{feature}` \|", TEXT, re.MULTILINE), feature


def test_sections_are_numbered_in_order() -> None:
    numbers = [int(n) for n in SECTION_HEADING.findall(TEXT)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 13


def test_cited_sections_exist() -> None:
    sections = {int(n) for n in SECTION_HEADING.findall(TEXT)}
    for path in sorted(paths.REPO_ROOT.glob("usersim_utils/**/*.py")):
        for number in CITED_SECTION.findall(path.read_text(encoding="utf-8")):
            assert int(number) in sections, f"{path.name} cites docs/method.md §{number}, which does not exist"


def test_code_cites_only_method_doc() -> None:
    offenders = []
    for path in sorted(paths.REPO_ROOT.glob("usersim_utils/**/*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # a bare "spec §6" or "(§4)" is a citation of the outside spec too
            if OUTSIDE_SPEC.search(line) or ("§" in line and "docs/method.md" not in line):
                offenders.append(f"{path.relative_to(paths.REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "cite docs/method.md instead:\n" + "\n".join(offenders)
