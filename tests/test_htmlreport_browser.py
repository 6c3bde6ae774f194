"""`report html` in a real browser: headless Chromium (Debian's `chromium`) through Playwright.

No console error, no request but the file itself, every section and chart drawn, no
sideways scrolling on a phone, and it prints. Screenshots go to the test's temp folder.
Skips only when Chromium is missing and cannot be installed here (`make test` installs
it as root with apt-get; so does this module when run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custdata.htmlreport import SECTIONS
from tests.conftest import Cli
from tests.demo_store import AS_OF, build_demo_store
from tests.test_htmlreport import CHARTS

pytestmark = pytest.mark.browser
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    """The Chromium binary, installing Debian's package first when it is missing."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", "chromium", "fonts-wqy-microhei"],
                    ["sh", "-c", "apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei"]):
        done = subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
        if done.returncode == 0:
            break
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A persistent Chromium context on a fresh profile (Playwright drives the system binary)."""
    path = _chromium()
    if path is None:
        pytest.skip("Chromium is not installed and cannot be installed here "
                    "(needs root and apt-get: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=path, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900}, service_workers="block")
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo store's page in English and in Chinese (cn8)."""
    folder = tmp_path_factory.mktemp("browser-demo")
    cli: Cli = build_demo_store(folder)
    made = {}
    for lang, extra in (("en", []), ("zh", ["--scheme", "cn8"])):
        made[lang] = folder / f"report-{lang}.html"
        result = cli("report", "html", "-o", made[lang], "--as-of", AS_OF, "--lang", lang,
                     *extra)
        assert result.exit_code == 0, result.output
    return made


def _open(browser, path: Path, width: int) -> tuple[object, list[str], list[str]]:
    """Load `path` at `width` px; returns (page, console errors, requests not for the file)."""
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url == path.as_uri() else requests.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url == path.as_uri()
               else route.abort())
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)  # anything late (a font, a beacon) would show by now
    return page, errors, requests


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_offline_with_every_section_and_chart(browser, pages, lang: str,
                                                          tmp_path: Path) -> None:
    page, errors, requests = _open(browser, pages[lang], 1280)
    try:
        assert errors == [] and requests == []
        for section in SECTIONS:
            box = page.locator(f"section#{section}").bounding_box()
            assert box and box["height"] > 40, section
        for chart in CHARTS:
            svg = page.locator(f'figure[data-chart="{chart}"] svg')
            assert svg.count() == 1, chart
            box = svg.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, chart
            assert svg.locator("text").count() > 0, chart
        assert page.locator('table[data-table="call-list"] tbody tr').count() == 20
        page.screenshot(path=str(tmp_path / f"report-{lang}.png"), full_page=True)
        assert (tmp_path / f"report-{lang}.png").stat().st_size > 20_000
    finally:
        page.close()


def test_phone_width_needs_no_sideways_scrolling(browser, pages, tmp_path: Path) -> None:
    page, errors, requests = _open(browser, pages["en"], 390)
    try:
        assert errors == [] and requests == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('figure svg')]"
            ".map(s => s.getBoundingClientRect().right))")
        assert widest <= 390
        page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=True)
    finally:
        page.close()


def test_page_prints(browser, pages, tmp_path: Path) -> None:
    page, errors, _ = _open(browser, pages["en"], 1280)
    try:
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000 and errors == []
        (tmp_path / "report.pdf").write_bytes(pdf)
    finally:
        page.close()
