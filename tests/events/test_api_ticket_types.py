"""events/api_ticket_types.py: staff CRUD of ticket types and fees over HTTP."""

from __future__ import annotations

import pytest

from events.models import TicketType
from tests.factories import UserFactory, make_event, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(api_client):
    return api_client.as_user(staff_user())


def test_staff_create_list_update_delete_a_type(staff):
    event = make_event()
    section = event.venue.sections.get()
    body = {
        "name": "Early bird",
        "quota": 100,
        "sales_end": "2031-03-30T03:00",  # venue wall clock: Berlin, after the spring change
        "per_order_max": 4,
        "prices": [{"section_id": section.id, "amount": "30.00"}],
    }
    created = staff.post(f"/api/events/{event.id}/ticket-types", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["sales_end"] == "2031-03-30T03:00:00+02:00" and data["prices"][0]["amount"] == "30.00"
    listed = staff.get(f"/api/events/{event.id}/ticket-types").json()
    assert [t["name"] for t in listed] == ["Early bird"]
    updated = staff.put(f"/api/ticket-types/{data['id']}", body | {"name": "Frühbucher", "quota": 50})
    assert updated.status_code == 200 and updated.json()["quota"] == 50
    assert staff.delete(f"/api/ticket-types/{data['id']}").status_code == 204
    assert not TicketType.objects.exists()


def test_a_type_time_in_the_dst_gap_is_refused_with_nothing_written(staff):
    event = make_event()
    section = event.venue.sections.get()
    body = {
        "name": "X",
        "sales_start": "2031-03-30T02:30",
        "prices": [{"section_id": section.id, "amount": "1"}],
    }
    response = staff.post(f"/api/events/{event.id}/ticket-types", body)
    assert response.status_code == 422 and "sales_start" in response.json()["extra"]["fields"]
    assert not TicketType.objects.exists()


def test_a_price_for_another_venues_section_is_refused(staff):
    event, other = make_event(), make_event()
    body = {"name": "X", "prices": [{"section_id": other.venue.sections.get().id, "amount": "1"}]}
    response = staff.post(f"/api/events/{event.id}/ticket-types", body)
    assert response.status_code == 422 and not TicketType.objects.exists()


def test_input_with_nul_is_refused_before_anything_is_written(staff):
    event = make_event()
    response = staff.post(f"/api/events/{event.id}/ticket-types", {"name": "A\x00", "prices": []})
    assert response.status_code == 422 and not TicketType.objects.exists()


def test_buyers_cannot_write_types_or_fees(api_client):
    event = make_event()
    buyer = api_client.as_user(UserFactory())
    assert buyer.post(f"/api/events/{event.id}/ticket-types", {"name": "X", "prices": []}).status_code == 403
    assert (
        buyer.put(f"/api/events/{event.id}/fees", {"service_fee": "1", "order_fee": "1"}).status_code == 403
    )


def test_staff_set_fees(staff):
    event = make_event()
    response = staff.put(f"/api/events/{event.id}/fees", {"service_fee": "1.50", "order_fee": "2.00"})
    assert response.status_code == 200 and response.json()["service_fee"] == "1.50"
    event.refresh_from_db()
    assert str(event.order_fee) == "2.00"
