"""Waitlist tasks: the offer safety-net sweep."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django_q.models import Schedule

from tests.factories import UserFactory, make_event
from tests.waitlist.inventory import free_seats, hold_seats, rows
from waitlist import services
from waitlist.models import EntryStatus
from waitlist.tasks import waitlist_offers_sweep

pytestmark = pytest.mark.django_db


def test_sweep_offers_seats_whose_release_hook_never_ran():
    event = make_event()
    hold_seats(event)
    entry = services.waitlist_join(user=UserFactory(), event_id=event.id, quantity=1)
    free_seats(rows(event, "A1"))  # released, but the after-commit offer run was lost

    assert waitlist_offers_sweep() == 1
    entry.refresh_from_db()
    assert entry.status == EntryStatus.OFFERED
    assert waitlist_offers_sweep() == 0


def test_sweep_settles_a_bought_offer_whose_hook_never_ran():
    from checkout import payments
    from checkout.services.orders import order_purchase

    event = make_event()
    hold_seats(event)
    entry = services.waitlist_join(user=UserFactory(), event_id=event.id, quantity=1)
    free_seats(rows(event, "A1"))
    waitlist_offers_sweep()
    entry.refresh_from_db()
    # Bought; in this test transaction the after-commit ``offer_bought`` hook never runs.
    order_purchase(
        user=entry.user,
        hold_id=entry.offer_hold_id,
        buyer_name="Ada",
        buyer_email="ada@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key="k",
    )
    entry.refresh_from_db()
    assert entry.status == EntryStatus.OFFERED

    waitlist_offers_sweep()

    entry.refresh_from_db()
    assert entry.status == EntryStatus.FULFILLED


def test_sweep_is_scheduled_every_minute():
    # Called directly: transactional tests flush the row the migration wrote.
    migration = import_module("waitlist.migrations.0002_offers_sweep_schedule")
    Schedule.objects.filter(func=migration.FUNC).delete()
    migration.add_schedule(apps, None)
    migration.add_schedule(apps, None)
    schedule = Schedule.objects.get(func="waitlist.tasks.waitlist_offers_sweep")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)
