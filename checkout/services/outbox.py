"""The outbox: messages that must not be lost, written in the transaction of the change.

A row is added inside the change's transaction (so a rolled-back purchase mails nothing, and
a committed one always has its row); after commit a task is queued to deliver it. Delivery
claims the row for a while (committed), sends outside every transaction, then marks it
sent. A failure (an SMTP or database hiccup) is tried again with backoff by the recovery
schedule, never dropped; a row marked sent is never sent again. A crash between sending and
marking re-sends after the claim lapses; the stable ``Message-ID`` lets mail systems fold
that duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from checkout.models import Order, OutboxMessage, TicketTransfer
from checkout.services.announce import Coalescer
from ticketing.core import sql
from ticketing.core.locks import lock_rows

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120
# The task queued on commit normally delivers at once; the recovery schedule takes a row
# only after this, so the two rarely meet (when they do, the claim lets one of them send).
FIRST_SWEEP_AFTER = dt.timedelta(seconds=30)
BACKOFF_MAX_SECONDS = 900


# One message (``outbox_params``); also carried as a CTE by the purchase's completion, in the
# statement that writes the order it reports.
OUTBOX_INSERT_SQL = """
    INSERT INTO checkout_outboxmessage
        (kind, order_id, transfer_id, created_at, next_attempt_at, attempts, last_error)
    VALUES (%(outbox_kind)s, %(outbox_order)s, %(outbox_transfer)s, %(outbox_at)s, %(outbox_due)s, 0, '')
    RETURNING id
"""


def outbox_params(
    *, kind: str, order_id: int, created_at: dt.datetime, transfer_id: int | None = None
) -> dict[str, object]:
    """``OUTBOX_INSERT_SQL``'s parameters. Whoever runs it calls ``outbox_written`` with the id."""
    return {
        "outbox_kind": kind,
        "outbox_order": order_id,
        "outbox_transfer": transfer_id,
        "outbox_at": created_at,
        "outbox_due": timezone.now() + FIRST_SWEEP_AFTER,
    }


def outbox_written(message_id: int) -> None:
    """Queue the delivery of a message written in the current transaction, once it commits."""
    transaction.on_commit(partial(_queue, message_id))


def outbox_add(
    *, kind: str, order: Order, transfer: TicketTransfer | None = None, now: dt.datetime | None = None
) -> OutboxMessage:
    """Write the message (dated ``now``, default the order's time); ``transfer`` for a message
    to a ticket's new holder. Precondition: inside the transaction of the change it reports."""
    params = outbox_params(
        kind=kind,
        order_id=order.pk,
        created_at=now or order.created_at,
        transfer_id=transfer.pk if transfer else None,
    )
    message = OutboxMessage(
        kind=kind,
        order=order,
        transfer=transfer,
        created_at=params["outbox_at"],
        next_attempt_at=params["outbox_due"],
    )
    # Written out: one per purchase, and the ORM's insert cost more CPU than the database did.
    message.pk = sql.row(OUTBOX_INSERT_SQL, params)[0]
    outbox_written(message.pk)
    return message


def _queue_batch(_key: int, message_ids: set[int]) -> None:
    from django_q.tasks import async_task

    ids = sorted(message_ids)
    try:
        if len(ids) == 1:
            async_task("checkout.tasks.outbox_send", ids[0], task_name=f"outbox-{ids[0]}")
        else:
            async_task("checkout.tasks.outbox_send_many", ids, task_name=f"outbox-{ids[0]}-{ids[-1]}")
    except Exception:  # the rows stay due: the recovery schedule sends them
        logger.exception("could not queue outbox messages %s", ids)


# Messages committed within one coalescing window (``TICKETING_REALTIME_COALESCE_MS``, as for
# seat-map pushes) go out as one task, queued from the coalescer's thread: queueing a task per
# purchase (pickle, sign, insert) was 5% of a checkout request's CPU, on the request path.
_batches = Coalescer(_queue_batch, name="outbox-coalescer")


def _queue(message_id: int) -> None:
    _batches.add(0, [message_id])


def outbox_backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_MAX_SECONDS, 5 * 2 ** max(0, attempts - 1)))


def outbox_deliver(
    *, message_id: int, send: Callable[[OutboxMessage], object], now: dt.datetime | None = None
) -> bool:
    """Send one due message with ``send`` (called outside any transaction); True when sent now.

    Returns False when it is sent already, claimed by another worker, or the send failed
    (then it is due again after a backoff). Precondition: no transaction open.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = lock_rows(OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True), skip_locked=True)
        if not rows or (rows[0].claimed_until and rows[0].claimed_until > now):
            return False
        message = rows[0]
        message.attempts += 1
        message.claimed_until = now + dt.timedelta(seconds=CLAIM_SECONDS)
        message.save(update_fields=["attempts", "claimed_until"])
    return _send_claimed(message, send=send, now=now)


def outbox_deliver_many(
    *,
    message_ids: list[int],
    send: Callable[[OutboxMessage], object],
    prepare: Callable[[list[OutboxMessage]], object] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """``outbox_deliver`` for the messages of one coalescing window; returns how many were sent now.

    The due ones are claimed in one transaction (one lock, one update), ``prepare`` (if given)
    reads what their sending needs in one go, then each is sent outside every transaction and
    marked sent, or due again after a backoff, on its own, exactly as ``outbox_deliver`` does.
    One transaction per message was most of the database's work per purchase after the
    request's own (issue 17). Precondition: no transaction open.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = lock_rows(
            OutboxMessage.objects.filter(pk__in=message_ids, sent_at__isnull=True), skip_locked=True
        )
        claimed = [m for m in rows if not (m.claimed_until and m.claimed_until > now)]
        if not claimed:
            return 0
        claimed_until = now + dt.timedelta(seconds=CLAIM_SECONDS)
        OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(
            attempts=F("attempts") + 1, claimed_until=claimed_until
        )
        for message in claimed:
            message.attempts += 1
            message.claimed_until = claimed_until
    if prepare is not None:
        prepare(claimed)
    return sum(_send_claimed(message, send=send, now=now) for message in claimed)


def _send_claimed(
    message: OutboxMessage, *, send: Callable[[OutboxMessage], object], now: dt.datetime
) -> bool:
    try:
        send(message)
    except Exception as exc:
        logger.warning("outbox message %s: attempt %s failed: %s", message.pk, message.attempts, exc)
        OutboxMessage.objects.filter(pk=message.pk).update(
            claimed_until=None,
            last_error=str(exc)[:300],
            next_attempt_at=now + outbox_backoff(message.attempts),
        )
        return False
    OutboxMessage.objects.filter(pk=message.pk).update(
        sent_at=timezone.now(), claimed_until=None, last_error=""
    )
    return True


def outbox_due(*, now: dt.datetime, limit: int = 100) -> list[int]:
    """Ids of unsent messages whose next try is due and that nobody is sending."""
    return list(
        OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
        .exclude(claimed_until__gt=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_retry_now(*, message_ids: list[int], now: dt.datetime | None = None) -> int:
    """Make unsent messages due at once (staff, after fixing the mail server); a sent one is
    never sent again. Returns how many were made due; the recovery schedule sends them."""
    now = now or timezone.now()
    return OutboxMessage.objects.filter(pk__in=message_ids, sent_at__isnull=True).update(next_attempt_at=now)
