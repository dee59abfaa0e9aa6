"""The inventory: one row per event seat, holds, orders, tickets, payments, audit.

The CHECK constraints on ``SeatInventory`` and the partial unique index on
``Ticket`` are the last line of defence: even a bug, or a raw SQL update, cannot
write a held seat without its hold, a sold seat without its ticket, or two live
tickets for one seat.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_ticket_code() -> str:
    # 160 random bits, URL-safe: unguessable, and short enough for a QR code.
    return secrets.token_urlsafe(20)


def new_order_token() -> str:
    # 192 random bits: the secret of the order's link, which opens it without signing in.
    return secrets.token_urlsafe(24)


class HoldStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAYING = "paying", "Payment in progress"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    CONVERTED = "converted", "Purchased"


LIVE_HOLD_STATUSES = (HoldStatus.ACTIVE, HoldStatus.PAYING)


class HoldKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    OFFER = "offer", "Waitlist offer"


class Hold(models.Model):
    """Seats set aside for one buyer until ``expires_at``.

    A hold stops counting the instant it expires, whether or not the sweeper has
    run: every read compares ``expires_at`` with ``now``.
    """

    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="holds")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds")
    kind = models.CharField(max_length=10, choices=HoldKind.choices, default=HoldKind.REGULAR)
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    extensions_used = models.PositiveSmallIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Fixed at hold time with the seats' prices (checkout/services/pricing/): what the order costs.
    order_fee = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    promo_code = models.ForeignKey(
        "checkout.Code", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    access_code = models.ForeignKey(
        "checkout.Code", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            # One live hold per buyer per event; the service retires an expired one first.
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=Q(status__in=["active", "paying"]),
                name="hold_one_live_per_user_event",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "paying"], ended_at__isnull=True)
                | Q(status__in=["released", "expired", "converted"], ended_at__isnull=False),
                name="hold_ended_iff_finished",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["active", "paying"]),
                name="hold_live_expiry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk} ({self.status})"

    def is_live(self, now) -> bool:
        return self.status in LIVE_HOLD_STATUSES and self.expires_at > now


class SeatStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    HELD = "held", "Held"
    SOLD = "sold", "Sold"


class SeatInventory(models.Model):
    """One row per (event, seat): the unit that is held and sold.

    A held row is free again the instant ``hold_expires_at`` passes (``hold_expires_at``
    is the hold's expiry, copied here so availability is one indexed scan).
    """

    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="inventory")
    seat = models.ForeignKey("events.Seat", on_delete=models.PROTECT, related_name="inventory")
    section = models.ForeignKey("events.Section", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=SeatStatus.choices, default=SeatStatus.AVAILABLE)
    hold = models.ForeignKey(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="seats")
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        "checkout.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticket = models.OneToOneField(
        "checkout.Ticket", null=True, blank=True, on_delete=models.PROTECT, related_name="inventory"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # The held seat's line, fixed when it was held (checkout/services/pricing/); read only while
    # the row is held (the purchase copies it onto the ticket). No type: the standard price.
    ticket_type = models.ForeignKey(
        "events.TicketType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    discount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    fee = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name_plural = "seat inventory"
        constraints = [
            models.UniqueConstraint(fields=["event", "seat"], name="inventory_one_row_per_event_seat"),
            models.CheckConstraint(
                condition=(
                    Q(
                        status="available",
                        hold__isnull=True,
                        hold_expires_at__isnull=True,
                        order__isnull=True,
                        ticket__isnull=True,
                    )
                    | Q(
                        status="held",
                        hold__isnull=False,
                        hold_expires_at__isnull=False,
                        order__isnull=True,
                        ticket__isnull=True,
                    )
                    | Q(
                        status="sold",
                        hold__isnull=True,
                        hold_expires_at__isnull=True,
                        order__isnull=False,
                        ticket__isnull=False,
                    )
                ),
                name="inventory_status_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "section", "status"], name="inventory_event_section_idx"),
            models.Index(fields=["hold"], name="inventory_hold_idx", condition=Q(hold__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} seat {self.seat_id}: {self.status}"


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled and refunded")


class Order(models.Model):
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="orders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="order")
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PAID)
    buyer_name = models.CharField(max_length=200)
    buyer_email = models.EmailField()
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # The per-order fee included in ``total`` (each ticket carries its own price, discount, fee).
    order_fee = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    promo_code = models.ForeignKey(
        "checkout.Code", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    access_code = models.ForeignKey(
        "checkout.Code", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    anonymized_at = models.DateTimeField(null=True, blank=True)
    # The order link's secret (``/orders/<id>/<token>/``), compared in constant time.
    access_token = models.CharField(max_length=64, default=new_order_token, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative")]
        indexes = [models.Index(fields=["user", "-created_at"], name="order_user_idx")]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class TicketStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    USED = "used", _("Used")
    VOID = "void", _("Void")


class Ticket(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="tickets")
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="tickets")
    seat = models.ForeignKey("events.Seat", on_delete=models.PROTECT, related_name="tickets")
    section = models.ForeignKey("events.Section", on_delete=models.PROTECT, related_name="+")
    # The type's price, the discount on it and the service fee, fixed at hold time: the buyer paid
    # ``price - discount + fee`` for this ticket. No type: the standard price.
    price = models.DecimalField(max_digits=10, decimal_places=2)
    discount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    fee = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    ticket_type = models.ForeignKey(
        "events.TicketType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(max_length=64, unique=True, default=new_ticket_code)
    status = models.CharField(max_length=10, choices=TicketStatus.choices, default=TicketStatus.VALID)
    used_at = models.DateTimeField(null=True, blank=True)
    used_gate = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who holds the ticket when the buyer gave it away (``services.tickets.ticket_transfer``); blank:
    # the buyer. The order (and its money) stays the buyer's; the code is the holder's alone.
    # Defaults in the database too: the purchase writes tickets in raw SQL (issue 17).
    holder_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    holder_email = models.CharField(max_length=254, blank=True, default="", db_default="")
    transferred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The database itself refuses a double sale: one live ticket per event seat.
            models.UniqueConstraint(
                fields=["event", "seat"],
                condition=Q(status__in=["valid", "used"]),
                name="ticket_one_live_per_event_seat",
            ),
            models.CheckConstraint(
                condition=Q(status="used", used_at__isnull=False) | ~Q(status="used"),
                name="ticket_used_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"ticket {self.pk} ({self.status})"


class TicketTransfer(models.Model):
    """A ticket given to someone else: its code at that moment (now void at the gate), the new
    holder, and the secret of the link that opens the ticket for them.

    A transfer keeps the ticket's row (its seat, order, price and the inventory that points at
    it stay as they are) and gives it a new code, so the sale's invariants are untouched; the old
    code is remembered here so a gate scanning it is told it was transferred, not "unknown".
    Only the newest transfer of a ticket opens it; a later one retires the earlier link too.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="transfers")
    old_code = models.CharField(max_length=64, unique=True)
    to_name = models.CharField(max_length=200)
    to_email = models.CharField(max_length=254)
    access_token = models.CharField(max_length=64, default=new_order_token, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "-at"], name="transfer_ticket_idx")]

    def __str__(self) -> str:
        return f"transfer {self.pk} of ticket {self.ticket_id}"


class PaymentKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending (provider call not yet answered)"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"


class Payment(models.Model):
    """Every call to the payment provider, approved or not, for accounting and audit.

    A charge is written ``pending`` (with the provider idempotency key it will use) and
    committed *before* the provider is called; a refund likewise. A crash therefore always
    leaves a row that recovery can resolve by asking the provider (docs/payments.md).
    ``buyer_name``/``buyer_email`` are kept only while a charge is pending (recovery needs
    them to write the order); ``outcome`` is the error code the buyer was given when an
    approved charge could not become an order (and was refunded).
    """

    hold = models.ForeignKey(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=10, choices=PaymentKind.choices)
    status = models.CharField(max_length=10, choices=PaymentStatus.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=50)
    reference = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The buyer's request this charge serves (same-key retries resume it).
    idempotency = models.ForeignKey(
        "checkout.IdempotencyRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # For a refund: the charge it gives back.
    charge = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    buyer_name = models.CharField(max_length=200, blank=True)
    buyer_email = models.CharField(max_length=254, blank=True)
    outcome = models.CharField(max_length=30, blank=True)
    seat_count = models.PositiveSmallIntegerField(default=0)  # a charge's seats, to see if any were lost
    resolved_at = models.DateTimeField(null=True, blank=True)
    # A provider that confirms in two steps (Stripe): the PaymentIntent this attempt confirms,
    # committed before it is confirmed. Unique: one intent per attempt and one attempt (so one
    # order) per intent, whichever of the browser, the webhook or recovery resolves it.
    intent_id = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            # One provider call in flight per hold: a second purchase waits for (or resumes) it.
            models.UniqueConstraint(
                fields=["hold"],
                condition=Q(kind="charge", status="pending"),
                name="payment_one_pending_charge_per_hold",
            ),
            models.UniqueConstraint(
                # Failed rows are exempt: older books hold a failed refund and its retry under one key.
                fields=["kind", "idempotency_key"],
                condition=~Q(idempotency_key="") & ~Q(status="failed"),
                name="payment_unique_kind_key",
            ),
            models.UniqueConstraint(
                fields=["intent_id"], condition=~Q(intent_id=""), name="payment_unique_intent"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="payment_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"


class ProviderEvent(models.Model):
    """A webhook event from the payment provider, stored once by its id before it is acted on.

    A provider retries and duplicates deliveries; the primary key makes a repeat a no-op, and
    ``processed_at`` says whether the attempt it names has been resolved from it.
    """

    event_id = models.CharField(max_length=100, primary_key=True)
    provider = models.CharField(max_length=50)
    type = models.CharField(max_length=100)
    intent_id = models.CharField(max_length=100, blank=True, db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=30, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="provider_event_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class OutboxMessage(models.Model):
    """A message that must not be lost, written in the transaction of the change it reports.

    ``checkout.tasks.outbox_send`` delivers it after commit; a failed delivery is tried again
    with backoff until ``sent_at`` is set (once).
    """

    kind = models.CharField(max_length=40)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A ``ticket_transfer`` message: the transfer whose new holder gets the ticket.
    transfer = models.ForeignKey(
        TicketTransfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(sent_at__isnull=True), name="outbox_due_idx"
            ),
        ]
        constraints = [
            # One confirmation per order, ever (the buyer's resends are rows of their own kind).
            models.UniqueConstraint(
                fields=["kind", "order"],
                condition=Q(kind="order_confirmation"),
                name="outbox_one_confirmation_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({'sent' if self.sent_at else 'due'})"


class IdempotencyRecord(models.Model):
    """The first request seen for (user, key) and what became of it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    hold = models.ForeignKey(Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]


class AuditAction(models.TextChoices):
    HOLD_CREATED = "hold_created"
    HOLD_EXTENDED = "hold_extended"
    HOLD_RELEASED = "hold_released"
    HOLD_EXPIRED = "hold_expired"
    HOLD_REFUSED = "hold_refused"
    PURCHASE_STARTED = "purchase_started"
    PURCHASED = "purchased"
    PURCHASE_REFUSED = "purchase_refused"
    PAYMENT_REFUNDED = "payment_refunded"
    PAYMENT_RECOVERED = "payment_recovered"
    PAYMENT_RECONCILED = "payment_reconciled"
    ORDER_CANCELLED = "order_cancelled"
    EVENT_PUBLISHED = "event_published"
    EVENT_CANCELLED = "event_cancelled"
    OFFER_CREATED = "offer_created"
    OFFER_LAPSED = "offer_lapsed"
    TICKET_CHECKED_IN = "ticket_checked_in"
    TICKET_TRANSFERRED = "ticket_transferred"
    REPAIRED = "repaired"
    ANONYMIZED = "anonymized"


class AuditLog(models.Model):
    """Append-only record of every inventory change, written in the change's transaction."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.ForeignKey(
        "events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hold_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    order_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    reason = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["event", "-at"], name="audit_event_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"


INVENTORY_VERSION_SHARDS = 16


class InventoryVersion(models.Model):
    """A per-event counter of inventory changes, split into shards.

    Every transaction that changes an event's inventory adds 1 to one random shard, so
    200 concurrent buyers do not queue on one hot row; the version is the sum of the
    shards, which grows by exactly one per committed change. Readers read the version
    *before* the data, so what they cache under a version is never older than it.
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    shard = models.PositiveSmallIntegerField()
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "shard"], name="inventory_version_shard_unique")
        ]


class TicketTypeCount(models.Model):
    """Held and sold seats of one capped ticket type: the cap's counter (checkout state).

    Only types with a quota have one, so the standard price and uncapped types add no hot row.
    Changed only by ``checkout/services/pricing/``: taken with a conditional upsert inside the
    hold's transaction (``used + n <= quota``, re-checked on the locked row, so concurrent holds
    cannot overshoot), given back when a hold ends or an order is cancelled.
    """

    ticket_type = models.OneToOneField(
        "events.TicketType", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    used = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"type {self.ticket_type_id}: {self.used} used"


class CodeKind(models.TextChoices):
    PRESALE = "presale", _("Presale code")
    PROMO = "promo", _("Promo code")


class DiscountKind(models.TextChoices):
    PERCENT = "percent", _("Percent")
    FIXED = "fixed", _("Fixed amount")


class DiscountScope(models.TextChoices):
    TICKET = "ticket", _("Per ticket")
    ORDER = "order", _("Per order")


class Code(models.Model):
    """A presale (access) code or a promo (discount) code of one event, entered at checkout.

    ``code`` is stored normalised (``pricing.code_normalise``: trimmed, upper case), so codes are
    case-insensitive. ``used`` counts the holds and orders that use it; it is taken with a
    conditional update (``used < use_limit``) and given back when the hold lapses or the order is
    cancelled. A presale code unlocks its ``ticket_types`` (hidden ones included) and lets its
    holder buy before the event's sales open; a promo code discounts its ``ticket_types`` (none
    listed: every type, the standard price included).
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="codes")
    kind = models.CharField(max_length=10, choices=CodeKind.choices)
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=200, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    use_limit = models.PositiveIntegerField(null=True, blank=True)
    used = models.IntegerField(default=0)
    discount_kind = models.CharField(
        max_length=10, choices=DiscountKind.choices, default=DiscountKind.PERCENT, blank=True
    )
    discount_scope = models.CharField(
        max_length=10, choices=DiscountScope.choices, default=DiscountScope.TICKET, blank=True
    )
    # Percent: whole percent (0-100); fixed: an amount in the event's currency.
    discount_value = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    ticket_types = models.ManyToManyField("events.TicketType", blank=True, related_name="+")

    class Meta:
        ordering = ["event_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["event", "code"], name="code_unique_per_event"),
            models.CheckConstraint(condition=Q(discount_value__gte=0), name="code_discount_not_negative"),
            models.CheckConstraint(
                condition=~Q(discount_kind="percent") | Q(discount_value__lte=100),
                name="code_percent_at_most_100",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="code_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.kind})"


class WaitingRoom(models.Model):
    """An event's waiting room: while ``enabled``, starting a hold needs an admission pass.

    The row is also the lock that serialises admissions of the event (``services.admission``):
    whoever grants passes holds it while counting who is checking out, so two grants can never
    both see the last free slot.
    """

    event = models.OneToOneField("events.Event", primary_key=True, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    checkout_limit = models.PositiveIntegerField(
        default=200, help_text="How many buyers may be checking out at once."
    )
    paused = models.BooleanField(default=False, help_text="No one is admitted while paused.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(checkout_limit__gte=1), name="waiting_room_limit_positive"),
        ]

    def __str__(self) -> str:
        return f"waiting room of event {self.event_id}"


class PassState(models.TextChoices):
    ADMITTED = "admitted", "Admitted"
    CHECKING_OUT = "checking_out", "Checking out"
    DONE = "done", "Done"
    EXPIRED = "expired", "Expired"


USABLE_PASS_STATES = (PassState.ADMITTED, PassState.CHECKING_OUT)


class AdmissionPass(models.Model):
    """One buyer's turn at an event with a waiting room.

    ``admitted``: may start one hold until ``admitted_until``. ``checking_out``: bound to
    ``hold``, and lasts exactly as long as that hold is live (an expired hold stops counting the
    instant it expires, like every hold). ``done``/``expired``: the turn is over; the states
    are written by the service that ends the hold, or by the sweeper, but every count reads the
    times, so a late write never lets more buyers in than the limit.
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=PassState.choices, default=PassState.ADMITTED)
    admitted_at = models.DateTimeField(default=timezone.now)
    admitted_until = models.DateTimeField()
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A buyer has at most one turn at a time per event.
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=Q(state__in=["admitted", "checking_out"]),
                name="admission_one_usable_pass_per_user_event",
            ),
            models.CheckConstraint(
                condition=~Q(state="checking_out") | Q(hold__isnull=False),
                name="admission_checking_out_has_hold",
            ),
        ]
        indexes = [
            # The count of who is checking out, under the room's lock.
            models.Index(
                fields=["event"],
                condition=Q(state__in=["admitted", "checking_out"]),
                name="admission_live_idx",
            ),
            models.Index(fields=["event", "admitted_at"], name="admission_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"admission pass {self.pk} ({self.state})"
