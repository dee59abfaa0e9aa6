"""Data retention: forget buyers' personal data once the law and the organiser no longer need it.

An order's buyer name and e-mail (and a guest account's) are kept for ``TICKETING_RETENTION_DAYS`` after its
event ended (disputes, refunds, the organiser's questions), then blanked. Totals,
tickets, payments and the audit trail stay: the books must still add up.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from checkout.models import AuditAction, AuditLog, Order, Ticket, TicketTransfer
from ticketing.core.locks import lock_rows, set_lock_timeout

ANONYMIZED_NAME = ""
ANONYMIZED_EMAIL = ""


def orders_due_for_anonymization(*, now: dt.datetime, retention_days: int):
    cutoff = now - dt.timedelta(days=retention_days)
    return Order.objects.filter(anonymized_at__isnull=True, event__ends_at__lt=cutoff)


def _guests_forget(*, order_ids: list[int]) -> None:
    """Blank the name and address of guest accounts whose every order is now anonymised (a
    guest's account exists only for its orders). Precondition: in the batch's transaction."""
    User = get_user_model()
    guest_ids = set(User.objects.filter(is_guest=True, orders__pk__in=order_ids).values_list("pk", flat=True))
    still_needed = set(
        Order.objects.filter(user_id__in=guest_ids, anonymized_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    User.objects.filter(pk__in=guest_ids - still_needed).update(name="", guest_email="")


def orders_anonymize(
    *, now: dt.datetime | None = None, retention_days: int | None = None, batch_size: int = 500
) -> int:
    """Blank buyer name and e-mail of every order whose event ended more than ``retention_days`` ago.

    Works in batches, one transaction each, so a large backlog never holds many locks;
    rows another transaction holds are skipped and picked up by the next run. Each order
    gets an ``AuditLog`` ANONYMIZED row in its batch's transaction. Returns orders changed.
    """
    now = now or timezone.now()
    days = settings.TICKETING_RETENTION_DAYS if retention_days is None else retention_days
    done = 0
    while True:
        with transaction.atomic():
            set_lock_timeout()
            ids = list(
                orders_due_for_anonymization(now=now, retention_days=days)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return done
            orders = lock_rows(
                orders_due_for_anonymization(now=now, retention_days=days).filter(pk__in=ids),
                skip_locked=True,
            )
            if not orders:
                return done
            changed = [o.pk for o in orders]
            Order.objects.filter(pk__in=changed).update(
                buyer_name=ANONYMIZED_NAME, buyer_email=ANONYMIZED_EMAIL, anonymized_at=now
            )
            _guests_forget(order_ids=changed)
            # Whoever was given a ticket of these orders is personal data too.
            Ticket.objects.filter(order_id__in=changed).exclude(holder_email="").update(
                holder_name="", holder_email=""
            )
            TicketTransfer.objects.filter(ticket__order_id__in=changed).update(to_name="", to_email="")
            AuditLog.objects.bulk_create(
                AuditLog(
                    at=now,
                    action=AuditAction.ANONYMIZED,
                    event_id=o.event_id,
                    order_id_ref=o.pk,
                    reason="retention",
                    data={"retention_days": days},
                )
                for o in orders
            )
            done += len(changed)
        if len(ids) < batch_size:
            return done
