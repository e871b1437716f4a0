"""Throughput: the harness's recorded `set` workload vs a bare redis-py loop.

Both run at the same concurrency against the same topology, in one process, alternating
(bare, harness, bare, harness) so machine noise hits both; prints ops/s and the ratio.
The harness's workers are asyncio tasks, so the like-for-like baseline is the asyncio
bare loop; the threaded bare loop is printed for reference (it was the harness's first
design, and ~2.5x slower).

    .venv/bin/python bench/throughput.py [--topology sentinel] [--concurrency 10] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
import redis.asyncio  # noqa: E402

from harness.runner import Run  # noqa: E402
from harness.spec import TestSpec  # noqa: E402
from harness.topology import Topology, new_topology  # noqa: E402


def bare_threads(host: str, concurrency: int, seconds: float) -> float:
    counter = itertools.count(10**9)
    done = [0] * concurrency
    stop = threading.Event()

    def loop(i: int) -> None:
        r = redis.Redis(host=host, socket_timeout=0.5)
        while not stop.is_set():
            v = next(counter)
            r.sadd(f"s{v % 10}", v)
            done[i] += 1
        r.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def bare_asyncio(host: str, concurrency: int, seconds: float) -> float:
    async def main() -> float:
        counter = itertools.count(2 * 10**9)
        done = 0
        deadline = time.monotonic() + seconds
        r = redis.asyncio.Redis(host=host, socket_timeout=0.5, max_connections=concurrency)

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                v = next(counter)
                await r.sadd(f"s{v % 10}", v)
                done += 1

        t0 = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        rate = done / (time.monotonic() - t0)
        await r.aclose()
        return rate

    return asyncio.run(main())


def harness_rate(topo: Topology, concurrency: int, seconds: float, results: str) -> float:
    spec = TestSpec(topology=topo.kind, workload="set", time_limit=seconds, concurrency=concurrency,
                    seed=1, results_dir=results, name="bench-throughput")
    outcome = Run(spec, out=open("/dev/null", "w"), topology=topo).execute()
    st = outcome.results["stats"]
    return st["ops"] / (seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topology", default="sentinel")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    topo = new_topology(a.topology)
    topo.up()
    try:
        host = (topo.primaries() or topo.nodes)[0].ip
        bare, ours, aio = [], [], []
        with tempfile.TemporaryDirectory() as results:
            for _ in range(a.rounds):
                bare.append(bare_threads(host, a.concurrency, a.seconds))
                ours.append(harness_rate(topo, a.concurrency, a.seconds, results))
                aio.append(bare_asyncio(host, a.concurrency, a.seconds))
        b, h, s = statistics.median(bare), statistics.median(ours), statistics.median(aio)
        print(f"topology {a.topology}, concurrency {a.concurrency}, {a.seconds:.0f}s x {a.rounds} rounds")
        print(f"  bare redis-py loop (threads): {b:8.0f} ops/s   rounds: {', '.join(f'{x:.0f}' for x in bare)}")
        print(f"  bare redis-py loop (asyncio): {s:8.0f} ops/s   rounds: {', '.join(f'{x:.0f}' for x in aio)}")
        print(f"  splitbrain set workload:      {h:8.0f} ops/s   rounds: {', '.join(f'{x:.0f}' for x in ours)}")
        print(f"  ratio harness / bare asyncio: {h / s:.2f}")
        print(f"  ratio harness / bare threads: {h / b:.2f}")
    finally:
        topo.down()


if __name__ == "__main__":
    main()
