"""Compressing histories as a run writes them: zstd against gzip against plain JSONL.

The writer flushes every 0.2 s of the run so that a killed harness leaves a readable
prefix, and each flush ends a compressed block (zstd FLUSH_BLOCK, gzip Z_SYNC_FLUSH),
which costs some ratio. So each history is replayed the way the run wrote it: its lines
grouped by their `time` into 0.2 s slices, each slice compressed and flushed. For each
codec: the ratio, the compressor's CPU time per MB of history, MB of history per CPU
second, the decompressor's speed (MB of history out per second), and results per minute
of test (the history's compressed size scaled by the run's duration). Plain JSONL is the
baseline, measured in the same run. One compression without flushes shows what the
flushes cost.

    .venv/bin/python bench/compression.py [HISTORY.jsonl ...]

Without arguments it takes every history.jsonl under results/.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
import zlib

import orjson
import zstandard

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness.compression import open_decompressed  # noqa: E402
from harness.history import read_history  # noqa: E402
from harness.history_writer import HistoryWriter  # noqa: E402

SLICE_NS = 200_000_000      # HistoryWriter.FLUSH_EVERY


def slices(path: str) -> list[bytes]:
    """The history's bytes as the writer flushed them: one piece per 0.2 s of op time."""
    out: list[bytes] = []
    current: list[bytes] = []
    edge = SLICE_NS
    with open(path, "rb") as fh:
        for line in fh:
            t = orjson.loads(line).get("time", 0)
            if t >= edge and current:
                out.append(b"".join(current))
                current = []
                edge = (t // SLICE_NS + 1) * SLICE_NS
            current.append(line)
    if current:
        out.append(b"".join(current))
    return out


def zstd_writer(level: int):
    c = zstandard.ZstdCompressor(level=level).compressobj()
    return (lambda piece: c.compress(piece) + c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK),
            lambda: c.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))


def gzip_writer(level: int):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)     # wbits 31: a gzip member
    return (lambda piece: c.compress(piece) + c.flush(zlib.Z_SYNC_FLUSH), c.flush)


def plain_writer():
    return (lambda piece: piece), (lambda: b"")


CODECS = [("plain JSONL", ".jsonl", plain_writer), ("zstd -1", ".zst", lambda: zstd_writer(1)),
          ("zstd -3", ".zst", lambda: zstd_writer(3)), ("zstd -9", ".zst", lambda: zstd_writer(9)),
          ("gzip -1", ".gz", lambda: gzip_writer(1)), ("gzip -6", ".gz", lambda: gzip_writer(6))]


def measure(pieces: list[bytes], make, tmp: str) -> dict:
    """Compress the pieces as the writer does (one flush each), into tmp; read it back."""
    write, finish = make()
    cpu = time.process_time()
    with open(tmp, "wb") as fh:
        for piece in pieces:
            fh.write(write(piece))
        fh.write(finish())
    cpu = time.process_time() - cpu
    size = os.path.getsize(tmp)
    wall = time.perf_counter()
    n = 0
    with open_decompressed(tmp) as fh:
        while chunk := fh.read(1 << 20):
            n += len(chunk)
    read_s = time.perf_counter() - wall
    return {"size": size, "cpu_s": cpu, "read_s": read_s, "out": n}


def append_cost(path: str, limit: int = 200_000) -> None:
    """What an op costs the worker that appends it (the per-op lock's holder), and the
    whole process, for a plain and a compressed file: compression happens in the flush
    thread, so the first should not move. Then how long `read_history` takes on each."""
    with open(path, "rb") as fh:
        ops = [orjson.loads(line) for _, line in zip(range(limit), fh)]
    for suffix in (".jsonl", ".jsonl.zst"):
        tmp = f"/tmp/bench-compression-writer-{os.getpid()}{suffix}"
        batch = [dict(op) for op in ops]
        cpu, wall = time.process_time(), time.perf_counter()
        writer = HistoryWriter(tmp)
        for op in batch:
            del op["index"]
            writer.append(op)
        appended = time.perf_counter() - wall
        writer.close()
        cpu = time.process_time() - cpu
        wall = time.perf_counter()
        assert len(read_history(tmp)) == len(ops)
        read_s = time.perf_counter() - wall
        print(f"  HistoryWriter {suffix:<11} {appended / len(ops) * 1e6:.2f} us per append in the "
              f"worker, {cpu / len(ops) * 1e6:.2f} us CPU per op in all (close included), "
              f"{os.path.getsize(tmp) / 1e6:.1f} MB; read_history {read_s:.2f} s")
        os.unlink(tmp)


def duration_s(path: str) -> float | None:
    """The run's duration, from the results.json beside the history."""
    try:
        with open(os.path.join(os.path.dirname(path), "results.json")) as fh:
            return float(json.load(fh)["stats"]["duration_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(paths: list[str]) -> None:
    paths = paths or sorted(glob.glob("results/**/history.jsonl", recursive=True))
    tmp = f"/tmp/bench-compression-{os.getpid()}"
    totals: dict[str, list[float]] = {}
    for path in paths:
        pieces = slices(path)
        mb = sum(map(len, pieces)) / 1e6
        dur = duration_s(path)
        flush_mb = mb / len(pieces)
        print(f"\n{path}\n  {mb:.1f} MB in {len(pieces)} flushes ({flush_mb * 1000:.0f} kB each)"
              + (f", {dur:.0f} s of test" if dur else ""))
        print(f"  {'codec':<12} {'ratio':>6} {'CPU ms/MB':>10} {'MB/s in':>8} {'read MB/s':>10} {'MB/min':>7}")
        whole = b"".join(pieces)
        for name, suffix, make in CODECS:
            m = measure(pieces, make, tmp + suffix)
            assert m["out"] == len(whole), f"{name}: read back {m['out']} bytes of {len(whole)}"
            ratio = len(whole) / m["size"]
            per_min = m["size"] / 1e6 / dur * 60 if dur else float("nan")
            print(f"  {name:<12} {ratio:6.2f} {m['cpu_s'] * 1000 / mb:10.2f} {mb / max(m['cpu_s'], 1e-9):8.0f} "
                  f"{mb / m['read_s']:10.0f} {per_min:7.1f}")
            t = totals.setdefault(name, [0.0, 0.0, 0.0, 0.0, 0.0])
            for i, v in enumerate((len(whole), m["size"], m["cpu_s"], m["read_s"], dur or 0)):
                t[i] += v
            os.unlink(tmp + suffix)
        for level in (1, 3):
            one = zstandard.ZstdCompressor(level=level).compress(whole)
            print(f"  zstd -{level} in one piece, no flushes: ratio {len(whole) / len(one):.2f}")
    if paths:
        print(f"\nthe writer's cost, on the first 200,000 ops of {paths[0]}")
        append_cost(paths[0])
    if len(paths) > 1:
        print(f"\nall {len(paths)} histories together")
        print(f"  {'codec':<12} {'ratio':>6} {'CPU ms/MB':>10} {'MB/s in':>8} {'read MB/s':>10} {'MB/min':>7}")
        for name, (raw, size, cpu, read, dur) in totals.items():
            mb = raw / 1e6
            print(f"  {name:<12} {raw / size:6.2f} {cpu * 1000 / mb:10.2f} {mb / cpu:8.0f} {mb / read:10.0f} "
                  f"{size / 1e6 / dur * 60 if dur else float('nan'):7.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
