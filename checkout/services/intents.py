"""The two other ways a provider with intents (Stripe) resolves a charge attempt: the buyer's
browser coming back from Stripe.js, and the provider's signed webhook.

Both only read the intent's state and hand the attempt to ``recovery.payment_intent_resolve``,
which acts through the purchase's own steps under the purchase's own locks: whichever of the
browser, the webhook and recovery comes first makes the order, the others find it made
(docs/payments.md#stripe).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from checkout.errors import (
    HoldNotActive,
    PaymentActionRequired,
    PaymentDeclined,
    PaymentFailed,
    PurchaseInProgress,
    WebhookSignatureInvalid,
)
from checkout.models import Order, Payment, PaymentKind, PaymentStatus, ProviderEvent
from checkout.payments import payment_provider, uses_intents
from checkout.selectors.buyer import hold_get
from checkout.services.orders import order_cancel
from checkout.services.payments import payment_refund_record
from checkout.services.purchase import refused_answer
from checkout.services.recovery import payment_intent_resolve
from ticketing.core.errors import NotFound

logger = logging.getLogger(__name__)

# The events that can move a charge attempt; every other type is stored and ignored.
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "charge.refunded",
    }
)


def payment_return(*, user: Any, hold_id: int, now: dt.datetime | None = None) -> Order:
    """The buyer's browser is back from Stripe.js (3-D Secure done): finish the hold's latest
    intent attempt from the intent's state. Returns the order, also when the webhook made it
    first. Raises ``HoldNotFound``, ``HoldNotActive`` (no intent to return from),
    ``PaymentActionRequired`` (still waiting for the buyer), ``PaymentDeclined``,
    ``PaymentFailed``, ``HoldExpired`` / ``SalesClosed`` (charged, then refunded),
    ``PurchaseInProgress`` (the provider could not be asked) and ``Busy``.
    """
    now = now or timezone.now()
    hold = hold_get(user=user, hold_id=hold_id)
    attempts = Payment.objects.filter(hold=hold, kind=PaymentKind.CHARGE).exclude(intent_id="")
    attempt = attempts.order_by("-pk").first()
    if attempt is None:
        raise HoldNotActive(
            gettext("This hold has no card payment to return from."), extra={"hold_id": hold.pk}
        )
    outcome = payment_intent_resolve(attempt=attempt, now=now)
    attempt.refresh_from_db()
    if attempt.order_id:
        return Order.objects.get(pk=attempt.order_id)
    if outcome == "unresolved":
        raise PurchaseInProgress(extra={"hold_id": hold.pk})
    if outcome == "pending":
        found = payment_provider().charge_lookup(
            idempotency_key=attempt.idempotency_key, intent_id=attempt.intent_id
        )
        if found is not None and found.client_secret:
            raise PaymentActionRequired(
                extra={"hold_id": hold.pk, "client_secret": found.client_secret, "intent_id": found.reference}
            )
        raise PurchaseInProgress(extra={"hold_id": hold.pk})
    if attempt.status == PaymentStatus.DECLINED:
        raise PaymentDeclined(attempt.message or None, extra={"hold_id": hold.pk})
    if attempt.status == PaymentStatus.APPROVED and attempt.outcome:
        refunded = attempt.refunds.filter(status=PaymentStatus.APPROVED).exists()
        raise refused_answer(code=attempt.outcome, hold_id=hold.pk, refunded=refunded)
    raise PaymentFailed(extra={"hold_id": hold.pk})


def provider_event_receive(*, payload: bytes, signature: str, now: dt.datetime | None = None) -> bool:
    """Verify and store one webhook delivery; returns whether it was new.

    Stored once by the event's id (a repeat is a no-op that still answers 200), then
    processed after commit on the queue (``checkout.tasks.provider_event_process``); recovery
    processes any the queue lost. Raises ``WebhookSignatureInvalid`` (nothing is written) and
    ``NotFound`` when the configured provider sends no webhooks.
    """
    provider = payment_provider()
    if not uses_intents(provider):
        raise NotFound(gettext("This payment provider sends no webhooks."))
    try:
        event = provider.event_verify(payload=payload, signature=signature)
        event_id, event_type = str(event["id"]), str(event["type"])
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookSignatureInvalid() from exc
    is_intent = obj.get("object") == "payment_intent"
    intent_id = obj.get("id", "") if is_intent else obj.get("payment_intent") or ""
    with transaction.atomic():
        _, created = ProviderEvent.objects.get_or_create(
            event_id=event_id[:100],
            defaults={
                "provider": provider.name,
                "type": event_type[:100],
                "intent_id": str(intent_id)[:100],
                "payload": event,
                "received_at": now or timezone.now(),
            },
        )
        if created and event_type in INTENT_EVENTS:
            transaction.on_commit(lambda: _enqueue(event_id))
    return created


def _enqueue(event_id: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task("checkout.tasks.provider_event_process", event_id, task_name=f"provider-event-{event_id}")
    except Exception:  # the row is written: recovery processes it
        logger.exception("could not queue provider event %s", event_id)


def provider_event_process(*, event_id: str, now: dt.datetime | None = None) -> str:
    """Act on one stored event: resolve the attempt of its intent; returns the outcome.
    Processing one event twice, or events out of order, changes nothing more than once."""
    now = now or timezone.now()
    event = ProviderEvent.objects.filter(pk=event_id).first()
    if event is None or event.processed_at is not None:
        return "already"
    outcome = "ignored"
    if event.type in INTENT_EVENTS and event.intent_id:
        attempt = _attempt_of(event)
        if attempt is None:
            outcome = "unknown_intent"
        elif event.type == "charge.refunded":
            outcome = _refunded_at_provider(attempt=attempt, now=now)
        else:
            outcome = payment_intent_resolve(attempt=attempt, now=now)
    if outcome == "unresolved":
        return outcome  # the provider or the database could not be asked: stays due
    ProviderEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=now, outcome=outcome
    )
    return outcome


def _refunded_at_provider(*, attempt: Payment, now: dt.datetime) -> str:
    """A refund made in the provider's dashboard: an order refunded in full is recorded and
    cancelled (tickets void, seats back on sale) without refunding again; a part refund is
    left for a person (which tickets?). Amounts are read from the provider, not the event."""
    if not attempt.order_id or attempt.status != PaymentStatus.APPROVED:
        return "ignored"  # an attempt that never became an order is refunded by our own paths
    try:
        amount, reference = payment_provider().refunded(intent_id=attempt.intent_id)
    except Exception:
        logger.exception("provider refunds of %s could not be read", attempt.intent_id)
        return "unresolved"
    if amount < attempt.amount:
        logger.error(
            "order %s: partly refunded at the provider (%s); left for a person", attempt.order_id, amount
        )
        return "partly_refunded"
    payment_refund_record(
        charge=attempt,
        key=f"refund-order-{attempt.order_id}",
        reference=reference,
        reason="provider",
        now=now,
    )
    order_cancel(order_id=attempt.order_id, actor=None, now=now, reason="refunded_at_provider")
    return "order_cancelled"


def _attempt_of(event: ProviderEvent) -> Payment | None:
    attempt = Payment.objects.filter(kind=PaymentKind.CHARGE, intent_id=event.intent_id).first()
    if attempt is not None:
        return attempt
    # The intent was created but its id never written down (the request died in between).
    key = ((event.payload.get("data") or {}).get("object") or {}).get("metadata", {}).get("attempt")
    return Payment.objects.filter(kind=PaymentKind.CHARGE, idempotency_key=key).first() if key else None


def provider_events_due(*, older_than: dt.datetime, limit: int = 50) -> list[str]:
    """Events received before ``older_than`` and never processed (their task was lost)."""
    return list(
        ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lte=older_than)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
