"""Reconciliation: check the inventory invariants, report every violation, repair the safe ones.

The CHECK constraints and the partial unique index already refuse most bad states;
this catches what they cannot express (a sold row whose ticket was voided, a held
row whose hold ended) and what a restore, a manual SQL fix or a bug slipped past them.

Only ghost holds are repaired: a seat marked held by a hold that no longer exists or
has ended is unambiguously free. Everything else involves money or a buyer's ticket
and is left for a person, with the ids to look at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from checkout.models import LIVE_HOLD_STATUSES, AuditAction, Hold, SeatInventory, SeatStatus
from checkout.selectors.availability import taken_sql
from checkout.services.common import inventory_changed
from ticketing.core.locks import lock_rows, set_lock_timeout
from ticketing.ops import metrics

# Each check is one query returning rows of the same columns; ``detail`` names them.
CHECKS: dict[str, tuple[str, list[str]]] = {
    "seat_with_two_live_tickets": (
        """
        SELECT event_id, seat_id, array_agg(id ORDER BY id)
          FROM checkout_ticket WHERE status IN ('valid', 'used')
         GROUP BY event_id, seat_id HAVING COUNT(*) > 1 ORDER BY event_id, seat_id
        """,
        ["event_id", "seat_id", "ticket_ids"],
    ),
    "sold_seat_without_live_ticket": (
        """
        SELECT i.id, i.event_id, i.seat_id, i.ticket_id, t.status
          FROM checkout_seatinventory i
          LEFT JOIN checkout_ticket t ON t.id = i.ticket_id
         WHERE i.status = 'sold'
           AND (t.id IS NULL OR t.status NOT IN ('valid', 'used')
                OR t.event_id <> i.event_id OR t.seat_id <> i.seat_id)
         ORDER BY i.id
        """,
        ["inventory_id", "event_id", "seat_id", "ticket_id", "ticket_status"],
    ),
    "live_ticket_seat_not_sold": (
        """
        SELECT t.id, t.event_id, t.seat_id, t.order_id, i.id, i.status
          FROM checkout_ticket t
          LEFT JOIN checkout_seatinventory i ON i.event_id = t.event_id AND i.seat_id = t.seat_id
         WHERE t.status IN ('valid', 'used')
           AND (i.id IS NULL OR i.status <> 'sold' OR i.ticket_id IS DISTINCT FROM t.id)
         ORDER BY t.id
        """,
        ["ticket_id", "event_id", "seat_id", "order_id", "inventory_id", "inventory_status"],
    ),
    "paid_order_without_tickets": (
        """
        SELECT o.id, o.event_id,
               COUNT(t.id) AS tickets,
               COUNT(t.id) FILTER (WHERE t.status IN ('valid', 'used')) AS live
          FROM checkout_order o
          LEFT JOIN checkout_ticket t ON t.order_id = o.id
         WHERE o.status = 'paid'
         GROUP BY o.id, o.event_id
        HAVING COUNT(t.id) FILTER (WHERE t.status IN ('valid', 'used')) = 0
            OR COUNT(t.id) FILTER (WHERE t.status = 'void') > 0
         ORDER BY o.id
        """,
        ["order_id", "event_id", "tickets", "live_tickets"],
    ),
    "order_total_mismatch": (
        """
        SELECT o.id, o.event_id, o.total::text,
               COALESCE(SUM(t.price - t.discount + t.fee) + o.order_fee, 0)::text
          FROM checkout_order o
          LEFT JOIN checkout_ticket t ON t.order_id = o.id
         GROUP BY o.id, o.event_id, o.total, o.order_fee
        -- A ticket's line is what the buyer paid for it (services/pricing); the order fee comes once.
        HAVING o.total <> COALESCE(SUM(t.price - t.discount + t.fee) + o.order_fee, 0)
         ORDER BY o.id
        """,
        ["order_id", "event_id", "total", "tickets_sum"],
    ),
    "inventory_seat_mismatch": (
        """
        SELECT i.id, i.event_id, i.seat_id, i.section_id, s.section_id
          FROM checkout_seatinventory i
          JOIN events_event e ON e.id = i.event_id
          LEFT JOIN events_seat s ON s.id = i.seat_id
          LEFT JOIN events_section sec ON sec.id = s.section_id
         WHERE s.id IS NULL OR s.section_id <> i.section_id OR sec.venue_id <> e.venue_id
         ORDER BY i.id
        """,
        ["inventory_id", "event_id", "seat_id", "section_id", "seat_section_id"],
    ),
    "negative_availability": (
        # Per event section: seats minus the rows taken (availability's one SQL fragment).
        # Below zero only if rows are counted twice or point at the wrong section, which
        # the seat map would show as a negative "seats left".
        f"""
        WITH taken AS (
            SELECT i.event_id, i.section_id,
                   COUNT(*) FILTER (WHERE {taken_sql("i")}) AS n
              FROM checkout_seatinventory i
             GROUP BY i.event_id, i.section_id
        )
        SELECT t.event_id, t.section_id, COUNT(s.id), t.n
          FROM taken t LEFT JOIN events_seat s ON s.section_id = t.section_id
         GROUP BY t.event_id, t.section_id, t.n
        HAVING COUNT(s.id) - t.n < 0
         ORDER BY t.event_id, t.section_id
        """,
        ["event_id", "section_id", "seats", "taken"],
    ),
    "ghost_hold": (
        # Held by a hold that is gone or has ended: the seat is free in truth. Repaired.
        """
        SELECT i.id, i.event_id, i.seat_id, i.hold_id, h.status
          FROM checkout_seatinventory i
          LEFT JOIN checkout_hold h ON h.id = i.hold_id
         WHERE i.status = 'held'
           AND (h.id IS NULL OR h.status NOT IN ('active', 'paying') OR h.ended_at IS NOT NULL
                OR h.event_id <> i.event_id)
         ORDER BY i.id
        """,
        ["inventory_id", "event_id", "seat_id", "hold_id", "hold_status"],
    ),
}

# Not a violation: holds the sweeper should have ended long ago. Reported so someone looks at the cluster.
SWEEPER_LAG_SQL = """
    SELECT h.id, h.event_id, h.expires_at, COUNT(i.id)
      FROM checkout_hold h
      LEFT JOIN checkout_seatinventory i ON i.hold_id = h.id
     WHERE h.status IN ('active', 'paying') AND h.expires_at < %(cutoff)s
     GROUP BY h.id ORDER BY h.expires_at, h.id
"""

REPAIRABLE = {"ghost_hold"}


@dataclass
class ReconcileReport:
    checked_at: dt.datetime
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    repaired: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.violations.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "ok": self.ok,
            "counts": self.counts(),
            "violations": {k: v for k, v in self.violations.items() if v},
            "warnings": {k: v for k, v in self.warnings.items() if v},
            "repaired": {k: v for k, v in self.repaired.items() if v},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _query(sql: str, columns: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(columns, map(_jsonable, row), strict=True)) for row in cursor.fetchall()]


def reconcile_check(*, now: dt.datetime | None = None, grace: dt.timedelta | None = None) -> ReconcileReport:
    """Run every check read-only; returns what it found (``report.ok`` when nothing)."""
    now = now or timezone.now()
    if grace is None:
        grace = dt.timedelta(seconds=settings.TICKETING_SWEEPER_GRACE_SECONDS)
    report = ReconcileReport(checked_at=now)
    for name, (sql, columns) in CHECKS.items():
        report.violations[name] = _query(sql, columns, {"now": now})
    report.warnings["sweeper_lag"] = _query(
        SWEEPER_LAG_SQL, ["hold_id", "event_id", "expired_at", "seats"], {"cutoff": now - grace}
    )
    return report


def reconcile_run(
    *, now: dt.datetime | None = None, repair: bool = True, grace: dt.timedelta | None = None
) -> ReconcileReport:
    """Check everything and, with ``repair``, free the seats of ghost holds.

    Each event's repair is one transaction: rows locked (pk order), the condition
    re-checked under the lock, rows set available, the inventory version bumped and an
    ``AuditLog`` REPAIRED row written; the seat-map push and waitlist offer follow on
    commit. Repaired rows stay listed under ``violations`` (they were found) and are
    listed again under ``repaired``. Nothing else is ever written.
    """
    report = reconcile_check(now=now, grace=grace)
    if repair:
        ghosts = report.violations["ghost_hold"]
        by_event: dict[int, list[int]] = {}
        for row in ghosts:
            by_event.setdefault(row["event_id"], []).append(row["inventory_id"])
        repaired: list[int] = []
        for event_id, ids in sorted(by_event.items()):
            repaired += _ghost_holds_free(event_id=event_id, inventory_ids=ids, now=report.checked_at)
        report.repaired["ghost_hold"] = repaired
    return report


def _ghost_holds_free(*, event_id: int, inventory_ids: list[int], now: dt.datetime) -> list[int]:
    with transaction.atomic():
        set_lock_timeout()
        rows = lock_rows(
            SeatInventory.objects.filter(pk__in=inventory_ids, event_id=event_id, status=SeatStatus.HELD)
        )
        # Re-check under the lock: the hold may have been re-attached or the seat sold meanwhile.
        hold_ids = {r.hold_id for r in rows}
        live = set(
            Hold.objects.filter(
                pk__in=hold_ids, status__in=LIVE_HOLD_STATUSES, ended_at__isnull=True, event_id=event_id
            ).values_list("pk", flat=True)
        )
        ghosts = [r for r in rows if r.hold_id not in live]
        if not ghosts:
            return []
        ids = [r.pk for r in ghosts]
        SeatInventory.objects.filter(pk__in=ids).update(
            status=SeatStatus.AVAILABLE, hold=None, hold_expires_at=None, updated_at=now
        )
        seat_ids = [r.seat_id for r in ghosts]
        inventory_changed(
            event_id=event_id,
            seat_ids=seat_ids,
            released_reason="repaired",
            action=AuditAction.REPAIRED,
            at=now,
            reason="ghost_hold",
            data={
                "inventory_ids": ids,
                "seat_ids": seat_ids,
                "hold_ids": sorted({r.hold_id for r in ghosts}),
            },
        )
        transaction.on_commit(lambda: metrics.reconcile_repaired(check="ghost_hold", count=len(ids)))
    return ids
