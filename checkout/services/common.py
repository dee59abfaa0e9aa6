"""Small helpers every checkout service shares: audit rows and after-commit announcements."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from checkout.services import hooks
from checkout.services.versions import VERSION_BUMP_SQL, version_bump_params
from ticketing.core import sql

logger = logging.getLogger(__name__)


_AUDIT_COLUMNS = "at, action, actor_id, event_id, hold_id_ref, order_id_ref, reason, data"
_AUDIT_VALUES = (
    "%(at)s, %(action)s, %(actor_id)s, %(event_id)s, %(hold_id)s, %(order_id)s, %(reason)s, %(data)s::jsonb"
)
AUDIT_INSERT_SQL = f"INSERT INTO checkout_auditlog ({_AUDIT_COLUMNS}) VALUES ({_AUDIT_VALUES})"


def _audit_params(
    *,
    action: str,
    at: dt.datetime,
    actor: Any = None,
    actor_id: int | None = None,
    event_id: int | None = None,
    hold_id: int | None = None,
    order_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "at": at,
        "action": action,
        "actor_id": actor_id if actor_id is not None else getattr(actor, "pk", None),
        "event_id": event_id,
        "hold_id": hold_id,
        "order_id": order_id,
        "reason": reason[:100],
        "data": json.dumps(data or {}, cls=DjangoJSONEncoder),
    }


def audit_record(**fields: Any) -> None:
    """Write one audit row. Precondition: inside the transaction of the change it records.

    Fields: ``action``, ``at``, and optionally ``actor`` (or ``actor_id``), ``event_id``,
    ``hold_id``, ``order_id``, ``reason``, ``data``. Written out rather than
    ``AuditLog.objects.create``: every checkout request writes one, and the ORM's insert cost
    more CPU than the database did.
    """
    sql.execute(AUDIT_INSERT_SQL, _audit_params(**fields))


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


def announce_after_commit(
    *,
    event_id: int,
    seat_ids: list[int],
    released_reason: str | None = None,
    sold_out_may_change: bool = True,
) -> None:
    """Register the seat-map push (and, for seats that came back, the waitlist) with on_commit."""
    if not seat_ids:
        return
    seat_ids = sorted(seat_ids)
    changed = {"event_id": event_id, "seat_ids": seat_ids}
    if not sold_out_may_change:
        changed["sold_out_may_change"] = False
    transaction.on_commit(lambda: _safely(hooks.seats_changed, **changed))
    if released_reason:
        transaction.on_commit(
            lambda: _safely(
                hooks.seats_released, event_id=event_id, seat_ids=seat_ids, reason=released_reason
            )
        )


def inventory_change_ctes(
    *,
    event_id: int,
    at: dt.datetime,
    action: str,
    seat_ids: list[int] | None = None,
    released_reason: str | None = None,
    sold_out_may_change: bool = True,
    **audit_fields: Any,
) -> tuple[str, dict[str, Any]]:
    """``inventory_changed`` for a service that writes its change in one statement: returns the
    version bump and the audit row as two CTEs (``inventory_bump``, ``inventory_audit``) for
    that statement's WITH list, and their parameters; registers the after-commit announcement.
    Precondition: the caller runs the statement in the changing transaction (if it does not
    commit, nothing is announced)."""
    bump = version_bump_params(event_id=event_id)
    if seat_ids:
        announce_after_commit(
            event_id=event_id,
            seat_ids=seat_ids,
            released_reason=released_reason,
            sold_out_may_change=sold_out_may_change,
        )
    ctes = f"inventory_bump AS ({VERSION_BUMP_SQL}), inventory_audit AS ({AUDIT_INSERT_SQL})"
    return ctes, {**bump, **_audit_params(action=action, at=at, event_id=event_id, **audit_fields)}


def inventory_changed(
    *,
    event_id: int,
    at: dt.datetime,
    action: str | None = None,
    seat_ids: list[int] | None = None,
    released_reason: str | None = None,
    sold_out_may_change: bool = True,
    **audit_fields: Any,
) -> None:
    """The one ending of every service that changes an event's seats.

    Bumps the event's inventory version, writes the audit row (``action``, ``audit_fields``
    as for ``audit_record``) and registers the after-commit seat-map push (and, with
    ``released_reason``, the waitlist's turn at the seats that came back). Precondition:
    inside the changing transaction, so all three commit or roll back with the change.
    ``action=None`` is for a caller that wrote one audit row per hold itself.
    ``sold_out_may_change=False`` (the change cannot have taken the event's last free seat
    nor moved a sold-out event's "until") spares the sold-out refresh after commit.
    A service that writes its change in one statement carries the same in it
    (``inventory_change_ctes``).
    """
    if action:
        # The version bump and the audit row in one statement: one round trip fewer.
        ctes, params = inventory_change_ctes(
            event_id=event_id,
            at=at,
            action=action,
            seat_ids=seat_ids,
            released_reason=released_reason,
            sold_out_may_change=sold_out_may_change,
            **audit_fields,
        )
        sql.execute(f"WITH {ctes} SELECT 1", params)
        return
    sql.execute(VERSION_BUMP_SQL, version_bump_params(event_id=event_id))
    if seat_ids:
        announce_after_commit(
            event_id=event_id,
            seat_ids=seat_ids,
            released_reason=released_reason,
            sold_out_may_change=sold_out_may_change,
        )


def params_merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Parameters of fragments joined into one statement; two fragments must not share a name."""
    merged: dict[str, Any] = {}
    for part in parts:
        shared = merged.keys() & part.keys()
        if shared:
            raise RuntimeError(f"statement fragments share parameter names: {sorted(shared)}")
        merged.update(part)
    return merged
