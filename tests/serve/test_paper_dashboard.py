"""The paper panel and /paper/* against a live loop: allocation updating each bar, trades with their
strategy names, the account, the fallback indicator with its reason (Chromium via Playwright)."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import httpx

from _serve_helpers import base_config
from test_dashboard_browser import CHROMIUM_ARGS, chromium  # noqa: F401  (the fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "paper"))

from _paper_helpers import CONFIG, SYMBOLS, ZOO, make_loop  # noqa: E402


def _live_loop(db: Path):
    """A loop with 30 bars recorded, and a thread (not started) that trades the rest at 3 bars per second."""
    from sacfolio.env.allocation_state import zoo_strategies
    from sacfolio.paper.sources import bar_stream, load_source_bars

    bars = load_source_bars(n_bars=120, symbols=SYMBOLS, seed=3)
    loop = make_loop(db, zoo_strategies(CONFIG.rules, config=ZOO))
    stop = threading.Event()
    stream = iter(bar_stream(bars, loop.broker.instruments, speed=3.0))
    loop.run(stream, max_bars=30)
    feed = itertools.takewhile(lambda bar: not stop.is_set(), stream)
    return loop, stop, threading.Thread(target=loop.run, args=(feed,), daemon=True)


def _check_api(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + 30.0
        while (status := client.get("/paper/status").json())["bars"] <= 30 and time.monotonic() < deadline:
            time.sleep(0.2)  # the thread's first new bar
        assert status["exists"] and status["running"] and status["source"] == "fallback"
        assert "static weights" in status["reason"] and status["nav"] > 0 and status["bars"] >= 30
        trades = client.get("/paper/trades", params={"strategy": "momentum", "limit": 20}).json()
        assert trades and all("momentum" in {o["strategy"] for o in t["strategies"]} for t in trades)
        allocations = client.get("/paper/allocations").json()
        assert allocations["strategies"][-1] == "CASH" and len(allocations["rows"]) >= 30
        assert abs(sum(allocations["rows"][-1]["shares"].values()) - 1.0) < 1e-9
        positions = client.get("/paper/positions").json()
        assert {p["instrument"] for p in positions["positions"]} == set(SYMBOLS)
        assert set(positions["by_strategy"]) == set(allocations["strategies"][:-1])
        paper = client.get("/health").json()["paper"]
        assert paper["running"] and paper["last_bar"] and paper["lag_seconds"] < 15


def test_paper_panel_follows_the_loop_bar_by_bar(chromium, launch, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    home = tmp_path / "models"
    loop, stop, thread = _live_loop(home / "paper.sqlite3")
    screenshot = tmp_path / "paper-dashboard.png"
    try:
        server = launch(base_config(tmp_path, home=str(home), dashboard_refresh_seconds=1))
        thread.start()
        _check_api(server.url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1800})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{server.url}/dashboard/")
                page.wait_for_selector("#paper-allocation-chart .main-svg", timeout=30_000)
                page.wait_for_selector("#paper-trades tbody tr", timeout=10_000)
                assert page.locator("#paper-sac").inner_text() == "fallback"
                assert "static weights" in page.locator("#paper-sac-reason").inner_text()
                assert page.locator("#paper-allocation-chart .legendtext").count() == len(loop.strategies) + 1
                owners = page.locator("#paper-trades td.strategies").all_text_contents()
                assert owners and all(o and "default" not in o for o in owners)
                assert any(name in " ".join(owners) for name in ("momentum", "min_variance", "risk_parity"))
                first = page.locator("#paper-bars").inner_text()
                page.wait_for_function("t => document.querySelector('#paper-bars').textContent !== t",
                                       arg=first, timeout=10_000)  # a new bar shows up by itself
                assert float(page.locator("#paper-nav").inner_text().replace(",", "")) > 0
                page.screenshot(path=str(screenshot), full_page=True)
                assert not errors, errors
            finally:
                browser.close()
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=30)
    keep = os.environ.get("SACFOLIO_SCREENSHOT_DIR")
    if keep:
        shutil.copy(screenshot, Path(keep) / "paper-dashboard.png")
    assert screenshot.stat().st_size > 10_000
