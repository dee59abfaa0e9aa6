"""Tasks of the waitlist app."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from checkout.models import LIVE_HOLD_STATUSES
from checkout.selectors.availability import event_has_free_seat
from checkout.selectors.buyer import hold_seats
from events.models import EventStatus
from waitlist.models import EntryStatus, WaitlistEntry
from waitlist.services import waitlist_offers_settle, waitlist_seats_released


def offer_email_send(entry_id: int) -> bool:
    """E-mail the user of an offered entry; returns False when the offer is no longer open.

    The websocket message went out at once; this is for people who closed the page.
    """
    entry = WaitlistEntry.objects.select_related("event", "user", "offer_hold").filter(pk=entry_id).first()
    if entry is None or entry.status != EntryStatus.OFFERED or entry.offer_hold.expires_at <= timezone.now():
        return False
    seats = hold_seats(hold_id=entry.offer_hold_id)
    event = entry.event
    expires = entry.offer_hold.expires_at.astimezone(event.tzinfo)
    link = settings.TICKETING_SITE_URL.rstrip("/") + reverse("checkout:event", args=[event.pk])
    lines = [
        f"Good news: seats for {event.title} opened up and are held for you until "
        f"{expires:%H:%M} ({event.timezone}).",
        "",
        *(f"  - {seat}" for seat in seats),
        "",
        f"Buy them here: {link}",
        "If you do not want them, do nothing: they pass to the next person when the offer lapses.",
    ]
    send_mail(
        subject=f"Seats for {event.title} are held for you",
        message="\n".join(lines),
        from_email=None,
        recipient_list=[entry.user.contact_email],
    )
    return True


def closed_email_send(entry_id: int) -> bool:
    """E-mail the user of an entry closed because the event will not take place."""
    entry = WaitlistEntry.objects.select_related("event", "user").filter(pk=entry_id).first()
    if entry is None or entry.status != EntryStatus.LAPSED:
        return False
    event = entry.event
    when = event.starts_at.astimezone(event.tzinfo)
    send_mail(
        subject=f"{event.title} is cancelled",
        message="\n".join(
            [
                f"{event.title}, planned for {when:%A %d %B %Y %H:%M} ({event.timezone}), is cancelled.",
                "Your place on its waitlist is closed; there is nothing you need to do.",
            ]
        ),
        from_email=None,
        recipient_list=[entry.user.contact_email],
    )
    return True


def waitlist_offers_sweep() -> int:
    """Safety net, every minute: offer free seats of events that still have people waiting.

    Offers normally go out from the release's after-commit hook. If that run failed (lock
    timeout, crash between commit and hook), seats would sit free while people wait; this
    finds them. Returns how many offers it made.
    """
    now = timezone.now()
    event_ids = (
        WaitlistEntry.objects.filter(status=EntryStatus.WAITING, event__status=EventStatus.ON_SALE)
        .values_list("event_id", flat=True)
        .distinct()
    )
    made = 0
    for event_id in event_ids:
        if event_has_free_seat(event_id=event_id, now=now):
            made += len(waitlist_seats_released(event_id=event_id, seat_ids=[], reason="sweep", now=now))
    # Offers whose hold ended without a release (bought while the hook failed, or retired by
    # a buyer's claim of its expired seats) are settled here at the latest.
    stale = (
        WaitlistEntry.objects.filter(status=EntryStatus.OFFERED)
        .filter(~Q(offer_hold__status__in=LIVE_HOLD_STATUSES) | Q(offer_hold__expires_at__lte=now))
        .values_list("event_id", flat=True)
        .distinct()
    )
    for event_id in stale:
        waitlist_offers_settle(event_id=event_id, now=now)
    return made


QUEUE_SWEEP_INTERVAL_SECONDS = 1.0


def queue_sweep(budget_seconds: float | None = None) -> int:
    """The waiting rooms' schedule: every second until ``budget_seconds`` (default 55 s, within
    the cluster's timeout), end turns that ran out (``admission.passes_expire_due``: their queues
    admit on commit), open queues whose sale opened, expire lapsed entries and admit. Returns the
    numbers admitted. Safe to run twice at once (``SKIP LOCKED``; admissions take the room lock)."""
    import logging
    import time

    from checkout.services.admission import passes_expire_due
    from waitlist.queue_services import queue_tick

    budget = 55.0 if budget_seconds is None else budget_seconds
    stop_at = time.monotonic() + budget
    total = 0
    while True:
        try:
            passes_expire_due()
            total += queue_tick()
        except Exception:  # a lock timeout or a hiccup: next tick
            logging.getLogger(__name__).exception("queue sweep tick failed")
        if time.monotonic() + QUEUE_SWEEP_INTERVAL_SECONDS >= stop_at:
            return total
        time.sleep(QUEUE_SWEEP_INTERVAL_SECONDS)
