"""The Stripe provider: PaymentIntents through the official ``stripe`` library.

Chosen with ``TICKETING_PAYMENT_PROVIDER = "checkout.payments_stripe.StripeProvider"`` (the
default once ``STRIPE_SECRET_KEY`` is set). ``STRIPE_API_BASE`` points it at another server:
tests and staging use localstripe. The card never reaches this server: Stripe.js turns it into
a PaymentMethod id in the buyer's browser, and this provider charges that.

Two steps, so the project's books know the intent before any money moves
(docs/payments.md): ``intent_create`` (unconfirmed; its id is committed on the attempt), then
``intent_confirm``. Stripe's ``Idempotency-Key`` on every write is derived from the attempt's
key; the attempt row's unique ``intent_id`` is the project's own guard (a test server such as
localstripe ignores the header).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from checkout.payments import PaymentResult, ProviderRecord

logger = logging.getLogger(__name__)

# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)


def to_minor(amount: Decimal | str, currency: str) -> int:
    factor = 1 if currency.lower() in ZERO_DECIMAL else 100
    return int((Decimal(str(amount)) * factor).to_integral_value())


def from_minor(amount: int, currency: str) -> Decimal:
    factor = 1 if currency.lower() in ZERO_DECIMAL else 100
    return (Decimal(amount) / factor).quantize(Decimal("0.01"))


def _plain(obj: Any) -> dict:
    """A ``StripeObject`` as a dict (the library's objects are no longer dicts)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def intent_result(intent: Any) -> PaymentResult | None:
    """An intent's state as the project's books see it; ``None``: cancelled, never charged."""
    intent = _plain(intent)
    status = intent["status"]
    if status in ("succeeded", "requires_capture"):
        return PaymentResult("approved", reference=intent["id"])
    if status == "canceled":
        return None
    error = intent.get("last_payment_error")
    if status == "requires_payment_method" and error:
        return PaymentResult("declined", reference=intent["id"], message=error.get("message") or "Declined.")
    secret = intent.get("client_secret") or "" if status == "requires_action" else ""
    return PaymentResult("pending", reference=intent["id"], message=status, client_secret=secret)


class StripeProvider:
    name = "stripe"

    def __init__(self) -> None:
        base = settings.STRIPE_API_BASE
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": base} if base else None,
            # Network errors are retried under the same Idempotency-Key.
            max_network_retries=1,
        )

    def intent_create(
        self, *, amount: Decimal, currency: str, payment_method: str, idempotency_key: str, metadata: dict
    ) -> str:
        intent = self.client.v1.payment_intents.create(
            params={
                "amount": to_minor(amount, currency),
                "currency": currency.lower(),
                "payment_method": payment_method,
                # Cards only: confirmed on the server without a return_url, 3-D Secure in Stripe.js.
                "payment_method_types": ["card"],
                "metadata": {k: str(v) for k, v in metadata.items()},
            },
            options={"idempotency_key": f"{idempotency_key}-create"},
        )
        return intent.id

    def intent_confirm(self, *, intent_id: str) -> PaymentResult:
        try:
            intent = self.client.v1.payment_intents.confirm(intent_id)
        except stripe.CardError as exc:
            return PaymentResult("declined", reference=intent_id, message=exc.user_message or "Declined.")
        return intent_result(intent) or PaymentResult("failed", reference=intent_id, message="canceled")

    def intent_cancel(self, *, intent_id: str) -> PaymentResult | None:
        try:
            self.client.v1.payment_intents.cancel(intent_id)
            return None
        except stripe.InvalidRequestError:  # not cancellable: charged (or failed) meanwhile
            return intent_result(self.client.v1.payment_intents.retrieve(intent_id))

    def charge_lookup(self, *, idempotency_key: str, intent_id: str = "") -> PaymentResult | None:
        if intent_id:
            return intent_result(self.client.v1.payment_intents.retrieve(intent_id))
        # The process died between creating the intent and writing its id down.
        intent = self._find_by_attempt(idempotency_key)
        return intent_result(intent) if intent is not None else None

    def _find_by_attempt(self, key: str) -> Any:
        try:
            found = self.client.v1.payment_intents.search(params={"query": f"metadata['attempt']:'{key}'"})
            return next(iter(found.data), None)
        except stripe.StripeError:  # a server without search (localstripe): scan the recent list
            for intent in self.client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
                if (_plain(intent).get("metadata") or {}).get("attempt") == key:
                    return intent
            return None

    def refunded(self, *, intent_id: str) -> tuple[Decimal, str]:
        """How much of the intent was refunded at Stripe (also from its dashboard), and the
        latest refund's id."""
        total, latest, currency = 0, "", "eur"
        for found in self.client.v1.refunds.list(
            params={"payment_intent": intent_id, "limit": 100}
        ).auto_paging_iter():
            refund = _plain(found)
            if refund["status"] in ("succeeded", "pending"):
                total += refund["amount"]
                currency = refund["currency"]
                latest = latest or refund["id"]
        return from_minor(total, currency), latest

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> PaymentResult:
        refund = self.client.v1.refunds.create(
            params={
                "payment_intent": reference,
                "amount": to_minor(amount, currency),
                "metadata": {"key": idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        if refund.status in ("succeeded", "pending"):  # pending: accepted, on its way to the bank
            return PaymentResult("approved", reference=refund.id)
        return PaymentResult("failed", reference=refund.id, message=f"refund {refund.status}")

    def transactions(self, *, since: dt.datetime, until: dt.datetime) -> list[ProviderRecord]:
        lo, hi = int(since.timestamp()), int(until.timestamp())
        records = []
        for found in self.client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
            intent = _plain(found)
            if not lo <= intent["created"] < hi or intent["status"] not in ("succeeded", "requires_capture"):
                continue
            records.append(
                ProviderRecord(
                    kind="charge",
                    # An intent this project did not create is known by its id.
                    idempotency_key=(intent.get("metadata") or {}).get("attempt") or f"stripe-{intent['id']}",
                    status="approved",
                    reference=intent["id"],
                    amount=from_minor(intent["amount"], intent["currency"]),
                    currency=intent["currency"].upper(),
                    created_at=dt.datetime.fromtimestamp(intent["created"], tz=dt.UTC),
                )
            )
        for found in self.client.v1.refunds.list(params={"limit": 100}).auto_paging_iter():
            refund = _plain(found)
            if not lo <= refund["created"] < hi or refund["status"] not in ("succeeded", "pending"):
                continue
            records.append(
                ProviderRecord(
                    kind="refund",
                    # A refund made in Stripe's dashboard is known by its id.
                    idempotency_key=(refund.get("metadata") or {}).get("key") or f"stripe-{refund['id']}",
                    status="approved",
                    reference=refund["id"],
                    amount=from_minor(refund["amount"], refund["currency"]),
                    currency=refund["currency"].upper(),
                    created_at=dt.datetime.fromtimestamp(refund["created"], tz=dt.UTC),
                    charge_reference=refund.get("payment_intent") or "",
                )
            )
        return sorted(records, key=lambda r: r.created_at)

    def event_verify(self, *, payload: bytes, signature: str) -> dict:
        if not settings.STRIPE_WEBHOOK_SECRET:  # an empty key would verify anyone's signature
            raise ValueError("STRIPE_WEBHOOK_SECRET is not set")
        try:
            stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
        except stripe.SignatureVerificationError as exc:
            raise ValueError(str(exc)) from exc
        return json.loads(payload)
