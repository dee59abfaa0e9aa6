"""Buyer pages of checkout: the event page (seat map, price and availability per section),
the seat picker, the hold (countdown + checkout form), orders.

Thin by design: the reads are the selectors the JSON API uses, so a page and the API show
the same data under the same ownership rules (another buyer's hold or order is "not found"
on both). Every change (hold, extend, release, purchase, cancel) goes through the JSON API
from ``static/js/``, so the browser and API clients share one path and one error format.
The exceptions post plain forms to views that call the services: "e-mail the tickets again"
and "give this ticket to someone" (no JSON answer to show), and the order link's pages
(``/orders/<id>/<token>/``), whose visitor has no session the API would accept (resend,
cancel, transfer). A ticket given away has pages of its own for its new holder
(``/tickets/<transfer id>/<token>/``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from checkout.documents import ticket_mark, ticket_scannable
from checkout.documents.ics import order_ics
from checkout.documents.pdf import order_pdf
from checkout.documents.qr import qr_svg
from checkout.errors import OrderNotFound, TicketNotFound
from checkout.models import LIVE_HOLD_STATUSES, Order, Ticket, TicketTransfer
from checkout.payments import payment_provider, uses_intents
from checkout.selectors import admission as admission_selectors
from checkout.selectors import buyer as selectors
from checkout.selectors import event_page as event_page_selectors
from checkout.selectors import ticket_types as ticket_type_selectors
from checkout.selectors.figures import event_audit_recent, event_figures
from checkout.services.checkin import ticket_check_in
from checkout.services.orders import order_cancel
from checkout.services.tickets import guest_orders_claim, order_resend, ticket_transfer
from events.models import Event
from events.views import with_times
from ticketing.core.errors import ApplicationError, ValidationFailed
from ticketing.core.validation import SafeFormMixin, column_length
from ticketing.core.venue_time import venue_display
from ticketing.server.version_prefetch import prefetched_event


def _error_page(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(request, "events/error.html", {"message": exc.message}, status=exc.status)


def event_page(request: HttpRequest, event_id: int) -> HttpResponse:
    # With a waiting room on, buyers go through the queue's page (the waitlist app's), which
    # shows the seat map on their turn. The seat map alone (``seat_picker``) stays open.
    if admission_selectors.room_enabled(event_id=event_id):
        return redirect("waitlist:queue", event_id=event_id)
    try:
        versions = prefetched_event(request, event_id)
        event = event_page_selectors.event_detail_snapshot(event_id=event_id, versions=versions).data
    except ApplicationError as exc:
        return _error_page(request, exc)
    return render(
        request,
        "events/detail.html",
        {
            "event": with_times(event),
            "price_list": ticket_type_selectors.event_price_list(event_id=event_id),
            "sales_open": event["status"] in ("on_sale", "sold_out"),
            "max_seats": settings.TICKETING_MAX_SEATS_PER_HOLD,
        },
    )


@ensure_csrf_cookie
def seat_picker(request: HttpRequest, event_id: int) -> HttpResponse:
    """The seat map of one event on its own (data comes from ``/api/events/{id}/seats``).

    Same event read and visibility as the event page, which embeds the same picker.
    """
    try:
        event = event_page_selectors.event_detail_snapshot(event_id=event_id).data
    except ApplicationError as exc:
        return _error_page(request, exc)
    return render(
        request,
        "checkout/seats.html",
        {
            "event": event,
            # Venue-local with its offset: shown as the venue's wall-clock time.
            "starts_at": dt.datetime.fromisoformat(event["starts_at"]),
            "sales_open": event["status"] in ("on_sale", "sold_out"),
            "max_seats": settings.TICKETING_MAX_SEATS_PER_HOLD,
        },
    )


@login_required
@ensure_csrf_cookie
def hold_detail(request: HttpRequest, hold_id: int) -> HttpResponse:
    """A buyer's hold: countdown from the stored expiry, extend/release, the checkout form.

    Only the hold's owner sees it (404 otherwise, so hold ids reveal nothing). A bought
    hold goes to its order.
    """
    try:
        hold = selectors.hold_get(user=request.user, hold_id=hold_id)
    except ApplicationError as exc:
        return _error_page(request, exc)
    order_id = selectors.hold_order_id(hold=hold)
    if order_id is not None:
        return redirect("checkout:order", order_id=order_id)
    now = timezone.now()
    detail = selectors.hold_detail(hold=hold, now=now)
    live = detail["status"] in LIVE_HOLD_STATUSES
    options = (
        ticket_type_selectors.hold_type_options(hold=hold, seats=detail["seats"], now=now) if live else None
    )
    if options is not None:
        for seat in detail["seats"]:
            seat["options"] = options["seats"].get(seat["id"], [])
    # "Try the same seats again" after an expiry: the seats the hold had (it has none now).
    seat_ids = [s["id"] for s in detail["seats"]] if live else selectors.hold_seat_ids_claimed(hold=hold)
    return render(
        request,
        "checkout/hold.html",
        {
            "hold": hold,
            "event": hold.event,
            "detail": detail,
            "codes": " ".join(options["codes"]) if options else "",
            "live": live,
            "retry_seats": ",".join(str(i) for i in seat_ids),
            "server_now": now,
            # One key per rendered form: a double click or a retried request after a lost
            # response is the same attempt, so the server charges at most once.
            "idempotency_key": uuid.uuid4(),
            "buyer_name": request.user.name,
            "buyer_email": request.user.contact_email,
            # Stripe: the card goes into Stripe.js's card element, never to this server.
            "stripe_key": settings.STRIPE_PUBLISHABLE_KEY if uses_intents(payment_provider()) else "",
            "stripe_js": settings.STRIPE_JS_URL,
        },
    )


def _for_page(orders: list, now: dt.datetime, *, token: str | None = None) -> list:
    """Adds what the page shows beside the rows: whether the buyer may cancel, the download
    links (through the order link when ``token`` is given), and a QR code for each ticket that
    is scannable (never for a void or used one: ``documents.ticket_scannable``)."""
    for order in orders:
        order.cancellable = token is None and selectors.order_cancellable(order=order, now=now)
        if token is None:
            order.page_url = reverse("checkout:order", args=[order.pk])
            order.pdf_url = reverse("checkout:order_pdf", args=[order.pk])
            order.ics_url = reverse("checkout:order_ics", args=[order.pk])
            order.resend_url = reverse("checkout:order_resend", args=[order.pk])
        else:
            order.page_url = reverse("checkout:order_link", args=[order.pk, token])
            order.pdf_url = reverse("checkout:order_link_pdf", args=[order.pk, token])
            order.ics_url = reverse("checkout:order_link_ics", args=[order.pk, token])
            order.resend_url = reverse("checkout:order_link_resend", args=[order.pk, token])
            # By link, cancelling is a plain form (the JSON API needs a signed-in buyer).
            if selectors.order_cancellable(order=order, now=now):
                order.link_cancel_url = reverse("checkout:order_link_cancel", args=[order.pk, token])
        for ticket in order.tickets.all():
            ticket.qr_svg = qr_svg(ticket.code) if ticket_scannable(ticket, order) else ""
            ticket.mark = ticket_mark(ticket, order)
            if selectors.ticket_transferable(order=order, ticket=ticket, now=now):
                ticket.transfer_url = (
                    reverse("checkout:order_ticket_transfer", args=[order.pk, ticket.pk])
                    if token is None
                    else reverse("checkout:order_link_ticket_transfer", args=[order.pk, token, ticket.pk])
                )
    return orders


@login_required
@ensure_csrf_cookie
def order_list(request: HttpRequest) -> HttpResponse:
    """ "My tickets": every order of the buyer, newest first, with its tickets."""
    orders = _for_page(selectors.order_list(user=request.user), timezone.now())
    return render(request, "checkout/orders.html", {"orders": orders})


@login_required
@ensure_csrf_cookie
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """The confirmation page of one order (only its buyer sees it)."""
    try:
        order = selectors.order_get(user=request.user, order_id=order_id)
    except ApplicationError as exc:
        return _error_page(request, exc)
    context = {"order": _for_page([order], timezone.now())[0], "guest": request.user.is_guest}
    return render(request, "checkout/order.html", context)


def _order_by_link(order_id: int, token: str) -> Order:
    try:
        return selectors.order_by_link(order_id=order_id, token=token)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc


@ensure_csrf_cookie
def order_by_link(request: HttpRequest, order_id: int, token: str) -> HttpResponse:
    """The order opened by the link from its e-mail, without signing in: the link's secret is
    the key (192 random bits, compared in constant time); a wrong one is a 404 like a missing
    order. Downloads, resend and cancel (a plain form) work by the link too."""
    try:
        order = selectors.order_by_link(order_id=order_id, token=token)
    except ApplicationError as exc:
        return _error_page(request, exc)
    # A guest who has since signed up (or in) with the order's address: the link proves the
    # mailbox, so their guest orders move into the account.
    if request.user.is_authenticated and guest_orders_claim(user=request.user, order=order):
        messages.success(request, _("Your guest orders are now in your account."))
        return redirect("checkout:order", order_id=order.pk)
    response = render(
        request,
        "checkout/order.html",
        {
            "order": _for_page([order], timezone.now(), token=token)[0],
            "by_link": True,
            "claimable": order.user.is_guest and not request.user.is_authenticated,
            "signup_url": reverse("signup") + "?" + urlencode({"next": request.path}),
        },
    )
    return _link_page(response)


def _link_page(response: HttpResponse) -> HttpResponse:
    """A page opened by a secret link (an order's, or a ticket's given away): the link is the
    key, so keep it out of other sites' Referer headers and shared caches."""
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    """A ticket document as a download, never kept by a shared cache."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _pdf_response(order: Order) -> HttpResponse:
    return _download(order_pdf(order), "application/pdf", f"tickets-order-{order.pk}.pdf")


def _ics_response(order: Order) -> HttpResponse:
    return _download(order_ics(order), "text/calendar; charset=utf-8", f"event-order-{order.pk}.ics")


def _own_order(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_get(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def order_pdf_download(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's PDF tickets (one page per ticket; void ones marked, without a QR code)."""
    return _pdf_response(_own_order(request, order_id))


@login_required
def order_ics_download(request: HttpRequest, order_id: int) -> HttpResponse:
    return _ics_response(_own_order(request, order_id))


def order_link_pdf(request: HttpRequest, order_id: int, token: str) -> HttpResponse:
    return _pdf_response(_order_by_link(order_id, token))


def order_link_ics(request: HttpRequest, order_id: int, token: str) -> HttpResponse:
    return _ics_response(_order_by_link(order_id, token))


def _resend(request: HttpRequest, order: Order, back: str) -> HttpResponse:
    try:
        order_resend(order_id=order.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Your tickets are on their way to %(email)s.") % {"email": order.buyer_email}
        )
    return redirect(back)


@login_required
@require_POST
def order_resend_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """E-mail the tickets again (rate limited: ``services.tickets.order_resend``)."""
    order = _own_order(request, order_id)
    return _resend(request, order, reverse("checkout:order", args=[order.pk]))


@require_POST
def order_link_resend(request: HttpRequest, order_id: int, token: str) -> HttpResponse:
    order = _order_by_link(order_id, token)
    return _resend(request, order, reverse("checkout:order_link", args=[order.pk, token]))


@require_POST
def order_link_cancel(request: HttpRequest, order_id: int, token: str) -> HttpResponse:
    """Cancel by the order link: the link stands for its buyer (it opens their tickets), so
    the service runs as the order's own user with the buyer's rules (before the start, no
    ticket used). The form asks for an explicit confirmation."""
    order = _order_by_link(order_id, token)
    back = reverse("checkout:order_link", args=[order.pk, token])
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm the cancellation."))
        return redirect(back)
    try:
        order_cancel(order_id=order.pk, actor=order.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your order is cancelled and refunded."))
    return redirect(back)


class TransferForm(SafeFormMixin, forms.Form):
    name = forms.CharField(max_length=column_length(TicketTransfer, "to_name"), strip=True)
    email = forms.EmailField(max_length=column_length(TicketTransfer, "to_email"))


def _transfer(request: HttpRequest, order: Order, ticket_id: int, back: str) -> HttpResponse:
    form = TransferForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm that you give the ticket away."))
        return redirect(back)
    email = form.cleaned_data["email"]
    try:
        ticket_transfer(
            order_id=order.pk,
            ticket_id=ticket_id,
            name=form.cleaned_data["name"],
            email=email,
            actor=request.user if request.user.is_authenticated else order.user,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The ticket is on its way to %(email)s. Its old code no longer works.") % {"email": email},
        )
    return redirect(back)


@login_required
@require_POST
def order_ticket_transfer(request: HttpRequest, order_id: int, ticket_id: int) -> HttpResponse:
    """Give one ticket of the buyer's order to someone else (``services.tickets.ticket_transfer``)."""
    order = _own_order(request, order_id)
    return _transfer(request, order, ticket_id, reverse("checkout:order", args=[order.pk]))


@require_POST
def order_link_ticket_transfer(
    request: HttpRequest, order_id: int, token: str, ticket_id: int
) -> HttpResponse:
    order = _order_by_link(order_id, token)
    return _transfer(request, order, ticket_id, reverse("checkout:order_link", args=[order.pk, token]))


def _transferred(transfer_id: int, token: str):
    try:
        return selectors.ticket_by_transfer_link(transfer_id=transfer_id, token=token)
    except TicketNotFound as exc:
        raise Http404(exc.message) from exc


def ticket_by_link(request: HttpRequest, transfer_id: int, token: str) -> HttpResponse:
    """A ticket given away, opened by its new holder with the link from their e-mail (its own
    secret, 192 random bits; a wrong one, or a link retired by a later transfer, is a 404)."""
    transfer, order = _transferred(transfer_id, token)
    ticket = order.tickets.all()[0]
    ticket.qr_svg = qr_svg(ticket.code) if ticket_scannable(ticket, order, holder=True) else ""
    ticket.mark = ticket_mark(ticket, order, holder=True)
    response = render(
        request,
        "checkout/ticket.html",
        {
            "order": order,
            "ticket": ticket,
            "transfer": transfer,
            "pdf_url": reverse("checkout:ticket_link_pdf", args=[transfer.pk, token]),
            "ics_url": reverse("checkout:ticket_link_ics", args=[transfer.pk, token]),
        },
    )
    return _link_page(response)


def ticket_link_pdf(request: HttpRequest, transfer_id: int, token: str) -> HttpResponse:
    _transfer_row, order = _transferred(transfer_id, token)
    tickets = list(order.tickets.all())
    pdf = order_pdf(order, tickets=tickets, holder=True)
    return _download(pdf, "application/pdf", f"ticket-{tickets[0].pk}.pdf")


def ticket_link_ics(request: HttpRequest, transfer_id: int, token: str) -> HttpResponse:
    _transfer_row, order = _transferred(transfer_id, token)
    tickets = list(order.tickets.all())
    ics = order_ics(order, tickets=tickets)
    return _download(ics, "text/calendar; charset=utf-8", f"event-ticket-{tickets[0].pk}.ics")


# --- staff pages: the gate check-in form and the per-event figures in the admin ------------


class CheckInForm(SafeFormMixin, forms.Form):
    code = forms.CharField(max_length=column_length(Ticket, "code"))
    gate = forms.CharField(required=False, max_length=column_length(Ticket, "used_gate"))


@staff_member_required
def checkin(request: HttpRequest) -> HttpResponse:
    """One form, kept open at the gate: the gate name and event stick between scans."""
    context = {
        "gate": request.POST.get("gate", request.GET.get("gate", "")),
        "event_id": request.POST.get("event_id", request.GET.get("event_id", "")),
        "events": [
            (e, venue_display(e.starts_at, e.timezone))
            for e in Event.objects.filter(ends_at__gt=timezone.now()).select_related("venue")[:50]
        ],
        "result": None,
        "error": None,
    }
    status = 200
    if request.method == "POST":
        event_id = context["event_id"]
        form = CheckInForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationFailed(
                    " ".join(f"{name}: {error}" for name, errors in form.errors.items() for error in errors),
                    extra={"fields": form.errors},
                )
            context["result"] = ticket_check_in(
                code=form.cleaned_data["code"],
                gate=form.cleaned_data["gate"],
                event_id=int(event_id) if event_id.isascii() and event_id.isdigit() else None,
                actor=request.user,
            )
        except ApplicationError as exc:
            context["error"] = exc
            status = exc.status
        else:
            tz = Event.objects.only("timezone").get(pk=context["result"].event_id).timezone
            context["result_time"] = venue_display(context["result"].used_at, tz)
    return render(request, "ops/checkin.html", context, status=status)


def event_figures_view(request: HttpRequest, object_id: int) -> HttpResponse:
    """Admin page (wrapped by ``admin_view`` in checkout/admin.py)."""
    event = get_object_or_404(Event.objects.select_related("venue"), pk=object_id)
    context = {
        **admin.site.each_context(request),
        "title": f"Figures: {event.title}",
        "event": event,
        "figures": event_figures(event=event),
        "audit": event_audit_recent(event=event),
        "opts": Event._meta,
    }
    with timezone.override(event.timezone):  # audit times in the venue's zone, like every staff page
        return render(request, "admin/events/event/figures.html", context)
