"""Payment recovery: resolve what a crash, a kill or a database outage left half-done.

Run by the ``checkout.payments_recover`` schedule (every sweep interval). Each rule asks the
provider's books, then acts through the same steps the request path uses, so a recovered
purchase ends exactly as an uninterrupted one would (docs/payments.md):

- a charge attempt still ``pending`` after ``TICKETING_PAYMENT_RECOVERY_SECONDS``: charged and
  the seats still held -> the order; charged but the seats gone -> refunded; declined -> the
  hold back to its buyer; never charged -> given up (the hold back to its buyer);
- an approved charge with neither an order nor an approved refund (its refund pending, failed
  or never started) -> refunded under its key.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from checkout.errors import HoldExpired, PaymentDeclined, PaymentFailed, PurchaseInProgress, SalesClosed
from checkout.models import AuditAction, Payment, PaymentKind, PaymentStatus
from checkout.payments import PaymentResult, payment_provider
from checkout.services.common import audit_record
from checkout.services.payments import payment_refund
from checkout.services.purchase import purchase_abandon, purchase_finish
from ticketing.core.errors import ApplicationError

logger = logging.getLogger(__name__)

NEVER_CHARGED = "The provider has no charge under this key; the attempt was given up."


def payments_recover(
    *, now: dt.datetime | None = None, older_than: dt.timedelta | None = None, limit: int = 50
) -> Counter:
    """Apply every rule to at most ``limit`` rows each; returns how many rows ended how.

    Safe to run concurrently with purchases and with itself: every step re-checks under the
    purchase's own locks, and the provider is always asked under the row's own key.
    """
    now = now or timezone.now()
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.TICKETING_PAYMENT_RECOVERY_SECONDS)
    cutoff = now - older_than
    counts: Counter = Counter()
    stale = Payment.objects.filter(
        kind=PaymentKind.CHARGE, status=PaymentStatus.PENDING, created_at__lte=cutoff
    )
    for attempt_id in stale.order_by("pk").values_list("pk", flat=True)[:limit]:
        counts[payment_attempt_recover(attempt_id=attempt_id, now=now)] += 1
    for charge in refunds_owed(cutoff=cutoff)[:limit]:
        refund = payment_refund(charge=charge, reason="recovery", now=now, key=_refund_key(charge))
        counts["refunded" if refund.status == PaymentStatus.APPROVED else "refund_failed"] += 1
    if counts:
        logger.warning("payment recovery: %s", dict(counts))
    return counts


def refunds_owed(*, cutoff: dt.datetime):
    """Approved charges with neither an order nor an approved refund, settled before ``cutoff``
    (a purchase that lost its seats and died before, or while, refunding)."""
    approved_refund = Payment.objects.filter(
        charge=OuterRef("pk"), kind=PaymentKind.REFUND, status=PaymentStatus.APPROVED
    )
    return (
        Payment.objects.filter(
            kind=PaymentKind.CHARGE,
            status=PaymentStatus.APPROVED,
            order__isnull=True,
            resolved_at__lte=cutoff,
        )
        .exclude(Exists(approved_refund))
        .order_by("pk")
    )


def _refund_key(charge: Payment) -> str | None:
    # A refund already started keeps its key.
    started = charge.refunds.order_by("pk").values_list("idempotency_key", flat=True).first()
    return started or None


def payment_attempt_recover(*, attempt_id: int, now: dt.datetime) -> str:
    """Resolve one pending charge attempt by asking the provider; returns what became of it:
    ``completed``, ``refunded``, ``declined``, ``not_charged``, ``unresolved`` (the provider or
    the database could not be asked: next run) or ``already`` (resolved meanwhile)."""
    attempt = Payment.objects.get(pk=attempt_id)
    if attempt.status != PaymentStatus.PENDING:
        return "already"
    try:
        found = payment_provider().charge_lookup(idempotency_key=attempt.idempotency_key)
    except Exception:
        logger.exception("recovery: provider lookup of %s failed", attempt.idempotency_key)
        return "unresolved"
    if found is None:
        done = purchase_abandon(
            attempt_id=attempt_id, result=PaymentResult(PaymentStatus.FAILED, message=NEVER_CHARGED), now=now
        )
        outcome = "not_charged" if done else "already"
    else:
        outcome = _finish(attempt=attempt, result=found, now=now)
    if outcome not in ("already", "unresolved"):
        with transaction.atomic():
            audit_record(
                action=AuditAction.PAYMENT_RECOVERED,
                at=now,
                hold_id=attempt.hold_id,
                reason=outcome,
                data={"payment": attempt.idempotency_key, "amount": str(attempt.amount)},
            )
    return outcome


def _finish(*, attempt: Payment, result: PaymentResult, now: dt.datetime) -> str:
    try:
        purchase_finish(attempt=attempt, result=result, now=now)
    except PaymentDeclined:
        return "declined"
    except (HoldExpired, SalesClosed, PaymentFailed) as exc:
        return "refunded" if "refunded" in exc.extra else "failed"
    except PurchaseInProgress:
        return "unresolved"
    except ApplicationError as exc:  # Busy: the next run tries again
        logger.warning("recovery of payment attempt %s: %s", attempt.pk, exc.code)
        return "unresolved"
    return "completed"
