"""checkout/api.py: the HTTP contract of holds, purchase and orders."""

from __future__ import annotations

import pytest

from checkout import payments
from checkout.models import Hold, Order
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"} and body["code"] == code
    return body


@pytest.fixture
def buyer(api_client, user):
    return api_client.as_user(user)


def hold_seats(client, event, ids):
    return client.post(f"/api/events/{event.id}/holds", {"seat_ids": ids})


def purchase(client, hold_id, key="key-1", card=payments.CARD_APPROVE):
    body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": card}
    return client.post(f"/api/holds/{hold_id}/purchase", body, HTTP_IDEMPOTENCY_KEY=key)


def test_hold_create_answers_201_with_seats_and_total(buyer, event):
    ids = seat_ids(event)[:2]
    response = hold_seats(buyer, event, ids)
    assert response.status_code == 201, response.content
    body = response.json()
    assert [s["id"] for s in body["seats"]] == ids
    assert body["seats"][0] | {"price": None} == {
        "id": ids[0],
        "section_id": event.venue.sections.get().id,
        "section": "Main",
        "row": "A",
        "label": "1",
        "price": None,
        "ticket_type_id": None,
        "ticket_type": "Standard",
        "discount": "0.00",
        "fee": "0.00",
        "line_total": "50.00",
    }
    assert body["total"] == "100.00" and body["currency"] == "EUR"
    assert body["extensions_left"] == 2 and body["status"] == "active" and body["expires_at"]


def test_best_available_over_http(buyer, event):
    response = buyer.post(
        f"/api/events/{event.id}/holds", {"section_id": event.venue.sections.get().id, "quantity": 3}
    )
    assert response.status_code == 201
    assert [s["label"] for s in response.json()["seats"]] == ["1", "2", "3"]


def test_hold_errors(buyer, api_client, event):
    ids = seat_ids(event)
    assert_error(hold_seats(buyer, event, list(range(1000, 1011))), 422, "TOO_MANY_SEATS")
    assert_error(hold_seats(buyer, event, [10**9]), 404, "NOT_FOUND")
    first = hold_seats(buyer, event, ids[:1]).json()
    body = assert_error(hold_seats(buyer, event, ids[1:2]), 409, "HOLD_EXISTS")
    assert body["extra"]["hold_id"] == first["id"]
    other = api_client.__class__().as_user(UserFactory())
    body = assert_error(hold_seats(other, event, ids[:2]), 409, "SEATS_UNAVAILABLE")
    assert body["extra"]["seat_ids"] == [ids[0]]
    assert_error(other.post(f"/api/events/{event.id + 999}/holds", {"seat_ids": ids[:1]}), 404, "NOT_FOUND")


def test_anonymous_is_401(api_client, event):
    assert_error(hold_seats(api_client, event, seat_ids(event)[:1]), 401, "UNAUTHENTICATED")
    assert_error(api_client.get("/api/orders"), 401, "UNAUTHENTICATED")


def test_extend_release_and_limits(buyer, event):
    hold_id = hold_seats(buyer, event, seat_ids(event)[:1]).json()["id"]
    for left in (1, 0):
        response = buyer.post(f"/api/holds/{hold_id}/extend")
        assert response.status_code == 200 and response.json()["extensions_left"] == left
    assert_error(buyer.post(f"/api/holds/{hold_id}/extend"), 409, "EXTENSION_LIMIT")
    assert buyer.get(f"/api/holds/{hold_id}").json()["status"] == "active"
    response = buyer.delete(f"/api/holds/{hold_id}")
    assert response.status_code == 200 and response.json()["status"] == "released"


def test_buyers_never_see_each_others_holds_or_orders(buyer, api_client, event):
    hold_id = hold_seats(buyer, event, seat_ids(event)[:1]).json()["id"]
    order_id = purchase(buyer, hold_id).json()["id"]
    other = api_client.__class__().as_user(UserFactory())
    assert_error(other.get(f"/api/holds/{hold_id}"), 404, "NOT_FOUND")
    assert_error(other.delete(f"/api/holds/{hold_id}"), 404, "NOT_FOUND")
    assert_error(other.post(f"/api/holds/{hold_id}/extend"), 404, "NOT_FOUND")
    assert_error(purchase(other, hold_id), 404, "NOT_FOUND")
    assert_error(other.get(f"/api/orders/{order_id}"), 404, "NOT_FOUND")
    assert_error(other.post(f"/api/orders/{order_id}/cancel"), 404, "NOT_FOUND")
    assert other.get("/api/orders").json() == []


def test_purchase_then_orders_and_cancel(buyer, event):
    hold_id = hold_seats(buyer, event, seat_ids(event)[:2]).json()["id"]
    response = purchase(buyer, hold_id)
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "paid" and len(order["tickets"]) == 2
    assert all(len(t["code"]) >= 26 for t in order["tickets"])
    assert purchase(buyer, hold_id).json()["id"] == order["id"]  # replay
    assert_error(purchase(buyer, hold_id, card="5555555555554444"), 409, "IDEMPOTENCY_CONFLICT")
    assert [o["id"] for o in buyer.get("/api/orders").json()] == [order["id"]]
    assert buyer.get(f"/api/orders/{order['id']}").json()["tickets"] == order["tickets"]
    cancelled = buyer.post(f"/api/orders/{order['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and {t["status"] for t in cancelled["tickets"]} == {"void"}


def test_purchase_errors(buyer, event):
    hold_id = hold_seats(buyer, event, seat_ids(event)[:1]).json()["id"]
    body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_APPROVE}
    assert_error(buyer.post(f"/api/holds/{hold_id}/purchase", body), 422, "VALIDATION_ERROR")
    assert_error(purchase(buyer, hold_id, card=payments.CARD_DECLINE), 402, "PAYMENT_DECLINED")
    assert Hold.objects.get(pk=hold_id).status == "active"
    Hold.objects.filter(pk=hold_id).update(expires_at="2000-01-01T00:00:00Z")
    assert_error(purchase(buyer, hold_id, key="key-2"), 410, "HOLD_EXPIRED")
    assert Order.objects.count() == 0


def test_busy_is_503_with_retry_after(buyer, event, monkeypatch):
    from checkout.services import holds
    from ticketing.core.errors import Busy

    def busy(**kwargs):
        raise Busy()

    monkeypatch.setattr(holds, "best_available_lock", busy)
    response = buyer.post(
        f"/api/events/{event.id}/holds", {"section_id": event.venue.sections.get().id, "quantity": 1}
    )
    assert_error(response, 503, "BUSY")
    assert response["Retry-After"] == "1"


def test_openapi_lists_the_checkout_endpoints(api_client):
    paths = api_client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/events/{event_id}/holds",
        "/api/holds/{hold_id}",
        "/api/holds/{hold_id}/extend",
        "/api/holds/{hold_id}/purchase",
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/orders/{order_id}/cancel",
    ):
        assert path in paths


def test_one_buyer_hammering_the_hold_endpoint_is_rate_limited(api_client, event, settings, unchanged):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "hold_user": "3/min"}
    ids = seat_ids(event)
    script = api_client.as_user(UserFactory())
    assert hold_seats(script, event, ids[:1]).status_code == 201
    for _ in range(2):
        assert_error(hold_seats(script, event, ids[1:2]), 409, "HOLD_EXISTS")
    with unchanged():
        refused = hold_seats(script, event, ids[1:2])
    assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused["Retry-After"]) >= 1
    # Everyone else buys as usual.
    other = api_client.as_user(UserFactory())
    assert hold_seats(other, event, ids[2:3]).status_code == 201
