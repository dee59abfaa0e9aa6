"""Staff API of presale and promo codes. Their uses are counted by checkout/services/pricing/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from checkout.models import Code
from checkout.services import codes as services
from ticketing.accounts.auth import require_staff
from ticketing.core.validation import InputSchema, column_length
from ticketing.core.venue_time import venue_isoformat

router = Router()

_LOCAL = "ISO 8601; without an offset: the venue's wall clock"


class CodeIn(InputSchema):
    kind: Literal["presale", "promo"]
    code: str = Field(min_length=1, max_length=column_length(Code, "code"), description="Stored upper-case")
    description: str = Field("", max_length=column_length(Code, "description"))
    valid_from: dt.datetime | None = Field(None, description=_LOCAL)
    valid_until: dt.datetime | None = Field(None, description=_LOCAL)
    use_limit: int | None = Field(None, ge=0, le=2**31 - 1)
    discount_kind: Literal["percent", "fixed"] = "percent"
    discount_scope: Literal["ticket", "order"] = "ticket"
    discount_value: Decimal = Field(Decimal(0), ge=0, max_digits=10, decimal_places=2)
    ticket_type_ids: list[int] = Field(
        default_factory=list,
        max_length=100,
        description="Presale: the types it unlocks; promo: the types it discounts (none: all)",
    )


class CodeOut(Schema):
    id: int
    event_id: int
    kind: str
    code: str
    description: str
    valid_from: str | None
    valid_until: str | None
    use_limit: int | None
    used: int
    discount_kind: str
    discount_scope: str
    discount_value: Decimal
    ticket_type_ids: list[int]


def _out(code: Code) -> dict:
    tz = code.event.timezone
    return {
        "id": code.pk,
        "event_id": code.event_id,
        "kind": code.kind,
        "code": code.code,
        "description": code.description,
        "valid_from": venue_isoformat(code.valid_from, tz),
        "valid_until": venue_isoformat(code.valid_until, tz),
        "use_limit": code.use_limit,
        "used": code.used,
        "discount_kind": code.discount_kind,
        "discount_scope": code.discount_scope,
        "discount_value": code.discount_value,
        "ticket_type_ids": sorted(t.pk for t in code.ticket_types.all()),
    }


def _get(code_id: int) -> Code:
    return Code.objects.select_related("event").prefetch_related("ticket_types").get(pk=code_id)


@router.get(
    "/events/{event_id}/codes", response=list[CodeOut], summary="An event's presale and promo codes (staff)"
)
def code_list(request: HttpRequest, event_id: int):
    require_staff(request)
    found = Code.objects.filter(event_id=event_id).select_related("event").prefetch_related("ticket_types")
    return [_out(c) for c in found]


@router.post(
    "/events/{event_id}/codes",
    response={201: CodeOut},
    summary="Add a presale or promo code (staff)",
    description="CODE_TAKEN 409, VALIDATION_ERROR 422 (extra.fields), NOT_FOUND 404, FORBIDDEN 403.",
)
def code_create(request: HttpRequest, event_id: int, payload: CodeIn):
    require_staff(request)
    created = services.code_create(event_id=event_id, **payload.dict())
    return Status(201, _out(_get(created.pk)))


@router.put(
    "/codes/{code_id}",
    response=CodeOut,
    summary="Replace a code's settings; its count of uses stays (staff)",
    description="CODE_TAKEN 409, VALIDATION_ERROR 422, NOT_FOUND 404, FORBIDDEN 403.",
)
def code_update(request: HttpRequest, code_id: int, payload: CodeIn):
    require_staff(request)
    data = payload.dict()
    services.code_update(code_id=code_id, ticket_type_ids=data.pop("ticket_type_ids"), **data)
    return _out(_get(code_id))


@router.delete(
    "/codes/{code_id}",
    response={204: None},
    summary="Delete a code nobody used (staff)",
    description="CODE_IN_USE 409, NOT_FOUND 404, FORBIDDEN 403.",
)
def code_delete(request: HttpRequest, code_id: int):
    require_staff(request)
    services.code_delete(code_id=code_id)
    return Status(204, None)
