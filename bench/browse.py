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
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rawload

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    env.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")
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
        from ticketing.server.embedded_pg import ensure_running

        env["DATABASE_URL"] = ensure_running()
    subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PY, "manage.py", "seed_if_empty"], cwd=ROOT, env=env, check=True)

    port = free_port()
    server = subprocess.Popen(
        [
            PY,
            "-m",
            "daphne",
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "ticketing.config.asgi:application",
        ],
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
        print(
            f"{args.procs} client processes x {args.threads} keep-alive connections, {args.seconds}s per run"
        )

        def progress(r: int, name: str, result: rawload.Result) -> None:
            errors = sum(n for status, n in result.statuses.items() if status not in rawload.OK)
            note = f"  ({errors} errors)" if errors else ""
            print(f"  round {r + 1} {name:<7} {result.rps:8.0f} req/s{note}")

        results = rawload.rounds(
            port,
            {name: (path, None) for name, path in paths.items()},
            rounds=args.rounds,
            seconds=args.seconds,
            procs=args.procs,
            threads=args.threads,
            progress=progress,
        )
        ping = results["ping"]["rps"]
        print("median req/s and ratio to ping:")
        for name, row in results.items():
            print(f"  {name:<7} {row['rps']:8.0f} req/s  {row['rps'] / ping:6.0%}")
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
