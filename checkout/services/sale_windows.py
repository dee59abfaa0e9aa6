"""Sale windows opening and closing by themselves.

Whether an event or a ticket type sells is decided from the clock at hold time
(``holds.hold_create``, ``pricing.hold_price``), so a late tick can never sell outside a
window. Pages and browse lists are cached under the catalog version until their next clock
change; this pass, run every minute by the ``checkout.sale_windows`` schedule (migration 0011),
bumps the catalog version when a window opened or closed, so every cached answer (the list,
the event page's price legend, the staff pages) is rebuilt at once even where a cache entry
did not know of the change (a type's window is not among the list's clock fields).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from events.models import Event, TicketType
from events.services.catalog import catalog_version_bump


def sale_windows_pass(*, now: dt.datetime, since: dt.datetime) -> list[int]:
    """The events whose sales window or a type's window opened or closed in ``(since, now]``;
    bumps the catalog version once if there are any. Harmless to run twice."""
    between = {"gt": since, "lte": now}

    def crossed(*fields: str) -> Q:
        q = Q()
        for name in fields:
            q |= Q(**{f"{name}__{op}": value for op, value in between.items()})
        return q

    events = set(
        Event.objects.filter(crossed("sales_open_at", "sales_close_at")).values_list("pk", flat=True)
    )
    events |= set(
        TicketType.objects.filter(crossed("sales_start", "sales_end")).values_list("event_id", flat=True)
    )
    if events:
        with transaction.atomic():
            catalog_version_bump()
    return sorted(events)
