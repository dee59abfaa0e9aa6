"""Retention: buyers' personal data goes, the accounting stays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from checkout.models import AuditAction, AuditLog, Order, Payment, Ticket
from checkout.services.retention import orders_anonymize
from tests.factories import make_event
from tests.ops_factories import inventory, sell

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def event_ended(days_ago: int):
    event = make_event()
    ends = NOW - dt.timedelta(days=days_ago)
    type(event).objects.filter(pk=event.pk).update(starts_at=ends - dt.timedelta(hours=3), ends_at=ends)
    return event


def test_old_orders_lose_personal_data_and_keep_accounting(settings):
    settings.TICKETING_RETENTION_DAYS = 30
    old = sell(inventory(event_ended(31), 2), price="40.00")
    Payment.objects.create(
        order=old, kind="charge", status="approved", amount=80, currency="EUR", provider="test"
    )
    recent = sell(inventory(event_ended(29), 1))
    upcoming = sell(inventory(make_event(), 1))
    tickets_before = list(Ticket.objects.order_by("id").values_list())
    payments_before = list(Payment.objects.values_list())

    assert orders_anonymize(now=NOW) == 1

    old.refresh_from_db()
    assert (old.buyer_name, old.buyer_email, old.anonymized_at) == ("", "", NOW)
    assert (old.total, old.status, old.user_id) == (80, "paid", old.user_id)
    assert list(Ticket.objects.order_by("id").values_list()) == tickets_before
    assert list(Payment.objects.values_list()) == payments_before
    for kept in (recent, upcoming):
        fresh = Order.objects.get(pk=kept.pk)
        assert fresh.buyer_email == kept.buyer_email and fresh.anonymized_at is None
    audit = AuditLog.objects.get(action=AuditAction.ANONYMIZED)
    assert (audit.order_id_ref, audit.event_id, audit.reason) == (old.id, old.event_id, "retention")
    assert "@" not in str(audit.data)


def test_runs_again_without_touching_done_orders(settings):
    settings.TICKETING_RETENTION_DAYS = 10
    sell(inventory(event_ended(11), 1))
    assert orders_anonymize(now=NOW) == 1
    assert orders_anonymize(now=NOW + dt.timedelta(days=1)) == 0
    assert AuditLog.objects.filter(action=AuditAction.ANONYMIZED).count() == 1


def test_batches_cover_a_backlog():
    event = event_ended(400)
    for row in inventory(event, 7):
        sell([row])
    assert orders_anonymize(now=NOW, retention_days=365, batch_size=3) == 7
    assert not Order.objects.filter(anonymized_at__isnull=True).exists()


def test_command_and_schedule_task(settings):
    from checkout.tasks import retention_run
    from ticketing.models import Heartbeat

    settings.TICKETING_RETENTION_DAYS = 5
    sell(inventory(event_ended(6), 1))
    call_command("anonymize_orders", "--days", "100")  # overridden: nothing is old enough
    assert Order.objects.get().anonymized_at is None
    assert retention_run() == 1
    assert Heartbeat.objects.get(name="retention").data == {"anonymized": 1}


def test_a_guest_account_forgets_its_name_and_address_with_its_last_order(settings):
    from tests.factories import UserFactory

    settings.TICKETING_RETENTION_DAYS = 30
    guest = UserFactory(is_guest=True, name="Zoë Gast", guest_email="zoe@example.com")
    sell(inventory(event_ended(31), 1), user=guest)
    sell(inventory(event_ended(10), 1), user=guest)
    assert orders_anonymize(now=NOW) == 1
    guest.refresh_from_db()
    assert (guest.name, guest.guest_email) == ("Zoë Gast", "zoe@example.com")  # one order still kept
    assert orders_anonymize(now=NOW + dt.timedelta(days=21)) == 1
    guest.refresh_from_db()
    assert (guest.name, guest.guest_email) == ("", "")
