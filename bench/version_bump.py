#!/usr/bin/env python3
"""Does the inventory version become a hot row? Sharded counter vs one row, measured.

N threads run short transactions shaped like a hold (bump the event's version, then a
little more work while the row lock is held, then commit) against one event for a few
seconds, once with the real sharded ``inventory_version_bump`` SQL and once with every
bump hitting shard 0 (a single-row counter). Prints transactions/s and the ratio.

Usage: .venv/bin/python bench/version_bump.py [--threads 100] [--seconds 5] [--work-ms 2]
Uses the development database (embedded PostgreSQL unless DATABASE_URL is set); the
scratch venue/event it creates are deleted at the end. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")

import django

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from checkout.models import INVENTORY_VERSION_SHARDS, InventoryVersion  # noqa: E402
from events import services  # noqa: E402
from events.models import Event, Venue  # noqa: E402

BUMP = """
INSERT INTO checkout_inventoryversion (event_id, shard, version) VALUES (%s, %s, 1)
ON CONFLICT (event_id, shard) DO UPDATE SET version = checkout_inventoryversion.version + 1
"""


def conninfo() -> dict:
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }


def run(event_id: int, *, threads: int, seconds: float, work_ms: float, sharded: bool) -> tuple[float, float]:
    done = [0] * threads
    waits: list[float] = []
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        with psycopg.connect(**conninfo(), autocommit=False) as conn:
            start.wait()
            while not stop.is_set():
                shard = random.randrange(INVENTORY_VERSION_SHARDS) if sharded else 0
                t0 = time.perf_counter()
                with conn.cursor() as cur:
                    cur.execute(BUMP, [event_id, shard])
                    waits.append(time.perf_counter() - t0)
                    # The rest of a hold's transaction (lock seats, insert hold, audit) keeps
                    # the version row locked until commit.
                    cur.execute("SELECT pg_sleep(%s)", [work_ms / 1000])
                conn.commit()
                done[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    waits.sort()
    p95 = waits[int(len(waits) * 0.95)] * 1000 if waits else 0.0
    return sum(done) / elapsed, p95


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--work-ms", type=float, default=2)
    args = parser.parse_args()

    stamp = f"{time.time():.0f}"
    venue = services.venue_create(
        name=f"Bench {stamp}",
        slug=f"bench-version-{stamp}",
        city="Bench",
        country="DE",
        timezone="UTC",
        sections=[services.SectionSpec(name="A", rows=[("A", 1)])],
    )
    starts = timezone.now() + dt.timedelta(days=30)
    event = services.event_create(
        venue_id=venue.id,
        title="Version bench",
        category="other",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    try:
        print(f"{args.threads} threads, {args.seconds}s each, {args.work_ms} ms of work after the bump")
        single, single_p95 = run(event.pk, sharded=False, **_kw(args))
        print(f"  single row : {single:8.0f} tx/s   bump wait p95 {single_p95:7.1f} ms")
        sharded, sharded_p95 = run(event.pk, sharded=True, **_kw(args))
        label = f"{INVENTORY_VERSION_SHARDS} shards"
        print(f"  {label:<11}: {sharded:8.0f} tx/s   bump wait p95 {sharded_p95:7.1f} ms")
        print(f"  ratio sharded/single: {sharded / single:.1f}x")
    finally:
        InventoryVersion.objects.filter(event=event).delete()
        Event.objects.filter(pk=event.pk).delete()
        Venue.objects.filter(pk=venue.pk).delete()
    return 0


def _kw(args) -> dict:
    return {"threads": args.threads, "seconds": args.seconds, "work_ms": args.work_ms}


if __name__ == "__main__":
    sys.exit(main())
