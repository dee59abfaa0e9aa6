"""Buyer pages of checkout: the seat picker, the hold (countdown + checkout form), orders.

Thin by design: pages render what the buyer owns plus the ids and server times the page
scripts need; every change (hold, extend, release, purchase, cancel) goes through the JSON
API from ``static/js/``, so the browser and API clients share one path and one error format.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie

from checkout.models import Hold, HoldKind, HoldStatus, Order, OrderStatus, SeatInventory, Ticket
from events.models import Event, EventStatus, Price


def _visible_event(request: HttpRequest, event_id: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("venue"), pk=event_id)
    if event.status == EventStatus.DRAFT and not request.user.is_staff:
        raise Http404
    return event


@ensure_csrf_cookie
def seat_picker(request: HttpRequest, event_id: int) -> HttpResponse:
    """The interactive seat map of one event (data comes from ``/api/events/{id}/seats``)."""
    event = _visible_event(request, event_id)
    return render(
        request,
        "checkout/seats.html",
        {
            "event": event,
            "sales_open": event.sales_open(timezone.now()),
            "max_seats": settings.TICKETING_MAX_SEATS_PER_HOLD,
        },
    )


def _hold_seats(hold: Hold) -> tuple[list[dict], Decimal, str]:
    rows = (
        SeatInventory.objects.filter(hold=hold)
        .select_related("seat", "section")
        .order_by("section__display_order", "seat__row_rank", "seat__position")
    )
    prices = {p.section_id: p for p in Price.objects.filter(event_id=hold.event_id)}
    seats, total, currency = [], Decimal("0"), "EUR"
    for row in rows:
        price = prices.get(row.section_id)
        amount = price.amount if price else Decimal("0")
        currency = price.currency if price else currency
        total += amount
        seats.append(
            {"section": row.section.name, "row": row.seat.row_label, "label": row.seat.label, "price": amount}
        )
    return seats, total, currency


@login_required
@ensure_csrf_cookie
def hold_detail(request: HttpRequest, hold_id: int) -> HttpResponse:
    """A buyer's hold: countdown from the stored expiry, extend/release, the checkout form.

    Only the hold's owner sees it (404 otherwise, so hold ids reveal nothing).
    """
    hold = get_object_or_404(Hold.objects.select_related("event__venue"), pk=hold_id, user=request.user)
    if hold.status == HoldStatus.CONVERTED:
        order = Order.objects.filter(hold=hold).only("pk").first()
        if order is not None:
            return redirect("checkout:order", order_id=order.pk)
    now = timezone.now()
    seats, total, currency = _hold_seats(hold) if hold.is_live(now) else ([], Decimal("0"), "EUR")
    extensions_left = (
        0
        if hold.kind == HoldKind.OFFER
        else max(0, settings.TICKETING_HOLD_MAX_EXTENSIONS - hold.extensions_used)
    )
    return render(
        request,
        "checkout/hold.html",
        {
            "hold": hold,
            "event": hold.event,
            "live": hold.is_live(now),
            "seats": seats,
            "total": total,
            "currency": currency,
            "extensions_left": extensions_left,
            "server_now": now,
            # One key per rendered form: a double click or a retried request after a lost
            # response is the same attempt, so the server charges at most once.
            "idempotency_key": uuid.uuid4(),
            "buyer_name": request.user.name,
            "buyer_email": request.user.email,
        },
    )


def _qr_svg(code: str) -> str:
    # Rendered on the server: the ticket page works without any script, and offline once loaded.
    return segno.make(code, error="m").svg_inline(
        scale=4, border=2, omitsize=True, title=f"Ticket code {code}"
    )


def _orders_of(user, *, order_id: int | None = None):
    tickets = Ticket.objects.select_related("seat", "section").order_by(
        "section__display_order", "seat__row_rank", "seat__position"
    )
    orders = (
        Order.objects.filter(user=user)
        .select_related("event__venue")
        .prefetch_related(Prefetch("tickets", queryset=tickets))
        .order_by("-created_at", "-id")
    )
    if order_id is not None:
        orders = orders.filter(pk=order_id)
    now = timezone.now()
    result = list(orders)
    for order in result:
        order.cancellable = order.status == OrderStatus.PAID and order.event.starts_at > now
        for ticket in order.tickets.all():
            ticket.qr_svg = _qr_svg(ticket.code)
    return result


@login_required
@ensure_csrf_cookie
def order_list(request: HttpRequest) -> HttpResponse:
    """ "My tickets": every order of the buyer, newest first, with its tickets."""
    return render(request, "checkout/orders.html", {"orders": _orders_of(request.user)})


@login_required
@ensure_csrf_cookie
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """The confirmation page of one order (only its buyer sees it)."""
    orders = _orders_of(request.user, order_id=order_id)
    if not orders:
        raise Http404
    return render(request, "checkout/order.html", {"order": orders[0]})
