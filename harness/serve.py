"""`splitbrain serve [RESULTS_DIR]`: browse results on a small local web page.

`/` lists every run under RESULTS_DIR newest first (verdict colour, topology, workload,
faults, settings, what each checker said, links to each run's report.html and
results.json) and draws, per configuration (runs grouped by their test.json settings, as
`compare --from` does), one percentage figure of each run over time as an inline SVG:
the first figure of format "pct" the runs' checkers report (e.g. a loss rate), else the
run's own (availability during faults). A run directory that cannot be read is listed
as such (ERROR, and what is wrong), never at the cost of the others. Any other path
serves a file under RESULTS_DIR, and nothing else: `..`, absolute paths, and symlinks
that lead outside RESULTS_DIR are refused (403). It binds to 127.0.0.1 unless told
otherwise, and answers only requests whose Host header names this server (`localhost`,
`127.0.0.1`, `[::1]` or the address it was told to bind, with its port): a web page the
user visits cannot reach it through DNS rebinding (its Host names the attacker's domain;
403). The page is a Jinja2 template (templates/serve_index.html.j2), autoescaped like
every page of the harness.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import posixpath
import threading
import urllib.parse
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .errors import UsageError
from .rundir import difference_labels, find_run_dirs, load_run
from .templating import format_value, render, verdict_of

VERDICT_COLOURS = {"true": "#2e7d32", "false": "#c62828", "unknown": "#b26a00", "error": "#6a1b9a"}
PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e"]


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
                    hit = (sig, _row(d))
                    self._cache[str(d)] = hit
                out.append(hit[1])
        out.sort(key=lambda r: (str(r.get("started") or ""), r["run_dir"]), reverse=True)
        return out


def _row(d: Path) -> dict[str, Any]:
    """One run's row; a run that cannot be read at all is still a row, saying why."""
    try:
        row = load_run(d)
    except Exception as e:  # noqa: BLE001 - one bad run directory must not cost the index
        return {"run_dir": str(d), "name": d.parent.name, "seed": None, "started": None,
                "topology": None, "workload": None, "nemesis": None, "settings_key": f"error:{d}",
                "test": {}, "figures": {}, "figure_meta": {}, "summaries": {}, "valid": "error",
                "harness_failed": True, "error": f"cannot read this run: {type(e).__name__}: {e}"}
    if row.get("error") == "no results.json (the harness failed)":
        row["error"] = "no results.json (running, or the harness failed)"
    return row


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _config_labels(rows: list[dict[str, Any]]) -> dict[str, str]:
    keys: dict[str, dict[str, Any]] = {}
    for r in rows:
        keys.setdefault(r["settings_key"], r["test"])
    labels = difference_labels(list(keys.values()))
    return dict(zip(keys, labels))


def _ts(r: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(r.get("started"))).timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def trend_figure(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(column, label) of the figure the trend plots: the first "pct" figure the runs'
    checkers report, else the first of the run's own; None if no run has one."""
    found: list[tuple[str, str]] = []
    for r in sorted(rows, key=lambda r: (str(r.get("started") or ""), r["run_dir"])):
        for col, fig in (r.get("figure_meta") or {}).items():
            if getattr(fig, "format", "") == "pct" and (r.get("figures") or {}).get(col) is not None:
                found.append((col, getattr(fig, "label", "") or col))
    checkers = [f for f in found if not f[0].startswith("run.")]
    return (checkers or found or [None])[0]


def trend(rows: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any] | None:
    """Geometry of the trend SVG: the trend figure of each run over time, one coloured
    line per configuration; None if no run has the figure and a start time."""
    chosen = trend_figure(rows)
    if chosen is None:
        return None
    column, label = chosen
    pts = [(r["settings_key"], _ts(r), (r.get("figures") or {}).get(column)) for r in rows]
    pts = [p for p in pts if p[1] is not None and p[2] is not None]
    if not pts:
        return None
    t0, t1 = min(p[1] for p in pts), max(p[1] for p in pts)
    span = (t1 - t0) or 1.0
    ymax = max(0.01, max(p[2] for p in pts))
    W, H, L, T, B = 760, 240, 50, 10, 30

    def x(t: float) -> float:
        return round(L + (t - t0) / span * (W - L - 10) if t1 > t0 else L + (W - L - 10) / 2, 1)

    def y(v: float) -> float:
        return round(T + (1 - v / ymax) * (H - T - B), 1)

    keys = list(dict.fromkeys(p[0] for p in sorted(pts, key=lambda p: p[1])))
    series = []
    for i, k in enumerate(keys):
        mine = sorted((p for p in pts if p[0] == k), key=lambda p: p[1])
        series.append({"colour": PALETTE[i % len(PALETTE)], "label": labels.get(k, ""),
                       "points": [{"x": x(p[1]), "y": y(p[2]), "text": format_value(p[2], "pct")}
                                  for p in mine], "legend_y": H + 14 + 18 * i})
    return {"label": label, "column": column, "width": W, "height": H + 18 * len(keys),
            "plot_height": H, "left": L, "right": W - 10,
            "grid": [{"y": y(ymax * i / 4), "text": f"{ymax * i / 4:.1%}"} for i in range(5)],
            "from": datetime.fromtimestamp(t0).isoformat(timespec="minutes"),
            "to": datetime.fromtimestamp(t1).isoformat(timespec="minutes"), "series": series}


def _links(root: Path, run_dir: str) -> list[tuple[str, str]]:
    try:
        rel = Path(run_dir).resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return []
    return [("/" + urllib.parse.quote(rel + "/" + f), text)
            for f, text in (("report.html", "report"), ("results.json", "results"), ("test.json", "test"))
            if (Path(run_dir) / f).exists()]


def index_page(root: Path, rows: list[dict[str, Any]]) -> str:
    try:
        labels = _config_labels(rows)
    except Exception:  # noqa: BLE001 - labels are a convenience; the list is what matters
        labels = {}
    runs = []
    for r in rows:
        valid = r.get("valid")
        runs.append({"row": r, "links": _links(root, r["run_dir"]),
                     "configuration": labels.get(r["settings_key"], ""),
                     "verdict": "ERROR" if valid == "error" else verdict_of(valid)[0],
                     "colour": VERDICT_COLOURS.get(valid, VERDICT_COLOURS["error"])})
    try:
        chart = trend(rows, labels)
    except Exception:  # noqa: BLE001 - a figure no chart can draw must not cost the list
        chart = None
    return render("serve_index.html.j2", root=str(root), runs=runs, trend=chart)


#: Host header names that are this machine whatever address the server is bound to.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def check_bind_host(host: str) -> str:
    """Refuse (exit 2) a --host that cannot be an address or a host name."""
    if not host or len(host) > 253 or not host.isprintable() or any(c.isspace() for c in host):
        raise UsageError(f"--host {host[:60]!r}: expected an address such as 127.0.0.1 or a host name")
    return host


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header as (name, port or None), the name lowercased and IPv6 unbracketed;
    None if it is not one."""
    value = value.strip().lower()
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text = value.partition(":")
        port_text = port_text if sep else None
    if port_text is not None and not (port_text.isdigit() and port_text.isascii() and len(port_text) <= 5):
        return None
    return (name, int(port_text) if port_text is not None else None) if name else None


def allowed_host(header: str | None, bound: tuple[str, int], asked: str) -> bool:
    """Whether a request's Host header names this server: a local name, the address it is
    bound to or the --host it was given; and, if it has a port, the port it listens on."""
    parsed = split_host(header) if header else None
    if parsed is None:
        return False
    name, port = parsed
    if port is not None and port != bound[1]:
        return False
    names = {*LOCAL_NAMES, str(bound[0]).lower(), asked.strip("[]").lower()}
    try:
        address = str(ipaddress.ip_address(name))   # one spelling per address (::0:1 is ::1)
    except ValueError:
        return name in names
    # Bound to every interface, any address of this machine may be asked for: an address
    # (not a name) in Host cannot come from DNS rebinding, whose Host is the attacker's name.
    return address in names or _unspecified(bound[0])


def _unspecified(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address)).is_unspecified
    except ValueError:
        return False


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
            # text/plain (and nosniff): the message is never read as HTML
            body = f"{status.value} {text}\n".encode("utf-8", "replace")
            self._send(status, body, "text/plain; charset=utf-8")

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            host = self.headers.get("Host")
            if not allowed_host(host, self.server.server_address[:2], getattr(self.server, "asked_host", "")):
                said = f"Host {host[:100]!r} is not this server" if host else "no Host header"
                return self._error(HTTPStatus.FORBIDDEN, f"{said} (ask for localhost:{self.server.server_address[1]}):"
                                   f" refused so that other web sites cannot reach it (DNS rebinding)")
            path = urllib.parse.urlsplit(self.path).path
            if path in ("/", "/index.html"):
                try:
                    page = index_page(root, index.rows())
                except Exception as e:  # noqa: BLE001 - a broken run must not kill the page
                    return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
                return self._send(200, page.encode("utf-8", "replace"), "text/html; charset=utf-8")
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
    server.asked_host = host   # the name the user gave is a Host the server answers to
    return server
