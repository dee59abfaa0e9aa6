"""Staff set up venues, sections, seats, events and prices here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from events.forms import EventForm, PriceForm
from events.models import Event, Price, Seat, Section, Venue
from events.services import catalog as services
from events.services import venues
from ticketing.core.errors import ApplicationError
from ticketing.core.validation import SafeFormMixin, SafeModelForm
from ticketing.core.venue_time import venue_display


class SectionForm(SafeFormMixin, forms.ModelForm):
    """Adds a seat generator to the section form: a row spec or a GA capacity."""

    rows_spec = forms.CharField(
        required=False,
        max_length=200,
        label="Generate rows",
        help_text="e.g. A-T (reserved). Replaces the seats.",
    )
    seats_per_row = forms.IntegerField(required=False, min_value=1, max_value=500)
    capacity = forms.IntegerField(
        required=False, min_value=1, max_value=venues.MAX_SEATS_PER_SECTION, help_text="General admission"
    )

    class Meta:
        model = Section
        fields = ["name", "kind", "display_order", "geometry"]

    def clean(self):
        data = super().clean()
        rows, per_row, capacity = data.get("rows_spec"), data.get("seats_per_row"), data.get("capacity")
        if rows and not per_row:
            self.add_error("seats_per_row", "Say how many seats each row has.")
        if rows and capacity:
            self.add_error("capacity", "Give rows or a capacity, not both.")
        if rows:
            try:
                data["row_labels"] = venues.parse_row_labels(rows)
            except ApplicationError as exc:
                self.add_error("rows_spec", exc.message)
        return data

    def seat_spec(self) -> venues.SectionSpec | None:
        data = self.cleaned_data
        if data.get("row_labels"):
            rows = [(label, data["seats_per_row"]) for label in data["row_labels"]]
            return venues.SectionSpec(name=self.instance.name, kind="reserved", rows=rows)
        if data.get("capacity"):
            return venues.SectionSpec(name=self.instance.name, kind="general", capacity=data["capacity"])
        return None


def _generate(request, section: Section, spec: venues.SectionSpec | None) -> None:
    if spec is None:
        return
    spec = venues.SectionSpec(
        name=spec.name, kind=spec.kind, rows=spec.rows, capacity=spec.capacity, geometry=section.geometry
    )
    try:
        n = venues.section_seats_generate(section=section, spec=spec)
    except ApplicationError as exc:
        messages.error(request, f"{section.name}: {exc.message}")
    else:
        messages.success(request, f"{section.name}: generated {n} seats.")


class SectionInline(admin.StackedInline):
    model = Section
    form = SectionForm
    extra = 0
    show_change_link = True


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    form = SafeModelForm
    list_display = ["name", "city", "country", "timezone", "section_count"]
    list_filter = ["country", "city"]
    search_fields = ["name", "city", "address"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SectionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_sections=Count("sections"))

    @admin.display(description="Sections", ordering="_sections")
    def section_count(self, obj: Venue) -> int:
        return obj._sections

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A rename changes what search finds and what every page shows.
        services.event_catalog_changed(venue_id=form.instance.pk)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for f in formset.forms:
            if (
                isinstance(f, SectionForm)
                and f.instance.pk
                and f.cleaned_data
                and not f.cleaned_data.get("DELETE")
            ):
                _generate(request, f.instance, f.seat_spec())


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    form = SectionForm
    list_display = ["name", "venue", "kind", "display_order", "seat_count"]
    list_filter = ["kind", "venue"]
    search_fields = ["name", "venue__name"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("venue").annotate(_seats=Count("seats"))

    @admin.display(description="Seats", ordering="_seats")
    def seat_count(self, obj: Section) -> int:
        return obj._seats

    def get_fields(self, request, obj=None):
        return ["venue", *SectionForm.Meta.fields, "rows_spec", "seats_per_row", "capacity"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _generate(request, obj, form.seat_spec())
        services.event_catalog_changed(venue_id=obj.venue_id)


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    form = SafeModelForm
    list_display = ["__str__", "section", "row_label", "label", "accessible"]
    list_filter = ["accessible", "section__venue"]
    search_fields = ["section__name", "row_label", "label"]
    list_select_related = ["section", "section__venue"]


class PriceInline(admin.TabularInline):
    model = Price
    form = PriceForm
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "section":
            # Only the event's own venue's sections (the database refuses others as well).
            event_id = request.resolver_match.kwargs.get("object_id")
            venue_id = Event.objects.filter(pk=event_id).values_list("venue_id", flat=True).first()
            kwargs["queryset"] = Section.objects.select_related("venue").filter(venue_id=venue_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventForm
    list_display = ["title", "venue", "category", "local_start", "status"]
    list_filter = ["status", "category", "venue__city", "venue"]
    search_fields = ["title", "description", "venue__name"]
    date_hierarchy = "starts_at"
    list_select_related = ["venue"]
    inlines = [PriceInline]
    # sold_out/sold_out_until summarise the inventory (checkout.services.sold_out). Going on
    # sale and cancelling are checkout's: checkout/admin.py extends this admin with them.
    readonly_fields = [
        "timezone",
        "published_at",
        "created_at",
        "updated_at",
        "sold_out",
        "sold_out_until",
    ]

    @admin.display(description="Starts (venue time)", ordering="starts_at")
    def local_start(self, obj: Event) -> str:
        return venue_display(obj.starts_at, obj.timezone)

    def get_inline_instances(self, request, obj=None):
        # Prices need the venue's sections: offered once the event (and its venue) is saved.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not obj.timezone:
            obj.timezone = obj.venue.timezone
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Admin edits bypass the services: keep search and every cached page in step.
        services.event_catalog_changed(event_ids=[form.instance.pk])
