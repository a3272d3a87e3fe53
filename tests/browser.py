"""Headless Chromium for the browser tests: Debian's package driven by Playwright, with every
host but 127.0.0.1 unresolvable, and a recorder of what a page must never do (fetch from
another host, log a console error, fail a request)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_executable() -> str | None:
    """The first Chromium found on this machine, or None."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@contextmanager
def chromium_context(profile: Path, viewport: dict[str, int]) -> Iterator[Any]:
    """A persistent Playwright context of headless Chromium with its profile in ``profile``;
    skips the test when Playwright or Chromium is missing."""
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (make setup installs it)")
    if executable is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium package)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS, viewport=viewport)
        try:
            yield context
        finally:
            context.close()


def watch(tab: Any, base: str) -> list[str]:
    """Record on ``tab`` every request to another host than ``base`` (which the resolver rule
    of :data:`CHROMIUM_FLAGS` makes fail), console error, page error, failed request and HTTP
    error; returns the list the problems are appended to. Requests are watched, not routed:
    with a Playwright route on every request, JupyterLab shows no output of its kernel."""
    problems: list[str] = []
    tab.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:"))
           else problems.append(f"request to another host: {r.url}"))
    # "Failed to load resource" names no URL: the response and requestfailed handlers report it with its URL.
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    tab.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
           if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # the browser asks on its own
    return problems
