"""Checkout API: holds, purchase, orders. Thin: parse, call one service or selector, shape."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status

from checkout.models import IdempotencyRecord, Order, TicketTransfer
from checkout.selectors import buyer as selectors
from checkout.services import hold_pricing as hold_pricing_service
from checkout.services import holds, intents, orders, tickets
from ticketing.core.validation import Email, InputSchema, SafeStr, column_length
from ticketing.server.throttles import hold_throttles

router = Router()


class SeatTypeIn(InputSchema):
    seat_id: int
    ticket_type_id: int = Field(description="A ticket type of the event; 0: the standard price")


class HoldIn(InputSchema):
    seat_ids: list[int] | None = Field(None, max_length=100, description="Seats to hold (at most 10)")
    section_id: int | None = Field(None, description="Best available: the section")
    quantity: int | None = Field(None, description="Best available: how many seats (1-10)")
    ticket_types: list[SeatTypeIn] | None = Field(
        None, max_length=100, description="A type per named seat; seats not listed get the default type"
    )
    ticket_type_id: int | None = Field(
        None, description="One type for every seat (0: the standard price); default: the cheapest on sale"
    )
    codes: list[Annotated[SafeStr, Field(max_length=40)]] | None = Field(
        None, max_length=2, description="A presale code and/or a promo code (case-insensitive)"
    )


class HoldSeatOut(Schema):
    id: int
    section_id: int
    section: str
    row: str
    label: str
    ticket_type_id: int | None = Field(description="None: the standard price")
    ticket_type: str
    price: Decimal
    discount: Decimal
    fee: Decimal = Field(description="Service fee of this ticket")
    line_total: Decimal = Field(description="price - discount + fee")


class HoldOut(Schema):
    id: int
    event_id: int
    kind: str
    status: str
    seats: list[HoldSeatOut]
    subtotal: Decimal
    discount: Decimal
    fees: Decimal = Field(description="Service fees and the order fee")
    order_fee: Decimal
    total: Decimal
    currency: str
    created_at: dt.datetime
    expires_at: dt.datetime
    extensions_left: int


class PurchaseIn(InputSchema):
    """Refused here, before the service runs, is everything the order row could not store:
    the card is never charged for a purchase that cannot be written."""

    buyer_name: str = Field(min_length=1, max_length=column_length(Order, "buyer_name"))
    buyer_email: Email = Field(min_length=3, max_length=column_length(Order, "buyer_email"))
    card_number: str = Field(
        min_length=1,
        max_length=40,
        description="Test provider: a test card (docs/checkout.md); Stripe: a PaymentMethod id (Stripe.js)",
    )


class TicketOut(Schema):
    id: int
    seat_id: int
    section: str
    row: str
    label: str
    ticket_type_id: int | None
    ticket_type: str
    price: Decimal
    discount: Decimal
    fee: Decimal
    line_total: Decimal
    code: str = Field(description="Empty for a ticket given away: the code is its new holder's")
    status: str
    holder_name: str = Field(description="Who the ticket was given to (empty: the buyer)")
    holder_email: str
    transferred_at: dt.datetime | None


class OrderOut(Schema):
    id: int
    event_id: int
    event_title: str
    event_starts_at: dt.datetime
    status: str
    buyer_name: str
    buyer_email: str
    total: Decimal
    order_fee: Decimal
    currency: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    tickets: list[TicketOut]


IDEMPOTENCY_KEY_MAX = column_length(IdempotencyRecord, "key")
ERRORS = "Errors: `{code, message, extra}`; see docs/checkout.md for every code."


@router.post(
    "/events/{event_id}/holds",
    response={201: HoldOut},
    summary="Hold seats (named, or best available in a section)",
    description="SEATS_UNAVAILABLE 409 (extra.seat_ids), TOO_MANY_SEATS 422, "
    "HOLD_EXISTS 409 (extra.hold_id), "
    "SALES_CLOSED 409, EVENT_NOT_ON_SALE 409 (message: on sale from ...; extra.sales_open_at), "
    "TYPE_SOLD_OUT 409, TYPE_NOT_ON_SALE 409, PER_ORDER_MAX 422, CODE_INVALID 422, CODE_USED_UP 409, "
    "NOT_FOUND 404, BUSY 503 (Retry-After), "
    "RATE_LIMITED 429 (Retry-After; per buyer and per address). " + ERRORS,
    throttle=hold_throttles(),
)
def hold_create(request: HttpRequest, event_id: int, payload: HoldIn):
    hold = holds.hold_create(
        user=request.auth,
        event_id=event_id,
        seat_ids=payload.seat_ids,
        section_id=payload.section_id,
        quantity=payload.quantity,
        ticket_types={t.seat_id: t.ticket_type_id for t in payload.ticket_types or []} or None,
        ticket_type_id=payload.ticket_type_id,
        codes=payload.codes or (),
    )
    return Status(201, selectors.hold_detail(hold=hold))


class HoldPricingIn(InputSchema):
    ticket_types: list[SeatTypeIn] = Field(
        default_factory=list,
        max_length=100,
        description="A type per held seat; seats not listed get the default",
    )
    codes: list[Annotated[SafeStr, Field(max_length=40)]] = Field(
        default_factory=list, max_length=2, description="The hold's codes from now on (replacing its codes)"
    )


@router.post(
    "/holds/{hold_id}/pricing",
    response=HoldOut,
    summary="Choose the ticket type per held seat and enter codes",
    description="The seats stay held; their prices, discounts and fees are fixed again. "
    "TYPE_SOLD_OUT 409, TYPE_NOT_ON_SALE 409, PER_ORDER_MAX 422, CODE_INVALID 422, CODE_USED_UP 409, "
    "HOLD_EXPIRED 410, HOLD_NOT_ACTIVE 409, NOT_FOUND 404, BUSY 503. " + ERRORS,
)
def hold_pricing(request: HttpRequest, hold_id: int, payload: HoldPricingIn):
    hold = hold_pricing_service.hold_reprice(
        user=request.auth,
        hold_id=hold_id,
        ticket_types={t.seat_id: t.ticket_type_id for t in payload.ticket_types},
        codes=payload.codes,
    )
    return selectors.hold_detail(hold=hold)


@router.get("/holds/{hold_id}", response=HoldOut, summary="One of my holds")
def hold_get(request: HttpRequest, hold_id: int):
    return selectors.hold_detail(hold=selectors.hold_get(user=request.auth, hold_id=hold_id))


@router.delete("/holds/{hold_id}", response=HoldOut, summary="Release a hold")
def hold_release(request: HttpRequest, hold_id: int):
    hold = holds.hold_release(user=request.auth, hold_id=hold_id)
    return selectors.hold_detail(hold=hold)


@router.post(
    "/holds/{hold_id}/extend",
    response=HoldOut,
    summary="Extend a hold by 5 minutes (at most twice)",
    description="EXTENSION_LIMIT 409, HOLD_EXPIRED 410, HOLD_NOT_ACTIVE 409. " + ERRORS,
)
def hold_extend(request: HttpRequest, hold_id: int):
    return selectors.hold_detail(hold=holds.hold_extend(user=request.auth, hold_id=hold_id))


@router.post(
    "/holds/{hold_id}/purchase",
    response={201: OrderOut},
    summary="Pay for a hold; needs an Idempotency-Key header",
    description="Repeating a request with the same Idempotency-Key returns the same order and charges once. "
    "IDEMPOTENCY_CONFLICT 409, PAYMENT_DECLINED 402, PAYMENT_FAILED 502, HOLD_EXPIRED 410, "
    "PURCHASE_IN_PROGRESS 409 (Retry-After), PAYMENT_ACTION_REQUIRED 402 (Stripe: 3-D Secure; "
    "confirm extra.client_secret with Stripe.js, then POST payment-return), BUSY 503. " + ERRORS,
)
def hold_purchase(
    request: HttpRequest,
    hold_id: int,
    payload: PurchaseIn,
    idempotency_key: Annotated[
        SafeStr, Header(alias="Idempotency-Key", min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
    ],
):
    order = orders.order_purchase(
        user=request.auth,
        hold_id=hold_id,
        buyer_name=payload.buyer_name,
        buyer_email=payload.buyer_email,
        card_number=payload.card_number,
        idempotency_key=idempotency_key,
    )
    return Status(201, selectors.order_answer(user=request.auth, order=order))


@router.post(
    "/holds/{hold_id}/payment-return",
    response={201: OrderOut},
    summary="Back from Stripe.js (3-D Secure): finish the hold's card payment",
    description="Returns the order, also when the provider's webhook made it first. "
    "PAYMENT_ACTION_REQUIRED 402 (still waiting for the buyer), PAYMENT_DECLINED 402, PAYMENT_FAILED 502, "
    "HOLD_EXPIRED 410 (charged, then refunded), PURCHASE_IN_PROGRESS 409, BUSY 503. " + ERRORS,
)
def hold_payment_return(request: HttpRequest, hold_id: int):
    order = intents.payment_return(user=request.auth, hold_id=hold_id)
    return Status(201, selectors.order_detail(selectors.order_get(user=request.auth, order_id=order.pk)))


@router.post(
    "/payments/stripe/webhook",
    auth=None,
    response={200: dict},
    summary="Stripe's webhook (payment_intent.succeeded, payment_intent.payment_failed)",
    description="Signed with STRIPE_WEBHOOK_SECRET; a repeated event answers 200 and changes nothing. "
    "WEBHOOK_SIGNATURE_INVALID 400 (nothing stored), NOT_FOUND 404 (the provider is not Stripe).",
)
def stripe_webhook(request: HttpRequest):
    created = intents.provider_event_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    return {"received": True, "duplicate": not created}


@router.get("/orders", response=list[OrderOut], summary="My orders, newest first")
def order_list(request: HttpRequest):
    return [selectors.order_detail(o) for o in selectors.order_list(user=request.auth)]


@router.get("/orders/{order_id}", response=OrderOut, summary="One of my orders, with ticket codes")
def order_get(request: HttpRequest, order_id: int):
    return selectors.order_detail(selectors.order_get(user=request.auth, order_id=order_id))


class TransferIn(InputSchema):
    name: str = Field(min_length=1, max_length=column_length(TicketTransfer, "to_name"), pattern=r"\S")
    email: Email = Field(min_length=3, max_length=column_length(TicketTransfer, "to_email"))


@router.post(
    "/orders/{order_id}/tickets/{ticket_id}/transfer",
    response=OrderOut,
    summary="Give a ticket of my order to someone else",
    description="The ticket gets a new code, e-mailed to the new holder with a link of its own; the old "
    "code is void at the gate (TICKET_VOID, extra.reason transferred). The order stays the buyer's and can "
    "no longer be cancelled by the buyer. NOT_FOUND 404 (not my order, or no such ticket in it), "
    "TICKET_NOT_TRANSFERABLE 409 (used, void, order cancelled or the event has begun), "
    "TRANSFER_LIMITED 429 (Retry-After; 3 per ticket a day), BUSY 503. " + ERRORS,
)
def ticket_transfer(request: HttpRequest, order_id: int, ticket_id: int, payload: TransferIn):
    selectors.order_get(user=request.auth, order_id=order_id)  # someone else's order: 404
    tickets.ticket_transfer(
        order_id=order_id,
        ticket_id=ticket_id,
        name=payload.name.strip(),
        email=payload.email,
        actor=request.auth,
    )
    return selectors.order_detail(selectors.order_get(user=request.auth, order_id=order_id))


@router.post(
    "/orders/{order_id}/cancel",
    response=OrderOut,
    summary="Cancel an order and refund it (buyer before the event, staff any time)",
    description="ORDER_NOT_CANCELLABLE 409, PAYMENT_FAILED 502 (refund refused; nothing changed). " + ERRORS,
)
def order_cancel(request: HttpRequest, order_id: int):
    order = orders.order_cancel(order_id=order_id, actor=request.auth)
    return selectors.order_detail(selectors.order_get(user=order.user, order_id=order.pk))
