"""Selling an event as a whole: going on sale (creating the inventory) and cancelling
(ending holds, closing what waits, refunding every order).

These live in checkout, not in the catalog, because both change seats and money, which
checkout alone owns; the catalog (``events``) knows nothing of inventory.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from checkout.models import (
    LIVE_HOLD_STATUSES,
    AuditAction,
    Hold,
    HoldStatus,
    Order,
    OrderStatus,
    SeatInventory,
)
from checkout.services import hooks
from checkout.services.common import audit_record, inventory_changed
from checkout.services.holds import holds_end
from checkout.services.orders import order_cancel
from checkout.services.sold_out import event_availability_refresh
from events.errors import EventCancelled, EventNotCancelled, EventNotFound, EventNotReady
from events.models import Event, EventStatus
from events.services.catalog import catalog_version_bump, event_readiness
from ticketing.core import realtime
from ticketing.core.errors import ApplicationError, Forbidden
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout

logger = logging.getLogger(__name__)


def inventory_create_for_event(*, event: Event, now: dt.datetime) -> int:
    """Insert one available row per seat of the event's venue; returns rows added.

    One ``INSERT ... SELECT`` so a 20,000-seat arena publishes in well under a second;
    ``ON CONFLICT DO NOTHING`` makes publishing again (e.g. after adding a section) safe.
    Precondition: caller holds the event's row lock inside a transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO checkout_seatinventory (event_id, seat_id, section_id, status, updated_at)
            SELECT %s, s.id, s.section_id, 'available', %s
              FROM events_seat s
              JOIN events_section sec ON sec.id = s.section_id
             WHERE sec.venue_id = %s
             ORDER BY s.id
            ON CONFLICT (event_id, seat_id) DO NOTHING
            """,
            [event.pk, now, event.venue_id],
        )
        return cursor.rowcount


def event_publish(*, event_id: int, actor=None, now: dt.datetime | None = None) -> Event:
    """Put an event on sale and create its inventory (one row per seat). Idempotent.

    Raises ``EventNotFound``, ``EventCancelled`` or ``EventNotReady`` (with the problems).
    """
    now = now or timezone.now()
    with transaction.atomic():
        event = lock_one(Event.objects.select_related("venue").filter(pk=event_id))
        if event is None:
            raise EventNotFound(extra={"event_id": event_id})
        if event.status == EventStatus.CANCELLED:
            raise EventCancelled()
        problems = event_readiness(event)
        if problems:
            raise EventNotReady(problems[0], extra={"problems": problems})
        created = inventory_create_for_event(event=event, now=now)
        newly = event.status != EventStatus.ON_SALE
        if created or newly:
            catalog_version_bump()
            inventory_changed(
                event_id=event.pk,
                at=now,
                action=AuditAction.EVENT_PUBLISHED if newly else None,
                actor=actor if getattr(actor, "pk", None) else None,
                data={"inventory_rows": created},
            )
        if created:
            # New seats can bring a sold-out event back.
            transaction.on_commit(lambda: event_availability_refresh(event_id=event_id))
        if newly:
            # The anchor the database checks: an on-sale event names one of its own
            # inventory rows (events migration 0003), so it cannot be on sale without them.
            event.inventory_seat_id = (
                SeatInventory.objects.filter(event_id=event.pk)
                .order_by("seat_id")
                .values_list("seat_id", flat=True)
            ).first()
            event.status = EventStatus.ON_SALE
            event.published_at = now
            event.save(update_fields=["status", "published_at", "inventory_seat", "updated_at"])
    return event


# --- Cancellation ------------------------------------------------------------------------

CANCEL_REASON = "event_cancelled"
REFUND_BATCH = 100


@dataclass(frozen=True)
class EventCancellation:
    """What one run of ``event_cancel`` did. ``orders_pending`` counts paid orders still to
    refund (queued for the worker, or left by failed refunds): re-run until it is 0."""

    event_id: int
    newly_cancelled: bool
    holds_released: int
    waitlist_closed: int
    orders_cancelled: list[int]
    refunds_failed: list[int]
    orders_pending: int


def event_cancel(
    *, event_id: int, actor: Any, now: dt.datetime | None = None, refund_inline: bool = False
) -> EventCancellation:
    """Cancel an event: stop sales, end live holds, close the waitlist, refund every paid order.

    The waitlist closes its line through ``hooks.event_cancelled`` (it sits above checkout).

    Steps, each in its own transaction so one failure never undoes the others, and the whole
    safe to run again (each step skips what is done): mark the event cancelled (holds and
    purchases are refused from that commit on; viewers are told); end every live hold,
    waiting for holds a purchase is completing (a purchase that already converted is found
    among the orders; one still paying is refunded by checkout when it finds the hold gone);
    close the waitlist; cancel and refund each paid order through ``order_cancel``. With
    ``refund_inline`` the refunds run now (``refunds_failed`` lists the orders whose refund
    was refused; they stay paid for the next run); otherwise a worker task runs them.

    Raises ``Forbidden`` (not staff), ``EventNotFound`` and ``Busy``.
    """
    if not getattr(actor, "is_staff", False):
        raise Forbidden(gettext("Only staff can cancel an event."))
    now = now or timezone.now()
    with transaction.atomic():
        set_lock_timeout()
        event = lock_one(Event.objects.filter(pk=event_id))
        if event is None:
            raise EventNotFound(extra={"event_id": event_id})
        newly = event.status != EventStatus.CANCELLED
        if newly:
            previous = event.status
            event.status = EventStatus.CANCELLED
            event.save(update_fields=["status", "updated_at"])
            catalog_version_bump()
            audit_record(
                action=AuditAction.EVENT_CANCELLED,
                at=now,
                actor=actor,
                event_id=event.pk,
                data={"previous_status": previous},
            )
            transaction.on_commit(
                partial(
                    realtime.push,
                    realtime.event_group(event_id),
                    {"type": "event.cancelled", "event_id": event_id},
                )
            )
    holds_released = _event_holds_release(event_id=event_id, actor=actor, now=now)
    waitlist_closed = hooks.event_cancelled(event_id=event_id, reason=CANCEL_REASON, now=now)
    cancelled: list[int] = []
    failed: list[int] = []
    if refund_inline:
        cancelled, failed = event_orders_refund(event_id=event_id, actor=actor, now=now)
    else:
        _queue_refunds(event_id=event_id, actor_id=actor.pk)
    return EventCancellation(
        event_id=event_id,
        newly_cancelled=newly,
        holds_released=holds_released,
        waitlist_closed=waitlist_closed,
        orders_cancelled=cancelled,
        refunds_failed=failed,
        orders_pending=Order.objects.filter(event_id=event_id, status=OrderStatus.PAID).count(),
    )


def _event_holds_release(*, event_id: int, actor: Any, now: dt.datetime) -> int:
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        # Waited for, not skipped: a purchase completing right now commits its order (which
        # the refunds then find) before we end its hold. One hold at a time in pk order, as
        # every checkout path locks at most one hold before seats.
        live = lock_rows(Hold.objects.filter(event_id=event_id, status__in=LIVE_HOLD_STATUSES))
        ended = holds_end(
            hold_ids=[h.pk for h in live],
            status=HoldStatus.RELEASED,
            now=now,
            reason=CANCEL_REASON,
            actor=actor,
        )
    return len(ended)


def _queue_refunds(*, event_id: int, actor_id: int) -> None:
    from django_q.tasks import async_task

    def queue() -> None:
        try:
            async_task(
                "checkout.tasks.event_refunds_run", event_id, actor_id, task_name=f"event-{event_id}-refunds"
            )
        except Exception:  # staff see orders_pending and can run the cancel again
            logger.exception("could not queue the refunds of cancelled event %s", event_id)

    transaction.on_commit(queue)


def event_orders_refund(
    *, event_id: int, actor: Any, now: dt.datetime | None = None, batch_size: int = REFUND_BATCH
) -> tuple[list[int], list[int]]:
    """Cancel and refund every paid order of a cancelled event; returns (cancelled, failed) ids.

    Orders go in id order, ``batch_size`` ids read at a time, each through ``order_cancel``
    (its own refund call and transaction): a refused refund or a lock timeout on one order
    is logged, leaves that order paid, and the run goes on. Each cancelled buyer is e-mailed.
    Raises ``EventNotCancelled`` when the event still sells (refunding it would be a mistake).
    """
    if not Event.objects.filter(pk=event_id, status=EventStatus.CANCELLED).exists():
        raise EventNotCancelled(extra={"event_id": event_id})
    now = now or timezone.now()
    cancelled: list[int] = []
    failed: list[int] = []
    after = 0
    while True:
        batch = list(
            Order.objects.filter(event_id=event_id, status=OrderStatus.PAID, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return cancelled, failed
        after = batch[-1]
        for order_id in batch:
            try:
                order = order_cancel(order_id=order_id, actor=actor, now=now, reason=CANCEL_REASON)
            except ApplicationError as exc:  # PaymentFailed (refund refused), Busy
                logger.warning("event %s: order %s not refunded yet (%s)", event_id, order_id, exc.code)
                failed.append(order_id)
                continue
            if order.cancelled_at == now:  # cancelled by this run, not earlier
                cancelled.append(order_id)
                transaction.on_commit(partial(_queue_cancel_mail, order_id))


def _queue_cancel_mail(order_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("checkout.tasks.order_event_cancelled_send", order_id, group="event-cancelled-email")
    except Exception:
        logger.exception("could not queue the cancellation e-mail of order %s", order_id)
