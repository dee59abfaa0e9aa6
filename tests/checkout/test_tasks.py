"""checkout/tasks.py: the sweeper task, its django-q2 schedule, confirmation e-mails."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from checkout import payments, tasks
from checkout.models import Hold, OutboxMessage, SeatInventory
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.services.outbox import outbox_backoff, outbox_deliver, outbox_due
from checkout.tasks import holds_sweep, order_confirmation_send, outbox_send
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_sweep_task_expires_due_holds(event, user):
    past = timezone.now() - dt.timedelta(minutes=10)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:3], now=past)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[3:4])
    assert holds_sweep(budget_seconds=0) == 1
    assert Hold.objects.get(pk=hold.pk).status == "expired"
    assert SeatInventory.objects.filter(status="held").count() == 1


def test_schedule_is_created_once():
    migration = importlib.import_module("checkout.migrations.0004_holds_sweep_schedule")
    Schedule.objects.filter(name=migration.NAME).delete()
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    schedule = Schedule.objects.get(name=migration.NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "checkout.tasks.holds_sweep",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_purchase_queues_the_confirmation_after_commit(event, user, django_capture_on_commit_callbacks):
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    with django_capture_on_commit_callbacks(execute=True):
        order = order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="Ada",
            buyer_email="ada@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="k",
        )
    message = OutboxMessage.objects.get(order=order)  # written in the purchase's transaction
    queued = OrmQ.objects.get()
    assert queued.task["func"] == "checkout.tasks.outbox_send"
    assert queued.task["args"] == (message.pk,)
    order_cancel(order_id=order.pk, actor=user)
    assert order_confirmation_send(order.pk) is False  # cancelled before the mail went out
    assert outbox_send(message.pk) is True  # done: nothing to say any more
    assert mail.outbox == []


def _bought(event, user):
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada",
        buyer_email="ada@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key="k",
    )


def test_outbox_retries_a_failed_send_with_backoff_and_sends_once(event, user, monkeypatch):
    order = _bought(event, user)
    message = OutboxMessage.objects.get(order=order)
    real_send = EmailMultiAlternatives.send

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    now = timezone.now()
    assert outbox_deliver(message_id=message.pk, send=tasks._send, now=now) is False
    message.refresh_from_db()
    assert (message.sent_at, message.attempts, message.last_error) == (None, 1, "SMTP down")
    assert message.next_attempt_at == now + outbox_backoff(1)
    assert outbox_due(now=now) == []  # backing off
    assert outbox_due(now=message.next_attempt_at) == [message.pk]

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    # The backoff has passed: the recovery schedule's tick delivers what is due.
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert tasks.payments_recover_run(budget_seconds=0) == 1
    (sent,) = mail.outbox
    assert sent.extra_headers["Message-ID"] == f"<outbox-{message.pk}@ticketing>"
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 2
    assert outbox_send(message.pk) is False  # sent once
    assert len(mail.outbox) == 1


def test_outbox_sends_a_coalesced_batch_with_one_claim_and_one_read(event, django_assert_max_num_queries):
    orders = []
    for i in range(3):
        buyer = UserFactory()
        hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[i : i + 1])
        orders.append(
            order_purchase(
                user=buyer,
                hold_id=hold.pk,
                buyer_name="Ada",
                buyer_email=f"ada{i}@example.com",
                card_number=payments.CARD_APPROVE,
                idempotency_key="k",
            )
        )
    ids = sorted(OutboxMessage.objects.filter(order__in=orders).values_list("pk", flat=True))
    # Claim (BEGIN, lock, update, COMMIT), the orders and their tickets (2), one mark per message.
    with django_assert_max_num_queries(6 + len(ids)):
        assert tasks.outbox_send_many(ids) == 3
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada0@example.com",
        "ada1@example.com",
        "ada2@example.com",
    ]
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(
        f"<outbox-{pk}@ticketing>" for pk in ids
    )
    assert not OutboxMessage.objects.filter(pk__in=ids, sent_at__isnull=True).exists()
    assert set(OutboxMessage.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    assert tasks.outbox_send_many(ids) == 0  # sent once
    assert len(mail.outbox) == 3
