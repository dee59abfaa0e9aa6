"""The payment provider interface and the built-in test provider.

Services only ever talk to ``payment_provider()``; the class is chosen by
``settings.TICKETING_PAYMENT_PROVIDER``. Providers are called outside every
transaction and row lock, so a slow provider never blocks other buyers.

A provider keeps its own books, as every real card processor does: a charge made is made,
whatever happens to the process that asked for it. Recovery and ``manage.py reconcile``
read those books through ``charge_lookup`` and ``transactions``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    """What the provider said. ``status`` is one of ``PaymentStatus`` values."""

    status: str
    reference: str = ""
    message: str = ""
    # A pending intent that needs the buyer (3-D Secure): what Stripe.js confirms it with.
    client_secret: str = ""

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True)
class ProviderRecord:
    """One entry of the provider's books: a charge or a refund it has made (or declined)."""

    kind: str  # "charge" or "refund"
    idempotency_key: str
    status: str
    reference: str
    amount: Decimal
    currency: str
    created_at: dt.datetime
    charge_reference: str = ""  # for a refund: the charge it gives back


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

    def charge_lookup(self, *, idempotency_key: str, intent_id: str = "") -> PaymentResult | None:
        """What became of the charge made with ``idempotency_key`` (an intent provider:
        ``intent_id``, when the attempt has one); ``None`` if the provider never made one, a
        ``pending`` result while an intent still waits for the buyer. Raises when the provider
        cannot be asked (the caller tries again later)."""

    def transactions(self, *, since: dt.datetime, until: dt.datetime) -> list[ProviderRecord]:
        """The provider's charges and refunds made in ``[since, until)``, for reconciliation."""


class IntentProvider(PaymentProvider, Protocol):
    """A provider that charges in two steps (Stripe's PaymentIntents): the intent is created,
    its id committed on the attempt, and only then confirmed; the buyer's browser may have to
    finish it (3-D Secure), and the provider's webhook reports the outcome too."""

    def intent_create(
        self, *, amount: Decimal, currency: str, payment_method: str, idempotency_key: str, metadata: dict
    ) -> str:
        """Create an unconfirmed intent for ``payment_method``; returns its id."""

    def intent_confirm(self, *, intent_id: str) -> PaymentResult:
        """Confirm it: approved, declined, or pending with ``client_secret`` (the buyer must act)."""

    def intent_cancel(self, *, intent_id: str) -> PaymentResult | None:
        """Cancel an intent that was not charged (``None``); if it was charged after all, its result."""

    def event_verify(self, *, payload: bytes, signature: str) -> dict:
        """A webhook event, its signature checked; raises ``ValueError`` when it does not verify."""

    def refunded(self, *, intent_id: str) -> tuple[Decimal, str]:
        """How much of the intent was refunded (by anyone), and the latest refund's reference."""


def uses_intents(provider: PaymentProvider) -> bool:
    return hasattr(provider, "intent_create")


# Test cards, modelled on the well-known provider test numbers.
CARD_APPROVE = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_FAIL = "4000000000000119"

_BOOKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS books (
    idempotency_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reference TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    charge_reference TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
)
"""


class TestProvider:
    """Approves ``CARD_APPROVE`` (and any other Luhn-valid number), declines ``CARD_DECLINE``,
    fails (as if the provider were down) on ``CARD_FAIL``.

    Keeps its books in a SQLite file (``TICKETING_TEST_PAYMENT_BOOKS``, default under
    ``var/``), written in autocommit before it answers: like a real processor, it remembers a
    charge even when the web process that asked for it is killed mid-call. Several processes
    share one file. ``TICKETING_TEST_PAYMENT_DELAY_MS`` delays every answer *after* the books
    are written (a slow response, the moment a crash loses it), to make payment as slow as a
    real one in benchmarks, demos and fault tests.
    """

    __test__ = False  # not a pytest test class
    name = "test"

    def _db(self) -> sqlite3.Connection:
        path = Path(settings.TICKETING_TEST_PAYMENT_BOOKS)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        if path not in _READY:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_BOOKS_SCHEMA)
            _READY.add(path)
        return conn

    def _delay(self) -> None:
        delay = settings.TICKETING_TEST_PAYMENT_DELAY_MS
        if delay:
            time.sleep(delay / 1000)

    def _write(self, **row: str) -> PaymentResult:
        """Record ``row`` unless its key is known; answer what the books say for the key."""
        conn = self._db()
        try:
            conn.execute(
                "INSERT OR IGNORE INTO books (idempotency_key, kind, status, reference, amount, currency,"
                " charge_reference, created_at) VALUES (:idempotency_key, :kind, :status, :reference,"
                " :amount, :currency, :charge_reference, :created_at)",
                {"charge_reference": "", "created_at": time.time(), **row},
            )
            return self._read(conn, row["idempotency_key"])
        finally:
            conn.close()

    @staticmethod
    def _read(conn: sqlite3.Connection, key: str) -> PaymentResult | None:
        found = conn.execute(
            "SELECT status, reference FROM books WHERE idempotency_key = ?", [key]
        ).fetchone()
        if found is None:
            return None
        status, reference = found
        return PaymentResult(
            status, reference=reference, message="" if status == "approved" else "Card declined."
        )

    def charge(
        self, *, amount: Decimal, currency: str, card_number: str, idempotency_key: str, description: str
    ) -> PaymentResult:
        number = "".join(ch for ch in card_number if ch.isdigit())
        if number == CARD_FAIL:  # an outage records nothing; a retry may succeed
            self._delay()
            return PaymentResult("failed", message="The test provider is unavailable.")
        declined = number == CARD_DECLINE or not _luhn_ok(number)
        result = self._write(
            idempotency_key=idempotency_key,
            kind="charge",
            status="declined" if declined else "approved",
            reference="" if declined else f"test_ch_{secrets.token_hex(8)}",
            amount=str(amount),
            currency=currency,
        )
        self._delay()
        return result

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> PaymentResult:
        result = self._write(
            idempotency_key=idempotency_key,
            kind="refund",
            status="approved",
            reference=f"test_re_{secrets.token_hex(8)}",
            amount=str(amount),
            currency=currency,
            charge_reference=reference,
        )
        self._delay()
        return result

    def charge_lookup(self, *, idempotency_key: str, intent_id: str = "") -> PaymentResult | None:
        conn = self._db()
        try:
            return self._read(conn, idempotency_key)
        finally:
            conn.close()

    def transactions(self, *, since: dt.datetime, until: dt.datetime) -> list[ProviderRecord]:
        conn = self._db()
        try:
            rows = conn.execute(
                "SELECT kind, idempotency_key, status, reference, amount, currency, charge_reference,"
                " created_at FROM books WHERE created_at >= ? AND created_at < ? ORDER BY created_at",
                [since.timestamp(), until.timestamp()],
            ).fetchall()
        finally:
            conn.close()
        return [
            ProviderRecord(
                kind=kind,
                idempotency_key=key,
                status=status,
                reference=reference,
                amount=Decimal(amount),
                currency=currency,
                charge_reference=charge_reference,
                created_at=dt.datetime.fromtimestamp(created, tz=dt.UTC),
            )
            for kind, key, status, reference, amount, currency, charge_reference, created in rows
        ]

    def plant_charge(self, *, amount: Decimal, currency: str, idempotency_key: str) -> PaymentResult:
        """Test helper: a charge the project never heard of (as a crash before any row would leave)."""
        return self._write(
            idempotency_key=idempotency_key,
            kind="charge",
            status="approved",
            reference=f"test_ch_{secrets.token_hex(8)}",
            amount=str(amount),
            currency=currency,
        )


_READY: set[Path] = set()


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
