"""`splitbrain serve [RESULTS_DIR]`: browse results on a small local web page.

`/` lists every run under RESULTS_DIR newest first (verdict colour, topology, workload,
faults, settings, lost counts, links to each run's report.html and results.json) and
draws, per configuration (runs grouped by their test.json settings, as `compare --from`
does), the lost rate of each run over time as an inline SVG. Any other path serves a file
under RESULTS_DIR, and nothing else: `..`, absolute paths, and symlinks that lead outside
RESULTS_DIR are refused (403). It binds to 127.0.0.1 unless told otherwise. Every value
on the page is escaped with html.escape.
"""

from __future__ import annotations

import html
import mimetypes
import posixpath
import threading
import urllib.parse
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from .compare import PAGE_CSS, difference_labels, find_run_dirs, load_run

VERDICT = {"true": ("VALID", "#2e7d32"), "false": ("INVALID", "#c62828"),
           "unknown": ("UNKNOWN", "#b26a00"), "error": ("ERROR", "#6a1b9a")}
PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e"]


def esc(v: Any) -> str:
    return html.escape(v if isinstance(v, str) else str(v), quote=True)


class RunIndex:
    """Rows of every run under root, re-read only when a run's results.json changes."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def rows(self) -> list[dict[str, Any]]:
        out = []
        with self._lock:
            for d in find_run_dirs(self.root):
                sig = tuple(_mtime(d / f) for f in ("test.json", "results.json", "report.html"))
                hit = self._cache.get(str(d))
                if hit is None or hit[0] != sig:
                    hit = (sig, load_run(d))
                    if hit[1].get("error") == "no results.json (the harness failed)":
                        hit[1]["error"] = "no results.json (running, or the harness failed)"
                    self._cache[str(d)] = hit
                out.append(hit[1])
        out.sort(key=lambda r: (str(r.get("started") or ""), r["run_dir"]), reverse=True)
        return out


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _fmt(v: Any, kind: str = "") -> str:
    if v is None:
        return "–"
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "int":
        return f"{v:,.0f}"
    return str(v)


def _config_labels(rows: list[dict[str, Any]]) -> dict[str, str]:
    keys: dict[str, dict[str, Any]] = {}
    for r in rows:
        keys.setdefault(r["settings_key"], r["test"])
    labels = difference_labels(list(keys.values()))
    return dict(zip(keys, labels))


def _ts(r: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(r.get("started"))).timestamp()
    except (TypeError, ValueError):
        return None


def trend_svg(rows: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """Lost rate of each run over time, one coloured line per configuration."""
    pts = [(r["settings_key"], _ts(r), r.get("lost_rate")) for r in rows]
    pts = [p for p in pts if p[1] is not None and p[2] is not None]
    if not pts:
        return "<p>No run with a lost rate yet.</p>"
    t0, t1 = min(p[1] for p in pts), max(p[1] for p in pts)
    span = (t1 - t0) or 1.0
    ymax = max(0.01, max(p[2] for p in pts))
    W, H, L, T, B = 760, 240, 50, 10, 30
    keys = list(dict.fromkeys(p[0] for p in sorted(pts, key=lambda p: p[1])))

    def x(t: float) -> float:
        return L + (t - t0) / span * (W - L - 10) if t1 > t0 else L + (W - L - 10) / 2

    def y(v: float) -> float:
        return T + (1 - v / ymax) * (H - T - B)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 18 * len(keys)}" '
             f'role="img" aria-label="lost rate per configuration over time">']
    for i in range(5):
        v = ymax * i / 4
        parts.append(f'<line x1="{L}" x2="{W - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
                     f'<text x="{L - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.1%}</text>')
    parts.append(f'<text x="{L}" y="{H - 8}" font-size="10">{esc(datetime.fromtimestamp(t0).isoformat(timespec="minutes"))}</text>'
                 f'<text x="{W - 10}" y="{H - 8}" font-size="10" text-anchor="end">'
                 f'{esc(datetime.fromtimestamp(t1).isoformat(timespec="minutes"))}</text>')
    for i, k in enumerate(keys):
        colour = PALETTE[i % len(PALETTE)]
        mine = sorted((p for p in pts if p[0] == k), key=lambda p: p[1])
        if len(mine) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
                         + " ".join(f"{x(p[1]):.1f},{y(p[2]):.1f}" for p in mine) + '"/>')
        for p in mine:
            parts.append(f'<circle cx="{x(p[1]):.1f}" cy="{y(p[2]):.1f}" r="3" fill="{colour}">'
                         f'<title>{esc(labels.get(k, ""))}: {p[2]:.2%}</title></circle>')
        ly = H + 14 + 18 * i
        parts.append(f'<rect x="{L}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{L + 14}" y="{ly}" font-size="11">{esc(labels.get(k, ""))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def index_page(root: Path, rows: list[dict[str, Any]]) -> str:
    labels = _config_labels(rows)
    body = []
    for r in rows:
        word, colour = VERDICT.get(r.get("valid"), VERDICT["error"])
        rel = Path(r["run_dir"]).resolve().relative_to(root.resolve()).as_posix()
        links = []
        for f, text in (("report.html", "report"), ("results.json", "results"), ("test.json", "test")):
            if (Path(r["run_dir"]) / f).exists():
                links.append(f'<a href="/{esc(urllib.parse.quote(rel + "/" + f))}">{text}</a>')
        lost = (f'{_fmt(r.get("lost"), "int")} / {_fmt(r.get("acknowledged"), "int")}'
                if r.get("lost") is not None else "–")
        body.append(
            f'<tr><td class="l">{esc(r.get("started") or "")}</td>'
            f'<td class="l" style="color:#fff;background:{colour};font-weight:600">{esc(word)}</td>'
            f'<td class="l">{esc(r.get("name") or "")}</td><td class="l">{esc(r.get("topology") or "")}</td>'
            f'<td class="l">{esc(r.get("workload") or "")}</td><td class="l">{esc(r.get("nemesis") or "")}</td>'
            f'<td class="l"><code>{esc(labels.get(r["settings_key"], ""))}</code></td>'
            f'<td>{esc(r.get("seed"))}</td><td>{esc(lost)}</td><td>{esc(_fmt(r.get("lost_rate"), "pct"))}</td>'
            f'<td>{esc(_fmt(r.get("availability"), "pct"))}</td>'
            f'<td class="l">{" ".join(links)}</td><td class="l">{esc(r.get("error") or "")}</td></tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>splitbrain results</title>
<style>{PAGE_CSS}</style></head><body>
<h1>splitbrain results</h1>
<p>{len(rows)} runs under <code>{esc(str(root))}</code>, newest first.</p>
<h2>Lost rate per configuration over time</h2>
{trend_svg(rows, labels)}
<h2>Runs</h2>
<table><thead><tr><th class="l">started</th><th class="l">verdict</th><th class="l">test</th>
<th class="l">topology</th><th class="l">workload</th><th class="l">faults</th><th class="l">configuration</th>
<th>seed</th><th>lost / acknowledged</th><th>lost rate</th><th>availability in faults</th>
<th class="l">links</th><th class="l">note</th></tr></thead>
<tbody>{"".join(body)}</tbody></table>
</body></html>
"""


def safe_path(root: Path, url_path: str) -> Path | None:
    """The file under root that url_path names, or None if it would leave root."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    root_r = root.resolve()
    target = (root_r / posixpath.join(*parts)).resolve() if parts else root_r
    try:
        target.relative_to(root_r)
    except ValueError:
        return None
    return target


def make_handler(root: Path, index: RunIndex):
    class Handler(BaseHTTPRequestHandler):
        server_version = "splitbrain"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet by default
            if getattr(self.server, "verbose", False):
                super().log_message(fmt, *args)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: HTTPStatus, text: str) -> None:
            self._send(status, f"{status.value} {esc(text)}\n".encode(), "text/plain; charset=utf-8")

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path in ("/", "/index.html"):
                try:
                    page = index_page(root, index.rows())
                except Exception as e:  # noqa: BLE001 - a broken run must not kill the page
                    return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
                return self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
            target = safe_path(root, self.path)
            if target is None:
                return self._error(HTTPStatus.FORBIDDEN, "outside the results directory")
            if not target.is_file():
                return self._error(HTTPStatus.NOT_FOUND, "no such file")
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if target.suffix in (".jsonl", ".log"):
                ctype = "text/plain"
            if ctype.startswith("text/") or ctype == "application/json":
                ctype += "; charset=utf-8"
            try:
                data = target.read_bytes()
            except OSError as e:
                return self._error(HTTPStatus.NOT_FOUND, str(e))
            self._send(200, data, ctype)

    return Handler


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    root = Path(root)
    server = ThreadingHTTPServer((host, port), make_handler(root, RunIndex(root)))
    server.daemon_threads = True
    return server


@click.command("serve")
@click.argument("results_dir", default="results", required=False,
                type=click.Path(exists=True, file_okay=False))
@click.option("--port", default=8765, show_default=True, help="TCP port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; the default keeps the page on this machine.")
@click.option("--verbose", "-v", is_flag=True, help="Log each request.")
def serve_command(results_dir: str, port: int, host: str, verbose: bool) -> None:
    """Browse RESULTS_DIR (default: results) on a local web page."""
    try:
        server = make_server(Path(results_dir), host, port)
    except OSError as e:
        raise click.UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    server.verbose = verbose
    h, p = server.server_address[:2]
    click.echo(f"serving {results_dir} on http://{h}:{p}/ (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
