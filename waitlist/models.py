"""Waitlist entries: people (or groups) waiting for seats of a sold-out event."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EntryStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offer sent"
    FULFILLED = "fulfilled", "Bought"
    LEFT = "left", "Left the waitlist"
    LAPSED = "lapsed", "Offer lapsed"


ACTIVE_ENTRY_STATUSES = (EntryStatus.WAITING, EntryStatus.OFFERED)
MAX_WAITLIST_QUANTITY = 10


class EventWaitlist(models.Model):
    """One row per event whose waitlist was used: the lock every waitlist write takes first.

    Joins, leaves and offer runs of one event lock this row, so an offer run never misses a
    join that committed in between (a join sees the seats that came back, or the offer run
    sees the join), and two offer runs never hand out the same place in line.
    """

    event = models.OneToOneField("events.Event", primary_key=True, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"waitlist of event {self.event_id}"


class WaitlistEntry(models.Model):
    """A buyer waiting for ``quantity`` seats of ``event`` (in ``section`` if chosen).

    Queue order is the primary key: ids are handed out when the join commits its insert,
    which is first come, first served. ``offer_hold`` is the offer hold while the entry is
    offered (kept afterwards for the record).
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="waitlist_entries")
    section = models.ForeignKey(
        "events.Section", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist")
    quantity = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=EntryStatus.choices, default=EntryStatus.WAITING)
    offer_hold = models.ForeignKey(
        "checkout.Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    offered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=Q(status__in=["waiting", "offered"]),
                name="waitlist_one_active_entry_per_user_event",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_WAITLIST_QUANTITY),
                name="waitlist_quantity_1_to_10",
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(offer_hold__isnull=False, offered_at__isnull=False),
                name="waitlist_offered_has_hold",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "offered"], ended_at__isnull=True)
                | Q(status__in=["fulfilled", "left", "lapsed"], ended_at__isnull=False),
                name="waitlist_ended_iff_finished",
            ),
        ]
        indexes = [
            # The queue: waiting entries of an event in id order (offers, positions).
            models.Index(fields=["event", "id"], condition=Q(status="waiting"), name="waitlist_queue_idx"),
            models.Index(fields=["user", "-id"], name="waitlist_user_idx"),
        ]

    def __str__(self) -> str:
        return f"waitlist entry {self.pk} ({self.status})"
