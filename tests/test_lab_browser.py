"""The notebooks' charts in JupyterLab, offline, in a real browser: a reader with no network,
in a notebook nobody trusted, still sees every chart.

The test starts JupyterLab on 127.0.0.1 (a free port, a token) over a temporary folder
holding a small notebook that draws with usersim_utils.charts, and a copy of it executed by
papermill as `make run` does; headless Chromium (tests/browser.py) reaches no other host. The
executed notebook is opened as a newcomer opens one from reports/notebooks/: not trusted (the
server's signature database is the test's own, empty), so JupyterLab runs no script in it and
sanitises its HTML. Both as opened and after Run All, every chart must be drawn (an SVG of
marks in its output area), with no "Error loading script", no request to another host and no
console error.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser import chromium_context, watch

pytestmark = pytest.mark.slow

SERVER_START_S = 60
LOAD_TIMEOUT_MS = 60_000
#: The charts of :data:`CELLS`: one per helper kind (layered intervals with offsets and
#: facets, box-and-whisker facets, binned histograms), each compiled by vl-convert and drawn
#: by JupyterLab's own Vega.
N_CHARTS = 3
CELLS = (
    "import pandas as pd\nfrom usersim_utils import charts, figures\nfigures.use_theme()",
    "intervals = pd.DataFrame({'name': ['human', 'SYNTHETIC-terse'] * 2,\n"
    "                          'interval': ['published'] * 2 + ['centred'] * 2,\n"
    "                          'estimate': [86.0, 52.0, 86.0, 52.0], 'low': [85.0, 51.0, 80.0, 49.0],\n"
    "                          'high': [87.0, 53.0, 91.0, 55.0], 'domain': ['airline', 'retail'] * 2})\n"
    "charts.interval_chart(intervals, 'name', group='interval', facet='domain', reference=50)",
    "summary = pd.DataFrame({'label': ['human', 'SYNTHETIC-terse'], 'feature': ['turns', 'turns'],\n"
    "                        'q10': [1, 2], 'q25': [2, 3], 'q50': [3, 4], 'q75': [4, 5], 'q90': [5, 6],\n"
    "                        'mean': [3.1, 4.2]})\n"
    "charts.quantile_boxes(summary)",
    "counts = pd.DataFrame({'value': [1, 2, 3, 1, 2], 'count': [4, 6, 2, 3, 5],\n"
    "                       'label': ['human'] * 3 + ['SYNTHETIC-terse'] * 2, 'feature': ['turns'] * 5})\n"
    "charts.distribution_facets(counts, kind='histogram')",
)
#: The lab's settings for the test: no question about Jupyter's news over the notebook.
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}
KERNEL_NAME = "Python 3 (ipykernel)"
#: An output area holding a drawn chart: vega-embed's SVG with at least one mark in it.
DRAWN_CHARTS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output svg.marks')]
    .filter(svg => svg.getBoundingClientRect().width > 0 && svg.querySelector('path, rect, line, text')).length"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``charts.ipynb`` (no outputs) and ``reports/notebooks/charts.ipynb`` (executed by papermill)."""
    papermill = pytest.importorskip("papermill")
    root = tmp_path_factory.mktemp("lab")
    kernelspec = {"name": "python3", "display_name": KERNEL_NAME, "language": "python"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
                                  metadata={"kernelspec": kernelspec})
    nbformat.write(nb, root / "charts.ipynb")
    executed = root / "reports" / "notebooks" / "charts.ipynb"
    executed.parent.mkdir(parents=True)
    papermill.execute_notebook(str(root / "charts.ipynb"), str(executed), kernel_name="python3",
                               progress_bar=False, cwd=str(root))
    return root


@pytest.fixture(scope="module")
def lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab serving ``lab_root`` on 127.0.0.1; yields its base URL (the token is a query
    parameter of every page opened). Its configuration, data and runtime folders are the
    test's own: no user setting applies and no notebook is trusted. Always stopped."""
    home = tmp_path_factory.mktemp("jupyter")
    for plugin, settings in LAB_SETTINGS.items():
        path = home / "config" / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    port, token = _free_port(), secrets.token_hex(16)
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab_root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.25)
        yield f"{base}|{token}"
    finally:
        _stop(server, f"{base}api/shutdown?token={token}")
        log.close()


def _stop(server: subprocess.Popen[bytes], shutdown_url: str) -> None:
    """Stop JupyterLab: its own shutdown (kernels first), then a signal, then a kill."""
    try:
        urllib.request.urlopen(urllib.request.Request(shutdown_url, method="POST"), timeout=5).close()
    except OSError:
        server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(tmp_path_factory.mktemp("chromium-profile"), {"width": 1400, "height": 1000}) as context:
        yield context


def _open(context: Any, lab: str, notebook: str, workspace: str) -> tuple[Any, list[str]]:
    """A tab showing ``notebook`` (a path under the lab's root) alone in a fresh JupyterLab
    ``workspace`` (else the lab reopens the notebooks of the last one), and its problems."""
    base, token = lab.split("|")
    tab = context.new_page()
    problems = watch(tab, base)
    tab.goto(f"{base}lab/workspaces/{workspace}/tree/{notebook}?token={token}", wait_until="load")
    tab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=LOAD_TIMEOUT_MS)
    return tab, problems


def _wait_for_charts(tab: Any, problems: list[str]) -> int:
    """Wait (bounded) until :data:`N_CHARTS` charts are drawn; returns how many are."""
    try:
        tab.wait_for_function(f"() => ({DRAWN_CHARTS_JS})() >= {N_CHARTS}", timeout=LOAD_TIMEOUT_MS)
    except Exception:  # Playwright's TimeoutError: the count below says what was drawn
        problems.append("charts not drawn in time")
    return tab.evaluate(f"({DRAWN_CHARTS_JS})()")


def _wait_for_kernel(tab: Any) -> None:
    """Wait (bounded) until the notebook's kernel is idle. A lab opened a moment ago may not
    have listed its kernels yet and asks which one to start: the notebook's own is chosen."""
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        choose = tab.locator(".jp-Dialog", has_text="Select Kernel").locator(".jp-mod-accept")
        if choose.count():
            choose.click()
        if (tab.locator(".jp-NotebookPanel-toolbar .jp-KernelName").inner_text().strip() == KERNEL_NAME
                and tab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count()):
            return
        time.sleep(0.25)
    pytest.fail(f"the kernel did not start within {LOAD_TIMEOUT_MS / 1000:.0f} s")


def _script_errors(tab: Any) -> int:
    return tab.get_by_text("Error loading script").count()


def test_an_executed_notebook_draws_its_charts_as_opened(lab: str, browser_context: Any) -> None:
    tab, problems = _open(browser_context, lab, "reports/notebooks/charts.ipynb", "as-opened")
    try:
        drawn = _wait_for_charts(tab, problems)
        assert (drawn, _script_errors(tab), problems) == (N_CHARTS, 0, [])
    finally:
        tab.close()


def test_charts_draw_after_run_all(lab: str, browser_context: Any) -> None:
    tab, problems = _open(browser_context, lab, "charts.ipynb", "run-all")
    try:
        _wait_for_kernel(tab)
        assert tab.evaluate(f"({DRAWN_CHARTS_JS})()") == 0  # nothing drawn before the run
        tab.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        tab.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        drawn = _wait_for_charts(tab, problems)
        assert (drawn, _script_errors(tab), problems) == (N_CHARTS, 0, [])
    finally:
        tab.close()
