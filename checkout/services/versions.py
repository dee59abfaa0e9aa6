"""Per-event inventory versions: the cache key of every availability read. Counted here, in
the changing transaction; read in ``checkout.selectors.availability``."""

from __future__ import annotations

import random

from django.db import connection

from checkout.models import INVENTORY_VERSION_SHARDS
from ticketing.core import sql

# One count on one of ``INVENTORY_VERSION_SHARDS`` rows (``%(event)s``, ``%(shard)s``). Also
# carried as a CTE by ``common.inventory_changed``, with the audit row in the same round trip.
VERSION_BUMP_SQL = """
    INSERT INTO checkout_inventoryversion (event_id, shard, version) VALUES (%(event)s, %(shard)s, 1)
    ON CONFLICT (event_id, shard) DO UPDATE SET version = checkout_inventoryversion.version + 1
"""


def version_bump_params(*, event_id: int) -> dict[str, int]:
    if not connection.in_atomic_block:
        raise RuntimeError("inventory_version_bump must run inside the changing transaction.")
    return {"event": event_id, "shard": random.randrange(INVENTORY_VERSION_SHARDS)}


def inventory_version_bump(*, event_id: int) -> None:
    """Count one inventory change of ``event_id``.

    Precondition: inside the transaction that makes the change, so the bump commits (or
    rolls back) with it. Touches one of ``INVENTORY_VERSION_SHARDS`` rows at random.
    """
    sql.execute(VERSION_BUMP_SQL, version_bump_params(event_id=event_id))
