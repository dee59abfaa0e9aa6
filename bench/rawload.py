"""Closed-loop keep-alive GETs from worker processes, for comparing endpoints' requests/s.

Why not the asyncio + httpx load generator: on a 2-core machine shared with the server, httpx's
per-request CPU made the client the bottleneck, and a slow client squeezes every endpoint
towards the same rate. Plain ``http.client`` on threads in separate processes costs a fraction
of that, reads the raw bytes (gzip stays gzip), and each process times its own window, so
process start-up is not counted.

Used by the on-sale benchmark's capacity phase and by bench/browse.py.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

HEADERS = {"Accept-Encoding": "gzip", "Accept": "application/json"}
OK = frozenset({200, 304})
# Latencies kept per worker process: enough for percentiles, bounded in memory.
MAX_LATENCIES = 20_000


@dataclass
class Result:
    """One endpoint's run: requests/s over the processes' own windows, statuses, latencies (s)."""

    rps: float
    ok: int
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


def _worker(port: int, path: str, headers: dict, seconds: float, threads: int, out) -> None:
    statuses: list[Counter] = [Counter() for _ in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = time.perf_counter()
    deadline = start + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        keep = MAX_LATENCIES // threads
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            statuses[i][status] += 1
            if len(latencies[i]) < keep:
                latencies[i].append(time.perf_counter() - t0)
        conn.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    window = time.perf_counter() - start
    total = sum(statuses, Counter())
    out.put((total, window, [x for lat in latencies for x in lat]))


def measure(
    port: int,
    path: str,
    *,
    seconds: float,
    procs: int = 2,
    threads: int = 8,
    headers: dict[str, str] | None = None,
) -> Result:
    """``path`` alone for ``seconds`` from ``procs`` x ``threads`` keep-alive connections."""
    ctx = mp.get_context("spawn")  # the caller may run an event loop and threads: don't fork them
    out = ctx.Queue()
    hdrs = {**HEADERS, **(headers or {})}
    workers = [
        ctx.Process(target=_worker, args=(port, path, hdrs, seconds, threads, out)) for _ in range(procs)
    ]
    for p in workers:
        p.start()
    parts = [out.get() for _ in workers]
    for p in workers:
        p.join()
    statuses = sum((s for s, _, _ in parts), Counter())
    ok = sum(n for status, n in statuses.items() if status in OK)
    rps = sum(sum(n for st, n in s.items() if st in OK) / window for s, window, _ in parts)
    return Result(rps=rps, ok=ok, statuses=statuses, latencies=[x for _, _, lat in parts for x in lat])


def rounds(
    port: int,
    paths: dict[str, tuple[str, dict[str, str] | None]],
    *,
    rounds: int,
    seconds: float,
    procs: int = 2,
    threads: int = 8,
    progress=None,
) -> dict[str, dict]:
    """Interleaved short runs of every path, so a burst of other load hits all of them alike.

    Returns per name: median requests/s over the rounds, statuses and latencies of all rounds.
    """
    runs: dict[str, list[Result]] = {name: [] for name in paths}
    for r in range(rounds):
        for name, (path, headers) in paths.items():
            result = measure(port, path, seconds=seconds, procs=procs, threads=threads, headers=headers)
            runs[name].append(result)
            if progress:
                progress(r, name, result)
    return {
        name: {
            "rps": statistics.median(x.rps for x in results),
            "requests": sum(x.ok for x in results),
            "statuses": dict(sum((x.statuses for x in results), Counter())),
            "latencies": [lat for x in results for lat in x.latencies],
        }
        for name, results in runs.items()
    }
