"""Waiting-room API: join the queue, see your place, leave; staff run the room.

Thin: parse, call one service or selector, shape. The buyer's reads and joins are cheap (a
few indexed statements) and never shed by the server's admission cap
(``ticketing/server/admission.py``: ``NEVER_SHED``), so a buyer in the queue never sees 503.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from checkout.services import admission
from ticketing.accounts.auth import require_staff
from ticketing.core.validation import InputSchema
from ticketing.server.throttles import queue_join_throttles
from waitlist import queue_selectors, queue_services

router = Router()

ERRORS = "Errors: `{code, message, extra}`; see docs/waiting-room.md for every code."


class QueueOut(Schema):
    number: int | None = Field(description="Your number; null before the opening (then shuffled)")
    state: str = Field(description="waiting | admitted | checking_out | done | expired | left | closed")
    now_serving: int = Field(description="The highest number admitted so far")
    ahead: int | None = Field(description="People ahead of you at most (while waiting)")
    eta_seconds: int | None = Field(description="Estimated wait from the recent admission rate")
    admitted_until: dt.datetime | None = Field(
        description="Admitted: start a hold before this; checking out: when the hold ends"
    )


class RoomIn(InputSchema):
    checkout_limit: int | None = Field(None, ge=1, le=100_000, description="Buyers checking out at once")
    enabled: bool | None = Field(None, description="Turn the waiting room on or off for the event")


class RoomOut(Schema):
    event_id: int
    enabled: bool
    paused: bool
    checkout_limit: int
    waiting: int
    admitted: int
    checking_out: int
    admitted_per_minute: float
    now_serving: int
    last_number: int
    opened: bool
    closed: bool


@router.post(
    "/events/{event_id}/queue",
    response={200: QueueOut, 201: QueueOut},
    summary="Join the event's waiting-room queue (201 first time, 200 with the entry you have)",
    description="QUEUE_COOLDOWN 429 (extra.until, Retry-After), QUEUE_CLOSED 409 (sold out: "
    "extra.waitlist), WAITING_ROOM_OFF 409, NOT_FOUND 404, "
    "RATE_LIMITED 429 (per account and per address). " + ERRORS,
    throttle=queue_join_throttles(),
)
def queue_join(request: HttpRequest, event_id: int):
    joined = queue_services.queue_join(user=request.auth, event_id=event_id, now=timezone.now())
    return Status(201 if joined.created else 200, queue_selectors.place_fields(joined.view))


@router.get(
    "/events/{event_id}/queue",
    response=QueueOut,
    summary="My place in the queue (also checks in: a waiting entry lapses without check-ins)",
    description="NOT_FOUND 404 (not in the queue). " + ERRORS,
)
def queue_get(request: HttpRequest, event_id: int):
    return queue_selectors.place_fields(
        queue_services.queue_check_in(user=request.auth, event_id=event_id, now=timezone.now())
    )


@router.delete(
    "/events/{event_id}/queue",
    response=QueueOut,
    summary="Leave the queue (a cooldown starts before you may join again; an unused turn is given back)",
    description="NOT_FOUND 404 (not in the queue). " + ERRORS,
)
def queue_leave(request: HttpRequest, event_id: int):
    return queue_selectors.place_fields(
        queue_services.queue_leave(user=request.auth, event_id=event_id, now=timezone.now())
    )


def _room(event_id: int) -> dict:
    return queue_selectors.queue_stats(event_id=event_id, now=timezone.now())


@router.patch(
    "/events/{event_id}/queue",
    response=RoomOut,
    summary="Set the waiting room's checkout limit, or turn it on or off (staff)",
    description="FORBIDDEN 403, NOT_FOUND 404, VALIDATION_ERROR 422. " + ERRORS,
)
def queue_room_update(request: HttpRequest, event_id: int, payload: RoomIn):
    require_staff(request)
    admission.room_update(event_id=event_id, checkout_limit=payload.checkout_limit, enabled=payload.enabled)
    return _room(event_id)


@router.get(
    "/events/{event_id}/queue/stats",
    response=RoomOut,
    summary="The waiting room's figures: waiting, admitted, checking out, admitted per minute (staff)",
    description="FORBIDDEN 403, NOT_FOUND 404. " + ERRORS,
)
def queue_room_stats(request: HttpRequest, event_id: int):
    require_staff(request)
    admission.room_require(event_id=event_id)
    return _room(event_id)


@router.post(
    "/events/{event_id}/queue/pause",
    response=RoomOut,
    summary="Pause admission: nobody new is admitted; turns already given go on (staff)",
    description="FORBIDDEN 403, NOT_FOUND 404. " + ERRORS,
)
def queue_pause(request: HttpRequest, event_id: int):
    require_staff(request)
    admission.room_require(event_id=event_id)
    admission.room_update(event_id=event_id, paused=True)
    return _room(event_id)


@router.post(
    "/events/{event_id}/queue/resume",
    response=RoomOut,
    summary="Resume admission (staff)",
    description="FORBIDDEN 403, NOT_FOUND 404. " + ERRORS,
)
def queue_resume(request: HttpRequest, event_id: int):
    require_staff(request)
    admission.room_require(event_id=event_id)
    admission.room_update(event_id=event_id, paused=False)
    return _room(event_id)
