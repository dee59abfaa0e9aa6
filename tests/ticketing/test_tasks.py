"""The scheduled operations tasks record what they did for /readyz and /metrics."""

from __future__ import annotations

import pytest

from checkout.models import SeatInventory
from checkout.tasks import reconcile_run
from tests.factories import make_event
from tests.ops_factories import hold, inventory, raw
from ticketing.models import Heartbeat
from ticketing.ops.tasks import heartbeat_record

pytestmark = pytest.mark.django_db


def test_heartbeat_task_updates_one_row():
    heartbeat_record()
    first = Heartbeat.objects.get(name="qcluster").seen_at
    heartbeat_record()
    assert Heartbeat.objects.count() == 1
    assert Heartbeat.objects.get(name="qcluster").seen_at >= first


def test_reconcile_task_repairs_and_records_counts():
    event = make_event()
    row = inventory(event, 1)[0]
    h = hold([row])
    raw("UPDATE checkout_hold SET status = 'expired', ended_at = now() WHERE id = %s", [h.id])
    result = reconcile_run()
    assert result["repaired"] == {"ghost_hold": [row.id]}
    assert SeatInventory.objects.get(pk=row.pk).status == "available"
    assert Heartbeat.objects.get(name="reconcile").data["violations"]["ghost_hold"] == 1
