"""Scheduled operations tasks (schedules created by migration ticketing 0003)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from ticketing.models import Heartbeat
from ticketing.ops.health import QUEUE_HEARTBEAT

logger = logging.getLogger(__name__)


def heartbeat_write(*, name: str, now: dt.datetime | None = None, data: dict[str, Any] | None = None) -> None:
    now = now or timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": now, "data": data or {}})


def heartbeat_record() -> None:
    """Runs every minute on the cluster: proves to /readyz that workers take tasks."""
    heartbeat_write(name=QUEUE_HEARTBEAT)


def reconcile_run() -> dict[str, Any]:
    """The daily reconcile: repairs ghost holds, logs every other violation for a person."""
    from checkout.services.reconcile import reconcile_run as run

    report = run()
    heartbeat_write(name="reconcile", now=report.checked_at, data={"violations": report.counts()})
    if not report.ok:
        logger.error("reconcile found violations: %s", report.as_dict())
    return report.as_dict()


def retention_run() -> int:
    from checkout.services.retention import orders_anonymize

    now = timezone.now()
    count = orders_anonymize(now=now)
    heartbeat_write(name="retention", now=now, data={"anonymized": count})
    return count
