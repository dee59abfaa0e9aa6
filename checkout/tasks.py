"""django-q2 tasks of the checkout app: the hold sweeper, payment recovery and the outbox
(confirmation e-mails), and the refunds of a cancelled event.

Tasks pick ids and call services; every service takes its own locks and re-checks, so a
task that runs twice (django-q2 hands a task out again after ``retry`` seconds) is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import timezone

from checkout.documents import ticket_scannable
from checkout.documents.mail import confirmation_email, transfer_email
from checkout.models import Order, OrderStatus, OutboxMessage
from checkout.selectors.buyer import order_with_tickets, orders_with_tickets, transferred_ticket
from checkout.services import intents, reconcile
from checkout.services.holds import holds_expire_due
from checkout.services.intents import provider_events_due
from checkout.services.outbox import outbox_deliver, outbox_deliver_many, outbox_due
from checkout.services.reconcile_payments import payments_reconcile
from checkout.services.recovery import payments_recover
from checkout.services.retention import orders_anonymize
from checkout.services.sale_windows import sale_windows_pass
from checkout.services.sales import event_orders_refund
from events.models import EventStatus
from ticketing.ops.tasks import heartbeat_write, stop_on_interrupt

logger = logging.getLogger(__name__)

SWEEP_SCHEDULE_NAME = "checkout.holds_sweep"
RECOVER_SCHEDULE_NAME = "checkout.payments_recover"
# django-q2 starts a schedule at most once a minute and its scheduler looks only every ~30 s,
# so the next run may start up to ~90 s after this one. One run therefore keeps sweeping about
# every second until shortly before the cluster's timeout (95 s by default) would kill it: runs
# overlap rather than leave a gap, and overlap is harmless (SKIP LOCKED), so expiry -> release
# -> waitlist latency stays ~1-2 s all the time.
SWEEP_INTERVAL_SECONDS = 1.0
SWEEP_BATCH = 200


def _sweep_budget() -> float:
    timeout = settings.Q_CLUSTER.get("timeout") or 60
    return max(0.0, min(95.0, float(timeout) - 5.0))


def holds_sweep(budget_seconds: float | None = None) -> int:
    """Expire due holds in batches until ``budget_seconds`` (default: the cluster timeout minus
    5 s, at most 95 s) are used up; returns the number of holds expired.

    Safe to run twice at once (``SKIP LOCKED`` batches). Correctness never depends on it:
    expired holds stop counting the instant they expire; this only frees and announces.
    """
    budget = _sweep_budget() if budget_seconds is None else budget_seconds
    stop_at = time.monotonic() + budget
    total = 0
    # The cluster's stop (SIGINT) ends the run at the next tick: the next cluster sweeps on.
    with stop_on_interrupt() as stopping:
        while True:
            try:
                expired = holds_expire_due(limit=SWEEP_BATCH)
            except Exception:  # a lock timeout or a hiccup: try again next tick
                logger.exception("holds sweep batch failed")
                expired = 0
            total += expired
            if expired >= SWEEP_BATCH and not stopping.is_set():
                continue  # more due right now: no pause
            if stopping.is_set() or time.monotonic() + SWEEP_INTERVAL_SECONDS >= stop_at:
                return total
            stopping.wait(SWEEP_INTERVAL_SECONDS)


# Shorter than the schedule's one-minute period, so runs never overlap: recovery keeps one
# worker of the cluster, not two (the sweeper may take two; the rest stay for queued tasks).
RECOVER_BUDGET_SECONDS = 55.0
# A webhook event not processed this long after it arrived lost its queued task.
PROVIDER_EVENT_GRACE = dt.timedelta(seconds=60)


def payments_recover_run(budget_seconds: float | None = None) -> int:
    """The recovery schedule: every sweep interval until ``budget_seconds`` (default 55 s, within
    the cluster timeout) resolve stale payment attempts and owed refunds, and deliver due outbox
    messages. Returns how many rows it acted on. Safe to run twice at once (every step
    re-checks under locks)."""
    budget = min(RECOVER_BUDGET_SECONDS, _sweep_budget()) if budget_seconds is None else budget_seconds
    stop_at = time.monotonic() + budget
    total = 0
    while True:
        try:
            total += sum(payments_recover().values())
            for event_id in provider_events_due(older_than=timezone.now() - PROVIDER_EVENT_GRACE):
                total += provider_event_process(event_id) not in ("already", "unresolved")
            for message_id in outbox_due(now=timezone.now()):
                total += outbox_send(message_id)
        except Exception:  # the database is away, or a hiccup: try again next tick
            logger.exception("payment recovery tick failed")
        if time.monotonic() + SWEEP_INTERVAL_SECONDS >= stop_at:
            return total
        time.sleep(SWEEP_INTERVAL_SECONDS)


def provider_event_process(event_id: str) -> str:
    """Resolve the payment attempt a stored webhook event names (queued on its receipt)."""
    return intents.provider_event_process(event_id=event_id)


def _order_of(message: OutboxMessage) -> Order | None:
    """The message's order if ``_orders_attach`` read it already (else the sender reads it)."""
    return message.order if OutboxMessage.order.is_cached(message) else None


SENDERS = {
    "order_confirmation": lambda message: order_confirmation_send(
        message.order_id, message_id=message.pk, order=_order_of(message)
    ),
    # The buyer asked for the tickets again: the same mail under its own Message-ID.
    "order_resend": lambda message: order_confirmation_send(
        message.order_id, message_id=message.pk, order=_order_of(message)
    ),
    "ticket_transfer": lambda message: ticket_transfer_send(message.transfer_id, message_id=message.pk),
}


def outbox_send(message_id: int) -> bool:
    """Deliver one outbox message (queued on commit; re-tried by ``payments_recover_run``)."""
    return outbox_deliver(message_id=message_id, send=_send)


def outbox_send_many(message_ids: list[int]) -> int:
    """Deliver the outbox messages committed in one coalescing window; returns how many went out."""
    return outbox_deliver_many(message_ids=message_ids, send=_send, prepare=_orders_attach)


def _orders_attach(messages: list[OutboxMessage]) -> None:
    """Read the orders (with their tickets) of a batch of messages in one go."""
    orders = orders_with_tickets(order_ids=[m.order_id for m in messages])
    for message in messages:
        if message.order_id in orders:
            message.order = orders[message.order_id]


def _send(message: OutboxMessage) -> None:
    SENDERS[message.kind](message)


def order_confirmation_send(
    order_id: int, *, message_id: int | None = None, order: Order | None = None
) -> bool:
    """E-mail the buyer their tickets (text + HTML, QR codes, PDF, calendar file). Returns False
    (and sends nothing) for a cancelled or anonymised order.

    Raises when the mail (or the database) cannot be reached; the outbox tries again. A
    ``message_id`` gives the mail a stable ``Message-ID``, so a re-send is recognisable.
    ``order``: the order as ``order_with_tickets`` reads it, when the caller read it already."""
    if order is None:
        order = order_with_tickets(order_id=order_id)
    if order is None or order.status != OrderStatus.PAID or not order.buyer_email:
        return False
    confirmation_email(order, message_id=message_id).send()
    return True


def ticket_transfer_send(transfer_id: int, *, message_id: int | None = None) -> bool:
    """E-mail a ticket given away to its new holder (QR code, PDF page, calendar file, the link
    of its page). Returns False (and sends nothing) when the ticket is no longer theirs to use:
    transferred again since, void, or used."""
    found = transferred_ticket(transfer_id=transfer_id)
    if found is None:
        return False
    transfer, order = found
    if not ticket_scannable(order.tickets.all()[0], order, holder=True):
        return False
    transfer_email(transfer, order, message_id=message_id).send()
    return True


def order_event_cancelled_send(order_id: int) -> bool:
    """Tell the buyer their event is cancelled and the order refunded. False (nothing sent) unless
    the order was cancelled, and refunded, because its event was."""
    order = Order.objects.select_related("event").filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.CANCELLED or order.event.status != EventStatus.CANCELLED:
        return False
    if not order.buyer_email:  # anonymised
        return False
    event = order.event
    when = event.starts_at.astimezone(event.tzinfo)
    send_mail(
        subject=f"Cancelled: {event.title}",
        message="\n".join(
            [
                f"We are sorry: {event.title}, planned for {when:%A %d %B %Y %H:%M} ({event.timezone}), "
                "is cancelled.",
                f"Your order {order.pk} is cancelled and {order.total} {order.currency} is refunded to the "
                "card you paid with. Your tickets are no longer valid.",
            ]
        ),
        from_email=None,
        recipient_list=[order.buyer_email],
    )
    return True


def event_refunds_run(event_id: int, actor_id: int) -> dict:
    """Refund the paid orders of a cancelled event (queued by ``event_cancel``).

    Safe to run twice: orders already cancelled are skipped and each refund is keyed per
    order. Orders whose refund was refused stay paid; running the cancellation again retries them.
    """
    actor = get_user_model().objects.get(pk=actor_id)
    cancelled, failed = event_orders_refund(event_id=event_id, actor=actor)
    if failed:
        logger.error("event %s: %d orders not refunded yet: %s", event_id, len(failed), failed[:50])
    return {"cancelled": len(cancelled), "failed": failed}


def reconcile_run() -> dict[str, Any]:
    """The daily reconcile: repairs ghost holds, compares the last two days' payments with the
    provider's books (reports only: ``manage.py reconcile --fix`` fixes), logs every other
    violation for a person."""
    report = reconcile.reconcile_run()
    money = payments_reconcile(since=report.checked_at - dt.timedelta(days=2), now=report.checked_at)
    counts = {**report.counts(), **money.counts()}
    heartbeat_write(name="reconcile", now=report.checked_at, data={"violations": counts})
    data = report.as_dict()
    data["violations"].update({k: v for k, v in money.problems.items() if v})
    data["ok"] = report.ok and money.ok
    if not data["ok"]:
        logger.error("reconcile found violations: %s", data)
    return data


def retention_run() -> int:
    now = timezone.now()
    count = orders_anonymize(now=now)
    heartbeat_write(name="retention", now=now, data={"anonymized": count})
    return count


SALE_WINDOWS_SCHEDULE_NAME = "checkout.sale_windows"
# The schedule runs about every minute (up to ~90 s apart, see SWEEP_INTERVAL_SECONDS); each
# pass looks this far back, so consecutive passes overlap and no window change is missed.
SALE_WINDOWS_LOOKBACK = dt.timedelta(minutes=3)


def sale_windows_run() -> int:
    """The sale-window schedule: refresh cached pages for windows that just opened or closed."""
    now = timezone.now()
    return len(sale_windows_pass(now=now, since=now - SALE_WINDOWS_LOOKBACK))
