"""Tasks of the events app."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model

from events.services import event_orders_refund

logger = logging.getLogger(__name__)


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
