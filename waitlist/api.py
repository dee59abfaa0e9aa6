"""Waitlist API: join a sold-out event's line, see your place, leave."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from ticketing.core.validation import InputSchema
from waitlist import selectors, services
from waitlist.models import MAX_WAITLIST_QUANTITY

router = Router()


class JoinIn(InputSchema):
    quantity: int = Field(1, ge=1, le=MAX_WAITLIST_QUANTITY)
    section_id: int | None = None


class OfferOut(Schema):
    hold_id: int
    seat_ids: list[int]
    expires_at: dt.datetime


class EntryOut(Schema):
    id: int
    event_id: int
    section_id: int | None
    quantity: int
    status: str
    position: int | None = Field(description="1-based place in line while waiting")
    created_at: dt.datetime
    offer: OfferOut | None = Field(description="The seats held for you while the offer is open")


def _entry_out(view: selectors.EntryView) -> dict:
    e = view.entry
    offer = None
    if view.offer_expires_at is not None:
        offer = {
            "hold_id": e.offer_hold_id,
            "seat_ids": view.offer_seat_ids,
            "expires_at": view.offer_expires_at,
        }
    return {
        "id": e.id,
        "event_id": e.event_id,
        "section_id": e.section_id,
        "quantity": e.quantity,
        "status": e.status,
        "position": view.position,
        "created_at": e.created_at,
        "offer": offer,
    }


@router.post(
    "/events/{event_id}/waitlist",
    response={201: EntryOut},
    summary="Join the waitlist of a sold-out event (409 SEATS_AVAILABLE when seats can be bought)",
)
def waitlist_join(request: HttpRequest, event_id: int, payload: JoinIn):
    now = timezone.now()
    entry = services.waitlist_join(
        user=request.auth,
        event_id=event_id,
        quantity=payload.quantity,
        section_id=payload.section_id,
        now=now,
    )
    view = selectors.EntryView(
        entry=entry, position=selectors.entry_position(entry=entry), offer_seat_ids=[], offer_expires_at=None
    )
    return Status(201, _entry_out(view))


@router.get("/waitlist", response=list[EntryOut], summary="My waitlist entries with place in line and offers")
def waitlist_mine(request: HttpRequest):
    return [_entry_out(v) for v in selectors.user_entries(user_id=request.auth.pk, now=timezone.now())]


@router.delete(
    "/waitlist/{entry_id}", response={204: None}, summary="Leave the waitlist (declines an open offer)"
)
def waitlist_leave(request: HttpRequest, entry_id: int):
    services.waitlist_leave(user=request.auth, entry_id=entry_id, now=timezone.now())
    return Status(204, None)
