"""The report site in a real browser: headless Chromium (Debian's package, driven by
Playwright) opens every page from a server on 127.0.0.1 with every other host cut off.

Each page must load with no console error and no failed or outside request, every chart must
be drawn (a non-empty SVG or canvas), and every internal link must resolve. Screenshots of the
landing page and of a notebook page go to reports/screenshots/. The site is the one the
notebooks make on the SYNTHETIC demo panel (tests/site_sandbox.py), built once per session
and shared with tests/test_site.py.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from usersim_utils import paths

import site_sandbox

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SCREENSHOTS = paths.REPORTS_DIR / "screenshots"
CHART_TIMEOUT_MS = 20_000

pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make run && make site` gives it on the demo panel (tests/site_sandbox.py)."""
    return site_sandbox.site_run(tmp_path_factory.getbasetemp()).demo_site


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The site served on 127.0.0.1 (a free port), quietly."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory):
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (make setup installs it)")
    if executable is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium package)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def _pages(site: Path) -> list[str]:
    """Every page of the site (``_static`` holds the theme's templates, not pages)."""
    relative = (p.relative_to(site) for p in site.rglob("*.html"))
    return sorted(r.as_posix() for r in relative if r.parts[0] != "_static")


def _local_target(site: Path, page_url: str, href: str, base: str) -> Path | None:
    """The file an internal link points to, or None for a link to another host."""
    url = urlsplit(urljoin(page_url, href))
    if url.scheme not in ("http", "https") or f"{url.scheme}://{url.netloc}/" != base:
        return None
    target = site / unquote(url.path).lstrip("/")
    return target / "index.html" if target.is_dir() else target


def _visit(context, site: Path, base: str, page: str) -> tuple[list[str], dict]:
    """Open one page; returns (problems, facts)."""
    problems: list[str] = []
    tab = context.new_page()

    def outside(route) -> None:  # belt and braces beside the resolver rule: nothing leaves 127.0.0.1
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request to another host: {route.request.url}")
            route.abort()

    tab.route("**/*", outside)
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    tab.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
           if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # the browser asks on its own
    tab.goto(base + page, wait_until="load")
    n_charts = tab.locator("div.usersim-chart").count()
    if n_charts:
        try:
            tab.wait_for_function(
                """() => [...document.querySelectorAll('div.usersim-chart')].every(el => {
                       const g = el.querySelector('svg.marks, canvas.marks');
                       if (!g) return false;
                       const box = g.getBoundingClientRect();
                       const drawn = g.tagName === 'CANVAS' || g.querySelector('path, rect, line, text, symbol');
                       return box.width > 0 && box.height > 0 && drawn;
                   })""",
                timeout=CHART_TIMEOUT_MS,
            )
        except Exception:  # Playwright's TimeoutError: report which charts stayed blank
            blank = tab.evaluate("""() => [...document.querySelectorAll('div.usersim-chart')]
                .filter(el => !el.querySelector('svg.marks, canvas.marks')).map(el => el.dataset.spec)""")
            problems.append(f"charts not drawn: {blank}")
    hrefs = tab.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    for href in hrefs:
        if href.startswith(("mailto:", "javascript:")):
            continue
        target = _local_target(site, base + page, href, base)
        if target is not None and not target.is_file():
            problems.append(f"broken link: {href}")
    facts = {"charts": n_charts, "links": len(hrefs), "tab": tab}
    return problems, facts


def test_every_page_loads_draws_its_charts_and_links_locally(browser_context, site: Path, server: str) -> None:
    pages = _pages(site)
    assert "index.html" in pages and any(p.startswith("notebooks/") for p in pages)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    notebook_pages = [p for p in pages if p.startswith("notebooks/")]
    shot_notebook = next((p for p in notebook_pages if "04_" in p), notebook_pages[0])
    all_problems: dict[str, list[str]] = {}
    charts = 0
    for page in pages:
        problems, facts = _visit(browser_context, site, server, page)
        charts += facts["charts"]
        if page == "index.html":
            facts["tab"].screenshot(path=str(SCREENSHOTS / "landing.png"), full_page=True)
        if page == shot_notebook:  # the viewport around the notebook's first chart
            facts["tab"].locator("div.usersim-chart").first.scroll_into_view_if_needed()
            facts["tab"].screenshot(path=str(SCREENSHOTS / "notebook.png"), full_page=False)
        facts["tab"].close()
        if problems:
            all_problems[page] = sorted(set(problems))
    assert not all_problems, all_problems
    assert charts >= 5
    assert (SCREENSHOTS / "landing.png").stat().st_size > 10_000
