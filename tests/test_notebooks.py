"""The committed notebooks follow the house rules (see usersim_utils.notebooks)."""

from __future__ import annotations

import nbformat
import pytest

from usersim_utils import notebooks, paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_the_collection_is_ordered_and_complete() -> None:
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers[:5] == [1, 2, 3, 4, 5]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_house_rules(path) -> None:
    assert notebooks.check_notebook(path) == []


def test_parameter_rules() -> None:
    good = "n_tasks: int = 4  # how many tasks\nname: str = ''  # empty: default\n"
    assert notebooks.parameter_problems(good) == []
    assert notebooks.parameter_problems("n = 4  # untyped\n") == ["line 1: not a typed assignment"]
    assert notebooks.parameter_problems("n: int = 4\n") == ["line 1: n has no comment"]
    assert notebooks.parameter_problems("n: int = len('ab')  # call\n") == ["line 1: n is not a literal"]


def test_strip_keeps_only_checked_outputs() -> None:
    nb = nbformat.v4.new_notebook()
    plain = nbformat.v4.new_code_cell("1 + 1")
    plain.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    checked = nbformat.v4.new_code_cell("print(2)", metadata={"tags": ["nbval-check-output"]})
    checked.outputs = [nbformat.v4.new_output("stream", text="2\n")]
    nb.cells = [plain, checked]
    notebooks.strip_notebook(nb)
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert nb.cells[1].outputs[0]["text"] == "2\n"
