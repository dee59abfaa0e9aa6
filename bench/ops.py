"""How long the operations reads take on a big event: reconcile, a /metrics scrape, /readyz.

Builds a 20,000-seat event with half the seats sold (4 per order) and 1,000 held, inside
one transaction that is rolled back at the end, so the database is left as it was.
Usage: .venv/bin/python bench/ops.py [--seats 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402


class Rollback(Exception):
    pass


def build(seats: int) -> int:
    from checkout.services import sales
    from events.services import catalog as catalog_services
    from events.services import venues
    from ticketing.models import User

    sections = [
        venues.SectionSpec(
            name=f"S{i}", rows=[(f"R{r}", 50) for r in range(min(100, (seats - i * 5000) // 50))]
        )
        for i in range((seats + 4999) // 5000)
    ]
    now = timezone.now()
    venue = venues.venue_create(
        name=f"Bench {now.timestamp()}",
        slug=f"bench-{now.timestamp():.0f}",
        city="X",
        country="DE",
        timezone="UTC",
        sections=sections,
    )
    event = catalog_services.event_create(
        venue_id=venue.id,
        title="Bench",
        category="music",
        starts_at=now + dt.timedelta(days=5),
        ends_at=now + dt.timedelta(days=5, hours=3),
        prices={s.id: "10.00" for s in venue.sections.all()},
    )
    sales.event_publish(event_id=event.id)
    user = User.objects.create_user(email=f"bench{now.timestamp()}@example.com", password=None)
    with connection.cursor() as c:
        # Half sold, four seats per order, in SQL so building takes seconds.
        c.execute(
            """
            WITH rows AS (
                SELECT id, seat_id, section_id, row_number() OVER (ORDER BY id) - 1 AS n
                  FROM checkout_seatinventory WHERE event_id = %(e)s ORDER BY id LIMIT %(sold)s
            ), orders AS (
                INSERT INTO checkout_order
                       (event_id, user_id, status, buyer_name, buyer_email, total, currency, created_at)
                SELECT %(e)s, %(u)s, 'paid', 'B', 'b@example.com', 40, 'EUR', now()
                  FROM generate_series(0, (%(sold)s / 4) - 1) g
                RETURNING id
            ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM orders)
            INSERT INTO checkout_ticket (order_id, event_id, seat_id, section_id, price, code, status,
                                         used_gate, created_at)
            SELECT o.id, %(e)s, r.seat_id, r.section_id, 10, md5(random()::text || r.id), 'valid', '', now()
              FROM rows r JOIN numbered o ON o.k = r.n / 4
            """,
            {"e": event.id, "u": user.id, "sold": seats // 2},
        )
        c.execute(
            """
            UPDATE checkout_seatinventory i SET status = 'sold', order_id = t.order_id, ticket_id = t.id
              FROM checkout_ticket t
             WHERE t.event_id = i.event_id AND t.seat_id = i.seat_id AND i.event_id = %s
            """,
            [event.id],
        )
        c.execute(
            """
            INSERT INTO checkout_hold
                   (event_id, user_id, kind, status, created_at, expires_at, extensions_used)
            VALUES (%s, %s, 'regular', 'active', now(), now() + interval '5 minutes', 0) RETURNING id
            """,
            [event.id, user.id],
        )
        hold_id = c.fetchone()[0]
        c.execute(
            """
            UPDATE checkout_seatinventory
               SET status = 'held', hold_id = %s, hold_expires_at = now() + interval '5 minutes'
             WHERE id IN (SELECT id FROM checkout_seatinventory WHERE event_id = %s AND status = 'available'
                          ORDER BY id LIMIT 1000)
            """,
            [hold_id, event.id],
        )
    return event.id


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seats", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from prometheus_client import generate_latest

    from checkout.services.reconcile import reconcile_check
    from ticketing.ops.health import readiness
    from ticketing.ops.metrics import _registry

    try:
        with transaction.atomic():
            t = time.perf_counter()
            build(args.seats)
            print(f"built {args.seats} seats in {time.perf_counter() - t:.1f} s")
            for name, fn in [
                ("reconcile_check", lambda: reconcile_check()),
                ("metrics scrape", lambda: generate_latest(_registry())),
                ("readiness", lambda: readiness()),
            ]:
                median, worst = timed(fn, args.repeat)
                print(f"{name:16s} median {median:8.1f} ms   max {worst:8.1f} ms")
            report = reconcile_check()
            assert report.ok, report.as_dict()
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
