"""report.html rendered by headless Chromium: it draws, without JavaScript errors.

Needs a chromium binary (scripts/install-chromium.sh installs Debian's); skipped without
one. Screenshots go to $SPLITBRAIN_SCREENSHOT_DIR if set (else pytest's tmp dir) and their
paths are printed (pytest -s shows them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness.report import build_report

from .report_synth import XSS, find_chromium, js_errors, make_run, run_chromium

CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="no chromium binary found (run "
                       "scripts/install-chromium.sh, or set CHROMIUM=/path/to/chromium)"),
]


def _shot_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("SPLITBRAIN_SCREENSHOT_DIR") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _status(dom: str) -> tuple[str | None, str | None]:
    m = re.search(r'<span id="report-status" data-status="([^"]*)"(?: data-render-ms="(\d+)")?', dom)
    return (m.group(1), m.group(2)) if m else (None, None)


def _render(tmp_path: Path, page: Path) -> str:
    """The DOM after the page's script ran, checked for JavaScript errors."""
    r = run_chromium(CHROMIUM, tmp_path / "profile-dom", page.as_uri(),
                     "--virtual-time-budget=15000", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert not js_errors(r.stderr), js_errors(r.stderr)
    status, ms = _status(dom)
    errors = re.search(r'<div id="js-errors"[^>]*>(.*?)</div>', dom, re.S)
    assert status == "ok", f"page script status {status!r}: {errors.group(1) if errors else ''}"
    assert errors and errors.group(1) == ""
    return dom


def _screenshot(tmp_path: Path, page: Path, name: str, height: int = 5200) -> Path:
    png = _shot_dir(tmp_path) / name
    r = run_chromium(CHROMIUM, tmp_path / "profile-shot", page.as_uri(),
                     "--virtual-time-budget=15000", f"--window-size=1400,{height}",
                     f"--screenshot={png}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 20_000  # a drawn page, not a blank one
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {png}")
    return png


def test_invalid_run_renders(tmp_path):
    page = build_report(make_run(tmp_path / "run"))
    dom = _render(tmp_path, page)
    assert '<div class="vtext">INVALID</div>' in dom
    # Plotly drew every chart: the timeline, latency, throughput and the linearizable
    # checker's window of ops (chart-1, asked for by its view)
    for chart in ("timeline", "latency", "throughput", "chart-1"):
        m = re.search(rf'id="{chart}"[^>]*class="[^"]*js-plotly-plot', dom) or \
            re.search(rf'class="[^"]*js-plotly-plot[^"]*"[^>]*id="{chart}"', dom)
        assert m, f"chart {chart} was not drawn"
    assert dom.count('class="main-svg"') >= 8
    # the XSS value in a fault's detail is drawn by Plotly as text, not markup
    assert XSS not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert re.search(r'class="annotation-text"[^>]*>[^<]*clock n3 \+30000ms', dom)
    # the checkers' marks and the window's classes reached the legends
    assert ">lost write<" in dom and ">cannot be placed<" in dom
    _screenshot(tmp_path, page, "report-invalid.png")


def test_unknown_run_renders(tmp_path):
    page = build_report(make_run(tmp_path / "run", n_ops=400, results=False))
    dom = _render(tmp_path, page)
    assert '<div class="vtext">UNKNOWN</div>' in dom
    _screenshot(tmp_path, page, "report-unknown.png", height=1400)


def test_empty_run_renders(tmp_path):
    (tmp_path / "run").mkdir()
    page = build_report(tmp_path / "run")
    dom = _render(tmp_path, page)
    assert "UNKNOWN" in dom and "history.jsonl.zst is missing" in dom
