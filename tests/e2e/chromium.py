"""A real headless Chromium (Debian's chromium + chromium-driver, `make tools` installs them) driven by selenium.

Skipped, with the reason, only when it truly cannot start: the binaries are missing or the browser fails to
launch. Under CI (the `CI` variable is set) a browser that does not start fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# As root and on this closed network: no sandbox, and none of the background connections that would be refused.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _cannot_start(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"headless Chromium must run on CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(do_not_track: bool = False) -> Iterator["object"]:
    """A fresh browser (own profile directory), quit and removed afterwards."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _cannot_start("selenium is not installed (it is in the test extra: pip install -e '.[test]')")
    chromium_bin = shutil.which("chromium") or CHROMIUM
    driver_bin = shutil.which("chromedriver") or CHROMEDRIVER
    if not (os.path.exists(chromium_bin) and os.path.exists(driver_bin)):
        _cannot_start("chromium and chromium-driver are not installed (`make tools` installs them)")
    profile = tempfile.mkdtemp(prefix="leadflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_bin
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if do_not_track:
        options.add_experimental_option("prefs", {"enable_do_not_track": True})
    try:
        try:
            driver = webdriver.Chrome(service=Service(driver_bin), options=options)
        except WebDriverException as exc:
            _cannot_start(f"headless Chromium did not start: {exc.msg}")
        try:
            driver.set_page_load_timeout(15)
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
