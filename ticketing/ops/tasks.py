"""Scheduled operations tasks: the cluster's heartbeat, and ``heartbeat_write`` for the jobs of
the apps (checkout's reconcile and retention runs, in ``checkout/tasks.py``)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from ticketing.models import Heartbeat
from ticketing.ops.health import QUEUE_HEARTBEAT

logger = logging.getLogger(__name__)


def heartbeat_write(*, name: str, now: dt.datetime | None = None, data: dict[str, Any] | None = None) -> None:
    now = now or timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": now, "data": data or {}})


def heartbeat_record() -> None:
    """Runs every minute on the cluster: proves to /readyz that workers take tasks."""
    heartbeat_write(name=QUEUE_HEARTBEAT, data={"cluster": os.getppid()})


def cluster_worker_started(*, now: dt.datetime | None = None, cluster: int | None = None, **_: Any) -> bool:
    """django-q2's ``post_spawn`` (ticketing/apps.py): a worker of a cluster is up.

    The first worker of each cluster start (``cluster``: its parent's pid) writes the heartbeat,
    so /readyz is ready within seconds instead of after the first scheduled beat, and makes
    every interval schedule due and runs the scheduler once, so the first sweep of expired
    holds starts now rather than when django-q2's scheduler first looks (~30 s after start).
    Returns whether this call did that. Runs in each worker; the row lock makes it once."""
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    now = now or timezone.now()
    cluster = cluster or os.getppid()
    with transaction.atomic():
        beat, _ = Heartbeat.objects.select_for_update().get_or_create(
            name=QUEUE_HEARTBEAT, defaults={"seen_at": now}
        )
        if beat.data.get("cluster") == cluster:
            return False
        beat.seen_at, beat.data = now, {"cluster": cluster}
        beat.save(update_fields=["seen_at", "data"])
        Schedule.objects.filter(schedule_type=Schedule.MINUTES, next_run__gt=now).update(next_run=now)
    scheduler()
    logger.info("task cluster %s ready; interval schedules started", cluster)
    return True


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event set when the process gets SIGINT (``bin/run``'s stop, Ctrl-C in a terminal).

    django-q2 workers ignore SIGINT and the cluster waits for each worker's task to end, so a
    long task that polls this stops the cluster in about a second instead of a minute and a
    half. Outside the main thread (tests, a synchronous run) the event is simply never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
