"""Small helpers every checkout service shares: audit rows and after-commit announcements."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction

from checkout.models import AuditLog
from checkout.services import hooks
from checkout.services.versions import inventory_version_bump

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    at: dt.datetime,
    actor: Any = None,
    event_id: int | None = None,
    hold_id: int | None = None,
    order_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row. Precondition: inside the transaction of the change it records."""
    return AuditLog.objects.create(
        at=at,
        action=action,
        actor_id=getattr(actor, "pk", None),
        event_id=event_id,
        hold_id_ref=hold_id,
        order_id_ref=order_id,
        reason=reason[:100],
        data=data or {},
    )


def audit_refusal(**kwargs: Any) -> None:
    """Record a refused request in its own small transaction, after the refused one rolled back.

    A refusal changes no inventory, so writing it inside the request's transaction would
    mean committing that transaction on an error path. Best effort: an audit failure never
    turns a clean refusal into a 500.
    """
    try:
        with transaction.atomic():
            audit_record(**kwargs)
    except Exception:
        logger.exception("could not record refusal %s", kwargs.get("action"))


def _safely(fn, **kwargs: Any) -> None:
    # The change already committed; a failing listener must not turn it into an error.
    try:
        fn(**kwargs)
    except Exception:
        logger.exception("after-commit hook %s failed", fn.__name__)


def announce_after_commit(*, event_id: int, seat_ids: list[int], released_reason: str | None = None) -> None:
    """Register the seat-map push (and, for seats that came back, the waitlist) with on_commit."""
    if not seat_ids:
        return
    seat_ids = sorted(seat_ids)
    transaction.on_commit(lambda: _safely(hooks.seats_changed, event_id=event_id, seat_ids=seat_ids))
    if released_reason:
        transaction.on_commit(
            lambda: _safely(
                hooks.seats_released, event_id=event_id, seat_ids=seat_ids, reason=released_reason
            )
        )


def inventory_changed(
    *,
    event_id: int,
    at: dt.datetime,
    action: str | None = None,
    seat_ids: list[int] | None = None,
    released_reason: str | None = None,
    **audit_fields: Any,
) -> None:
    """The one ending of every service that changes an event's seats.

    Bumps the event's inventory version, writes the audit row (``action``, ``audit_fields``
    as for ``audit_record``) and registers the after-commit seat-map push (and, with
    ``released_reason``, the waitlist's turn at the seats that came back). Precondition:
    inside the changing transaction, so all three commit or roll back with the change.
    ``action=None`` is for a caller that wrote one audit row per hold itself.
    """
    inventory_version_bump(event_id=event_id)
    if action:
        audit_record(action=action, at=at, event_id=event_id, **audit_fields)
    if seat_ids:
        announce_after_commit(event_id=event_id, seat_ids=seat_ids, released_reason=released_reason)
