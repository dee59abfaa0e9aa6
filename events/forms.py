"""Admin forms of the catalog: event times in the venue's zone, every problem at once.

Django's admin reads a date and time in the server's zone (UTC here); staff mean the
venue's. These forms take the wall-clock time as typed, then read it in the venue's IANA
zone (``ticketing.core.venue_time``), which also refuses daylight-saving gaps and folds.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.admin import widgets

from events.models import Event, EventStatus, Price, Section, TicketType, TicketTypePrice, Venue
from events.services.catalog import event_times_check
from ticketing.core.errors import Problems
from ticketing.core.validation import SafeModelForm
from ticketing.core.venue_time import LocalTimeProblem, venue_local, venue_localize

ON_SALE_ONLY_BY_PUBLISHING = (
    "An event goes on sale only by publishing it (the Publish action creates its inventory)."
)
EVENT_TIMES = ("starts_at", "ends_at", "sales_open_at", "sales_close_at")


class WallClockField(forms.SplitDateTimeField):
    """A date and a time as typed: naive, read in the venue's zone by the form's ``clean``."""

    def compress(self, data_list):
        if data_list and data_list[0] and data_list[1]:
            return dt.datetime.combine(*data_list)
        return super().compress(data_list) if data_list else None


class EventForm(SafeModelForm):
    """The event admin's form. Status is shown but only publishing and cancelling change it."""

    class Meta:
        model = Event
        fields = "__all__"
        field_classes = dict.fromkeys(EVENT_TIMES, WallClockField)
        widgets = dict.fromkeys(EVENT_TIMES, widgets.AdminSplitDateTime)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("service_fee", "order_fee"):
            if name in self.fields:
                self.fields[name].required = False  # empty: no fee
        venue = self.instance.venue if self.instance.venue_id else None
        zone = f"{venue.timezone} (the venue's time)" if venue else "the venue's local time zone"
        for name in EVENT_TIMES:
            if name not in self.fields:
                continue
            self.fields[name].help_text = f"Wall-clock time in {zone}."
            value = getattr(self.instance, name) if self.instance.pk else None
            if value is not None:
                self.initial[name] = venue_local(value, venue.timezone).replace(tzinfo=None)

    def clean_service_fee(self):
        return self.cleaned_data.get("service_fee") or 0

    def clean_order_fee(self):
        return self.cleaned_data.get("order_fee") or 0

    def clean(self):
        data = super().clean()
        venue: Venue | None = data.get("venue") or (self.instance.venue if self.instance.venue_id else None)
        self._clean_status(data)
        moved = self.instance.pk and venue and venue.pk != self.instance.venue_id
        if moved and self.instance.prices.exists():
            self.add_error("venue", "The event has prices for this venue's sections: remove them first.")
        if venue is None:
            return data
        problems = Problems()
        times = {}
        for name in EVENT_TIMES:
            value = data.get(name)
            if value is None:
                times[name] = None
                continue
            try:
                times[name] = venue_localize(value, venue.timezone)
            except LocalTimeProblem as exc:
                problems.add(name, str(exc))
                times[name] = None
        event_times_check(times=times, problems=problems)
        for name, messages in problems.fields.items():
            for message in messages:
                self.add_error(name, message)
        for name, value in times.items():
            if name in data and name not in self.errors:
                data[name] = value
        return data

    def _clean_status(self, data):
        new = data.get("status")
        old = self.instance.status if self.instance.pk else EventStatus.DRAFT
        if new is None or new == old:
            return
        if new == EventStatus.ON_SALE:
            message = ON_SALE_ONLY_BY_PUBLISHING
        elif new == EventStatus.CANCELLED:
            message = "Cancel an event with the Cancel action: it refunds the orders and closes the waitlist."
        else:
            message = "An event on sale goes back only by cancelling it."
        self.add_error("status", message)


class PriceForm(SafeModelForm):
    """A price for one of the event's own venue's sections (the database refuses others too)."""

    class Meta:
        model = Price
        fields = ["section", "amount", "currency"]

    def clean(self):
        data = super().clean()
        event = getattr(self.instance, "event", None)  # set by the inline formset
        section: Section | None = data.get("section")
        venue_id = getattr(event, "venue_id", None)
        if section is not None and venue_id is not None and section.venue_id != venue_id:
            self.add_error("section", f"'{section}' is not a section of this event's venue.")
        if venue_id is not None:
            self.instance.venue_id = venue_id
        return data


TYPE_TIMES = ("sales_start", "sales_end")


class TicketTypeForm(SafeModelForm):
    """A ticket type; its window is typed as the venue's wall clock, like the event's times."""

    class Meta:
        model = TicketType
        fields = [
            "event",
            "name",
            "description",
            "quota",
            "sales_start",
            "sales_end",
            "per_order_max",
            "visibility",
            "sort_order",
        ]
        field_classes = dict.fromkeys(TYPE_TIMES, WallClockField)
        widgets = dict.fromkeys(TYPE_TIMES, widgets.AdminSplitDateTime)

    def _event(self, data=None) -> Event | None:
        event = (data or {}).get("event")
        if event is None and self.instance.event_id:
            event = self.instance.event
        return event

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        event = self._event()
        for name in TYPE_TIMES:
            if name not in self.fields:
                continue
            zone = f"{event.timezone} (the venue's time)" if event else "the venue's local time zone"
            self.fields[name].help_text = f"Wall-clock time in {zone}."
            value = getattr(self.instance, name) if self.instance.pk else None
            if value is not None and event is not None:
                self.initial[name] = venue_local(value, event.timezone).replace(tzinfo=None)

    def clean(self):
        data = super().clean()
        event = self._event(data)
        if event is None:
            return data
        for name in TYPE_TIMES:
            value = data.get(name)
            if value is None:
                continue
            try:
                data[name] = venue_localize(value, event.timezone)
            except LocalTimeProblem as exc:
                self.add_error(name, str(exc))
        start, end = data.get("sales_start"), data.get("sales_end")
        if start and end and end <= start and "sales_end" not in self.errors:
            self.add_error("sales_end", "The type's sale must end after it starts.")
        return data


class TicketTypePriceForm(SafeModelForm):
    """A type's price for one of its event's venue's sections (the database refuses others too)."""

    class Meta:
        model = TicketTypePrice
        fields = ["section", "amount"]

    def clean(self):
        data = super().clean()
        ticket_type = getattr(self.instance, "ticket_type", None)  # set by the inline formset
        event = ticket_type.event if ticket_type is not None else None
        section: Section | None = data.get("section")
        if section is not None and event is not None and section.venue_id != event.venue_id:
            self.add_error("section", f"'{section}' is not a section of this event's venue.")
        if event is not None:
            self.instance.event_id, self.instance.venue_id = event.pk, event.venue_id
        return data
