"""The payment-durability fault test with the Stripe provider against localstripe (issue 21):
the buyer's bank confirms the payment (3-D Secure) while the web process is dead, so neither the
browser's return nor Stripe's webhook (localstripe delivers once, to the dead daphne) reaches
it. Recovery, in the real task cluster, asks Stripe and completes the order; the buyer's
return then gets that same order, and ``manage.py reconcile`` agrees with Stripe.

Opt-in with the other fault tests (``TICKETING_FAULT_TESTS=1``).
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.faults.test_payment_faults import SETUP, Buyer, Stack, our_books, postgres, stack
from tests.stripe import fixtures


@pytest.fixture(scope="module")
def system(tmp_path_factory, localstripe_base):
    fixtures.localstripe_reset(localstripe_base)
    tmp = tmp_path_factory.mktemp("stripe-faults")
    url = postgres("start")
    db_url = stack.database_create(url=url, name="fault_stripe")
    env = stack.production_env(
        db_url=db_url,
        hold_seconds=600,
        extra={
            "STRIPE_SECRET_KEY": fixtures.SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": fixtures.PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": fixtures.WEBHOOK_SECRET,
            "STRIPE_API_BASE": localstripe_base,
            "TICKETING_PAYMENT_RECOVERY_SECONDS": "5",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        },
    )
    stack.manage("migrate", "-v", "0", env=env)
    data = json.loads(stack.manage("shell", "-c", SETUP, env=env, capture=True).strip().splitlines()[-1])
    running = Stack(env, tmp)
    form = f"url={running.url}/api/payments/stripe/webhook&secret={fixtures.WEBHOOK_SECRET}".encode()
    urllib.request.urlopen(urllib.request.Request(f"{localstripe_base}/_config/webhooks/fault", data=form))
    try:
        yield {"stack": running, "env": env, "tmp": tmp, "base": localstripe_base, **data}
    finally:
        running.stop()
        stack.database_drop(url=url, name="fault_stripe")
        postgres("stop")
        fixtures.localstripe_reset(localstripe_base)


def test_kill_9_while_the_bank_confirms_recovery_completes_from_stripe(system):
    client = fixtures.stripe_client(system["base"])
    buyer = Buyer(system, system["tokens"][0])
    hold = buyer.hold()
    card = {"number": fixtures.CARD_3DS, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    pm = client.v1.payment_methods.create(params={"type": "card", "card": card}).id
    started = buyer.call(
        "POST",
        f"/api/holds/{hold}/purchase",
        headers={"Idempotency-Key": "stripe-kill"},
        json={"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": pm},
    )
    assert started.status_code == 402 and started.json()["code"] == "PAYMENT_ACTION_REQUIRED", started.text
    intent_id = started.json()["extra"]["intent_id"]
    (charge,) = our_books(system)["charges"]
    assert charge[1] == "pending"  # written down, with its intent, before the bank was asked

    system["stack"].daphne_kill()
    secret = started.json()["extra"]["client_secret"]
    urllib.request.urlopen(
        urllib.request.Request(
            f"{system['base']}/v1/payment_intents/{intent_id}/_authenticate?success=true",
            data=json.dumps({"key": fixtures.PUBLISHABLE_KEY, "client_secret": secret}).encode(),
        )
    )
    assert client.v1.payment_intents.retrieve(intent_id).status == "succeeded"  # charged, nobody told
    system["stack"].daphne_start()

    deadline = time.monotonic() + 150  # the recovery schedule starts at most once a minute
    while time.monotonic() < deadline:
        ours = our_books(system)
        if ours["orders"]:
            break
        time.sleep(2)
    assert len(ours["orders"]) == 1, ours
    back = buyer.call("POST", f"/api/holds/{hold}/payment-return")
    assert (back.status_code, back.json()["id"]) == (201, ours["orders"][0])
    assert 500 not in buyer.answers and ours["refunds"] == []
    stack.manage("reconcile", env=system["env"])  # exits 1 (and raises) while books disagree
