"""Staff pages: an event's organizer dashboard and CSV exports, and the check-in scanner.

Reached through the event admin (``checkout/admin.py`` wraps them in ``admin_view``, so
only staff get in). The exports stream: rows are read a page at a time and written as they
go (``ticketing/server/handler.py`` sends each page as it is made), never the whole file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from checkout.selectors import dashboard
from checkout.services.checkin import ticket_check_in
from checkout.views import CheckInForm
from events.models import Event
from ticketing.core import svgchart
from ticketing.core.errors import ApplicationError, Problems
from ticketing.core.venue_time import venue_display


class _Line:
    """A file-like ``write`` that hands back what ``csv.writer`` wrote."""

    def write(self, value: str) -> str:
        return value


def event_dashboard_view(request: HttpRequest, object_id: int) -> HttpResponse:
    event = get_object_or_404(Event.objects.select_related("venue"), pk=object_id)
    board = dashboard.event_dashboard(event=event)
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard: {event.title}",
        "event": event,
        "board": board,
        "minute_chart": svgchart.bar_chart(board.per_minute, title="Tickets per minute during the on-sale"),
        "day_chart": svgchart.bar_chart(board.per_day, title="Tickets per day"),
        "opts": Event._meta,
    }
    with timezone.override(event.timezone):  # every time on the page in the venue's zone
        return render(request, "admin/events/event/dashboard.html", context)


def _stream(event: Event, header: list[str], page: Callable, name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def rows() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)  # the BOM makes spreadsheets read UTF-8
        after: int | None = 0
        while after is not None:
            chunk, after = page(event=event, after=after)
            yield "".join(writer.writerow(row) for row in chunk)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(event.title)}-{event.pk}-{name}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def event_orders_csv(request: HttpRequest, object_id: int) -> StreamingHttpResponse:
    event = get_object_or_404(Event, pk=object_id)
    return _stream(event, dashboard.ORDER_COLUMNS, dashboard.orders_export_page, "orders")


def event_attendees_csv(request: HttpRequest, object_id: int) -> StreamingHttpResponse:
    event = get_object_or_404(Event, pk=object_id)
    return _stream(event, dashboard.ATTENDEE_COLUMNS, dashboard.attendees_export_page, "attendees")


@staff_member_required
@require_POST
def checkin_scan(request: HttpRequest) -> JsonResponse:
    """The check-in page's scanner (camera or typed code, ``static/js/checkin-scan.js``):
    the same ``ticket_check_in`` as the form, answered as JSON so the camera keeps running.
    A refused scan answers its error's status with ``{"code", "message", "extra"}``."""
    form = CheckInForm(request.POST)
    event_id = request.POST.get("event_id", "")
    try:
        if not form.is_valid():
            problems = Problems()
            for name, errors in form.errors.items():
                for error in errors:
                    problems.add(name, f"{name}: {error}")
            problems.raise_if_any()
        result = ticket_check_in(
            code=form.cleaned_data["code"],
            gate=form.cleaned_data["gate"],
            event_id=int(event_id) if event_id.isascii() and event_id.isdigit() else None,
            actor=request.user,
        )
    except ApplicationError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    event = Event.objects.only("timezone").get(pk=result.event_id)
    return JsonResponse(
        {
            "code": "ADMITTED",
            "message": f"Admit: {result.seat}",
            "extra": {
                "ticket_id": result.ticket_id,
                "seat": result.seat,
                "gate": result.gate,
                "used_at": venue_display(result.used_at, event.timezone),
            },
        }
    )
