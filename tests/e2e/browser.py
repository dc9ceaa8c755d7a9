"""Headless Chromium for the dashboard tests: Debian's chromium and chromedriver, no downloads.

Selenium is given the driver's path, so Selenium Manager never runs (and
``SE_OFFLINE`` forbids it to fetch anything if it did). On CI a missing
browser fails the test; elsewhere it skips with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
INSTALL = "apt-get install -y chromium chromium-driver"
# Quiet, offline Chromium: no sync, no component updates, no calls home.
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--window-size=1280,900",
)  # fmt: skip


def binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = f"headless Chromium not installed ({INSTALL})"
    if os.environ.get("CI"):
        pytest.fail(message + ": CI must run the browser tests")
    pytest.skip(message)


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A WebDriver session on a fresh profile, its browser console log kept."""
    binary, driver_path = binaries()
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, probe: Callable[[], T | None], within: float = 10.0) -> tuple[T, float]:
    """Poll ``probe`` until it returns something truthy: (value, seconds it took).

    The deadline guards against a hang on a busy machine, not a speed target.
    """
    started = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        time.sleep(0.05)


def click(driver: Any, selector: str, within: float = 10.0) -> None:
    """Click the element ``selector`` names, found again if a live update replaced it."""
    from selenium.common.exceptions import StaleElementReferenceException

    def attempt() -> bool:
        try:
            found = driver.find_elements("css selector", selector)
            if found:
                found[0].click()
            return bool(found)
        except StaleElementReferenceException:
            return False

    wait_for(f"a click on {selector}", attempt, within)


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


_RGB = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)")


def _luminance(css: str) -> float:
    match = _RGB.match(css)
    assert match, css
    channels = []
    for c in (float(x) / 255 for x in match.groups()):
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS colours."""
    lighter, darker = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# For the first elements matching each selector: the text colour and the first
# opaque background at or above it. One script call, so a live re-render cannot
# leave a stale element between the two reads.
COLOURS_JS = """
const out = [];
for (const selector of arguments[0]) {
  for (const el of Array.from(document.querySelectorAll(selector)).slice(0, 5)) {
    let node = el, bg = 'rgba(0, 0, 0, 0)';
    while (node && node.nodeType === 1) {
      bg = getComputedStyle(node).backgroundColor;
      if (!bg.startsWith('rgba(0, 0, 0, 0)') && bg !== 'transparent') break;
      node = node.parentElement;
    }
    if (bg.startsWith('rgba(0, 0, 0, 0)')) bg = 'rgb(255, 255, 255)';
    const fg = el instanceof SVGElement ? getComputedStyle(el).fill : getComputedStyle(el).color;
    out.push([selector, fg, bg]);
  }
}
return out;
"""


def text_contrasts(driver: Any, selectors: list[str]) -> list[tuple[str, float]]:
    """(selector, WCAG contrast ratio) for up to five elements of each selector."""
    found = driver.execute_script(COLOURS_JS, selectors)
    return [(selector, contrast(fg, bg)) for selector, fg, bg in found]


def screenshot(driver: Any, name: str, fallback: Path) -> Path:
    """Saved under ``SLUICE_SCREENSHOTS`` when set (the docs' images), else beside the test."""
    folder = Path(os.environ.get("SLUICE_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
