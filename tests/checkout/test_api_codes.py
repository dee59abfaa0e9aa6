"""checkout/api_codes.py and the hold API with types and codes, over HTTP."""

from __future__ import annotations

import pytest

from checkout.models import Code, SeatInventory
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_code, make_event, make_ticket_type, staff_user

pytestmark = pytest.mark.django_db


def test_staff_create_update_delete_a_code(api_client):
    staff = api_client.as_user(staff_user())
    event = make_event()
    vip = make_ticket_type(event, "VIP", "90.00", visibility="presale")
    body = {"kind": "presale", "code": " vip-Fans ", "use_limit": 10, "ticket_type_ids": [vip.id]}
    created = staff.post(f"/api/events/{event.id}/codes", body)
    assert created.status_code == 201, created.content
    assert created.json()["code"] == "VIP-FANS" and created.json()["ticket_type_ids"] == [vip.id]
    again = staff.post(f"/api/events/{event.id}/codes", body | {"code": "VIP-fans"})
    assert again.status_code == 409 and again.json()["code"] == "CODE_TAKEN"
    code_id = created.json()["id"]
    updated = staff.put(f"/api/codes/{code_id}", body | {"use_limit": 3})
    assert updated.status_code == 200 and updated.json()["use_limit"] == 3
    assert [c["code"] for c in staff.get(f"/api/events/{event.id}/codes").json()] == ["VIP-FANS"]
    assert staff.delete(f"/api/codes/{code_id}").status_code == 204
    assert not Code.objects.exists()


def test_a_percentage_over_100_is_refused(api_client):
    staff = api_client.as_user(staff_user())
    event = make_event()
    body = {"kind": "promo", "code": "HALF", "discount_kind": "percent", "discount_value": "150"}
    assert staff.post(f"/api/events/{event.id}/codes", body).status_code == 422
    assert not Code.objects.exists()


def test_hold_over_http_with_a_type_per_seat_and_codes(api_client):
    event = make_event()
    vip = make_ticket_type(event, "VIP", "90.00", visibility="presale")
    make_code(event, "FANS", kind="presale", ticket_type_ids=[vip.id])
    make_code(event, "SAVE10", discount_kind="fixed", discount_value="10.00")
    buyer = api_client.as_user(UserFactory())
    ids = seat_ids(event)[:2]
    body = {
        "seat_ids": ids,
        "ticket_types": [
            {"seat_id": ids[0], "ticket_type_id": vip.id},
            {"seat_id": ids[1], "ticket_type_id": 0},
        ],
        "codes": ["fans", "save10"],
    }
    response = buyer.post(f"/api/events/{event.id}/holds", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert [(s["ticket_type"], s["price"], s["discount"]) for s in data["seats"]] == [
        ("VIP", "90.00", "10.00"),
        ("Standard", "50.00", "10.00"),
    ]
    assert data["total"] == "120.00" and data["discount"] == "20.00"


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"codes": ["NOPE"]}, "CODE_INVALID", 422),
        ({"codes": ["bad code"]}, "VALIDATION_ERROR", 422),
        ({"codes": ["A\x00"]}, "VALIDATION_ERROR", 422),
        ({"ticket_type_id": 999999}, "TYPE_NOT_ON_SALE", 409),
    ],
)
def test_hold_errors_over_http_write_nothing(api_client, body, code, status):
    event = make_event()
    buyer = api_client.as_user(UserFactory())
    response = buyer.post(f"/api/events/{event.id}/holds", {"seat_ids": seat_ids(event)[:1]} | body)
    assert response.status_code == status and response.json()["code"] == code, response.content
    assert not SeatInventory.objects.filter(status="held").exists()


def test_public_price_list_shows_public_types_and_fees_not_presale(client):
    from decimal import Decimal

    event = make_event(service_fee=Decimal("1.50"), order_fee=Decimal("2.00"))
    make_ticket_type(event, "Early bird", "30.00", quota=1)
    make_ticket_type(event, "VIP", "90.00", visibility="presale")
    data = client.get(f"/api/events/{event.id}/prices").json()
    assert (data["service_fee"], data["order_fee"], data["currency"]) == ("1.50", "2.00", "EUR")
    assert [(r["type"], r["section"], r["price"], r["sold_out"]) for r in data["rows"]] == [
        ("Standard", "Main", "50.00", False),
        ("Early bird", "Main", "30.00", False),
    ]
    assert client.get("/api/events/999999/prices").status_code == 404


def test_a_type_for_a_seat_not_asked_for_is_refused(api_client):
    event = make_event()
    buyer = api_client.as_user(UserFactory())
    ids = seat_ids(event)
    body = {"seat_ids": ids[:1], "ticket_types": [{"seat_id": ids[1], "ticket_type_id": 0}]}
    response = buyer.post(f"/api/events/{event.id}/holds", body)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
    assert not SeatInventory.objects.filter(status="held").exists()
