"""The payment provider interface and the built-in test provider.

Services only ever talk to ``payment_provider()``; the class is chosen by
``settings.TICKETING_PAYMENT_PROVIDER``. Providers are called outside every
transaction and row lock, so a slow provider never blocks other buyers.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    """What the provider said. ``status`` is one of ``PaymentStatus`` values."""

    status: str
    reference: str = ""
    message: str = ""

    @property
    def approved(self) -> bool:
        return self.status == "approved"


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str, description: str
    ) -> PaymentResult:
        """Charge the card. Must be idempotent on ``idempotency_key``; never raises for declines."""

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> PaymentResult:
        """Refund (part of) an approved charge. Idempotent on ``idempotency_key``."""


# Test cards, modelled on the well-known provider test numbers.
CARD_APPROVE = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_FAIL = "4000000000000119"


class TestProvider:
    """Approves ``CARD_APPROVE`` (and any other Luhn-valid number), declines ``CARD_DECLINE``,
    fails (as if the provider were down) on ``CARD_FAIL``.

    ``TICKETING_TEST_PAYMENT_DELAY_MS`` adds a delay to every call, to make payment as slow as a
    real one in benchmarks and demos. Remembers charges per idempotency key in the process.
    """

    __test__ = False  # not a pytest test class
    name = "test"

    def __init__(self) -> None:
        self._charges: dict[str, PaymentResult] = {}
        self._refunds: dict[str, PaymentResult] = {}

    def _delay(self) -> None:
        delay = settings.TICKETING_TEST_PAYMENT_DELAY_MS
        if delay:
            time.sleep(delay / 1000)

    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str, description: str
    ) -> PaymentResult:
        self._delay()
        if idempotency_key in self._charges:
            return self._charges[idempotency_key]
        number = "".join(ch for ch in card_number if ch.isdigit())
        if number == CARD_FAIL:
            result = PaymentResult("failed", message="The test provider is unavailable.")
        elif number == CARD_DECLINE or not _luhn_ok(number):
            result = PaymentResult("declined", message="Card declined.")
        else:
            result = PaymentResult("approved", reference=f"test_ch_{secrets.token_hex(8)}")
        if result.status != "failed":  # an outage recorded nothing; a retry may succeed
            self._charges[idempotency_key] = result
        return result

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> PaymentResult:
        self._delay()
        if idempotency_key not in self._refunds:
            self._refunds[idempotency_key] = PaymentResult(
                "approved", reference=f"test_re_{secrets.token_hex(8)}"
            )
        return self._refunds[idempotency_key]


def _luhn_ok(number: str) -> bool:
    if not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@cache
def _provider(path: str) -> PaymentProvider:
    return import_string(path)()


def payment_provider() -> PaymentProvider:
    """The configured provider (one instance per process and setting)."""
    return _provider(settings.TICKETING_PAYMENT_PROVIDER)
