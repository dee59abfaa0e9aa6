"""The calendar file of an order (RFC 5545, icalendar): one event in the venue's zone."""

from __future__ import annotations

import icalendar
from django.utils import timezone

from checkout.documents import ticket_place, venue_address
from checkout.models import Order, Ticket


def order_ics(order: Order, *, tickets: list[Ticket] | None = None) -> bytes:
    """A ``METHOD:PUBLISH`` calendar with one ``VEVENT``: start and end in the venue's zone
    (with its ``VTIMEZONE``), the venue's address as location, the seats in the description.
    The ``UID`` is per order (per ticket for ``tickets`` given to someone), so importing it
    again updates the same calendar entry."""
    event = order.event
    tz = event.tzinfo
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Ticketing//Tickets//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = icalendar.Event()
    uid = f"order-{order.pk}" if tickets is None else "ticket-" + "-".join(str(t.pk) for t in tickets)
    entry.add("uid", f"{uid}@ticketing")
    entry.add("dtstamp", timezone.now())
    entry.add("dtstart", event.starts_at.astimezone(tz))
    entry.add("dtend", event.ends_at.astimezone(tz))
    entry.add("summary", event.title)
    entry.add("location", venue_address(order))
    seats = [
        f"{t.section.name}: {ticket_place(t)}" for t in (order.tickets.all() if tickets is None else tickets)
    ]
    entry.add("description", "\n".join([f"Order {order.pk}", *seats]))
    calendar.add_component(entry)
    calendar.add_missing_timezones()
    return calendar.to_ical()
