"""Waitlist pages. The page is a shell: entries, positions and offers come from
``/api/waitlist`` and the events' websockets, so what it shows is always live."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from waitlist import selectors


@login_required
@ensure_csrf_cookie
def my_waitlist(request: HttpRequest) -> HttpResponse:
    """The buyer's waitlist entries with their live positions and offers."""
    titles = selectors.user_event_titles(user_id=request.user.pk)
    # JSON object keys are strings; the script looks entries up by their event id as text.
    return render(request, "waitlist/mine.html", {"event_titles": {str(k): v for k, v in titles.items()}})


@ensure_csrf_cookie
def queue_page(request: HttpRequest, event_id: int) -> HttpResponse:
    """The waiting room of an on-sale: the buyer's number, now serving, the estimate, live;
    on their turn, the seat map and the time left. The event page sends buyers here while the
    room is on; with the room off this page sends them back."""
    from django.conf import settings
    from django.shortcuts import redirect
    from django.utils import timezone

    from checkout.selectors import admission
    from checkout.selectors.event_page import event_detail_snapshot
    from ticketing.core.errors import ApplicationError
    from waitlist.queue_selectors import queue_view

    if not admission.room_enabled(event_id=event_id):
        return redirect("checkout:event", event_id=event_id)
    try:
        event = event_detail_snapshot(event_id=event_id).data
    except ApplicationError as exc:
        return render(request, "events/error.html", {"message": exc.message}, status=exc.status)
    view = None
    if request.user.is_authenticated:
        view = queue_view(user_id=request.user.pk, event_id=event_id, now=timezone.now())
    turn = view is not None and view.state in ("admitted", "checking_out")
    return render(
        request,
        "waitlist/queue.html",
        {
            "event": event,
            "view": view,
            "turn": turn,
            "sales_open": event["status"] in ("on_sale", "sold_out"),
            "max_seats": settings.TICKETING_MAX_SEATS_PER_HOLD,
        },
    )
