#!/usr/bin/env python3
"""Cached browse reads vs a trivial endpoint, on one daphne server, in the same run.

Starts daphne (production settings, embedded PostgreSQL unless DATABASE_URL is set, demo
data seeded if the database is empty), warms the caches, then alternates rounds of
``/api/ping``, ``/api/events``, ``/api/events/{id}`` and ``/api/events/{id}/seats`` under
the same keep-alive load and prints requests/s and the ratio to ping. The issue's target:
cached list and detail reach at least 80% of ping's requests/s.

Usage: .venv/bin/python bench/browse.py [--seconds 1.5] [--rounds 10] [--procs 2] [--threads 8]
Short interleaved rounds and medians keep background load from favouring one endpoint.
Not part of the test suite; timings depend on the machine and its other load.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HEADERS = {"Accept-Encoding": "gzip", "Accept": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(port: int, path: str, seconds: float, threads: int, out: mp.Queue) -> None:
    counts = [0] * threads
    errors = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            try:
                conn.request("GET", path, headers=HEADERS)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((sum(counts), sum(errors)))


def measure(port: int, path: str, *, seconds: float, procs: int, threads: int) -> tuple[float, int]:
    out: mp.Queue = mp.Queue()
    workers = [mp.Process(target=_load, args=(port, path, seconds, threads, out)) for _ in range(procs)]
    t0 = time.perf_counter()
    for p in workers:
        p.start()
    results = [out.get() for _ in workers]
    for p in workers:
        p.join()
    elapsed = max(seconds, time.perf_counter() - t0 - 0.05)
    return sum(r[0] for r in results) / elapsed, sum(r[1] for r in results)


def get(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return json.loads(body)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": env.get("DJANGO_SECRET_KEY", "bench-" + "k" * 50),
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    if not env.get("DATABASE_URL"):
        sys.path.insert(0, str(ROOT))
        from ticketing.embedded_pg import ensure_running

        env["DATABASE_URL"] = ensure_running()
    subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PY, "manage.py", "seed_if_empty"], cwd=ROOT, env=env, check=True)

    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), "ticketing.asgi:application"],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                get(port, "/api/ping")
                break
            except OSError:
                time.sleep(0.2)
        listing = get(port, "/api/events?size=20")
        if not listing["items"]:
            print("no public events to read; seed the database first")
            return 1
        event_id = max(listing["items"], key=lambda i: 0 if i["status"] == "on_sale" else -1)["id"]
        paths = {
            "ping": "/api/ping",
            "list": "/api/events?size=20",
            "detail": f"/api/events/{event_id}",
            "seats": f"/api/events/{event_id}/seats",
        }
        for path in paths.values():
            get(port, path)  # warm the caches
        results: dict[str, list[float]] = {name: [] for name in paths}
        print(
            f"{args.procs} client processes x {args.threads} keep-alive connections, {args.seconds}s per run"
        )
        for r in range(args.rounds):
            for name, path in paths.items():
                rps, errors = measure(
                    port, path, seconds=args.seconds, procs=args.procs, threads=args.threads
                )
                results[name].append(rps)
                print(
                    f"  round {r + 1} {name:<7} {rps:8.0f} req/s" + (f"  ({errors} errors)" if errors else "")
                )
        ping = statistics.median(results["ping"])
        print("median req/s and ratio to ping:")
        for name, values in results.items():
            med = statistics.median(values)
            print(f"  {name:<7} {med:8.0f} req/s  {med / ping:6.0%}")
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
