"""The report site in a real browser: headless Chromium (Debian's package, driven by
Playwright) opens every page from a server on 127.0.0.1 with every other host cut off.

Each page must load with no console error and no failed or outside request, every chart must
be drawn (a non-empty SVG or canvas), and every internal link must resolve. At 1,400 px and at
1,000 px wide, nothing may be wider than its column (the leaderboard and every chart fit it;
wide data tables and code scroll in a box that fits), and no two texts of a chart may overlap
or touch, nor a label be cut short. Screenshots of the landing page and of a notebook page go
to reports/screenshots/. The site is the one the
notebooks make on the SYNTHETIC demo panel (tests/site_sandbox.py), built once per session
and shared with tests/test_site.py.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from browser import chromium_context, watch

from usersim_utils import paths

import site_sandbox

SCREENSHOTS = paths.REPORTS_DIR / "screenshots"
CHART_TIMEOUT_MS = 20_000
#: The page widths checked: a laptop with the page's side bar, and a narrower window without it.
WIDTHS = (1400, 1000)
#: What a reader would see wrong at the current width, as one line each: an element past its
#: column (unless inside a scrolling box that fits: wide data frames, code), the leaderboard or
#: a chart not fitting it, two visible texts of a chart overlapping or closer than 1 px, a
#: label cut short with "…". Texts Vega hid (opacity 0, e.g. thinned tick labels) do not count.
LAYOUT_PROBLEMS_JS = """() => {
  const article = document.querySelector('article.bd-article') || document.body;  // search.html has no article
  const right = article.getBoundingClientRect().right + 1;
  const name = el => `${el.tagName.toLowerCase()}.${(el.getAttribute('class') || '').split(' ')[0]}`;
  const scrolls = el => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  const problems = [];
  for (const el of article.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= right) continue;
    let inFittingScroller = false;
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
      if (scrolls(a) && a.getBoundingClientRect().right <= right) { inFittingScroller = true; break; }
    }
    const mustFit = el.matches('svg.marks, .usersim-leaderboard table');
    if (mustFit || !inFittingScroller) problems.push(`${name(el)} ${Math.round(box.right - right)} px past its column`);
  }
  article.querySelectorAll('svg.marks').forEach((svg, i) => {
    const texts = [...svg.querySelectorAll('text')]
      .filter(t => t.textContent.trim() && t.getAttribute('opacity') !== '0' && getComputedStyle(t).opacity !== '0')
      .map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
    for (let a = 0; a < texts.length; a++) {
      const [ta, ra] = texts[a];
      if (ta.endsWith('…')) problems.push(`chart ${i + 1}: '${ta}' cut short`);
      for (let b = a + 1; b < texts.length; b++) {
        const [tb, rb] = texts[b];
        const across = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const down = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (across > -1 && down > 2) problems.push(`chart ${i + 1}: '${ta}' and '${tb}' overlap`);
      }
    }
  });
  return problems;
}"""

pytestmark = pytest.mark.slow


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
    with chromium_context(tmp_path_factory.mktemp("chromium-profile"), {"width": WIDTHS[0], "height": 900}) as context:
        yield context


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
    """Open one page at the first of :data:`WIDTHS`; returns (problems, facts)."""
    tab = context.new_page()
    problems = watch(tab, base)
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
    for width in WIDTHS:  # the same tab resized: the page reflows, the charts stay drawn
        tab.set_viewport_size({"width": width, "height": 900})
        problems += [f"at {width} px: {p}" for p in tab.evaluate(LAYOUT_PROBLEMS_JS)]
    tab.set_viewport_size({"width": WIDTHS[0], "height": 900})
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
