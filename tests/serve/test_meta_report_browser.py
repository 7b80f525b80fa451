"""`sacfolio meta evaluate`'s HTML page in Debian's Chromium: both charts drawn, the table as computed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from test_dashboard_browser import CHROMIUM_ARGS, chromium  # noqa: F401  (the fixture)

from sacfolio.cli import app


def test_the_meta_report_page_shows_every_method_and_draws_its_charts(chromium, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    out = tmp_path / "meta"
    result = CliRunner().invoke(app, ["meta", "evaluate", "--sessions", "10", "--steps", "100", "--fold-steps", "60",
                                      "--folds", "2", "--test-sessions", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "meta_report.json").read_text())
    page_file = out / "meta_report.html"
    assert "meta_report.html" in result.output
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        for div in ("#meta-equity", "#meta-allocation"):
            page.wait_for_selector(f"{div} .main-svg", timeout=30_000)
        traces = page.evaluate("""() => ({
            equity: document.getElementById('meta-equity').data.map(t => [t.name, t.y[t.y.length - 1]]),
            shares: document.getElementById('meta-allocation').data.map(t => t.name)})""")
        rows = page.evaluate("""() => [...document.querySelectorAll('table')[0].querySelectorAll('tr')]
            .slice(1).map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])""")
        browser.close()
    assert errors == []
    summary = {r["method"]: r for r in report["summary"]}
    # the equity curves end where the summary's total returns say, method by method
    assert [name for name, _ in traces["equity"]] == list(summary)
    for name, last in traces["equity"]:
        assert abs(last - (1 + summary[name]["total_return"])) < 1e-9
    assert rows == [[m, f"{r['total_return']:+.2%}"] for m, r in summary.items()]
    assert traces["shares"] == [s for s in report["by_strategy"]["meta_sac"] if s != "CASH"]
