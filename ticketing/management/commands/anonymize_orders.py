"""``manage.py anonymize_orders``: run the retention job now (the schedule runs it daily)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from checkout.services.retention import orders_anonymize


class Command(BaseCommand):
    help = "Blank buyer name/e-mail of orders whose event ended more than TICKETING_RETENTION_DAYS ago."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Override TICKETING_RETENTION_DAYS.")

    def handle(self, *args, days: int | None, **options):
        count = orders_anonymize(retention_days=days)
        self.stdout.write(f"Anonymised {count} order(s).")
