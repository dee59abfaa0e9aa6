"""``manage.py reconcile``: check the inventory invariants; exit status 1 when any is violated."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from checkout.services.reconcile import reconcile_run
from ticketing.ops.tasks import heartbeat_write


class Command(BaseCommand):
    help = "Check inventory invariants, repair ghost holds (unless --no-repair), report the rest."

    def add_arguments(self, parser):
        parser.add_argument("--no-repair", action="store_true", help="Only report; change nothing.")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--grace-seconds", type=int, default=None, help="Sweeper-lag threshold (default: settings)."
        )

    def handle(self, *args, no_repair: bool, as_json: bool, grace_seconds: int | None, **options):
        grace = dt.timedelta(seconds=grace_seconds) if grace_seconds is not None else None
        report = reconcile_run(repair=not no_repair, grace=grace)
        heartbeat_write(name="reconcile", now=report.checked_at, data={"violations": report.counts()})
        data = report.as_dict()
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
            if report.ok:
                self.stdout.write("OK: no violations.")
        if not report.ok:
            raise CommandError(f"{sum(report.counts().values())} violation(s) found.", returncode=1)


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)
