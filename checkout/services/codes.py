"""Staff writes of presale and promo codes (docs/ticket-types.md). Uses are counted only by
``checkout/services/pricing/``; these functions never touch ``used``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from checkout.errors import CodeInUse, CodeNotFound, CodeTaken
from checkout.models import Code, CodeKind, DiscountKind, DiscountScope
from checkout.services.pricing import CODE_MAX_LENGTH, code_normalise
from events.errors import EventNotFound
from events.models import Event, TicketType
from events.services.catalog import event_times_localize
from ticketing.core.errors import Problems
from ticketing.core.locks import lock_one

_FIELDS = (
    "kind",
    "code",
    "description",
    "valid_from",
    "valid_until",
    "use_limit",
    "discount_kind",
    "discount_scope",
    "discount_value",
)


def _check(
    *, event: Event, values: dict[str, Any], type_ids: Iterable[int] | None, problems: Problems
) -> None:
    values["code"] = code_normalise(values.get("code") or "")
    code = values["code"]
    if not code or len(code) > CODE_MAX_LENGTH or not all(ch.isalnum() or ch in "-_" for ch in code):
        problems.add("code", f"A code is 1-{CODE_MAX_LENGTH} letters, digits, - or _.")
    if values.get("kind") not in CodeKind.values:
        problems.add("kind", f"kind is one of {', '.join(CodeKind.values)}.")
    if values.get("discount_kind") not in DiscountKind.values:
        problems.add("discount_kind", f"discount_kind is one of {', '.join(DiscountKind.values)}.")
    if values.get("discount_scope") not in DiscountScope.values:
        problems.add("discount_scope", f"discount_scope is one of {', '.join(DiscountScope.values)}.")
    try:
        value = Decimal(str(values.get("discount_value") or 0))
    except (InvalidOperation, ValueError):
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        problems.add("discount_value", "The discount is a non-negative amount with at most two decimals.")
    elif values.get("discount_kind") == DiscountKind.PERCENT and value > 100:
        problems.add("discount_value", "A percentage is at most 100.")
    values["discount_value"] = value
    if values.get("use_limit") is not None and values["use_limit"] < 0:
        problems.add("use_limit", "The use limit cannot be negative.")
    times = event_times_localize(
        times={"valid_from": values.get("valid_from"), "valid_until": values.get("valid_until")},
        tz_name=event.timezone,
        problems=problems,
    )
    values.update(times)
    if times["valid_from"] and times["valid_until"] and times["valid_until"] <= times["valid_from"]:
        problems.add("valid_until", "A code must stop being valid after it starts.")
    if type_ids is not None:
        ids = set(type_ids)
        known = set(TicketType.objects.filter(event=event, pk__in=ids).values_list("pk", flat=True))
        if ids - known:
            problems.add("ticket_type_ids", "Some ticket types are not this event's.")


def code_create(
    *,
    event_id: int,
    kind: str,
    code: str,
    description: str = "",
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    use_limit: int | None = None,
    discount_kind: str = DiscountKind.PERCENT,
    discount_scope: str = DiscountScope.TICKET,
    discount_value: Decimal | str | int = 0,
    ticket_type_ids: Iterable[int] = (),
) -> Code:
    """A presale or promo code of the event, stored normalised. Raises ``EventNotFound``,
    ``ValidationFailed``, ``CodeTaken``."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(extra={"event_id": event_id})
    values = {
        "kind": kind,
        "code": code,
        "description": description,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "use_limit": use_limit,
        "discount_kind": discount_kind,
        "discount_scope": discount_scope,
        "discount_value": discount_value,
    }
    type_ids = list(ticket_type_ids)
    problems = Problems()
    _check(event=event, values=values, type_ids=type_ids, problems=problems)
    problems.raise_if_any()
    try:
        with transaction.atomic():
            found = Code.objects.create(event=event, **values)
            found.ticket_types.set(type_ids)
    except IntegrityError as exc:
        raise CodeTaken(extra={"code": values["code"]}) from exc
    return found


def code_update(*, code_id: int, ticket_type_ids: Iterable[int] | None = None, **changes: Any) -> Code:
    """Change some fields of a code (``_FIELDS``; not its count of uses). Raises
    ``CodeNotFound``, ``ValidationFailed``, ``CodeTaken``."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"not a code field: {', '.join(sorted(unknown))}")
    type_ids = None if ticket_type_ids is None else list(ticket_type_ids)
    try:
        with transaction.atomic():
            found = lock_one(Code.objects.filter(pk=code_id))
            if found is None:
                raise CodeNotFound(extra={"code_id": code_id})
            found.event = Event.objects.get(pk=found.event_id)
            values = {f: getattr(found, f) for f in _FIELDS} | changes
            problems = Problems()
            _check(event=found.event, values=values, type_ids=type_ids, problems=problems)
            problems.raise_if_any()
            Code.objects.filter(pk=code_id).update(**values)
            if type_ids is not None:
                found.ticket_types.set(type_ids)
    except IntegrityError as exc:
        raise CodeTaken(extra={"code": changes.get("code")}) from exc
    found.refresh_from_db()
    return found


def code_delete(*, code_id: int) -> None:
    """Delete a code no hold or order used. Raises ``CodeNotFound``, ``CodeInUse``."""
    with transaction.atomic():
        found = lock_one(Code.objects.filter(pk=code_id))
        if found is None:
            raise CodeNotFound(extra={"code_id": code_id})
        if found.used:
            raise CodeInUse(extra={"code_id": code_id})
        try:
            with transaction.atomic():
                found.delete()
        except (ProtectedError, IntegrityError) as exc:
            raise CodeInUse(extra={"code_id": code_id}) from exc
