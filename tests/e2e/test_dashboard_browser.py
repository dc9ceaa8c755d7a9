"""The dashboard in a real browser (Debian's headless Chromium) against a real redis-server.

Two set-ups: a dashboard server of the test's own over queues it fills (the
overview, live updates, keyboard and contrast), and ``sluice up --dashboard``,
whose real autoscaler's decisions must show on the charts and whose real
workers must run a dead letter requeued from the page. Screenshots go to
``SLUICE_SCREENSHOTS`` when set (that is how the docs' images are made).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, click, console_errors, screenshot, text_contrasts, wait_for
from local_up import UpProcess, write_spec

from sluice import Queue
from sluice.protocol import Outcome
from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.server import DashboardThread
from sluice_dashboard.settings import DashboardSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LIVE_DEADLINE_S = 10.0  # the goal is 2 s; the deadline only guards against a hang


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


@pytest.fixture
def board(redis_url: str) -> Iterator[str]:
    """A read-only dashboard on the test's Redis, polling fast so the test is quick."""
    settings = DashboardSettings(redis_label="redis://127.0.0.1", poll_interval_s=0.5,
                                 discover_every_s=0.5)  # fmt: skip
    thread = DashboardThread(redis_url, settings, port=0, decisions=DecisionLog())
    where = thread.start()
    yield where.url
    thread.stop()


def rows(driver: Any) -> dict[str, Any]:
    found = driver.find_elements("css selector", "#queues tbody tr")
    return {r.get_attribute("data-queue"): r for r in found}


def cell(driver: Any, queue: str, column: int) -> str:
    row = rows(driver).get(queue)
    return row.find_elements("css selector", "td")[column].text if row else ""


def test_overview_lists_queues_and_follows_them_live(
    browser: Any, board: str, redis_url: str, tmp_path: Path
) -> None:
    with Queue("emails", redis_url) as emails, Queue("thumbnails", redis_url) as thumbs:
        emails.enqueue_many(("send", i) for i in range(3))
        thumbs.enqueue("resize", delay=300)
        browser.get(board)
        wait_for("both queues listed", lambda: {"emails", "thumbnails"} <= set(rows(browser)))
        assert cell(browser, "emails", 1) == "3"  # backlog, after the condition column

        emails.enqueue_many(("send", i) for i in range(4))  # no reload from here on
        _, took = wait_for("the new jobs", lambda: cell(browser, "emails", 1) == "7",
                           LIVE_DEADLINE_S)  # fmt: skip
        print(f"overview backlog updated {took:.2f} s after the enqueue")
        with Queue("reports", redis_url) as reports:
            reports.enqueue("build")
        wait_for("a queue created meanwhile", lambda: "reports" in rows(browser), LIVE_DEADLINE_S)
        screenshot(browser, "dashboard-overview", tmp_path)
    assert console_errors(browser) == []


def test_a_job_enqueued_during_the_test_appears_on_the_queue_page(
    browser: Any, board: str, redis_url: str, tmp_path: Path
) -> None:
    with Queue("emails", redis_url) as queue:
        queue.enqueue("send", id="first")
        browser.get(board + "#/q/emails")
        wait_for(
            "the waiting list", lambda: browser.find_elements("css selector", "tr[data-job=first]")
        )

        queue.enqueue("send", {"to": "ann"}, id="fresh")
        _, took = wait_for(
            "the fresh job without a reload",
            lambda: browser.find_elements("css selector", "tr[data-job=fresh]"),
            LIVE_DEADLINE_S,
        )
        print(f"job listed {took:.2f} s after its enqueue")
        # Waiting jobs by priority: an urgent one is listed alone under "critical".
        queue.enqueue("send", id="urgent", priority="critical")
        wait_for(
            "the urgent job", lambda: browser.find_elements("css selector", "tr[data-job=urgent]")
        )
        click(browser, "button[data-priority=critical]")
        wait_for(
            "only critical jobs",
            lambda: listed_jobs(browser) == ["urgent"],
        )  # fmt: skip
        click(browser, "button[data-priority='']")
        wait_for(
            "every waiting job", lambda: browser.find_elements("css selector", "tr[data-job=fresh]")
        )
        click(browser, "tr[data-job=fresh] a")
        state, _ = wait_for("the job page", lambda: _text(browser, "#job-state"))
        assert state == "waiting"
        page = _text(browser, "main")
        assert "ann" not in page  # payloads hidden by default
        assert "hidden" in page
    assert console_errors(browser) == []


def listed_jobs(driver: Any) -> list[str]:
    """The job ids in the list, read in one script call (a live update may replace rows)."""
    script = (
        "return Array.from(document.querySelectorAll('table.jobs tbody tr'), r => r.dataset.job)"
    )
    return list(driver.execute_script(script))


def _text(driver: Any, selector: str) -> str:
    """The first match's text, read in one script call ("" when there is none)."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''"
    return str(driver.execute_script(script, selector))


def test_keyboard_reaches_every_queue_and_text_has_contrast(
    browser: Any, board: str, redis_url: str
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    with Queue("alpha", redis_url) as q:
        q.enqueue("t")
    browser.get(board)
    wait_for("the queue", lambda: "alpha" in rows(browser))
    keys = ActionChains(browser)
    keys.send_keys(Keys.TAB).perform()
    active = browser.switch_to.active_element
    assert active.text == "Skip to content"
    assert active.value_of_css_property("outline-style") != "none"  # focus is visible
    keys.send_keys(Keys.ENTER).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    ActionChains(browser).send_keys(Keys.TAB).perform()
    link = browser.switch_to.active_element
    assert (link.tag_name, link.text) == ("a", "alpha")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_for("the queue page", lambda: browser.current_url.endswith("#/q/alpha"))
    wait_for("the job tabs", lambda: browser.find_elements("css selector", "button[data-state]"))

    checked = ["h1", ".card .label", ".card .value", "th", ".badge", "button", "caption",
               ".legend", "svg text", ".brand", ".mode"]  # fmt: skip
    measured = text_contrasts(browser, checked)
    assert {selector for selector, _ in measured} == set(checked)  # every kind was on the page
    low = [(selector, round(ratio, 2)) for selector, ratio in measured if ratio < 4.5]
    assert low == [], f"text below WCAG AA contrast (4.5:1): {low}"
    assert console_errors(browser) == []


# --- sluice up --dashboard: real decisions, real workers ----------------------------


def dead_letter(queue: Queue, job_id: str) -> None:
    """A dead letter of the demo task, made before any worker runs."""
    queue.enqueue("sleep", {"seconds": 0.05}, id=job_id, max_attempts=1)
    (job,) = queue.protocol.claim("gone-worker", 1, 30)
    error = "Traceback (most recent call last):\n  ...\nRuntimeError: database was down"
    queue.protocol.finish([Outcome(job.id, job.token, "fail", error=error, reason="failed")])


def scaled_up(titles: list[str]) -> bool:
    """A decision mark's tooltip says the replicas went up ("<time> <term>: 0 → 4 replicas...")."""
    for title in titles:
        found = re.search(r"(\d+) → (\d+) replicas", title)
        if found and int(found.group(2)) > int(found.group(1)):
            return True
    return False


def dashboard_url(up: UpProcess) -> str | None:
    for line in list(up.lines):
        text = line.get("text", "") if line["type"] == "message" else ""
        if text.startswith("dashboard: "):
            return str(text.removeprefix("dashboard: "))
    return None


def test_local_mode_draws_its_decisions_and_requeues_a_dead_letter(
    browser: Any, redis_url: str, tmp_path: Path, runs: list[UpProcess]
) -> None:
    name = "orders"
    with Queue(name, redis_url) as queue:
        dead_letter(queue, "poisoned")
        spec = write_spec(tmp_path / "q.yaml", name, scaling={"idleSecondsBeforeZero": 30})
        up = UpProcess(spec, tmp_path / "data", "--redis-url", redis_url,
                       "--dashboard", "0", "--dashboard-allow-actions")  # fmt: skip
        runs.append(up)
        url, _ = wait_for("the dashboard address", lambda: dashboard_url(up), 30)
        browser.get(url + f"#/q/{name}")
        wait_for("the queue page", lambda: browser.find_elements("css selector", "#charts svg"))

        # Load arrives: the real autoscaler scales from zero, and says why on the charts.
        queue.enqueue_many(("sleep", {"seconds": 0.3}) for _ in range(60))
        # Read in one script call each: the charts redraw every second.
        marks_js = """return Array.from(document.querySelectorAll('#charts figure')).map(
            f => Array.from(f.querySelectorAll('.decision-mark title')).map(t => t.textContent))"""
        per_chart, _ = wait_for(
            "a scale-up marked on every chart",
            lambda: (m := browser.execute_script(marks_js)) and all(map(scaled_up, m)) and m,
            30,
        )
        assert len(per_chart) == 4
        titles = per_chart[0]
        assert all(chart == titles for chart in per_chart)  # the same decisions on every chart
        up = next(t for t in titles if scaled_up([t]))
        assert re.search(r"\d\d:\d\d:\d\d \w+: 0 → [1-9]\d* replicas\. \S", up), up  # term, reason
        first_decision, _ = wait_for(
            "the decisions table", lambda: _text(browser, "#decisions tbody tr")
        )
        assert "→" in first_decision

        # The dead letter, from its tab: requeue it, and a real worker runs it.
        click(browser, "button[data-state=dead]")
        row, _ = wait_for(
            "the dead letter's row, with its reason",
            lambda: _text(browser, "tr[data-job=poisoned]"),
        )
        assert "failed" in row
        browser.execute_script(
            "document.querySelector('tr[data-job=poisoned]').scrollIntoView({block: 'center'})"
        )
        screenshot(browser, "dashboard-dead-letters", tmp_path)
        click(browser, "button.requeue[data-job=poisoned]")
        wait_for("the requeue confirmed", lambda: "requeued" in _text(browser, "#alert"))
        info, took = wait_for(
            "the requeued job completed",
            lambda: (i := queue.get("poisoned")) is not None and i.state == "completed" and i,
            30,
        )
        assert info.attempts == 1
        print(f"requeued job completed {took:.2f} s after the click")
        time.sleep(3)  # a few more polls on the charts for the screenshot
        browser.set_window_size(1280, 1500)
        browser.execute_script("window.scrollTo(0, 0)")
        screenshot(browser, "dashboard-queue", tmp_path)
    assert console_errors(browser) == []
