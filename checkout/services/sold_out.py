"""The event's sold-out summary (``Event.sold_out``/``sold_out_until``), kept in line with
the inventory so the catalog list can filter and label without reading inventory rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from checkout.selectors.availability import sold_out_state
from events.models import Event
from events.services.catalog import catalog_version_bump
from ticketing.core.locks import lock_one, set_lock_timeout


def event_availability_refresh(*, event_id: int, now: dt.datetime | None = None) -> bool:
    """Bring ``Event.sold_out``/``sold_out_until`` in line with the inventory; True if they changed.

    Called after every committed inventory change (``checkout.services.hooks.seats_changed``).
    The common case (nothing changed) is two index reads and no write, so buyers do not queue
    on the event row; only a real change takes the event's row lock, re-checks under it (so
    concurrent refreshes cannot leave an older answer behind) and bumps the catalog version.
    Raises ``Busy`` if the event row stays locked past the lock timeout.
    """
    state = sold_out_state(event_id=event_id, now=now or timezone.now())
    current = Event.objects.filter(pk=event_id).values_list("sold_out", "sold_out_until").first()
    if current is None or tuple(current) == state:
        return False
    with transaction.atomic():
        set_lock_timeout()
        event = lock_one(Event.objects.filter(pk=event_id))
        if event is None:
            return False
        state = sold_out_state(event_id=event_id, now=now or timezone.now())
        if (event.sold_out, event.sold_out_until) == state:
            return False
        Event.objects.filter(pk=event_id).update(sold_out=state[0], sold_out_until=state[1])
        catalog_version_bump()
    return True


def event_is_sold_out(*, event_id: int) -> bool:
    """The flag as stored (read after a refresh changed it)."""
    return bool(Event.objects.filter(pk=event_id).values_list("sold_out", flat=True).first())
