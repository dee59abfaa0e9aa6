"""``manage.py reconcile``: check the inventory invariants and compare the payment books with the
provider's; exit status 1 while any violation remains."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from checkout.services.reconcile import reconcile_run
from checkout.services.reconcile_payments import payments_reconcile
from ticketing.ops.tasks import heartbeat_write


class Command(BaseCommand):
    help = (
        "Check inventory invariants, repair ghost holds (unless --no-repair); compare payments with the "
        "provider's books (--fix completes or refunds each charge we cannot account for); report the rest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-repair", action="store_true", help="Only report; change nothing.")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--grace-seconds", type=int, default=None, help="Sweeper-lag threshold (default: settings)."
        )
        parser.add_argument(
            "--fix", action="store_true", help="Complete or refund provider charges we cannot account for."
        )
        parser.add_argument("--days", type=int, default=30, help="Payments period: the last N days (30).")

    def handle(self, *args, no_repair: bool, as_json: bool, grace_seconds: int | None, **options):
        grace = dt.timedelta(seconds=grace_seconds) if grace_seconds is not None else None
        report = reconcile_run(repair=not no_repair, grace=grace)
        now = timezone.now()
        money = payments_reconcile(
            since=now - dt.timedelta(days=options["days"]), fix=options["fix"], now=now
        )
        counts = {**report.counts(), **money.counts()}
        heartbeat_write(name="reconcile", now=report.checked_at, data={"violations": counts})
        data = report.as_dict()
        data["violations"].update({k: v for k, v in money.problems.items() if v})
        data["payments_fixed"] = money.fixed
        data["ok"] = report.ok and money.ok
        if as_json:
            self.stdout.write(_dumps(data))
        else:
            for name, rows in data["violations"].items():
                self.stdout.write(f"VIOLATION {name}: {len(rows)}")
                for row in rows[:50]:
                    self.stdout.write(f"  {_dumps(row)}")
            for name, rows in data["warnings"].items():
                self.stdout.write(f"WARNING {name}: {len(rows)}")
                for row in rows[:50]:
                    self.stdout.write(f"  {_dumps(row)}")
            for name, ids in data["repaired"].items():
                self.stdout.write(f"REPAIRED {name}: inventory rows {ids}")
            for fixed in money.fixed:
                self.stdout.write(f"FIXED {fixed['check']}: {_dumps(fixed)}")
            if data["ok"]:
                self.stdout.write("OK: no violations.")
        if not data["ok"]:
            raise CommandError(f"{sum(counts.values())} violation(s) found.", returncode=1)


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)
