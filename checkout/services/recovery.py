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

from checkout.errors import (
    HoldExpired,
    PaymentActionRequired,
    PaymentDeclined,
    PaymentFailed,
    PurchaseInProgress,
    SalesClosed,
)
from checkout.models import AuditAction, Payment, PaymentKind, PaymentStatus
from checkout.payments import PaymentResult, payment_provider, uses_intents
from checkout.services.common import audit_record
from checkout.services.payments import payment_refund
from checkout.services.purchase import purchase_abandon, purchase_finish
from ticketing.core.errors import ApplicationError

logger = logging.getLogger(__name__)

NEVER_CHARGED = "The provider has no charge under this key; the attempt was given up."
INTENT_CANCELLED = "The payment was cancelled at the provider; nothing was charged."


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
        found = _intent_or_charge(attempt=attempt, now=now)
    except Exception:
        logger.exception("recovery: provider lookup of %s failed", attempt.idempotency_key)
        return "unresolved"
    if found is not None and found.status == PaymentStatus.PENDING:
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


def _intent_or_charge(*, attempt: Payment, now: dt.datetime) -> PaymentResult | None:
    """What the provider has under the attempt. An intent still waiting (for the buyer's
    3-D Secure, or never confirmed because its request died) is left alone while the buyer's
    payment window lasts, then cancelled: cancelled means never charged; an intent that
    cannot be cancelled any more was charged (or declined) meanwhile, and that is the answer."""
    provider = payment_provider()
    found = provider.charge_lookup(idempotency_key=attempt.idempotency_key, intent_id=attempt.intent_id)
    if found is None or found.status != PaymentStatus.PENDING or not uses_intents(provider):
        return found
    window = dt.timedelta(seconds=settings.TICKETING_PAYMENT_WINDOW_SECONDS)
    if now - attempt.created_at < window:
        return found
    return provider.intent_cancel(intent_id=found.reference)


def payment_intent_resolve(*, attempt: Payment, now: dt.datetime) -> str:
    """Resolve a charge attempt from its intent's state at the provider, as a webhook or the
    buyer's return says it changed; returns what became of it (as ``payment_attempt_recover``,
    plus ``pending``: the intent still waits).

    The intent is read again rather than trusting the event: a duplicated, late or out-of-order
    delivery then cannot move an attempt backwards. A success that arrives after the attempt
    was given up (never charged, declined) is refunded by ``purchase_finish``; anything else
    already resolved is left as it is, so the order is made at most once.
    """
    if attempt.order_id:
        return "already"
    try:
        found = payment_provider().charge_lookup(
            idempotency_key=attempt.idempotency_key, intent_id=attempt.intent_id
        )
    except Exception:
        logger.exception("provider lookup of %s failed", attempt.idempotency_key)
        return "unresolved"
    if found is None or found.status == PaymentStatus.PENDING:
        if attempt.status != PaymentStatus.PENDING:
            return "already"
        if found is None and attempt.intent_id:
            # Its intent was cancelled (by recovery, or in the provider's dashboard): it can
            # never charge, so the hold goes back to its buyer now.
            cancelled = PaymentResult(PaymentStatus.FAILED, message=INTENT_CANCELLED)
            done = purchase_abandon(attempt_id=attempt.pk, result=cancelled, now=now)
            return "not_charged" if done else "already"
        return "pending"
    late = found.approved and attempt.status in (PaymentStatus.FAILED, PaymentStatus.DECLINED)
    if attempt.status != PaymentStatus.PENDING and not late:
        return "already"
    return _finish(attempt=attempt, result=found, now=now)


def _finish(*, attempt: Payment, result: PaymentResult, now: dt.datetime) -> str:
    try:
        purchase_finish(attempt=attempt, result=result, now=now)
    except PaymentDeclined:
        return "declined"
    except (HoldExpired, SalesClosed, PaymentFailed) as exc:
        return "refunded" if "refunded" in exc.extra else "failed"
    except (PurchaseInProgress, PaymentActionRequired):
        return "unresolved"
    except ApplicationError as exc:  # Busy: the next run tries again
        logger.warning("recovery of payment attempt %s: %s", attempt.pk, exc.code)
        return "unresolved"
    return "completed"
