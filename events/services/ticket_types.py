"""Catalog writes of ticket types and their prices per section (docs/ticket-types.md).

Staff define types here (API) or in the event admin (inlines, which save through the same
model constraints). What a type means at checkout (default choice, caps, presale) is
``checkout/services/pricing/``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from events.errors import EventNotFound, TicketTypeInUse, TicketTypeNotFound
from events.models import Event, TicketType, TicketTypePrice, TicketVisibility
from events.services.catalog import catalog_version_bump, event_times_localize, parse_amount
from ticketing.core.errors import Problems
from ticketing.core.locks import lock_one

_FIELDS = (
    "name",
    "description",
    "quota",
    "sales_start",
    "sales_end",
    "per_order_max",
    "visibility",
    "sort_order",
)


def _check(
    *, event: Event, values: dict[str, Any], prices: Mapping[Any, Any] | None, problems: Problems
) -> dict[int, Any]:
    name = (values.get("name") or "").strip()
    if not name or len(name) > 100:
        problems.add("name", "A type needs a name of at most 100 characters.")
    values["name"] = name
    if values.get("visibility") not in TicketVisibility.values:
        problems.add("visibility", f"visibility is one of {', '.join(TicketVisibility.values)}.")
    if values.get("quota") is not None and values["quota"] < 0:
        problems.add("quota", "The cap cannot be negative.")
    if values.get("per_order_max") is not None and values["per_order_max"] < 1:
        problems.add("per_order_max", "The per-order maximum is at least 1.")
    times = event_times_localize(
        times={"sales_start": values.get("sales_start"), "sales_end": values.get("sales_end")},
        tz_name=event.timezone,
        problems=problems,
    )
    values.update(times)
    if times["sales_start"] and times["sales_end"] and times["sales_end"] <= times["sales_start"]:
        problems.add("sales_end", "The type's sale must end after it starts.")
    amounts: dict[int, Any] = {}
    if prices is not None:
        sections = set(event.venue.sections.values_list("id", flat=True))
        for sid, value in prices.items():
            amount = parse_amount(value)
            if int(sid) not in sections:
                problems.add("prices", f"Section {sid} is not at this event's venue.")
            elif amount is None:
                problems.add("prices", f"Price of section {sid}: non-negative, at most two decimals.")
            else:
                amounts[int(sid)] = amount
    return amounts


def _prices_replace(ticket_type: TicketType, event: Event, amounts: dict[int, Any]) -> None:
    TicketTypePrice.objects.filter(ticket_type=ticket_type).delete()
    TicketTypePrice.objects.bulk_create(
        [
            TicketTypePrice(
                ticket_type=ticket_type, event=event, venue_id=event.venue_id, section_id=sid, amount=amount
            )
            for sid, amount in amounts.items()
        ]
    )


def ticket_type_create(
    *,
    event_id: int,
    name: str,
    prices: Mapping[Any, Any],
    description: str = "",
    quota: int | None = None,
    sales_start: dt.datetime | None = None,
    sales_end: dt.datetime | None = None,
    per_order_max: int | None = None,
    visibility: str = TicketVisibility.PUBLIC,
    sort_order: int = 0,
) -> TicketType:
    """A new type of event ``event_id`` with its price per section (``{section_id: amount}``).

    Times without an offset are the venue's wall clock. Raises ``EventNotFound``, ``ValidationFailed``
    (every problem at once; a name used twice too).
    """
    event = Event.objects.select_related("venue").filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(extra={"event_id": event_id})
    values = {
        "name": name,
        "description": description,
        "quota": quota,
        "sales_start": sales_start,
        "sales_end": sales_end,
        "per_order_max": per_order_max,
        "visibility": visibility,
        "sort_order": sort_order,
    }
    problems = Problems()
    amounts = _check(event=event, values=values, prices=prices, problems=problems)
    problems.raise_if_any()
    try:
        with transaction.atomic():
            ticket_type = TicketType.objects.create(event=event, **values)
            _prices_replace(ticket_type, event, amounts)
            catalog_version_bump()
    except IntegrityError as exc:
        problems.add("name", "This event already has a type of this name.")
        problems.raise_if_any()
        raise AssertionError from exc
    return ticket_type


def ticket_type_update(
    *, ticket_type_id: int, prices: Mapping[Any, Any] | None = None, **changes: Any
) -> TicketType:
    """Change some of a type's fields (``_FIELDS``) and, given ``prices``, replace its prices.

    A price fixed on a held seat or a ticket stays as it was. Raises ``TicketTypeNotFound``,
    ``ValidationFailed``.
    """
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"not a ticket type field: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        ticket_type = lock_one(TicketType.objects.filter(pk=ticket_type_id))
        if ticket_type is None:
            raise TicketTypeNotFound(extra={"ticket_type_id": ticket_type_id})
        ticket_type.event = Event.objects.select_related("venue").get(pk=ticket_type.event_id)
        values = {f: getattr(ticket_type, f) for f in _FIELDS} | changes
        problems = Problems()
        amounts = _check(event=ticket_type.event, values=values, prices=prices, problems=problems)
        problems.raise_if_any()
        for field, value in values.items():
            setattr(ticket_type, field, value)
        try:
            with transaction.atomic():
                ticket_type.save()
        except IntegrityError:
            problems.add("name", "This event already has a type of this name.")
            problems.raise_if_any()
        if prices is not None:
            _prices_replace(ticket_type, ticket_type.event, amounts)
        catalog_version_bump()
    return ticket_type


def ticket_type_delete(*, ticket_type_id: int) -> None:
    """Delete a type nobody holds or bought. Raises ``TicketTypeNotFound``, ``TicketTypeInUse``."""
    with transaction.atomic():
        ticket_type = TicketType.objects.filter(pk=ticket_type_id).first()
        if ticket_type is None:
            raise TicketTypeNotFound(extra={"ticket_type_id": ticket_type_id})
        try:
            with transaction.atomic():
                ticket_type.delete()
        except (ProtectedError, IntegrityError) as exc:
            raise TicketTypeInUse(extra={"ticket_type_id": ticket_type_id}) from exc
        catalog_version_bump()
