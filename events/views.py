"""Catalog pages. Thin: the same cached selectors as the API compute, templates show.

The pages are not gzipped: they carry the CSRF token of signed-in users next to reflected
search text, the combination BREACH needs. The JSON API, which carries no secret, is.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from events.models import Category
from events.selectors import catalog as selectors
from ticketing.server.version_prefetch import prefetched_catalog

PAGE_SIZE = 24
DATE_INPUT = {"type": "date"}
STATUS_LABELS = {
    "on_sale": _("On sale"),
    "sold_out": _("Sold out"),
    "not_open": _("Sales open soon"),
    "sales_closed": _("Sales closed"),
    "cancelled": _("Cancelled"),
    "past": _("Past"),
}


class BrowseForm(forms.Form):
    """The browse filters as a plain GET form, so every search is a shareable URL."""

    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    category = forms.MultipleChoiceField(
        required=False, choices=Category.choices, widget=forms.CheckboxSelectMultiple
    )
    city = forms.ChoiceField(required=False, label=_("City"))
    venue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("Venue"))
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    available = forms.BooleanField(required=False, label=_("Available only"))
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000, widget=forms.HiddenInput)

    def __init__(self, *args, venues: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        cities = sorted({v["city"] for v in venues})
        self.fields["city"].choices = [("", _("Any city")), *((c, c) for c in cities)]
        self.fields["venue"].choices = [("", _("Any venue")), *((v["id"], v["name"]) for v in venues)]

    def filters(self) -> tuple[selectors.EventFilters, int]:
        """The valid filters (an invalid field is ignored rather than failing the page)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        filters = selectors.EventFilters.build(
            categories=data.get("category") or [],
            venue_ids=[data["venue"]] if data.get("venue") else [],
            city=data.get("city") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=data.get("q") or "",
            available_only=bool(data.get("available")),
        )
        return filters, data.get("page") or 1


def with_times(item: dict) -> dict:
    """ISO strings (venue-local, with offset) to datetimes for the ``date`` filter."""
    for key in ("starts_at", "ends_at", "sales_open_at", "sales_close_at"):
        if item.get(key):
            item[f"{key}_dt"] = dt.datetime.fromisoformat(item[key])
    item["status_label"] = STATUS_LABELS.get(item["status"], item["status"])
    return item


def browse(request: HttpRequest) -> HttpResponse:
    catalog = prefetched_catalog(request)
    venues = selectors.venue_list_snapshot(catalog_version=catalog).data["items"]
    form = BrowseForm(request.GET, venues=venues)
    filters, page = form.filters()
    listing = selectors.event_list_snapshot(
        filters=filters, page=page, size=PAGE_SIZE, catalog_version=catalog
    ).data
    items = [with_times(item) for item in listing["items"]]

    def page_url(n: int) -> str:
        query = request.GET.copy()
        query["page"] = str(n)
        return "?" + query.urlencode()

    return render(
        request,
        "events/browse.html",
        {
            "form": form,
            "events": items,
            "listing": listing,
            "prev_url": page_url(listing["page"] - 1) if listing["page"] > 1 else None,
            "next_url": page_url(listing["page"] + 1) if listing["page"] < listing["pages"] else None,
        },
    )
