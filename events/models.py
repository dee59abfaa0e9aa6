"""The catalog: venues with sections and seats, events and their prices."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now as tz_now
from django.utils.translation import gettext_lazy as _


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(
            _("'%(value)s' is not an IANA time zone."), code="invalid_timezone", params={"value": value}
        )


class Venue(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, db_index=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    # The stage (or field) marker on the venue map, in the sections' map units:
    # ``{"x", "y", "width", "height", "label"}``; drawn by the section editor.
    stage = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class SectionKind(models.TextChoices):
    RESERVED = "reserved", "Reserved seating"
    GENERAL = "general", "General admission"


class Section(models.Model):
    """A priced area of a venue.

    ``geometry`` places the section on the venue map, in map units (the venue map is
    1000 units wide): ``{"x", "y", "width", "height"}`` and optional ``"rotation"``
    in degrees. Seats carry their own coordinates inside it.
    """

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=SectionKind.choices, default=SectionKind.RESERVED)
    display_order = models.PositiveIntegerField(default=0)
    geometry = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["venue_id", "display_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["venue", "name"], name="section_name_unique_per_venue"),
            # The target of Price's composite key (section, venue): see Price.
            models.UniqueConstraint(fields=["id", "venue"], name="section_id_venue_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.venue.name} / {self.name}"


class Seat(models.Model):
    """One sellable place. A general-admission area of capacity N is N unlabeled spots.

    ``row_rank`` orders rows from best (0) to worst; ``position`` orders seats along a row,
    so seats with consecutive positions in one row are adjacent.
    """

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="seats")
    row_label = models.CharField(max_length=10, blank=True)
    label = models.CharField(max_length=10)
    row_rank = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    x = models.FloatField(default=0)
    y = models.FloatField(default=0)
    accessible = models.BooleanField(default=False)

    class Meta:
        ordering = ["section_id", "row_rank", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["section", "row_label", "label"], name="seat_unique_per_section_row"
            ),
        ]
        indexes = [models.Index(fields=["section", "row_rank", "position"], name="seat_order_idx")]

    def __str__(self) -> str:
        if self.row_label:
            return f"{self.section.name} row {self.row_label} seat {self.label}"
        return f"{self.section.name} spot {self.label}"


class Category(models.TextChoices):
    MUSIC = "music", _("Music")
    SPORTS = "sports", _("Sports")
    COMEDY = "comedy", _("Comedy")
    THEATRE = "theatre", _("Theatre")
    FAMILY = "family", _("Family")
    OTHER = "other", _("Other")


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ON_SALE = "on_sale", "On sale"
    CANCELLED = "cancelled", "Cancelled"


class Event(models.Model):
    """An event at a venue. Times are stored in UTC; ``timezone`` is the venue's, for display.

    ``past`` and "sales not open yet" are derived from the clock (see ``selectors``), not stored
    as statuses. ``sold_out`` / ``sold_out_until`` are a summary of the inventory refreshed after
    every inventory commit by ``services.event_availability_refresh``: the event has no free seat,
    and (when ``sold_out_until`` is set) the first live hold expires then, so it is only sold out
    *until* that instant even if no sweeper runs. ``search_vector`` is maintained by
    ``services.event_search_refresh`` (title, venue name/city, description).
    """

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, db_index=True)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="events")
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    sales_open_at = models.DateTimeField(null=True, blank=True)
    sales_close_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=EventStatus.choices, default=EventStatus.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=tz_now)
    updated_at = models.DateTimeField(auto_now=True)
    sold_out = models.BooleanField(default=False)
    sold_out_until = models.DateTimeField(null=True, blank=True)
    search_vector = SearchVectorField(null=True, editable=False)
    # Fees the buyer pays on top of the ticket prices, shown apart from them (docs/ticket-types.md).
    service_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, help_text="Per ticket, in the event's currency"
    )
    order_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, help_text="Once per order, in the event's currency"
    )
    # Set by publishing (checkout.services.sales.event_publish) to one seat of the event's
    # inventory. With the CHECK below and the composite foreign key (id, inventory_seat) ->
    # checkout_seatinventory (event_id, seat_id) that checkout's migration 0006 adds, the
    # database itself refuses an on-sale event without inventory, raw SQL included.
    inventory_seat = models.ForeignKey(
        Seat, null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [GinIndex(fields=["search_vector"], name="event_search_gin")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="on_sale") | Q(inventory_seat__isnull=False),
                name="event_on_sale_has_inventory",
                violation_error_message=(
                    "An event goes on sale only by publishing it (the Publish action creates its inventory)."
                ),
            ),
            # The target of Price's composite key (event, venue): see Price.
            models.UniqueConstraint(fields=["id", "venue"], name="event_id_venue_unique"),
            models.UniqueConstraint(
                fields=["venue", "starts_at", "title"], name="event_unique_venue_start_title"
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="event_ends_after_start"),
            models.CheckConstraint(
                condition=Q(sales_open_at__isnull=True)
                | Q(sales_close_at__isnull=True)
                | Q(sales_close_at__gt=F("sales_open_at")),
                name="event_sales_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(service_fee__gte=0, order_fee__gte=0), name="event_fees_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} @ {self.venue.name} {self.starts_at:%Y-%m-%d %H:%M}Z"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def local_starts_at(self):
        return self.starts_at.astimezone(self.tzinfo)

    def sales_open(self, now) -> bool:
        """Whether sales are open at ``now`` (status and window; not availability)."""
        if self.status != EventStatus.ON_SALE or now >= self.starts_at:
            return False
        if self.sales_open_at and now < self.sales_open_at:
            return False
        return not (self.sales_close_at and now >= self.sales_close_at)


class CatalogVersion(models.Model):
    """A counter of public catalog changes: the cache key of every browse read.

    Bumped in the transaction of every event create/update/publish/cancel, venue or price
    edit, and sold-out change. Catalog changes are rare (one per minutes, not per buyer), so
    one row is not a hot spot; the per-buyer counter is ``checkout.InventoryVersion``.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)


class Price(models.Model):
    """What a section costs at one event.

    ``venue`` is the event's venue, copied so the database can refuse a price for another
    venue's section: migration 0003 adds the composite foreign keys (event, venue) ->
    event (id, venue) and (section, venue) -> section (id, venue), so both must agree.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="prices")
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="prices")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+", editable=False)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "section"], name="price_unique_per_event_section"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.section.name}: {self.amount} {self.currency}"


class TicketVisibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    PRESALE = "presale", _("Only with a presale code")


class TicketType(models.Model):
    """A way a seat is sold at an event besides the standard one ("Early bird", "Child", "VIP").

    The standard type is the event's ``Price`` rows themselves (a seat sold with no type): every
    event has it, and its window is the event's sales window. A type has its own price per section
    (``TicketTypePrice``; a type not priced in a section is not sold there), an optional cap across
    the event (``quota``: held and sold seats of this type, counted by checkout), an optional sale
    window inside the event's, a per-order maximum, and a visibility. The rules that pick and check
    a type at hold time live in ``checkout/services/pricing/``.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many held or sold across the event (empty: no cap)"
    )
    sales_start = models.DateTimeField(null=True, blank=True)
    sales_end = models.DateTimeField(null=True, blank=True)
    per_order_max = models.PositiveSmallIntegerField(null=True, blank=True)
    visibility = models.CharField(
        max_length=10, choices=TicketVisibility.choices, default=TicketVisibility.PUBLIC
    )
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["event_id", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="ticket_type_name_unique_per_event"),
            # The target of TicketTypePrice's composite key (ticket_type, event).
            models.UniqueConstraint(fields=["id", "event"], name="ticket_type_id_event_unique"),
            models.CheckConstraint(
                condition=Q(sales_start__isnull=True)
                | Q(sales_end__isnull=True)
                | Q(sales_end__gt=F("sales_start")),
                name="ticket_type_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(per_order_max__isnull=True) | Q(per_order_max__gte=1),
                name="ticket_type_per_order_max_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def on_sale(self, now) -> bool:
        """Whether ``now`` is inside the type's own window (the event's is checked apart)."""
        if self.sales_start and now < self.sales_start:
            return False
        return not (self.sales_end and now >= self.sales_end)


class TicketTypePrice(models.Model):
    """What a seat of one section costs as one ticket type (a general-admission area: its one price).

    Like ``Price``, ``event`` and ``venue`` are copied so that composite foreign keys (migration
    0004) make the database refuse a price for another event's type or another venue's section.
    The currency is the event's (its ``Price`` rows').
    """

    ticket_type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="prices")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", editable=False)
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="+")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+", editable=False)
    amount = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket_type", "section"], name="ticket_type_price_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="ticket_type_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_type.name} / {self.section.name}: {self.amount}"
