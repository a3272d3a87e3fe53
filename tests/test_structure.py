"""The package's structure: every module imports, no two modules import each other, directly
or through others (each could then be read only with the other), and no module is longer than
:data:`MAX_MODULE_LINES` (one module, one job).

The import graph is read from the source with ``ast``, as Python runs it on import:

* ``import usersim_utils.x``, ``from . import x``, ``from .x import y`` and ``from .. import x``
  are edges to the module, and to every package above it that the importer is not inside
  (importing ``usersim_utils.data.tables`` runs ``usersim_utils/data/__init__.py`` first);
* imports inside functions count: they run, later;
* imports under ``if TYPE_CHECKING:`` (annotations only) and ``if __name__ == "__main__":``
  (run as a script only, never on import) are not edges of the import graph; the second kind
  is listed in :data:`ENTRY_POINT_IMPORTS`, so that a new one is seen, and the first kind
  must not close a cycle either (:func:`test_no_cycles_through_type_only_imports`): two
  modules that name each other's types are one job split in two.

No alias layer either: no module of the package is imported as ``scorer`` (the old name of
``scoring``), and no module keeps names alive for old code (``__getattr__`` fallbacks,
``sys.modules`` swaps, re-exports marked ``noqa: F401``).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from usersim_utils import paths

PACKAGE = "usersim_utils"
PACKAGE_DIR = paths.REPO_ROOT / PACKAGE

#: Cycles still in the package, each as its sorted modules. None: keep it so.
KNOWN_CYCLES: set[tuple[str, ...]] = set()
#: Imports under ``if TYPE_CHECKING:`` that still close a cycle: (module, imported module).
#: None: keep it so.
KNOWN_TYPE_ONLY_CYCLE_EDGES: set[tuple[str, str]] = set()
#: Imports that run only when a module is run as a script: (module, imported module).
ENTRY_POINT_IMPORTS: set[tuple[str, str]] = set()
#: Lines a module of the package may have: past it a module does more than one job and is
#: split along its seam (the theme and export in figures, the chart builders in charts).
MAX_MODULE_LINES = 600
#: The one module allowed a module-level ``__getattr__``: it imports its own submodules on
#: first use (the runner loads litellm), and keeps no old name.
LAZY_PACKAGES = {"usersim_utils.rollout"}


def module_names() -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package (``__init__`` as its package)."""
    names = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(paths.REPO_ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


Imports = list[ast.Import | ast.ImportFrom]


def _imports(tree: ast.AST) -> tuple[Imports, Imports, Imports]:
    """``(imports run on import, imports under a __main__ guard, imports under
    if TYPE_CHECKING)`` of a module's tree."""
    on_import: Imports = []
    as_script: Imports = []
    type_only: Imports = []

    def walk(node: ast.AST, into: list) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            into.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                walk(child, type_only)
            for child in node.orelse:
                walk(child, into)
            return
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            for child in node.body:
                walk(child, as_script)
            for child in node.orelse:
                walk(child, into)
            return
        for child in ast.iter_child_nodes(node):
            walk(child, into)

    walk(tree, on_import)
    return on_import, as_script, type_only


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The package's modules that ``node``, in ``module``, imports."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join([*base, node.module] if node.module else base)
    else:
        stem = node.module or ""
    found = {stem} if stem in modules else set()
    for alias in node.names:  # `from . import x` / `from .data import tables`: submodules
        if f"{stem}.{alias.name}" in modules:
            found.add(f"{stem}.{alias.name}")
    return found


def _with_parents(source: str, target: str) -> set[str]:
    """``target`` and the packages above it that ``source`` is not inside (those run first)."""
    parts = target.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {t for t in chain if not (source == t or source.startswith(t + "."))}


def import_graph(*, type_only: bool = False) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """``({module: modules it imports}, {(module, module imported only as a script)})``;
    with ``type_only``, imports under ``if TYPE_CHECKING:`` are edges too."""
    files = module_names()
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    scripts: set[tuple[str, str]] = set()
    for module, path in files.items():
        on_import, as_script, for_types = _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        is_package = path.name == "__init__.py"
        for node in [*on_import, *(for_types if type_only else [])]:
            for target in _targets(module, is_package, node, modules):
                graph[module] |= _with_parents(module, target)
        for node in as_script:
            scripts |= {(module, target) for target in _targets(module, is_package, node, modules)}
    return graph, scripts


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (or a module importing
    itself), each as its sorted modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.add(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_sees_cycles_through_packages() -> None:
    graph = {"p": {"p.a"}, "p.a": set(), "p.b": {"q"}, "q": {"p.a", "p"}, "r": {"r"}}
    assert cycles(graph) == {("r",)}
    graph["p"].add("p.b")  # p runs p.b, which imports q, which needs p
    assert cycles(graph) == {("p", "p.b", "q"), ("r",)}
    assert _with_parents("usersim_utils.overview", "usersim_utils.data.tables") == {
        "usersim_utils.data", "usersim_utils.data.tables"}
    assert _with_parents("usersim_utils.data.cli", "usersim_utils.data.tables") == {"usersim_utils.data.tables"}


def test_no_import_cycles() -> None:
    graph, _ = import_graph()
    assert graph["usersim_utils.overview"] >= {"usersim_utils.data", "usersim_utils.data.tables"}  # parents count
    assert cycles(graph) == KNOWN_CYCLES


def test_no_cycles_through_type_only_imports() -> None:
    graph, _ = import_graph(type_only=True)
    assert graph["usersim_utils.handover"] >= {"usersim_utils.data.study"}  # its annotations' import counts
    for module, target in KNOWN_TYPE_ONLY_CYCLE_EDGES:
        assert target in graph[module], (module, target)  # gone: drop it from the known edges
        graph[module].discard(target)
    assert cycles(graph) == KNOWN_CYCLES


def test_script_only_imports_are_the_known_entry_points() -> None:
    _, scripts = import_graph()
    assert scripts == ENTRY_POINT_IMPORTS


def _imported_names(tree: ast.AST) -> set[str]:
    """Every dotted module name and imported name of a tree's imports (``from . import x``
    gives ``x``; ``import a.b as c`` gives ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {node.module or ""} | {alias.name for alias in node.names}
    return names


def _code_sources() -> dict[str, str]:
    """``{file: Python source}`` of the package, tests, benchmarks and the notebooks' code
    cells (IPython magics dropped)."""
    sources = {}
    for folder in (PACKAGE, "tests", "benchmarks", "docs"):
        for path in sorted((paths.REPO_ROOT / folder).rglob("*.py")):
            sources[str(path.relative_to(paths.REPO_ROOT))] = path.read_text(encoding="utf-8")
    for path in sorted((paths.REPO_ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        lines = [line for cell in code for line in cell.splitlines() if not line.lstrip().startswith(("%", "!"))]
        sources[str(path.relative_to(paths.REPO_ROOT))] = "\n".join(lines)
    return sources


def test_nothing_imports_the_old_scorer() -> None:
    """``scorer`` was the old name of ``scoring``: no module of that name, and no import of it."""
    assert not (PACKAGE_DIR / "scorer.py").exists()
    old = f"{PACKAGE}.scorer"
    importers = [file for file, source in _code_sources().items()
                 if any(name == "scorer" or name == old or name.startswith(old + ".")
                        for name in _imported_names(ast.parse(source, filename=file)))]
    assert importers == []


def test_no_module_is_over_the_size_limit() -> None:
    lengths = {str(path.relative_to(paths.REPO_ROOT)): len(path.read_text(encoding="utf-8").splitlines())
               for path in module_names().values()}
    assert {file: n for file, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_module_keeps_old_names_alive() -> None:
    """No ``__getattr__`` fallback (but :data:`LAZY_PACKAGES`), no ``sys.modules`` swap of
    the module itself, no re-export kept by ``noqa: F401``."""
    for module, path in module_names().items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        top_functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert "__getattr__" not in top_functions or module in LAZY_PACKAGES, module
        assert "sys.modules[__name__]" not in source, module
        assert "noqa: F401" not in source, module


#: The layers of the module map (usersim_utils/__init__.py): a module may import its own
#: layer and those below. A package name covers its modules.
LAYERS: dict[str, int] = {
    **dict.fromkeys(["schema", "paths", "errors", "atomic", "command_line"], 0),
    **dict.fromkeys(["ids", "survey", "features", "usi", "stats"], 1),
    **dict.fromkeys(["trajectories", "data", "overview", "demo", "scoring", "handover", "published", "taubench",
                     "rollout"], 2),
    **dict.fromkeys(["behavior", "feedback", "uncertainty", "fidelity", "arena", "matched_design",
                     "matched_comparison", "baselines", "equivalence", "matched_ranking", "power", "inflation",
                     "distinguish", "diversity", "audit", "calibrate"], 3),
    **dict.fromkeys(["figures", "charts", "provenance", "notebooks"], 4),
}


def layer_of(module: str) -> int:
    """The layer of a module of the package; fails for one missing from :data:`LAYERS`."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package itself: a docstring and __version__
    assert parts[1] in LAYERS, f"{module} is not in the module map (usersim_utils/__init__.py, LAYERS here)"
    return LAYERS[parts[1]]


def test_no_module_imports_a_higher_layer() -> None:
    graph, _ = import_graph()
    upward = {(m, t) for m, targets in graph.items() for t in targets if layer_of(t) > layer_of(m)}
    assert upward == set()


#: The layers inside each subpackage: a module may import the package's modules of its own
#: layer and those below, annotations (``if TYPE_CHECKING:``) included. ``__init__`` is the
#: package's entry and is left out; ``__main__`` runs the command, on top.
SUBPACKAGE_LAYERS: dict[str, dict[str, int]] = {
    "rollout": {
        # conventions and plumbing: prompts, secrets, deadlines, what a run produced
        **dict.fromkeys(["prompts", "redact", "deadline", "persona", "summary", "errors"], 0),
        # replies, the cache and HTTP; cards and the embedded model
        **dict.fromkeys(["replies", "retry", "cache", "http_chat", "card", "comparability", "forecast",
                         "local_model", "model_check"], 1),
        "client": 2,
        "protocol": 3,  # settings, the simulator's prompts, the survey
        "conversation": 4,  # the one loop and the Agent interface
        **dict.fromkeys(["function_calling", "harness"], 5),  # the agents
        "play": 6,
        "runner": 7,
        "__main__": 8,
    },
    "data": {**dict.fromkeys(["cache", "download", "io"], 0), **dict.fromkeys(["tables", "validate"], 1),
             **dict.fromkeys(["inputs", "study"], 2), "cli": 3, "__main__": 4},
    "demo": {**dict.fromkeys(["feature_tables", "phrases", "styles"], 0),
             **dict.fromkeys(["conversations", "known_answer", "resampled_rows"], 1),
             **dict.fromkeys(["shapes", "surveys"], 2), "study": 3, "writer": 4},
    "calibrate": {**dict.fromkeys(["directives", "split", "targets"], 0),
                  **dict.fromkeys(["cards", "proposer", "scripted_user"], 1),
                  "play": 2, "budget": 3, "search": 4, "report": 5, "cli": 6, "__main__": 7},
    "audit": {"rules": 0, "rates": 1, "cli": 2, "__main__": 3},
    "distinguish": {**dict.fromkeys(["crossval", "two_sample"], 0), "c2st": 1, "text": 2, "cli": 3, "__main__": 4},
    "diversity": {"lexical": 0, "sides": 1, "paired": 2, "cli": 3, "__main__": 4},
    "feedback": {**dict.fromkeys(["answers", "free_text", "outcomes", "reward"], 0), "agreement": 1},
    "uncertainty": {"arrays": 0, "weighted": 1, "ceiling": 2, "bootstrap": 3},
}


def inner_layer_of(module: str) -> int | None:
    """The layer of a subpackage's module in its package (None for a top-level module or a
    package's ``__init__``); fails for one missing from :data:`SUBPACKAGE_LAYERS`."""
    parts = module.split(".")
    if len(parts) < 3:
        return None
    layers = SUBPACKAGE_LAYERS.get(parts[1], {})
    assert parts[2] in layers, f"{module} is not in SUBPACKAGE_LAYERS (tests/test_structure.py)"
    return layers[parts[2]]


def test_no_module_imports_a_higher_layer_of_its_subpackage() -> None:
    graph, _ = import_graph(type_only=True)
    assert "usersim_utils.rollout.summary" in graph["usersim_utils.rollout.errors"]  # annotations count
    upward = set()
    for module, targets in graph.items():
        layer = inner_layer_of(module)
        package = ".".join(module.split(".")[:2]) + "."
        for target in targets:
            inner = inner_layer_of(target) if target.startswith(package) else None
            if layer is not None and inner is not None and inner > layer:
                upward.add((module, target))
    assert upward == set()


def test_the_module_map_names_every_module() -> None:
    import usersim_utils

    top = {m.split(".")[1] for m in module_names() if "." in m}
    assert top <= set(LAYERS)
    for name in top:
        assert f"``{name}" in usersim_utils.__doc__, name


def test_the_pure_index_imports_no_io_module() -> None:
    """usi computes; reading and writing files is scoring's and data's job."""
    graph, _ = import_graph()
    assert not graph["usersim_utils.usi"] & {"usersim_utils.scoring", "usersim_utils.data", "usersim_utils.handover"}
    assert graph["usersim_utils.schema"] == set()  # the conventions depend on nothing


@pytest.mark.parametrize("module", sorted(module_names()))
def test_every_module_imports(module: str) -> None:
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    if module.endswith(".__main__"):  # runs its command on import
        return
    importlib.import_module(module)


@pytest.mark.slow
@pytest.mark.parametrize("module", ["usersim_utils.demo", "usersim_utils.data.study", "usersim_utils.overview",
                                    "usersim_utils.handover", "usersim_utils.scoring", "usersim_utils.usi"])
def test_modules_once_in_a_cycle_import_first_in_a_fresh_interpreter(module: str) -> None:
    """Import order cannot matter without cycles; checked for the modules that had one
    (every module, one interpreter each, takes minutes)."""
    env = {**os.environ, "LITELLM_OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
