"""Gate check-in: service answers, the API and staff page, and two gates scanning one ticket at once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from checkout.errors import TicketAlreadyUsed, TicketUnknown, TicketVoid, TicketWrongEvent
from checkout.models import AuditAction, AuditLog, Ticket
from checkout.services import checkin
from checkout.services.checkin import ticket_check_in
from tests.factories import make_event, staff_user
from tests.ops_factories import inventory, sell


@pytest.fixture
def ticket(db) -> Ticket:
    return sell(inventory(make_event(), 1)).tickets.get()


def test_valid_ticket_is_admitted_and_marked_used(ticket, staff):
    now = timezone.now()
    done = ticket_check_in(code=ticket.code, gate="North 2", actor=staff, now=now)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.used_at, ticket.used_gate) == ("used", now, "North 2")
    assert done.ticket_id == ticket.id and done.gate == "North 2" and "row A" in done.seat
    audit = AuditLog.objects.get(action=AuditAction.TICKET_CHECKED_IN)
    assert (audit.actor, audit.event_id, audit.order_id_ref) == (staff, ticket.event_id, ticket.order_id)
    assert audit.data == {"ticket_id": ticket.id, "gate": "North 2", "seat_id": ticket.seat_id}


def test_second_scan_says_when_and_where(ticket, unchanged):
    first = timezone.now() - dt.timedelta(minutes=3)
    ticket_check_in(code=ticket.code, gate="North 2", now=first)
    with unchanged(), pytest.raises(TicketAlreadyUsed) as exc:
        ticket_check_in(code=ticket.code, gate="South 1")
    assert exc.value.extra == {"ticket_id": ticket.id, "used_at": first.isoformat(), "gate": "North 2"}
    assert "North 2" in exc.value.message
    ticket.refresh_from_db()
    assert ticket.used_gate == "North 2"


def test_void_ticket_is_refused(ticket, unchanged):
    Ticket.objects.filter(pk=ticket.pk).update(status="void")
    with unchanged(), pytest.raises(TicketVoid):
        ticket_check_in(code=ticket.code, gate="A")


@pytest.mark.parametrize("code", ["no-such-code", "", "   "])
def test_unknown_code_is_refused(db, code, unchanged):
    with unchanged(), pytest.raises(TicketUnknown):
        ticket_check_in(code=code, gate="A")


def test_ticket_for_another_event_is_refused(ticket, unchanged):
    other = make_event()
    with unchanged(), pytest.raises(TicketWrongEvent):
        ticket_check_in(code=ticket.code, event_id=other.id)
    ticket_check_in(code=ticket.code, event_id=ticket.event_id)


def test_api_admits_then_refuses(api_client, ticket, staff):
    api_client.as_user(staff)
    ok = api_client.post("/api/checkin", {"code": ticket.code, "gate": "G1"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["result"] == "admitted" and ok.json()["ticket_id"] == ticket.id
    again = api_client.post("/api/checkin", {"code": ticket.code, "gate": "G2"})
    assert again.status_code == 409
    assert again.json()["code"] == "TICKET_ALREADY_USED" and again.json()["extra"]["gate"] == "G1"
    unknown = api_client.post("/api/checkin", {"code": "nope"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "TICKET_UNKNOWN")


def test_api_is_staff_only(api_client, ticket, unchanged):
    # A buyer, even the ticket's own buyer, cannot mark tickets used or probe codes.
    api_client.as_user(ticket.order.user)
    with unchanged():
        response = api_client.post("/api/checkin", {"code": ticket.code})
    assert response.status_code == 403
    assert "used" not in response.content.decode()
    api_client.token = None
    assert api_client.post("/api/checkin", {"code": ticket.code}).status_code == 401


def test_staff_page_scans_with_csrf(client, ticket, staff):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff)
    page = csrf_client.get("/staff/checkin/")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    assert csrf_client.post("/staff/checkin/", {"code": ticket.code}).status_code == 403  # no token
    ok = csrf_client.post(
        "/staff/checkin/", {"code": ticket.code, "gate": "East", "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 200 and b"ADMIT" in ok.content and b"East" in ok.content
    again = csrf_client.post(
        "/staff/checkin/", {"code": ticket.code, "gate": "East", "csrfmiddlewaretoken": token}
    )
    assert (
        again.status_code == 409
        and b"DO NOT ADMIT" in again.content
        and b"Already used at East" in again.content
    )


def test_staff_page_refuses_buyers(client, ticket):
    client.force_login(ticket.order.user)
    response = client.post("/staff/checkin/", {"code": ticket.code})
    assert response.status_code == 302 and "/login" in response["Location"]
    ticket.refresh_from_db()
    assert ticket.status == "valid"


def _scan_concurrently(code: str, gates: list[str], barrier: threading.Barrier | None = None) -> list:
    results: list = []
    start = threading.Barrier(len(gates))

    def scan(gate: str) -> None:
        try:
            start.wait(timeout=10)
            results.append(ticket_check_in(code=code, gate=gate))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(g,)) for g in gates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_gates_scanning_one_ticket_admit_once():
    ticket = sell(inventory(make_event(), 1)).tickets.get()
    staff_user()
    results = _scan_concurrently(ticket.code, ["North", "South"])
    admitted = [r for r in results if isinstance(r, checkin.CheckIn)]
    refused = [r for r in results if isinstance(r, TicketAlreadyUsed)]
    assert len(admitted) == 1 and len(refused) == 1, results
    assert refused[0].extra["gate"] == admitted[0].gate
    assert AuditLog.objects.filter(action=AuditAction.TICKET_CHECKED_IN).count() == 1


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_both_gates_admit(monkeypatch):
    """Shows the race is real: read without locking, both scans see 'valid' and both admit."""
    ticket = sell(inventory(make_event(), 1)).tickets.get()
    both_read = threading.Barrier(2)

    def unlocked_read(code):
        row = Ticket.objects.select_related("seat__section").filter(code=code).first()
        both_read.wait(timeout=10)
        return row

    monkeypatch.setattr(checkin, "_ticket_for_scan", unlocked_read)
    results = _scan_concurrently(ticket.code, ["North", "South"])
    assert [type(r) for r in results] == [checkin.CheckIn, checkin.CheckIn], results
    assert AuditLog.objects.filter(action=AuditAction.TICKET_CHECKED_IN).count() == 2


def test_scan_query_budget(ticket, django_assert_max_num_queries):
    # savepoint, lock_timeout, locked read (with seat and section), update, audit, release
    with django_assert_max_num_queries(7):
        ticket_check_in(code=ticket.code, gate="A")
