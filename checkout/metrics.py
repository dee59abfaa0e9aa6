"""Checkout's scrape-time gauges, registered with ``ticketing.ops.metrics`` by ``CheckoutConfig``.

Read from PostgreSQL at scrape time: the database is the one place every process agrees on,
and a dead worker cannot leave a stale gauge behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from checkout.models import HoldStatus
from checkout.selectors.availability import seat_counts_on_sale


class CheckoutCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        with connection.cursor() as cursor:
            # The oldest hold that has expired but is still marked live: how far the sweeper is behind.
            cursor.execute(
                "SELECT MIN(expires_at) FROM checkout_hold WHERE status IN (%s, %s) AND expires_at < %s",
                [HoldStatus.ACTIVE, HoldStatus.PAYING, now],
            )
            oldest = cursor.fetchone()[0]
        lag = GaugeMetricFamily(
            "ticketing_sweeper_lag_seconds",
            "Age of the oldest expired hold the sweeper has not ended yet (0 when none).",
        )
        lag.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield lag
        seats = GaugeMetricFamily(
            "ticketing_seats", "Seats of upcoming on-sale events by effective status.", labels=["status"]
        )
        for status, count in seat_counts_on_sale(now=now).items():
            seats.add_metric([status], count)
        yield seats
