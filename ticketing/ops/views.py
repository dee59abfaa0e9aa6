"""Staff pages for operations: the gate check-in form and the per-event figures in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from checkout.selectors_ops import event_audit_recent, event_figures
from checkout.services.checkin import ticket_check_in
from events.models import Event
from ticketing.core.errors import ApplicationError


@staff_member_required
def checkin(request: HttpRequest) -> HttpResponse:
    """One form, kept open at the gate: the gate name and event stick between scans."""
    context = {
        "gate": request.POST.get("gate", request.GET.get("gate", "")),
        "event_id": request.POST.get("event_id", request.GET.get("event_id", "")),
        "events": Event.objects.filter(ends_at__gt=timezone.now()).select_related("venue")[:50],
        "result": None,
        "error": None,
    }
    status = 200
    if request.method == "POST":
        event_id = context["event_id"]
        try:
            context["result"] = ticket_check_in(
                code=request.POST.get("code", ""),
                gate=context["gate"],
                event_id=int(event_id) if event_id.isdigit() else None,
                actor=request.user,
            )
        except ApplicationError as exc:
            context["error"] = exc
            status = exc.status
    return render(request, "ops/checkin.html", context, status=status)


def event_figures_view(request: HttpRequest, object_id: int) -> HttpResponse:
    """Admin page (wrapped by ``admin_view`` in events/admin.py)."""
    event = get_object_or_404(Event.objects.select_related("venue"), pk=object_id)
    context = {
        **admin.site.each_context(request),
        "title": f"Figures: {event.title}",
        "event": event,
        "figures": event_figures(event=event),
        "audit": event_audit_recent(event=event),
        "opts": Event._meta,
    }
    return render(request, "admin/events/event/figures.html", context)
