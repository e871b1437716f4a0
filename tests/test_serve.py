"""`splitbrain serve`: the index page (escaped, newest first, trend), files under the results
directory only."""

from __future__ import annotations

import http.client
import os
import threading
import urllib.error
import urllib.request

import pytest

from harness.serve import make_server, safe_path
from tests.test_compare import XSS, fake_run


@pytest.fixture()
def site(tmp_path):
    root = tmp_path / "results"
    fake_run(root, "c1-default", 1, lost=40, started="2026-11-22T10:00:00+00:00")
    fake_run(root, "c1-default", 2, lost=10, started="2026-11-22T11:00:00+00:00")
    fake_run(root, "c2-min", 3, lost=0, redis_conf={"min-replicas-to-write": "1"},
             started="2026-11-22T12:00:00+00:00")
    x = fake_run(root, "xss", 4, redis_conf={"notify-keyspace-events": XSS}, lost=1,
                 started="2026-11-22T13:00:00+00:00")
    t = (x / "test.json").read_text().replace('"name": "xss"', '"name": "<script>alert(2)</script>"')
    (x / "test.json").write_text(t)
    fake_run(root, "running", 5, results=False, started="2026-11-22T14:00:00+00:00")
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", root / "link-out.txt")
    (root / "latest").symlink_to("c1-default")
    server = make_server(root, "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    host, port = server.server_address[:2]
    yield root, f"http://{host}:{port}", (host, port)
    server.shutdown()
    server.server_close()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def raw(addr, path):
    c = http.client.HTTPConnection(*addr, timeout=10)
    c.request("GET", path)   # sent as is: no client-side normalisation of ../
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def test_index_lists_runs_newest_first_escaped(site):
    root, base, _ = site
    status, ctype, page = get(base + "/")
    assert status == 200 and ctype.startswith("text/html")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "&lt;script&gt;alert(1)" in page
    assert page.index("running") < page.index("alert(2)") < page.index("c2-min") < page.index("c1-default")
    assert "INVALID" in page and "VALID" in page and "ERROR" in page
    assert "<b>set</b>: lost 40 of 1,000 acknowledged writes" in page   # the checkers' summaries
    assert "<svg" in page and "<polyline" in page       # trend of the two c1-default runs
    assert "lost rate per configuration over time" in page   # the first pct figure, by its label
    assert "<title>default: 4.00%</title>" in page
    assert "min-replicas-to-write=1" in page           # configuration label


def test_index_without_figures(tmp_path):
    root = tmp_path / "results"
    fake_run(root, "running", 5, results=False)
    server = make_server(root, "127.0.0.1", 0)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        host, port = server.server_address[:2]
        status, _, page = get(f"http://{host}:{port}/")
        assert status == 200 and "ERROR" in page and "<svg" not in page
    finally:
        server.shutdown()
        server.server_close()


def test_links_to_reports_work(site):
    root, base, _ = site
    _, _, page = get(base + "/")
    import re
    links = re.findall(r'href="(/[^"]+report\.html)"', page)
    assert len(links) == 4
    status, ctype, body = get(base + links[0])
    assert status == 200 and "report" in body and ctype.startswith("text/html")
    status, ctype, _ = get(base + links[0].replace("report.html", "results.json"))
    assert ctype.startswith("application/json")


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/c1-default/../../secret.txt",
                                  "/..%2fsecret.txt", "/link-out.txt", "//etc/passwd", "/%2fetc%2fpasswd"])
def test_paths_outside_are_refused(site, path):
    _, _, addr = site
    status, body = raw(addr, path)
    assert status in (403, 404)
    assert "top secret" not in body and "root:" not in body


def test_traversal_is_403(site):
    _, base, addr = site
    assert raw(addr, "/../secret.txt")[0] == 403
    with pytest.raises(urllib.error.HTTPError) as e:
        get(base + "/nope.html")
    assert e.value.code == 404


def test_safe_path(tmp_path):
    assert safe_path(tmp_path, "/a/b.html") == (tmp_path / "a" / "b.html").resolve()
    assert safe_path(tmp_path, "/a/../../x") is None
    assert safe_path(tmp_path, "/a%00b") is None
    assert safe_path(tmp_path, "/a\\..\\x") is None
