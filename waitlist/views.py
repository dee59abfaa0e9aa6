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
