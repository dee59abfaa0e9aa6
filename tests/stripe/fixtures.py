"""Fixtures for paying through Stripe: one localstripe per test session, emptied between tests.

``stripe_settings`` switches the project to the Stripe provider pointed at it. Webhook
deliveries are signed here with the endpoint secret, as Stripe signs them
(``t=<unix>,v1=HMAC_SHA256(secret, "<t>.<body>")``), because localstripe sends each event once and
never a duplicate, a late or an out-of-order one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "sk_test_localstripe"
PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_test"

# localstripe's test cards (docs/payments.md#stripe).
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002760003184"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def localstripe_base():
    """The base URL of a localstripe on a free loopback port, for the whole session."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.stripe.server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _up(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("localstripe did not start")
        time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def localstripe_reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{base}/_config/data", method="DELETE"), timeout=5)


@pytest.fixture
def stripe_settings(settings, localstripe_base):
    """The Stripe provider against an empty localstripe."""
    localstripe_reset(localstripe_base)
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_base
    settings.STRIPE_JS_URL = f"{localstripe_base}/js.stripe.com/v3/"
    settings.TICKETING_PAYMENT_PROVIDER = "checkout.payments_stripe.StripeProvider"
    yield settings
    localstripe_reset(localstripe_base)


def stripe_client(base: str = ""):
    """A client of the localstripe the settings point at (or of ``base``)."""
    import stripe
    from django.conf import settings

    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": base or settings.STRIPE_API_BASE})


def payment_method(number: str) -> str:
    """A PaymentMethod id, as Stripe.js makes one in the buyer's browser."""
    pm = stripe_client().v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return pm.id


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``body``."""
    t = int(time.time()) if at is None else at
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def intent_event(intent_id: str, *, type: str = "payment_intent.succeeded", event_id: str = "") -> bytes:
    """A webhook body for the intent as localstripe has it now."""
    intent = stripe_client().v1.payment_intents.retrieve(intent_id)
    event = {
        "id": event_id or f"evt_{intent_id}_{type}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "data": {"object": intent.to_dict()},
    }
    return json.dumps(event).encode()
