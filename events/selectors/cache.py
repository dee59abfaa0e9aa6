"""The version-keyed cache of catalog and event-page reads.

A *snapshot* is a serialised answer (gzipped JSON bytes, ETag, and the instant the clock
alone would change it) cached under the versions the data depends on. The versions are
read *before* the data, so an entry is never older than its key; a change commits a
version bump in its own transaction, so the next read from any process misses.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

# Bump when the shape of a cached payload changes, so a shared cache (Redis) never serves
# the old shape to new code during a rolling deploy.
PAYLOAD_FORMAT = "b1"
CACHE_SECONDS = 3600

# The catalog version as an SQL expression, for reads that fetch it with other versions.
CATALOG_VERSION_SQL = "COALESCE((SELECT version FROM events_catalogversion WHERE id = 1), 0)"


def catalog_version_read() -> int:
    """The catalog version (0 before any change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + CATALOG_VERSION_SQL)
        return int(cursor.fetchone()[0])


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Snapshot:
    """A serialised answer: gzipped JSON bytes, its ETag and when the clock expires it."""

    gzipped: bytes
    etag: str
    valid_until: float | None

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.gzipped)

    @property
    def data(self) -> Any:
        return json.loads(self.body)

    def fresh(self, now: dt.datetime) -> bool:
        return self.valid_until is None or now.timestamp() < self.valid_until


def snapshot(
    key: str, build: Callable[[dt.datetime], tuple[Any, dt.datetime | None]], now: dt.datetime | None
) -> Snapshot:
    now = now or timezone.now()
    hit = cache.get(key)
    if hit is not None and hit.fresh(now):
        return hit
    data, valid_until = build(now)
    body = data if isinstance(data, bytes) else dumps(data)
    snap = Snapshot(
        # mtime=0: equal bodies give equal bytes in every process. Level 1: these payloads
        # are repetitive enough that it is as small as level 6 at a fraction of the CPU.
        gzipped=gzip.compress(body, compresslevel=1, mtime=0),
        etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
        valid_until=valid_until.timestamp() if valid_until else None,
    )
    cache.set(key, snap, CACHE_SECONDS)
    return snap


def static_cached(kind: str, event_id: int, catalog_version: int | None, build: Callable[[], Any]) -> Any:
    if catalog_version is None:
        return build()
    key = f"ev:{PAYLOAD_FORMAT}:static:{kind}:{event_id}:{catalog_version}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, CACHE_SECONDS)
    return value
