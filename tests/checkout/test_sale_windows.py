"""checkout/services/sale_windows.py and its schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from checkout.services.sale_windows import sale_windows_pass
from checkout.tasks import SALE_WINDOWS_SCHEDULE_NAME, sale_windows_run
from events.selectors.cache import catalog_version_read
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def test_the_schedule_exists_after_migrating():
    schedule = Schedule.objects.get(name=SALE_WINDOWS_SCHEDULE_NAME)
    assert schedule.func == "checkout.tasks.sale_windows_run" and schedule.repeats == -1


def test_a_window_that_opened_or_closed_refreshes_the_catalog():
    now = timezone.now().replace(microsecond=0)
    opening = make_event(sales_open_at=now + dt.timedelta(minutes=1))
    other = make_event()
    make_ticket_type(other, "Early bird", sales_end=now + dt.timedelta(minutes=2))
    before = catalog_version_read()
    assert sale_windows_pass(now=now, since=now - dt.timedelta(minutes=3)) == []
    assert catalog_version_read() == before
    later = now + dt.timedelta(minutes=2)
    assert sale_windows_pass(now=later, since=now) == sorted([opening.id, other.id])
    assert catalog_version_read() == before + 1
    # The task looks back a few minutes from the real clock: nothing crossed just now.
    assert sale_windows_run() == 0
