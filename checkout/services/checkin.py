"""Admitting ticket holders at the gate.

A scan either admits (the ticket becomes ``used`` with time and gate) or is refused
with a reason the gate staff can act on. The ticket row is locked for the scan, so
two gates scanning the same ticket at the same moment admit it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from checkout.errors import TicketAlreadyUsed, TicketUnknown, TicketVoid, TicketWrongEvent
from checkout.models import AuditAction, Ticket, TicketStatus, TicketTransfer
from checkout.services.common import audit_record
from ticketing.core.errors import ApplicationError, Busy
from ticketing.core.locks import lock_one, set_lock_timeout
from ticketing.core.venue_time import venue_display
from ticketing.ops import metrics


@dataclass(frozen=True)
class CheckIn:
    ticket_id: int
    event_id: int
    seat: str
    used_at: dt.datetime
    gate: str


def _ticket_for_scan(code: str) -> Ticket | None:
    """The scanned ticket, locked. Kept separate so the race test can show what happens without the lock."""
    return lock_one(Ticket.objects.select_related("seat__section", "event").filter(code=code))


def ticket_check_in(
    *, code: str, gate: str = "", event_id: int | None = None, actor=None, now: dt.datetime | None = None
) -> CheckIn:
    """Admit the holder of ticket ``code`` at ``gate``; with ``event_id`` only for that event.

    Raises ``TicketUnknown``, ``TicketWrongEvent``, ``TicketVoid``, ``TicketAlreadyUsed``
    (``extra`` says when and at which gate) or ``Busy`` (lock timeout). A refused scan
    writes nothing.
    """
    now = now or timezone.now()
    code = (code or "").strip()
    gate = (gate or "").strip()[:100]
    try:
        with transaction.atomic():
            set_lock_timeout()
            ticket = _ticket_for_scan(code) if code else None
            if ticket is None:
                # A code replaced when its ticket was given away: the gate must know it is void,
                # not a typo (the new holder has the ticket's current code).
                if code and TicketTransfer.objects.filter(old_code=code).exists():
                    raise TicketVoid(
                        gettext("This code is void: the ticket was given to someone else."),
                        extra={"reason": "transferred"},
                    )
                raise TicketUnknown()
            if event_id is not None and ticket.event_id != event_id:
                raise TicketWrongEvent(extra={"ticket_event_id": ticket.event_id})
            if ticket.status == TicketStatus.VOID:
                raise TicketVoid(extra={"ticket_id": ticket.pk})
            if ticket.status == TicketStatus.USED:
                raise TicketAlreadyUsed(
                    f"Already used{f' at {ticket.used_gate}' if ticket.used_gate else ''} "
                    f"({venue_display(ticket.used_at, ticket.event.timezone)}).",
                    extra={
                        "ticket_id": ticket.pk,
                        "used_at": ticket.used_at.isoformat(),
                        "gate": ticket.used_gate,
                    },
                )
            ticket.status = TicketStatus.USED
            ticket.used_at = now
            ticket.used_gate = gate
            ticket.save(update_fields=["status", "used_at", "used_gate"])
            seat = str(ticket.seat)
            audit_record(
                at=now,
                action=AuditAction.TICKET_CHECKED_IN,
                actor=actor,
                event_id=ticket.event_id,
                order_id=ticket.order_id,
                data={"ticket_id": ticket.pk, "gate": gate, "seat_id": ticket.seat_id},
            )
            transaction.on_commit(lambda: metrics.checkin_scanned(result="admitted"))
    except ApplicationError as exc:
        metrics.checkin_scanned(result=_RESULTS.get(type(exc), "error"))
        raise
    return CheckIn(ticket_id=ticket.pk, event_id=ticket.event_id, seat=seat, used_at=now, gate=gate)


_RESULTS = {
    TicketUnknown: "unknown",
    TicketWrongEvent: "wrong_event",
    TicketVoid: "void",
    TicketAlreadyUsed: "already_used",
    Busy: "busy",
}
