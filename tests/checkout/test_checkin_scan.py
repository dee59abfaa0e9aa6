"""The check-in page's scanner endpoint (checkout/staff_views.py: checkin_scan)."""

from __future__ import annotations

import pytest
from django.test import Client

from checkout.models import Ticket
from tests.factories import UserFactory, make_event, staff_user
from tests.ops_factories import inventory, sell

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket() -> Ticket:
    return sell(inventory(make_event(), 1)).tickets.get()


@pytest.fixture
def gate():
    client = Client()
    client.force_login(staff_user())
    return client


def test_scan_admits_once_then_says_used_in_venue_time(ticket, gate):
    r = gate.post("/staff/checkin/scan", {"code": ticket.code, "gate": "North"})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "ADMITTED" and "row A" in body["extra"]["seat"]
    assert "Europe/Berlin" in body["extra"]["used_at"]
    again = gate.post("/staff/checkin/scan", {"code": ticket.code, "gate": "South"})
    assert again.status_code == 409
    assert again.json()["code"] == "TICKET_ALREADY_USED"
    assert "Europe/Berlin" in again.json()["message"]


def test_scan_of_an_unknown_code_is_refused(gate):
    r = gate.post("/staff/checkin/scan", {"code": "nope"})
    assert r.status_code == 404 and r.json()["code"] == "TICKET_UNKNOWN"


def test_scan_reports_every_form_problem(gate):
    r = gate.post("/staff/checkin/scan", {"code": "", "gate": "x" * 300})
    assert r.status_code == 422
    assert set(r.json()["extra"]["fields"]) == {"code", "gate"}


def test_scan_is_staff_only(ticket):
    client = Client()
    client.force_login(UserFactory())
    r = client.post("/staff/checkin/scan", {"code": ticket.code})
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "valid"


def test_page_offers_the_camera_with_local_assets(gate):
    page = gate.get("/staff/checkin/").content.decode()
    assert "/static/vendor/jsqr/jsQR.js" in page and "/static/js/checkin-scan.js" in page
    assert "https://" not in page.split("<main", 1)[1]
