"""The invariants, read straight from the database after the run (psycopg, no Django).

Each check is one SQL query returning offending rows; an empty result is a pass.
"""

from __future__ import annotations

import psycopg

# name -> (what must hold, query returning the rows that break it)
CHECKS: dict[str, tuple[str, str]] = {
    "no_seat_sold_twice": (
        "at most one valid/used ticket per event seat",
        """
        SELECT event_id, seat_id, count(*) FROM checkout_ticket
         WHERE status IN ('valid', 'used') GROUP BY event_id, seat_id HAVING count(*) > 1
        """,
    ),
    "sold_seats_match_live_tickets": (
        "per event, sold inventory rows = valid/used tickets; each sold row points at a live ticket "
        "for its seat",
        """
        SELECT e.id, sold.n AS sold_rows, live.n AS live_tickets, bad.n AS mismatched_rows
          FROM events_event e
          LEFT JOIN LATERAL (SELECT count(*) n FROM checkout_seatinventory i
                              WHERE i.event_id = e.id AND i.status = 'sold') sold ON true
          LEFT JOIN LATERAL (SELECT count(*) n FROM checkout_ticket t
                              WHERE t.event_id = e.id AND t.status IN ('valid', 'used')) live ON true
          LEFT JOIN LATERAL (SELECT count(*) n FROM checkout_seatinventory i
                               LEFT JOIN checkout_ticket t ON t.id = i.ticket_id
                              WHERE i.event_id = e.id AND i.status = 'sold'
                                AND (t.id IS NULL OR t.status NOT IN ('valid', 'used')
                                     OR t.seat_id <> i.seat_id OR t.order_id <> i.order_id)) bad ON true
         WHERE sold.n <> live.n OR bad.n > 0
        """,
    ),
    "paid_orders_have_tickets": (
        "every paid order has at least one live ticket, and all its live tickets' seats are sold to it",
        """
        SELECT o.id FROM checkout_order o
         WHERE o.status = 'paid'
           AND (NOT EXISTS (SELECT 1 FROM checkout_ticket t
                             WHERE t.order_id = o.id AND t.status IN ('valid', 'used'))
                OR EXISTS (SELECT 1 FROM checkout_ticket t
                             LEFT JOIN checkout_seatinventory i ON i.ticket_id = t.id
                            WHERE t.order_id = o.id AND t.status IN ('valid', 'used')
                              AND (i.id IS NULL OR i.status <> 'sold' OR i.order_id <> o.id)))
        """,
    ),
    "cancelled_orders_have_no_live_tickets": (
        "a cancelled order keeps no valid ticket",
        """
        SELECT o.id FROM checkout_order o JOIN checkout_ticket t ON t.order_id = o.id
         WHERE o.status = 'cancelled' AND t.status = 'valid'
        """,
    ),
    "held_sold_free_equal_capacity": (
        "per published event, inventory rows (held + sold + free) = the venue's seats, one row per seat",
        """
        SELECT e.id, cap.n AS capacity, inv.n AS inventory_rows, inv.distinct_seats
          FROM events_event e
          JOIN LATERAL (SELECT count(*) n FROM events_seat s JOIN events_section sec ON sec.id = s.section_id
                         WHERE sec.venue_id = e.venue_id) cap ON true
          JOIN LATERAL (SELECT count(*) n, count(DISTINCT seat_id) distinct_seats,
                               count(*) FILTER (WHERE status NOT IN ('available', 'held', 'sold')) odd
                          FROM checkout_seatinventory i WHERE i.event_id = e.id) inv ON true
         WHERE e.published_at IS NOT NULL
           AND (inv.n <> cap.n OR inv.distinct_seats <> cap.n OR inv.odd > 0)
        """,
    ),
    "held_seats_belong_to_live_holds": (
        "a held seat points at an active/paying hold of the same event",
        """
        SELECT i.id FROM checkout_seatinventory i JOIN checkout_hold h ON h.id = i.hold_id
         WHERE i.status = 'held' AND (h.status NOT IN ('active', 'paying') OR h.event_id <> i.event_id)
        """,
    ),
    "approved_charges_accounted_for": (
        "every approved charge became an order or was refunded (no money taken without tickets)",
        """
        SELECT p.id FROM checkout_payment p
         WHERE p.kind = 'charge' AND p.status = 'approved' AND p.order_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM checkout_order o
                            WHERE p.hold_id IS NOT NULL AND o.hold_id = p.hold_id)
           AND NOT EXISTS (SELECT 1 FROM checkout_payment r
                            WHERE r.kind = 'refund' AND r.status = 'approved'
                              AND ((p.hold_id IS NOT NULL AND r.hold_id = p.hold_id)
                                   OR (p.reference <> '' AND r.reference = p.reference)))
        """,
    ),
}


def invariants_check(*, db_url: str, client_orders: dict[int, str], server_errors: int) -> dict[str, dict]:
    """Run every check; ``client_orders`` are the orders the server confirmed to the bench."""
    results: dict[str, dict] = {}
    with psycopg.connect(db_url) as conn:
        for name, (rule, sql) in CHECKS.items():
            rows = conn.execute(sql).fetchall()
            results[name] = {
                "ok": not rows,
                "rule": rule,
                "offending": [list(map(str, r)) for r in rows[:10]],
            }
        rows = conn.execute(
            "SELECT id, status FROM checkout_order WHERE id = ANY(%s)", [list(client_orders)]
        ).fetchall()
        found = dict(rows)
        lost = [
            oid
            for oid, status in client_orders.items()
            if found.get(oid) != status and not (status == "unknown" and oid in found)
        ]
        results["confirmed_orders_exist"] = {
            "ok": not lost,
            "rule": "every order the API confirmed exists, paid (or cancelled when the bench cancelled it)",
            "offending": [
                f"order {oid}: client saw {client_orders[oid]}, db has {found.get(oid)}" for oid in lost[:10]
            ],
        }
        counts = conn.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'sold'),
                   count(*) FILTER (WHERE status = 'held' AND hold_expires_at > now()),
                   count(*) FILTER (WHERE status = 'held' AND hold_expires_at <= now()),
                   count(*) FILTER (WHERE status = 'available')
              FROM checkout_seatinventory
            """
        ).fetchone()
    results["no_server_errors"] = {
        "ok": server_errors == 0,
        "rule": "no 5xx answer and no dropped request during the run",
        "offending": [f"{server_errors} requests"] if server_errors else [],
    }
    results["_totals"] = {
        "sold": counts[0],
        "held_live": counts[1],
        "held_expired_unswept": counts[2],
        "available": counts[3],
    }
    return results
