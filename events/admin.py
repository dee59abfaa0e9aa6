"""Staff set up venues, sections, seats, events and prices here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from events.forms import EventForm, PriceForm, TicketTypeForm, TicketTypePriceForm
from events.models import Event, Price, Seat, Section, TicketType, TicketTypePrice, Venue
from events.services import catalog as services
from events.services import layout, venues
from ticketing.core.errors import ApplicationError
from ticketing.core.validation import SafeFormMixin, SafeModelForm
from ticketing.core.venue_time import venue_display


class SectionForm(SafeFormMixin, forms.ModelForm):
    """A section and its seat generator: reserved rows (labels, seats per row, numbering,
    aisle gaps, curve) or a general-admission capacity. The place on the map is set with the
    venue's section editor (``static/js/section-editor.js``), never typed as JSON."""

    rows_spec = forms.CharField(
        required=False,
        max_length=200,
        label="Row labels",
        help_text="e.g. A-T, 1-20 or A-C,E (reserved). Generating replaces the seats.",
    )
    seats_per_row = forms.IntegerField(required=False, min_value=1, max_value=500)
    numbering = forms.ChoiceField(
        required=False,
        choices=[("ltr", "Seat 1 on the left"), ("rtl", "Seat 1 on the right")],
        initial="ltr",
        label="Numbering",
    )
    aisles = forms.CharField(
        required=False, max_length=100, label="Aisle gaps after seats", help_text="e.g. 4, 12"
    )
    curve = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        initial=0,
        help_text="0 straight, up to 1: rows bend around the stage",
    )
    capacity = forms.IntegerField(
        required=False, min_value=1, max_value=venues.MAX_SEATS_PER_SECTION, help_text="General admission"
    )

    class Meta:
        model = Section
        fields = ["name", "kind", "display_order", "geometry"]
        widgets = {"geometry": forms.HiddenInput(attrs={"data-editor": "geometry"})}

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
        try:
            data["aisles_after"] = tuple(
                int(a) for a in (data.get("aisles") or "").replace(" ", "").split(",") if a
            )
        except ValueError:
            self.add_error("aisles", "List seat numbers separated by commas, e.g. 4, 12.")
        geometry = data.get("geometry")
        if geometry:
            problems = layout.geometry_problems(geometry)
            for problem in problems:
                self.add_error("name", f"Map placement: {problem}")
            if not problems:
                data["geometry"] = layout.geometry_clean(geometry)
        return data

    def seat_spec(self) -> venues.SectionSpec | None:
        data = self.cleaned_data
        if data.get("row_labels"):
            rows = [(label, data["seats_per_row"]) for label in data["row_labels"]]
            return venues.SectionSpec(
                name=self.instance.name,
                kind="reserved",
                rows=rows,
                numbering=data.get("numbering") or "ltr",
                aisles_after=data.get("aisles_after") or (),
                curve=data.get("curve") or 0.0,
            )
        if data.get("capacity"):
            return venues.SectionSpec(name=self.instance.name, kind="general", capacity=data["capacity"])
        return None


class SectionFormSet(BaseInlineFormSet):
    """Places sections without a place and refuses overlaps, listing every overlapping pair."""

    def clean(self):
        super().clean()
        live = [
            f
            for f in self.forms
            if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE") and not f.errors
        ]
        named = []
        unplaced = []
        for form in live:
            geo = form.cleaned_data.get("geometry") or {}
            if "x" in geo and "y" in geo:
                named.append((form.cleaned_data.get("name") or "(unnamed)", geo))
            else:
                unplaced.append(form)
        problems = layout.overlap_problems(named)
        if problems:
            raise ValidationError(problems)
        for form in unplaced:
            geo = layout.place([g for _, g in named])
            form.cleaned_data["geometry"] = form.instance.geometry = geo
            named.append((form.cleaned_data.get("name"), geo))


def _generate(request, section: Section, spec: venues.SectionSpec | None) -> None:
    if spec is None:
        return
    try:
        n = venues.section_seats_generate(section=section, spec=spec)
    except ApplicationError as exc:
        messages.error(request, f"{section.name}: {exc.message}")
    else:
        messages.success(request, f"{section.name}: generated {n} seats.")


class SectionInline(admin.StackedInline):
    model = Section
    form = SectionForm
    formset = SectionFormSet
    extra = 0
    show_change_link = True
    classes = ["section-inline"]


class VenueForm(SafeModelForm):
    class Meta:
        model = Venue
        fields = "__all__"
        widgets = {"stage": forms.HiddenInput(attrs={"data-editor": "stage"})}

    def clean_stage(self):
        stage = self.cleaned_data.get("stage") or {}
        if not isinstance(stage, dict):
            raise ValidationError("The stage marker is a rectangle.")
        if stage:
            problems = layout.geometry_problems({k: v for k, v in stage.items() if k != "label"})
            if problems:
                raise ValidationError(problems)
            label = str(stage.get("label", "Stage"))[:40]
            stage = {**layout.geometry_clean(stage), "label": label}
        return stage


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    form = VenueForm
    list_display = ["name", "city", "country", "timezone", "section_count"]
    list_filter = ["country", "city"]
    search_fields = ["name", "city", "address"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SectionInline]
    # The canvas editor above the sections (templates/admin/events/venue/change_form.html).
    change_form_template = "admin/events/venue/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_sections=Count("sections"))

    @admin.display(description="Sections", ordering="_sections")
    def section_count(self, obj: Venue) -> int:
        return obj._sections

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "editor_seats": _editor_seats(object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A rename changes what search finds and what every page shows.
        services.event_catalog_changed(venue_id=form.instance.pk)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for f in formset.forms:
            if not (isinstance(f, SectionForm) and f.instance.pk and f.cleaned_data) or f.cleaned_data.get(
                "DELETE"
            ):
                continue
            spec = f.seat_spec()
            if spec is not None:
                _generate(request, f.instance, spec)
            elif "geometry" in f.changed_data and f.initial.get("geometry"):
                venues.section_seats_move(section=f.instance, old_geometry=f.initial["geometry"])


EDITOR_SEAT_LIMIT = 30_000


def _editor_seats(venue_id) -> dict[str, list]:
    """``{section_id: [[x, y, row, label], ...]}`` for the editor's preview of existing seats."""
    if not venue_id or not str(venue_id).isdigit():
        return {}
    seats = Seat.objects.filter(section__venue_id=int(venue_id)).order_by(
        "section_id", "row_rank", "position"
    )
    if seats.count() > EDITOR_SEAT_LIMIT:
        return {}
    out: dict[str, list] = {}
    for section_id, x, y, row, label in seats.values_list("section_id", "x", "y", "row_label", "label"):
        out.setdefault(str(section_id), []).append([x, y, row, label])
    return out


class StandaloneSectionForm(SectionForm):
    """A section edited on its own: placed among, and never over, its venue's other sections."""

    class Meta(SectionForm.Meta):
        fields = ["venue", *SectionForm.Meta.fields]

    def clean(self):
        data = super().clean()
        venue = data.get("venue")
        if venue is None or self.errors:
            return data
        others = list(venue.sections.exclude(pk=self.instance.pk).values_list("name", "geometry"))
        geo = data.get("geometry") or {}
        if not ("x" in geo and "y" in geo):
            data["geometry"] = layout.place([g for _, g in others if g])
        else:
            named = [(data.get("name") or "(unnamed)", geo)]
            for name, other in others:
                if other and layout.overlaps(geo, other):
                    named.append((name, other))
            for problem in layout.overlap_problems(named)[: len(named) - 1]:
                self.add_error(None, problem)
        return data


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    form = StandaloneSectionForm
    list_display = ["name", "venue", "kind", "display_order", "seat_count"]
    list_filter = ["kind", "venue"]
    search_fields = ["name", "venue__name"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("venue").annotate(_seats=Count("seats"))

    @admin.display(description="Seats", ordering="_seats")
    def seat_count(self, obj: Section) -> int:
        return obj._seats

    def get_fields(self, request, obj=None):
        generator = ["rows_spec", "seats_per_row", "numbering", "aisles", "curve", "capacity"]
        return ["venue", *SectionForm.Meta.fields, *generator]

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


class TicketTypeInline(admin.TabularInline):
    """The event's ticket types; each one's prices per section are on its own page (the link)."""

    model = TicketType
    form = TicketTypeForm
    extra = 0
    show_change_link = True
    fields = ["name", "quota", "sales_start", "sales_end", "per_order_max", "visibility", "sort_order"]


class TicketTypePriceInline(admin.TabularInline):
    model = TicketTypePrice
    form = TicketTypePriceForm
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "section":
            type_id = request.resolver_match.kwargs.get("object_id")
            venue_id = TicketType.objects.filter(pk=type_id).values_list("event__venue_id", flat=True).first()
            kwargs["queryset"] = Section.objects.select_related("venue").filter(venue_id=venue_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    """A ticket type with its price per section (the standard price is the event's Price rows)."""

    form = TicketTypeForm
    list_display = ["name", "event", "quota", "visibility", "per_order_max", "sort_order"]
    list_filter = ["visibility"]
    search_fields = ["name", "event__title"]
    list_select_related = ["event"]
    inlines = [TicketTypePriceInline]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        pk = object_id if object_id and str(object_id).isdigit() else None
        tz_name = (
            TicketType.objects.filter(pk=pk).values_list("event__timezone", flat=True).first() if pk else None
        )
        with timezone.override(tz_name or timezone.get_current_timezone()):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.event_catalog_changed(event_ids=[form.instance.event_id])


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventForm
    list_display = ["title", "venue", "category", "local_start", "status"]
    list_filter = ["status", "category", "venue__city", "venue"]
    search_fields = ["title", "description", "venue__name"]
    date_hierarchy = "starts_at"
    list_select_related = ["venue"]
    inlines = [PriceInline, TicketTypeInline]
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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Every time on the page (read-only ones too) in the venue's zone, as staff think.
        # Rendered inside the override: a TemplateResponse would otherwise render after it.
        pk = object_id if object_id and str(object_id).isdigit() else None
        tz_name = Event.objects.filter(pk=pk).values_list("timezone", flat=True).first() if pk else None
        with timezone.override(tz_name or timezone.get_current_timezone()):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

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
