"""The waitlist wired to checkout, end to end: real holds, sales, cancellations and sweeps;
offers arrive on a signed-in websocket through the PostgreSQL channel layer.

Nothing here calls the waitlist's offer run directly: checkout's after-commit hooks do.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import ExtensionLimit, SeatsUnavailable
from checkout.models import AuditAction, AuditLog, Hold, HoldKind, HoldStatus, SeatInventory, SeatStatus
from checkout.services.holds import hold_create, hold_extend, holds_expire_due
from checkout.services.orders import order_cancel, order_purchase
from tests.factories import UserFactory, api_token, make_event
from tests.waitlist.inventory import hold_seats, rows
from tests.websocket import after_commit, listener_up, open_socket, receive, receive_type, run
from waitlist import services
from waitlist.models import EntryStatus, WaitlistEntry

pytestmark = pytest.mark.django_db(transaction=True)


def buy(user, hold_id: int, key: str = "k1"):
    return order_purchase(
        user=user,
        hold_id=hold_id,
        buyer_name="Buyer",
        buyer_email="buyer@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=key,
    )


def buy_through_api(user, hold_id: int):
    from django.test import Client

    return Client().post(
        f"/api/holds/{hold_id}/purchase",
        {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_APPROVE},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_token(user)}",
        HTTP_IDEMPOTENCY_KEY="offer-1",
    )


def take(user, event, seat_ids):
    """A regular buyer's hold attempt; the error code when refused."""
    try:
        return hold_create(user=user, event_id=event.id, seat_ids=seat_ids)
    except SeatsUnavailable as exc:
        return exc.code


@pytest.fixture
def sold_out_with_an_order():
    """A 2 x 5 event: B bought A1-A2 (a paid order); long holds of others cover the rest."""
    event = make_event()
    b = UserFactory()
    (hold,) = hold_seats(event, rows(event, "A1", "A2"), user=b)
    order = buy(b, hold.id)
    hold_seats(event, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert not SeatInventory.objects.filter(event=event, status=SeatStatus.AVAILABLE).exists()
    return event, b, order


def test_cancellation_offers_the_seats_and_only_the_offered_user_can_buy_them(sold_out_with_an_order):
    event, b, order = sold_out_with_an_order
    a, c = UserFactory(), UserFactory()
    entry = services.waitlist_join(user=a, event_id=event.id, quantity=2)
    seat_ids = sorted(r.seat_id for r in rows(event, "A1", "A2"))

    async def scenario():
        socket, connected, _ = await open_socket(event.id, user=a)
        assert connected
        assert (await receive(socket))["waitlist"]["status"] == "waiting"
        await listener_up()

        await after_commit(order_cancel, order_id=order.id, actor=b)

        offer = await receive_type(socket, "waitlist.offer")
        assert (offer["entry_id"], offer["seat_ids"]) == (entry.id, seat_ids)
        # The seats are held for A: a regular buyer is turned away.
        assert await after_commit(take, c, event, seat_ids) == "SEATS_UNAVAILABLE"

        response = await after_commit(buy_through_api, a, offer["hold_id"])
        assert response.status_code == 201, response.content
        assert sorted(t["seat_id"] for t in response.json()["tickets"]) == seat_ids
        fulfilled = await receive_type(socket, "waitlist.fulfilled")
        assert fulfilled["entry_id"] == entry.id
        await socket.disconnect()

    run(scenario)

    entry.refresh_from_db()
    assert entry.status == EntryStatus.FULFILLED and entry.offer_hold.status == HoldStatus.CONVERTED
    sold = SeatInventory.objects.filter(event=event, seat_id__in=seat_ids)
    assert {(r.status, r.order.user_id) for r in sold} == {(SeatStatus.SOLD, a.id)}


def test_a_lapsed_offer_passes_to_the_next_entry(sold_out_with_an_order):
    event, b, order = sold_out_with_an_order
    a, d = UserFactory(), UserFactory()
    first = services.waitlist_join(user=a, event_id=event.id, quantity=2)
    second = services.waitlist_join(user=d, event_id=event.id, quantity=2)

    async def scenario():
        sock_a, _, _ = await open_socket(event.id, user=a)
        sock_d, _, _ = await open_socket(event.id, user=d)
        await receive(sock_a)
        await receive(sock_d)
        await listener_up()

        await after_commit(order_cancel, order_id=order.id, actor=b)
        offer_a = await receive_type(sock_a, "waitlist.offer")
        assert (await receive_type(sock_d, "waitlist.position"))["position"] == 1

        # A does nothing; the sweeper runs once the offer is due.
        expires_at = dt.datetime.fromisoformat(offer_a["expires_at"])
        expired = await after_commit(holds_expire_due, now=expires_at + dt.timedelta(seconds=1))
        assert expired == 1

        assert (await receive_type(sock_a, "waitlist.lapsed"))["entry_id"] == first.id
        offer_d = await receive_type(sock_d, "waitlist.offer")
        assert offer_d["entry_id"] == second.id
        assert offer_d["seat_ids"] == offer_a["seat_ids"]
        await sock_a.disconnect()
        await sock_d.disconnect()

    run(scenario)

    first.refresh_from_db()
    assert first.status == EntryStatus.LAPSED
    # One audit row for the lapse, from the sweep that ended the hold.
    ended = AuditLog.objects.filter(hold_id_ref=first.offer_hold_id).exclude(action=AuditAction.OFFER_CREATED)
    assert list(ended.values_list("action", "reason")) == [(AuditAction.OFFER_LAPSED, "expired")]


def test_expiry_of_a_regular_hold_becomes_an_offer():
    event = make_event()
    now = timezone.now()
    (short,) = hold_seats(
        event, rows(event, "B3"), user=UserFactory(), expires_at=now + dt.timedelta(minutes=2)
    )
    hold_seats(event, expires_at=now + dt.timedelta(hours=1))
    a = UserFactory()
    entry = services.waitlist_join(user=a, event_id=event.id, quantity=1)
    b3 = rows(event, "B3")[0].seat_id

    async def scenario():
        socket, _, _ = await open_socket(event.id, user=a)
        await receive(socket)
        await listener_up()

        assert await after_commit(holds_expire_due, now=short.expires_at) == 1

        offer = await receive_type(socket, "waitlist.offer")
        assert offer["entry_id"] == entry.id and offer["seat_ids"] == [b3]
        await socket.disconnect()

    run(scenario)

    short.refresh_from_db()
    assert short.status == HoldStatus.EXPIRED


def test_an_offer_cannot_be_extended(sold_out_with_an_order):
    event, b, order = sold_out_with_an_order
    a = UserFactory()
    entry = services.waitlist_join(user=a, event_id=event.id, quantity=2)
    order_cancel(order_id=order.id, actor=b)  # commits; the hook makes the offer
    entry.refresh_from_db()
    hold = entry.offer_hold
    assert hold.kind == HoldKind.OFFER

    with pytest.raises(ExtensionLimit) as err:
        hold_extend(user=a, hold_id=hold.id)

    assert err.value.extra["max_extensions"] == 0
    assert Hold.objects.get(pk=hold.id).expires_at == hold.expires_at


def test_declining_an_offer_through_the_hold_api_passes_it_on(sold_out_with_an_order, api_client):
    event, b, order = sold_out_with_an_order
    a, d = UserFactory(), UserFactory()
    first = services.waitlist_join(user=a, event_id=event.id, quantity=2)
    second = services.waitlist_join(user=d, event_id=event.id, quantity=2)
    order_cancel(order_id=order.id, actor=b)
    first.refresh_from_db()

    response = api_client.as_user(a).delete(f"/api/holds/{first.offer_hold_id}")

    assert response.status_code in (200, 204), response.content
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (EntryStatus.LAPSED, EntryStatus.OFFERED)
    assert second.offer_hold.kind == HoldKind.OFFER
    assert WaitlistEntry.objects.filter(event=event, status=EntryStatus.OFFERED).count() == 1
