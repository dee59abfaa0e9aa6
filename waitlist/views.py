"""Waitlist pages. The page is a shell: entries, positions and offers come from
``/api/waitlist`` and the events' websockets, so what it shows is always live."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def my_waitlist(request: HttpRequest) -> HttpResponse:
    """The buyer's waitlist entries with their live positions and offers."""
    return render(request, "waitlist/mine.html")
