"""Per-event inventory versions: the cache key of every availability read. Counted here, in
the changing transaction; read in ``checkout.selectors.availability``."""

from __future__ import annotations

import random

from django.db import connection

from checkout.models import INVENTORY_VERSION_SHARDS


def inventory_version_bump(*, event_id: int) -> None:
    """Count one inventory change of ``event_id``.

    Precondition: inside the transaction that makes the change, so the bump commits (or
    rolls back) with it. Touches one of ``INVENTORY_VERSION_SHARDS`` rows at random.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("inventory_version_bump must run inside the changing transaction.")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO checkout_inventoryversion (event_id, shard, version) VALUES (%s, %s, 1)
            ON CONFLICT (event_id, shard) DO UPDATE SET version = checkout_inventoryversion.version + 1
            """,
            [event_id, random.randrange(INVENTORY_VERSION_SHARDS)],
        )
