"""The real gunicorn and a real headless Chromium for the page's tests; screenshots and logs of failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.browser import ensure_chromium, start_chromium
from support.server import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    problem = ensure_chromium()
    if problem:
        message = f"NO BROWSER: the page's browser tests did NOT run: {problem}"
        print(f"\n{'!' * 20} {message} {'!' * 20}")
        pytest.skip(message)


@pytest.fixture
def page_server(http_server, chromium_ready):
    return http_server


@pytest.fixture
def browser(request, tmp_path, chromium_ready):
    driver = start_chromium(tmp_path / "profile")
    request.node.driver = driver
    yield driver
    driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    driver = getattr(item, "driver", None)
    if report.when == "call" and report.failed and driver is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        stem = ARTIFACTS / item.name.replace("/", "_")
        driver.save_screenshot(f"{stem}.png")
        log = "\n".join(f"{entry['level']} {entry['message']}" for entry in driver.get_log("browser"))
        Path(f"{stem}.browser.log").write_text(log)
        report.sections.append(("browser", f"screenshot and browser log saved as {stem}.png / .browser.log"))
    return report
