"""Paying through Stripe, against a real localstripe (tests/stripe/fixtures.py): the intent, its
confirmation, 3-D Secure, the browser's return and the signed webhook resolving one attempt
once, refunds, and recovery asking Stripe (checkout/payments_stripe.py,
checkout/services/intents.py)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.request

import pytest
import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout import payments_stripe
from checkout.models import Hold, HoldStatus, Order, Payment, ProviderEvent
from checkout.payments import payment_provider
from checkout.services import intents
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.services.payments import payment_intent_bind
from checkout.services.recovery import payments_recover
from checkout.tasks import provider_event_process
from tests.checkout.conftest import seat_ids
from tests.stripe.fixtures import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    WEBHOOK_SECRET,
    intent_event,
    payment_method,
    signed,
    stripe_client,
)

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/payments/stripe/webhook"


@pytest.fixture
def hold(event, user, stripe_settings):
    return hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])


def pay(api_client, user, hold, card=CARD_OK, key="k1"):
    return api_client.as_user(user).post(
        f"/api/holds/{hold.pk}/purchase",
        {"buyer_name": "Ada Buyer", "buyer_email": "ada@example.com", "card_number": payment_method(card)},
        HTTP_IDEMPOTENCY_KEY=key,
    )


def deliver(api_client, body: bytes, *, secret: str = WEBHOOK_SECRET):
    return api_client.post(WEBHOOK, body, HTTP_STRIPE_SIGNATURE=signed(body, secret=secret))


def deliver_and_process(api_client, body: bytes):
    """A delivery and its queued processing (the queue runs no cluster in tests)."""
    response = deliver(api_client, body)
    assert response.status_code == 200, response.content
    return provider_event_process(json.loads(body)["id"])


def authenticate(intent_id: str, *, success: bool = True) -> None:
    """What localstripe's Stripe.js does when the buyer answers the 3-D Secure dialog."""
    from django.conf import settings

    secret = stripe_client().v1.payment_intents.retrieve(intent_id).client_secret
    answer = "true" if success else "false"
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}/_authenticate?success={answer}",
        data=json.dumps({"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": secret}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5)


def intents_at_stripe() -> list:
    return list(stripe_client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())


class WebhookCatcher(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["Stripe-Signature"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_catcher(stripe_settings):
    """A loopback endpoint registered at localstripe: its real, signed deliveries land here."""
    WebhookCatcher.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), WebhookCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    form = f"url=http://127.0.0.1:{server.server_port}/&secret={WEBHOOK_SECRET}".encode()
    register = f"{stripe_settings.STRIPE_API_BASE}/_config/webhooks/test"
    urllib.request.urlopen(urllib.request.Request(register, data=form), timeout=5)
    yield WebhookCatcher.received
    server.shutdown()


def wait_for(received: list, count: int) -> None:
    deadline = time.monotonic() + 20  # localstripe delivers about 1 s after the change
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) >= count


def test_purchase_creates_confirms_and_the_real_webhook_changes_nothing(
    api_client, user, hold, event, webhook_catcher, monkeypatch
):
    sent = []
    client_class = type(stripe.new_default_http_client())
    original = client_class.request

    def spy(self, method, url, headers, post_data=None):
        sent.append((method, url, dict(headers or {})))
        return original(self, method, url, headers, post_data)

    monkeypatch.setattr(client_class, "request", spy)
    response = pay(api_client, user, hold)
    assert response.status_code == 201, response.content
    order = Order.objects.get()
    attempt = Payment.objects.get(kind="charge")
    assert (attempt.status, attempt.order_id, attempt.provider) == ("approved", order.pk, "stripe")
    intent = stripe_client().v1.payment_intents.retrieve(attempt.intent_id)
    assert intent.status == "succeeded" and attempt.reference == intent.id
    assert intent.amount == int(order.total * 100) and intent.currency == order.currency.lower()
    assert intent.metadata["attempt"] == attempt.idempotency_key
    assert intent.metadata["hold"] == str(hold.pk) and intent.metadata["event"] == str(event.pk)
    creates = [h for m, u, h in sent if m == "post" and u.endswith("/v1/payment_intents")]
    assert len(creates) == 1 and creates[0]["Idempotency-Key"] == f"{attempt.idempotency_key}-create"

    wait_for(webhook_catcher, 1)  # localstripe's own payment_intent.succeeded, signed by it
    signature, body = webhook_catcher[0]
    assert json.loads(body)["type"] == "payment_intent.succeeded"
    assert api_client.post(WEBHOOK, body, HTTP_STRIPE_SIGNATURE=signature).status_code == 200
    assert provider_event_process(json.loads(body)["id"]) == "already"
    assert Order.objects.count() == 1 and order.tickets.count() == 2


def test_declined_card_gives_the_hold_back(api_client, user, hold):
    response = pay(api_client, user, hold, card=CARD_DECLINED)
    assert response.status_code == 402 and response.json()["code"] == "PAYMENT_DECLINED"
    attempt = Payment.objects.get(kind="charge")
    assert attempt.status == "declined" and attempt.intent_id
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE and not Order.objects.exists()
    # A payment_failed delivery for it changes nothing more.
    failed = intent_event(attempt.intent_id, type="payment_intent.payment_failed")
    assert deliver_and_process(api_client, failed) == "already"
    # The buyer pays again with another card: a new attempt, a new intent.
    assert pay(api_client, user, hold, key="k2").status_code == 201
    assert len(intents_at_stripe()) == 2


def three_d_secure(api_client, user, hold) -> Payment:
    response = pay(api_client, user, hold, card=CARD_3DS)
    assert response.status_code == 402 and response.json()["code"] == "PAYMENT_ACTION_REQUIRED"
    attempt = Payment.objects.get(kind="charge")
    assert attempt.status == "pending" and response.json()["extra"]["intent_id"] == attempt.intent_id
    assert response.json()["extra"]["client_secret"].startswith(attempt.intent_id)
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.PAYING
    return attempt


def test_3ds_browser_first_then_webhook_makes_one_order(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    early = api_client.post(f"/api/holds/{hold.pk}/payment-return")
    assert early.status_code == 402 and early.json()["code"] == "PAYMENT_ACTION_REQUIRED"
    authenticate(attempt.intent_id)
    response = api_client.post(f"/api/holds/{hold.pk}/payment-return")
    assert response.status_code == 201, response.content
    assert deliver_and_process(api_client, intent_event(attempt.intent_id)) == "already"
    assert api_client.post(f"/api/holds/{hold.pk}/payment-return").json()["id"] == response.json()["id"]
    assert Order.objects.count() == 1 and Order.objects.get().tickets.count() == 2


def test_3ds_webhook_first_then_browser_makes_one_order(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id)
    assert deliver_and_process(api_client, intent_event(attempt.intent_id)) == "completed"
    order = Order.objects.get()
    response = api_client.post(f"/api/holds/{hold.pk}/payment-return")
    assert response.status_code == 201 and response.json()["id"] == order.pk
    assert Order.objects.count() == 1 and Payment.objects.filter(kind="refund").count() == 0


def test_3ds_failed_authentication_webhook_gives_the_hold_back(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id, success=False)
    assert (
        deliver_and_process(api_client, intent_event(attempt.intent_id, type="payment_intent.payment_failed"))
        == "declined"
    )
    attempt.refresh_from_db()
    assert attempt.status == "declined" and Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE
    response = api_client.post(f"/api/holds/{hold.pk}/payment-return")
    assert response.status_code == 402 and response.json()["code"] == "PAYMENT_DECLINED"


def test_duplicate_and_out_of_order_deliveries_make_one_order(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id)
    succeeded = intent_event(attempt.intent_id, event_id="evt_succeeded")
    failed = intent_event(attempt.intent_id, type="payment_intent.payment_failed", event_id="evt_failed")
    # The stale failure arrives first: it is read against the intent, which has succeeded.
    assert deliver_and_process(api_client, failed) == "completed"
    for _ in range(5):
        response = deliver(api_client, succeeded)
        assert response.status_code == 200
    assert provider_event_process("evt_succeeded") == "already"
    assert provider_event_process("evt_succeeded") == "already"
    assert ProviderEvent.objects.count() == 2
    assert Order.objects.count() == 1 and Order.objects.get().tickets.count() == 2
    assert Payment.objects.filter(kind="refund").count() == 0


def test_intent_cancelled_in_the_dashboard_gives_the_hold_back(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    stripe_client().v1.payment_intents.cancel(attempt.intent_id)
    body = intent_event(attempt.intent_id, type="payment_intent.canceled")
    assert deliver_and_process(api_client, body) == "not_charged"
    attempt.refresh_from_db()
    assert attempt.status == "failed" and Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE
    assert pay(api_client, user, hold, key="k2").status_code == 201  # paid again: a new intent


def test_forged_or_unsigned_webhook_is_refused_and_writes_nothing(
    api_client, user, hold, unchanged, stripe_settings
):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id)
    body = intent_event(attempt.intent_id)
    with unchanged():
        forged = deliver(api_client, body, secret="whsec_someone_else")
        unsigned = api_client.post(WEBHOOK, body)
        stale = api_client.post(WEBHOOK, body, HTTP_STRIPE_SIGNATURE=signed(body, at=int(time.time()) - 3600))
        stripe_settings.STRIPE_WEBHOOK_SECRET = ""  # not configured: nothing verifies
        unconfigured = api_client.post(WEBHOOK, body, HTTP_STRIPE_SIGNATURE=signed(body, secret=""))
    for response in (forged, unsigned, stale, unconfigured):
        assert response.status_code == 400
        assert response.json()["code"] == "WEBHOOK_SIGNATURE_INVALID" and set(response.json()) == {
            "code",
            "message",
            "extra",
        }


def test_cancelled_order_is_refunded_through_stripe(api_client, user, hold):
    assert pay(api_client, user, hold).status_code == 201
    order = Order.objects.get()
    order_cancel(order_id=order.pk, actor=user)
    refund = Payment.objects.get(kind="refund")
    assert refund.status == "approved" and refund.reference.startswith("re_")
    at_stripe = list(stripe_client().v1.refunds.list(params={"limit": 10}).auto_paging_iter())
    assert len(at_stripe) == 1 and at_stripe[0].payment_intent == order.payments.get(kind="charge").intent_id
    assert at_stripe[0].amount == int(order.total * 100)
    order_cancel(order_id=order.pk, actor=user)  # again: nothing more
    assert len(list(stripe_client().v1.refunds.list(params={"limit": 10}).auto_paging_iter())) == 1


class Killed(BaseException):
    """kill -9 of the web process, as far as the database can tell."""


class DiesAfterConfirm(payments_stripe.StripeProvider):
    def intent_confirm(self, **kwargs):
        super().intent_confirm(**kwargs)
        raise Killed()


class DiesAfterCreate(payments_stripe.StripeProvider):
    def intent_create(self, **kwargs):
        super().intent_create(**kwargs)
        raise Killed()


def cut_off(settings, user, hold, provider: str) -> Payment:
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.{provider}"
    with pytest.raises(Killed):
        order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="Ada Buyer",
            buyer_email="ada@example.com",
            card_number=payment_method(CARD_OK),
            idempotency_key="k1",
        )
    settings.TICKETING_PAYMENT_PROVIDER = "checkout.payments_stripe.StripeProvider"
    return Payment.objects.get(kind="charge", status="pending")


def test_recovery_asks_stripe_and_completes_a_charged_intent(settings, user, hold):
    attempt = cut_off(settings, user, hold, "DiesAfterConfirm")
    assert attempt.intent_id  # committed before the intent was confirmed
    assert payments_recover(now=timezone.now() + dt.timedelta(seconds=31)) == {"completed": 1}
    order = Order.objects.get()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.order_id) == ("approved", order.pk)


def test_recovery_cancels_an_intent_never_confirmed(settings, user, hold):
    attempt = cut_off(settings, user, hold, "DiesAfterCreate")
    assert attempt.intent_id == ""  # died before writing it down: Stripe is searched by metadata
    soon = timezone.now() + dt.timedelta(seconds=31)
    assert payments_recover(now=soon) == {"unresolved": 1}  # the buyer's window is still open
    later = timezone.now() + dt.timedelta(seconds=settings.TICKETING_PAYMENT_WINDOW_SECONDS + 1)
    assert payments_recover(now=later) == {"not_charged": 1}
    assert [i.status for i in intents_at_stripe()] == ["canceled"]
    assert Hold.objects.get(pk=hold.pk).status in (HoldStatus.ACTIVE, HoldStatus.EXPIRED)
    assert not Order.objects.exists()


def test_recovery_cancels_an_abandoned_3ds_intent_so_it_cannot_charge_later(api_client, settings, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    later = timezone.now() + dt.timedelta(seconds=settings.TICKETING_PAYMENT_WINDOW_SECONDS + 1)
    # The buyer left the 3-D Secure dialog open past the payment window: recovery cancels it.
    assert payments_recover(now=later) == {"not_charged": 1}
    assert stripe_client().v1.payment_intents.retrieve(attempt.intent_id).status == "canceled"
    assert Hold.objects.get(pk=hold.pk).status in (HoldStatus.ACTIVE, HoldStatus.EXPIRED)
    # A delivery about it, however late, changes nothing.
    assert deliver_and_process(api_client, intent_event(attempt.intent_id)) == "already"
    assert not Order.objects.exists() and not Payment.objects.filter(kind="refund").exists()


def test_recovery_completes_a_3ds_payment_whose_webhook_was_lost(api_client, settings, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id)  # the buyer closed the tab, the webhook never came
    assert payments_recover(now=timezone.now() + dt.timedelta(seconds=31)) == {"completed": 1}
    assert Order.objects.get().payments.get(kind="charge").pk == attempt.pk


def test_one_intent_per_attempt(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    # A retry holding the attempt reuses its intent instead of creating one.
    assert payment_intent_bind(attempt=attempt, payment_method="pm_unused") == attempt.intent_id
    assert len(intents_at_stripe()) == 1
    # A racing request that created an intent before seeing the bound one loses the unique
    # guard: its intent is cancelled and it confirms the bound one.
    stale = Payment.objects.get(pk=attempt.pk)
    stale.intent_id = ""
    assert payment_intent_bind(attempt=stale, payment_method=payment_method(CARD_OK)) == attempt.intent_id
    statuses = sorted(i.status for i in intents_at_stripe())
    assert statuses == ["canceled", "requires_action"]
    # And no two attempts can name one intent (the webhook maps an intent to one attempt).
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            kind="charge", status="failed", amount=1, currency="EUR", intent_id=attempt.intent_id
        )


def test_stripe_provider_refuses_raw_card_numbers(api_client, user, hold, unchanged):
    api_client.as_user(user)
    with unchanged():
        response = api_client.post(
            f"/api/holds/{hold.pk}/purchase",
            {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": CARD_OK},
            HTTP_IDEMPOTENCY_KEY="k1",
        )
    assert response.status_code == 422
    assert payment_provider().name == "stripe"


def test_intents_endpoints_without_intents(api_client, user, event, unchanged):
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    response = api_client.as_user(user).post(f"/api/holds/{hold.pk}/payment-return")
    assert response.status_code == 409 and response.json()["code"] == "HOLD_NOT_ACTIVE"
    with unchanged():
        assert api_client.post(WEBHOOK, b"{}", HTTP_STRIPE_SIGNATURE="t=1,v1=0").status_code == 404
    assert intents.INTENT_EVENTS


def charge_refunded_event(intent_id: str) -> bytes:
    """``charge.refunded`` as Stripe sends it after a refund in its dashboard."""
    intent = stripe_client().v1.payment_intents.retrieve(intent_id)
    charge = intent.latest_charge  # localstripe expands it; Stripe sends its id
    if isinstance(charge, str):
        charge = stripe_client().v1.charges.retrieve(charge)
    event = {
        "id": f"evt_refunded_{intent_id}",
        "object": "event",
        "type": "charge.refunded",
        "data": {"object": charge.to_dict()},
    }
    return json.dumps(event).encode()


def test_refund_in_the_stripe_dashboard_voids_the_order_once(api_client, user, hold):
    from checkout.models import SeatInventory, TicketStatus

    assert pay(api_client, user, hold).status_code == 201
    order = Order.objects.get()
    intent_id = order.payments.get(kind="charge").intent_id
    stripe_client().v1.refunds.create(params={"payment_intent": intent_id})  # by a person, at Stripe
    body = charge_refunded_event(intent_id)
    assert deliver_and_process(api_client, body) == "order_cancelled"
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
    assert SeatInventory.objects.filter(order=order).count() == 0
    refund = Payment.objects.get(kind="refund")
    assert (refund.status, refund.charge.order_id) == ("approved", order.pk)
    # Recorded, not refunded again; a repeat delivery changes nothing.
    assert deliver(api_client, body).status_code == 200
    assert len(list(stripe_client().v1.refunds.list(params={"limit": 10}).auto_paging_iter())) == 1
    assert Payment.objects.filter(kind="refund").count() == 1


def test_payment_after_hold_expiry_with_the_seats_still_free_is_sold(api_client, user, hold):
    attempt = three_d_secure(api_client, user, hold)
    authenticate(attempt.intent_id)
    after = Hold.objects.get(pk=hold.pk).expires_at + dt.timedelta(minutes=5)
    deliver(api_client, intent_event(attempt.intent_id))
    event_id = f"evt_{attempt.intent_id}_payment_intent.succeeded"
    assert intents.provider_event_process(event_id=event_id, now=after) == "completed"
    assert Order.objects.get().tickets.count() == 2 and not Payment.objects.filter(kind="refund").exists()


def test_payment_after_hold_expiry_with_the_seats_taken_is_refunded_through_stripe(
    api_client, user, hold, event
):
    from tests.factories import UserFactory

    attempt = three_d_secure(api_client, user, hold)
    after = Hold.objects.get(pk=hold.pk).expires_at + dt.timedelta(seconds=1)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:2], now=after)
    authenticate(attempt.intent_id)
    deliver(api_client, intent_event(attempt.intent_id))
    event_id = f"evt_{attempt.intent_id}_payment_intent.succeeded"
    assert intents.provider_event_process(event_id=event_id, now=after) == "refunded"
    attempt.refresh_from_db()
    assert (attempt.status, attempt.outcome, attempt.order_id) == ("approved", "HOLD_EXPIRED", None)
    at_stripe = list(stripe_client().v1.refunds.list(params={"limit": 10}).auto_paging_iter())
    assert [r.payment_intent for r in at_stripe] == [attempt.intent_id] and not Order.objects.exists()
    response = api_client.post(f"/api/holds/{hold.pk}/payment-return")
    assert response.status_code == 410 and response.json()["extra"]["refunded"] is True


def test_reconcile_refunds_a_planted_paid_intent_without_an_order(stripe_settings):
    from checkout.services.reconcile_payments import payments_reconcile

    planted = stripe_client().v1.payment_intents.create(
        params={
            "amount": 4500,
            "currency": "eur",
            "payment_method": payment_method(CARD_OK),
            "confirm": True,
            "metadata": {"attempt": "charge-hold-0-lost"},
        }
    )
    assert planted.status == "succeeded"
    since = timezone.now() - dt.timedelta(hours=1)
    report = payments_reconcile(since=since, until=timezone.now() + dt.timedelta(minutes=1))
    assert [r["reference"] for r in report.problems["provider_charge_unaccounted"]] == [planted.id]
    report = payments_reconcile(since=since, until=timezone.now() + dt.timedelta(minutes=1), fix=True)
    assert report.ok and [f["outcome"] for f in report.fixed] == ["refunded"]
    at_stripe = list(stripe_client().v1.refunds.list(params={"limit": 10}).auto_paging_iter())
    assert [(r.payment_intent, r.amount) for r in at_stripe] == [(planted.id, 4500)]
