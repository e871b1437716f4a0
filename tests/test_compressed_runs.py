"""Run directories whose history and final reads are compressed (what a run writes now)
answer every command as their plain twins (what older runs wrote) do: `check`, `report`,
`export`, `compare --from`, `serve`; damaged compressed files are one line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from harness.compression import read_bytes
from harness.rundir import RunDir, load_run
from harness.serve import RunIndex, index_page

from .conftest import compress
from .report_synth import make_run


def compressed_twin(run: Path, to: Path, codec: str = "zst") -> Path:
    """A copy of run with history.jsonl and final.json compressed (and renamed)."""
    shutil.copytree(run, to)
    for name in ("history.jsonl", "final.json"):
        data = (to / name).read_bytes()
        (to / name).unlink()
        (to / f"{name}.{codec}").write_bytes(compress(data, codec, pieces=7))
    return to


def cli(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(r) -> str:
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, (r.exit_code, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    plain = make_run(root / "plain" / "1", n_ops=600)
    return plain, {codec: compressed_twin(plain, root / codec / "1", codec) for codec in ("zst", "gz")}


@pytest.mark.parametrize("codec", ["zst", "gz"])
def test_check_report_and_export_answer_as_on_the_plain_run(runs, tmp_path, codec):
    plain, twins = runs
    a, b = shutil.copytree(plain, tmp_path / "a"), shutil.copytree(twins[codec], tmp_path / "b")
    assert RunDir(b).history_path.name == f"history.jsonl.{codec}"
    assert RunDir(b).final == RunDir(a).final
    ra, rb = cli("check", a), cli("check", b)
    assert (ra.exit_code, ra.stdout.replace(str(a), "")) == (rb.exit_code, rb.stdout.replace(str(b), ""))
    results = [json.loads((d / "results.json").read_text()) for d in (a, b)]
    assert results[0]["checkers"] == results[1]["checkers"] and results[0]["valid"] == results[1]["valid"]
    assert cli("report", b).exit_code == 0 and (b / "report.html").stat().st_size > 10_000
    for fmt in ("jsonl", "edn"):
        ea, eb = cli("export", a, "--format", fmt), cli("export", b, "--format", fmt)
        assert ea.exit_code == eb.exit_code == 0 and ea.stdout == eb.stdout
    ops = [json.loads(line) for line in cli("export", b, "--format", "jsonl").stdout.splitlines()]
    assert ops == [json.loads(line) for line in (plain / "history.jsonl").read_text().splitlines()]


def test_export_jsonl_writes_the_file_plain(runs, tmp_path):
    _, twins = runs
    out = tmp_path / "history.jsonl"
    r = cli("export", twins["zst"], "--format", "jsonl", "-o", out)
    assert r.exit_code == 0 and "wrote" in r.stderr
    written = read_bytes(twins["zst"] / "history.jsonl.zst").decode().splitlines()
    assert [json.loads(line) for line in out.read_text().splitlines()] == [json.loads(x) for x in written]


def test_compare_from_and_serve_list_compressed_runs(runs):
    plain, twins = runs
    root = plain.parent.parent
    rows = RunIndex(root).rows()
    assert len(rows) == 3 and {r["valid"] for r in rows} == {load_run(plain)["valid"]}
    assert "zst/1" in index_page(root, rows)
    assert cli("compare", "--from", root, "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize("codec", ["zst", "gz"])
@pytest.mark.parametrize("damage, words", [
    (lambda d: d[:10], "no ops"),      # cut before its first block: the header alone
    (lambda d: d[:6] + b"garbage" * 30, "damaged"),
    (lambda d: d + b"\x00trailing", "damaged"),
])
def test_a_damaged_compressed_history_is_one_line(runs, tmp_path, codec, damage, words):
    _, twins = runs
    d = shutil.copytree(twins[codec], tmp_path / "r")
    h = d / f"history.jsonl.{codec}"
    h.write_bytes(damage(h.read_bytes()))
    for command in ("check", "export") if words != "no ops" else ("check",):   # export: 0 ops
        line = one_line_error(cli(command, d))
        assert line.startswith(f"splitbrain: history.jsonl.{codec}") and words in line, line
    assert cli("report", d).exit_code == 0
    assert "could not be read" in (d / "report.html").read_text() or words == "no ops"


def test_a_compressed_history_cut_short_is_read_to_its_last_block(runs, tmp_path):
    """What a harness killed mid-run leaves: blocks without the stream's end."""
    plain, twins = runs
    d = shutil.copytree(plain, tmp_path / "r")
    data = (d / "history.jsonl").read_bytes()
    (d / "history.jsonl").unlink()
    z = compress(data, "zst", pieces=10)
    (d / "history.jsonl.zst").write_bytes(z[:len(z) * 2 // 3])
    assert cli("check", d).exit_code in (0, 1)
    r = cli("export", d, "--format", "jsonl")
    ops = [json.loads(line) for line in data.splitlines()]
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 0 and 0 < len(got) < len(ops) and got == ops[:len(got)]


def test_a_compressed_final_read_that_is_damaged_reads_as_none(runs, tmp_path):
    _, twins = runs
    d = shutil.copytree(twins["zst"], tmp_path / "r")
    (d / "final.json.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"junk" * 10)
    assert RunDir(d).final is None
    assert cli("check", d).exit_code == 4       # no final reads: the set checker cannot judge


@pytest.mark.parametrize("codec", ["zst", "gz"])
def test_check_file_takes_compressed_jsonl_and_edn(runs, tmp_path, codec):
    plain, _ = runs
    edn = tmp_path / "h.edn"
    assert cli("export", plain, "--format", "edn", "-o", edn).exit_code == 0
    for path in (plain / "history.jsonl", edn):
        packed = tmp_path / f"{path.name}.{codec}"
        packed.write_bytes(compress(path.read_bytes(), codec, pieces=4))
        a, b = cli("check", path, "--model", "register"), cli("check", packed, "--model", "register")
        assert a.exit_code == b.exit_code and a.stderr == b.stderr, (a.output, b.output)
        assert a.stdout.split("(")[0] == b.stdout.split("(")[0]
        assert "index 0" in a.stderr        # set ops: the register model refuses the same op
    packed.write_bytes(packed.read_bytes()[:8] + b"junk" * 20)
    line = one_line_error(cli("check", packed, "--model", "register"))
    assert line.startswith(f"splitbrain: h.edn.{codec}: cannot read history: damaged"), line
