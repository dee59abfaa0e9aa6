"""Checkout fixtures: an on-sale event, inventory snapshots for error paths, and races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import table_counts


@pytest.fixture
def event(db):
    """An on-sale event: one section, rows A and B of 5 seats."""
    from tests.factories import make_event

    return make_event()


def seat_ids(event, section_id: int | None = None) -> list[int]:
    """The event's seat ids, best row and position first."""
    from checkout.models import SeatInventory

    qs = SeatInventory.objects.filter(event=event)
    if section_id is not None:
        qs = qs.filter(section_id=section_id)
    return list(qs.order_by("seat__row_rank", "seat__position").values_list("seat_id", flat=True))


def inventory_state() -> dict[str, Any]:
    """Everything a checkout error could wrongly change, audit excluded (refusals are audited)."""
    from checkout.models import (
        AuditLog,
        Hold,
        IdempotencyRecord,
        InventoryVersion,
        Order,
        SeatInventory,
        Ticket,
    )

    counts = table_counts()
    counts.pop(AuditLog._meta.label)
    return {
        "counts": counts,
        "inventory": list(
            SeatInventory.objects.order_by("pk").values_list(
                "pk", "status", "hold_id", "hold_expires_at", "order_id", "ticket_id"
            )
        ),
        "holds": list(
            Hold.objects.order_by("pk").values_list("pk", "status", "expires_at", "extensions_used")
        ),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status")),
        "tickets": list(Ticket.objects.order_by("pk").values_list("pk", "status")),
        "idempotency": list(IdempotencyRecord.objects.order_by("pk").values_list("pk", "order_id")),
        "versions": list(InventoryVersion.objects.order_by("pk").values_list("pk", "version")),
    }


@pytest.fixture
def inventory_unchanged():
    """``with inventory_unchanged() as audit: ...`` asserts nothing but audit rows changed;
    ``audit`` then lists the actions of the audit rows the block added."""
    from checkout.models import AuditLog

    @contextmanager
    def check():
        before = inventory_state()
        last = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        added: list[str] = []
        yield added
        assert inventory_state() == before
        added.extend(AuditLog.objects.filter(pk__gt=last).order_by("pk").values_list("action", flat=True))

    return check


@pytest.fixture
def big_pool():
    """Let up to 130 threads hold a connection at once (the default pool is 20).

    Capped by what the server has left (a shared server may allow only 100); ``race`` then
    makes the threads share the pool instead of failing.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int - (SELECT count(*) FROM pg_stat_activity)"
        )
        spare = cursor.fetchone()[0]
    options = connection.settings_dict["OPTIONS"]["pool"]
    old = options.get("max_size")

    def reset(size):
        connection.close()
        connection.close_pool()
        options["max_size"] = size

    reset(max(10, min(130, spare - 15)))
    yield
    reset(old)


def race(calls: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run the calls at once, each in its own thread with its own connection.

    Returns ``("ok", value)`` or ``("error", exception)`` per call, in order. A barrier
    releases all threads together, so they really overlap in PostgreSQL.
    """
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, Any]] = [("error", RuntimeError("did not run"))] * len(calls)
    pool_size = (connection.settings_dict["OPTIONS"].get("pool") or {}).get("max_size") or 0
    # Connect before the barrier, so the work races and not the pool, when the pool has room for
    # every thread; otherwise threads take turns with pooled connections after the barrier.
    connect_first = len(calls) <= pool_size

    def run(i: int, fn: Callable[[], Any]) -> None:
        try:
            if connect_first:
                connection.ensure_connection()
            barrier.wait(timeout=60)
            results[i] = ("ok", fn())
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return results


def retry_busy(fn: Callable[[], Any], attempts: int = 20) -> Callable[[], Any]:
    """What a well-behaved client does with BUSY (503, Retry-After): try again."""
    import time

    from ticketing.core.errors import Busy

    def call():
        for i in range(attempts):
            try:
                return fn()
            except Busy:
                if i == attempts - 1:
                    raise
                time.sleep(0.05)

    return call


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # Users here are buyers in races, not login tests: skip the deliberately slow hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
