"""Headless Chromium for the patient pages: Selenium driving Debian's ``chromium`` + ``chromium-driver``,
axe-core (npm, ``node_modules/axe-core``) injected into every page checked, and a full-page screenshot
of each step in ``.screenshots/`` for a reviewer to look at."""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ".screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def missing() -> list[str]:
    """What the browser tests need and this machine lacks."""
    gaps = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not found]
    if not AXE.exists():
        gaps.append("axe-core (npm install axe-core)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        gaps.append("selenium")
    return gaps


class Chrome:
    """One headless Chromium, reused by the browser tests (a new one costs ~1 s)."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="openhero-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM or ""
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--window-size=1280,900"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)
        self.axe_source = AXE.read_text()
        self.size = "desktop"
        self.shot = 0
        self.prefix = "page"
        self.checked: list[str] = []

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def start(self, prefix: str, size: str) -> None:
        """A new walk: its screenshots are named after it; cookies from earlier walks are gone."""
        self.prefix, self.size, self.shot = prefix, size, 0
        width, height = SIZES[size]
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"})

    # --- driving ------------------------------------------------------------------------------------

    def get(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            box = self.find(f'[name="{name}"]')
            box.clear()
            box.send_keys(value)

    def click(self, css: str) -> None:
        """Click something on the page that does not load another (a radio button, a checkbox)."""
        self.find(css).click()

    def submit(self, css: str, index: int = 0) -> None:
        """Click a button (the index-th matching) that loads a new page, and wait for that page."""
        old = self.find("html")
        self.all(css)[index].click()
        self.wait_new_page(old)

    def wait_new_page(self, old: Any, timeout: float = 15) -> None:
        """Until ``old`` (the last page's root element) is gone and the new page has loaded. Chromium reports a
        node of a replaced document as stale or as "does not belong to the document": both mean gone."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        while True:
            try:
                old.is_enabled()
            except WebDriverException:
                if self.driver.execute_script("return document.readyState") == "complete":
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"no new page after {timeout} s at {self.path}")
            time.sleep(0.03)

    def click_text(self, tag: str, text: str) -> None:
        for element in self.all(tag):
            if text in element.text:
                old = self.find("html")
                element.click()
                self.wait_new_page(old)
                return
        raise AssertionError(f"no {tag} with {text!r} on {self.driver.current_url}")

    def back(self) -> None:
        self.driver.back()

    @property
    def text(self) -> str:
        return self.find("body").text

    @property
    def title(self) -> str:
        return self.driver.title

    @property
    def path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.driver.current_url)

    def focused(self) -> Any:
        return self.driver.switch_to.active_element

    # --- checking -----------------------------------------------------------------------------------

    def check(self, step: str) -> None:
        """Screenshot the page and run axe-core on it: zero violations (WCAG 2.0-2.2 A/AA and axe's best
        practices, with label-content-name-mismatch switched on)."""
        self.screenshot(step)
        self.driver.execute_script(self.axe_source)
        violations = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa',
                                                'best-practice']},
                rules: {'label-content-name-mismatch': {enabled: true}}
            }).then(r => done(r.violations.map(v => ({id: v.id, help: v.help,
                                                      nodes: v.nodes.map(n => n.html.slice(0, 160))}))),
                    e => done([{id: 'axe-error', help: String(e), nodes: []}]));
        """)
        self.checked.append(self.path)
        assert violations == [], f"axe on {step} ({self.path}, {self.size}): {violations}"

    def screenshot(self, step: str) -> Path:
        self.shot += 1
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{self.prefix}-{self.size}-{self.shot:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = SIZES[self.size][0]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 4000), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def browser_required() -> bool:
    """CI installs the browser: there a missing one fails the run instead of skipping the tests."""
    return os.environ.get("OPENHERO_BROWSER_TESTS", "").lower() in ("1", "true", "required")
