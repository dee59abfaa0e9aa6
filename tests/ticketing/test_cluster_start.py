"""Start and stop like a service (ticketing/ops/tasks.py, checkout/tasks.py, bin/run)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from checkout.tasks import holds_sweep
from ticketing.models import Heartbeat
from ticketing.ops import health
from ticketing.ops.tasks import cluster_worker_started, heartbeat_record

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_starting_cluster_is_ready_at_once_and_sweeps_at_once(monkeypatch):
    import django_q.scheduler

    ran = []
    # The real scheduler closes the connection (not possible inside a test's transaction);
    # what matters here is that the minute schedules are due when it runs.
    monkeypatch.setattr(
        django_q.scheduler,
        "scheduler",
        lambda: ran.append(
            set(Schedule.objects.filter(next_run__lte=timezone.now()).values_list("func", flat=True))
        ),
    )
    long_ago = timezone.now() - dt.timedelta(hours=1)
    Heartbeat.objects.update_or_create(name=health.QUEUE_HEARTBEAT, defaults={"seen_at": long_ago})
    later = timezone.now() + dt.timedelta(seconds=50)
    Schedule.objects.filter(schedule_type=Schedule.MINUTES).update(next_run=later)
    assert not health.check_queue()["ok"]  # a cold start: only the last run's heartbeat

    assert cluster_worker_started(cluster=4242) is True

    assert health.check_queue()["ok"]
    assert len(ran) == 1 and {"checkout.tasks.holds_sweep", "ticketing.ops.tasks.heartbeat_record"} <= ran[0]
    # The other workers of the same cluster start find it done.
    assert Heartbeat.objects.get(name=health.QUEUE_HEARTBEAT).data == {"cluster": 4242}
    assert cluster_worker_started(cluster=4242) is False
    assert len(ran) == 1


@pytest.mark.django_db
def test_the_minute_heartbeat_keeps_the_cluster_marker():
    heartbeat_record()
    assert Heartbeat.objects.get(name=health.QUEUE_HEARTBEAT).data == {"cluster": os.getppid()}


@pytest.mark.django_db(transaction=True)
def test_a_running_sweep_ends_when_the_cluster_stops():
    """Before, a sweep run kept the cluster from stopping for up to 95 s (and SIGINT, which
    workers ignore, was a KeyboardInterrupt here)."""
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    assert holds_sweep(budget_seconds=60) == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bin_run_stops_web_then_cluster_then_database():
    source = (ROOT / "bin" / "run").read_text()
    order = [
        source.index(step) for step in ('"Stopping: web', '"Stopping: task cluster', '"Stopping: PostgreSQL')
    ]
    assert order == sorted(order)
    assert source.count("start_new_session=True") >= 3  # PostgreSQL, daphne, the cluster


def test_checkout_docs_state_no_sweep_numbers_that_could_disagree_with_settings():
    text = (ROOT / "docs" / "checkout.md").read_text()
    section = text[text.index("## Expiry on django-q2") : text.index("## Audit")]
    # What it said before: "= 45 s with `timeout: 50`", "`Q_WORKERS` default 2" (settings: 100 and 4).
    assert not re.search(r"timeout: \d|default \d|= \d+ s|min\(\d", section), section
    assert 'Q_CLUSTER["timeout"]' in section and 'Q_CLUSTER["workers"]' in section
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
