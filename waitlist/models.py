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


class EventQueue(models.Model):
    """The waiting room's queue of one event: its number sequence and who is being served.

    ``last_number`` is the sequence (``UPDATE ... RETURNING`` hands out the next number; the
    row's lock is held only for that statement's transaction). ``now_serving`` is the highest
    number admitted so far: a buyer's place is ``number - now_serving``, O(1). Arrivals before
    the sale opens are shuffled once at ``opened_at``; ``closed_at`` is set when the event
    sells out.
    """

    event = models.OneToOneField("events.Event", primary_key=True, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(default=0)
    now_serving = models.PositiveIntegerField(default=0)
    admitted_per_minute = models.FloatField(default=0.0)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When "now serving" was last pushed (by any process): at most one push per interval.
    pushed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"queue of event {self.event_id}"


class QueueState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    ADMITTED = "admitted", "Admitted"
    LEFT = "left", "Left"
    EXPIRED = "expired", "Expired"
    CLOSED = "closed", "Closed (sold out)"


class QueueEntry(models.Model):
    """A buyer's place in an event's waiting-room queue: one row per buyer per event, ever.

    Rejoining (after a cooldown, or after a turn) gives the same row a new number at the back.
    Once ``admitted``, what happens next is the admission pass's (``checkout.AdmissionPass``),
    which the buyer's answer reads.
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=QueueState.choices, default=QueueState.WAITING)
    # Joined before the sale opened: the number is shuffled at the opening.
    early = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admission_pass = models.ForeignKey(
        "checkout.AdmissionPass", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    cooldown_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="queue_one_entry_per_user_event"),
            # Deferred: the opening shuffle swaps numbers inside one transaction.
            models.UniqueConstraint(
                fields=["event", "number"],
                name="queue_number_unique_per_event",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]
        indexes = [
            models.Index(fields=["event", "number"], condition=Q(state="waiting"), name="queue_waiting_idx"),
            models.Index(fields=["event", "admitted_at"], name="queue_admitted_idx"),
        ]

    def __str__(self) -> str:
        return f"queue entry {self.number} ({self.state})"
