"""Scheduled operations tasks: the cluster's heartbeat, and ``heartbeat_write`` for the jobs of
the apps (checkout's reconcile and retention runs, in ``checkout/tasks.py``)."""

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
