"""Catalog pages. Thin: selectors compute, templates show."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from events.models import Event, EventStatus


def browse(request: HttpRequest) -> HttpResponse:
    events = (
        Event.objects.select_related("venue")
        .filter(status=EventStatus.ON_SALE, starts_at__gte=timezone.now())
        .order_by("starts_at")[:50]
    )
    return render(request, "events/browse.html", {"events": events})


def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event.objects.select_related("venue"), pk=event_id)
    return render(request, "events/detail.html", {"event": event})
