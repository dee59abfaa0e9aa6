"""Gate scanning for staff: its own router, tagged "operations" in the API docs."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from checkout.models import Ticket
from checkout.services.checkin import ticket_check_in
from ticketing.accounts.auth import require_staff
from ticketing.core.validation import InputSchema, column_length

router = Router()


class CheckInIn(InputSchema):
    code: str = Field(max_length=column_length(Ticket, "code"))
    gate: str = Field("", max_length=column_length(Ticket, "used_gate"))
    event_id: int | None = None


class CheckInOut(Schema):
    result: str = "admitted"
    ticket_id: int
    event_id: int
    seat: str
    used_at: dt.datetime
    gate: str


@router.post(
    "/checkin",
    response=CheckInOut,
    summary="Scan a ticket at a gate (staff)",
    description=(
        "200 admits and marks the ticket used. Refusals use the error shape: 404 TICKET_UNKNOWN, "
        "409 TICKET_ALREADY_USED (extra: used_at, gate), 409 TICKET_VOID, 409 TICKET_WRONG_EVENT."
    ),
)
def checkin(request: HttpRequest, payload: CheckInIn):
    require_staff(request)
    done = ticket_check_in(
        code=payload.code, gate=payload.gate, event_id=payload.event_id, actor=request.user
    )
    return {
        "ticket_id": done.ticket_id,
        "event_id": done.event_id,
        "seat": done.seat,
        "used_at": done.used_at,
        "gate": done.gate,
    }
