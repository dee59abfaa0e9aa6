"""Availability reads of the waitlist (waitlist/selectors.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from checkout.selectors.availability import section_availability_cached
from checkout.services.versions import inventory_version_bump
from tests.factories import make_event
from tests.waitlist.inventory import hold_seats, rows

pytestmark = pytest.mark.django_db


def test_cached_availability_is_reused_within_a_version_and_refreshed_by_a_change(
    django_assert_num_queries,
):
    event = make_event()
    section_id = event.venue.sections.get().id
    now = timezone.now()
    assert section_availability_cached(event_id=event.id, now=now) == {
        section_id: {"free": 10, "sold": 0, "total": 10}
    }
    with django_assert_num_queries(1):  # the version only
        section_availability_cached(event_id=event.id, now=now)

    with transaction.atomic():
        hold_seats(event, rows(event, "A1"))
        inventory_version_bump(event_id=event.id)

    assert section_availability_cached(event_id=event.id, now=now)[section_id]["free"] == 9


def test_cached_availability_sees_holds_expire_without_a_version_change():
    event = make_event()
    section_id = event.venue.sections.get().id
    now = timezone.now()
    with transaction.atomic():
        hold_seats(event, rows(event, "A1"), expires_at=now + dt.timedelta(seconds=2))
        inventory_version_bump(event_id=event.id)
    assert section_availability_cached(event_id=event.id, now=now)[section_id]["free"] == 9
    later = now + dt.timedelta(seconds=3)
    assert section_availability_cached(event_id=event.id, now=later)[section_id]["free"] == 10
