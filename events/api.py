"""Catalog API. Staff endpoints set up on-sales; public reads live beside them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticValidationError
from pydantic import model_validator

from events.models import Category, Event, Seat, Section, Venue
from events.selectors import catalog as selectors
from events.selectors.cache import Snapshot
from events.services import catalog as services
from events.services import venues
from ticketing.accounts.auth import require_staff
from ticketing.core.validation import InputSchema, Multiline, column_length
from ticketing.core.venue_time import venue_local
from ticketing.server.version_prefetch import prefetched_catalog

router = Router()


# A PositiveIntegerField's upper bound.
INTEGER_MAX = 2**31 - 1


class RowIn(InputSchema):
    label: str = Field(min_length=1, max_length=column_length(Seat, "row_label"))
    seats: int = Field(ge=1, le=500)


class SectionIn(InputSchema):
    name: str = Field(min_length=1, max_length=column_length(Section, "name"))
    kind: Literal["reserved", "general"] = "reserved"
    display_order: int = Field(0, ge=0, le=INTEGER_MAX)
    geometry: dict = Field(default_factory=dict)
    rows: str | None = Field(None, max_length=200, description="Row labels, e.g. 'A-T' or '1-20,25'")
    seats_per_row: int | None = Field(None, ge=1, le=500)
    row_list: list[RowIn] | None = Field(None, description="Rows with their own seat counts")
    capacity: int | None = Field(None, ge=1, le=venues.MAX_SEATS_PER_SECTION)

    @model_validator(mode="after")
    def _one_layout(self):
        given = [self.rows is not None, self.row_list is not None, self.capacity is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of rows (+ seats_per_row), row_list or capacity")
        if self.rows is not None and self.seats_per_row is None:
            raise ValueError("rows needs seats_per_row")
        return self

    def to_spec(self) -> venues.SectionSpec:
        if self.row_list is not None:
            rows = [(r.label, r.seats) for r in self.row_list]
        elif self.rows is not None:
            rows = [(label, self.seats_per_row) for label in venues.parse_row_labels(self.rows)]
        else:
            rows = []
        return venues.SectionSpec(
            name=self.name,
            kind=self.kind,
            display_order=self.display_order,
            geometry=self.geometry,
            rows=rows,
            capacity=self.capacity,
        )


class VenueIn(InputSchema):
    name: str = Field(min_length=1, max_length=column_length(Venue, "name"))
    slug: str = Field("", max_length=column_length(Venue, "slug"))
    address: str = Field("", max_length=column_length(Venue, "address"))
    city: str = Field(min_length=1, max_length=column_length(Venue, "city"))
    country: str = Field(min_length=2, max_length=column_length(Venue, "country"))
    timezone: str = Field(max_length=column_length(Venue, "timezone"))
    sections: list[SectionIn] = Field(min_length=1, max_length=200)


class SectionOut(Schema):
    id: int
    name: str
    kind: str
    display_order: int
    geometry: dict
    seat_count: int


class VenueOut(Schema):
    id: int
    name: str
    slug: str
    address: str
    city: str
    country: str
    timezone: str
    sections: list[SectionOut]


class PriceIn(InputSchema):
    section_id: int
    amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)


_LOCAL_TIME = (
    "ISO 8601. Without an offset, the venue's wall-clock time in its IANA zone; a time the "
    "daylight-saving change skips or repeats is refused (give the offset for a repeated one)."
)


class EventIn(InputSchema):
    venue_id: int
    title: str = Field(min_length=1, max_length=column_length(Event, "title"))
    slug: str = Field("", max_length=column_length(Event, "slug"))
    description: Annotated[str, Multiline()] = Field("", max_length=20_000)
    category: str = Field(max_length=column_length(Event, "category"))
    starts_at: dt.datetime = Field(description=_LOCAL_TIME)
    ends_at: dt.datetime = Field(description=_LOCAL_TIME)
    sales_open_at: dt.datetime | None = Field(None, description=_LOCAL_TIME)
    sales_close_at: dt.datetime | None = Field(None, description=_LOCAL_TIME)
    currency: str = Field("EUR", min_length=3, max_length=3)
    prices: list[PriceIn] = Field(default_factory=list, max_length=1000)


class PriceOut(Schema):
    section_id: int
    amount: Decimal
    currency: str


class EventOut(Schema):
    """Times are ISO 8601 at the venue's offset; ``timezone`` is the venue's IANA zone."""

    id: int
    title: str
    slug: str
    category: str
    venue_id: int
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str
    sales_open_at: dt.datetime | None
    sales_close_at: dt.datetime | None
    prices: list[PriceOut]


def _venue_out(venue) -> dict:
    sections = [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind,
            "display_order": s.display_order,
            "geometry": s.geometry,
            "seat_count": s.seats.count(),
        }
        for s in venue.sections.all()
    ]
    return {**{f: getattr(venue, f) for f in VenueOut.model_fields if f != "sections"}, "sections": sections}


_EVENT_TIMES = ("starts_at", "ends_at", "sales_open_at", "sales_close_at")


def event_out(event) -> dict:
    """The event with every time at the venue's offset (``timezone`` names the zone)."""
    data = {f: getattr(event, f) for f in EventOut.model_fields if f != "prices"}
    for name in _EVENT_TIMES:
        data[name] = venue_local(data[name], event.timezone)
    data["prices"] = list(event.prices.values("section_id", "amount", "currency"))
    return data


@router.post(
    "/venues",
    response={201: VenueOut},
    summary="Create a venue with sections and seats (staff)",
    description="SLUG_TAKEN 409, VALIDATION_ERROR 422, FORBIDDEN 403.",
)
def venue_create(request: HttpRequest, payload: VenueIn):
    require_staff(request)
    venue = venues.venue_create(
        name=payload.name,
        slug=payload.slug,
        address=payload.address,
        city=payload.city,
        country=payload.country,
        timezone=payload.timezone,
        sections=[s.to_spec() for s in payload.sections],
    )
    return Status(201, _venue_out(venue))


@router.post(
    "/events",
    response={201: EventOut},
    summary="Create a draft event with prices (staff)",
    description="NOT_FOUND 404 (the venue or a priced section), DUPLICATE_EVENT 409, VALIDATION_ERROR 422, "
    "FORBIDDEN 403.",
)
def event_create(request: HttpRequest, payload: EventIn):
    require_staff(request)
    event = services.event_create(
        venue_id=payload.venue_id,
        title=payload.title,
        slug=payload.slug,
        description=payload.description,
        category=payload.category,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        sales_open_at=payload.sales_open_at,
        sales_close_at=payload.sales_close_at,
        currency=payload.currency,
        prices={p.section_id: p.amount for p in payload.prices},
    )
    return Status(201, event_out(event))


# --- Public reads -----------------------------------------------------------------------
# These return the cached gzipped bytes as they are: no schema validation or re-serialising
# on the hot path (the schemas below document the shape for /api/docs).

CACHE_CONTROL = "public, no-cache"  # browsers and proxies keep it but revalidate (ETag -> 304)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def snapshot_response(request: HttpRequest, snap: Snapshot) -> HttpResponse:
    """The snapshot as JSON: 304 on a matching If-None-Match, gzipped when the client takes it."""
    # META, not request.headers: that builds a dict of every header, on the hottest path.
    inm = request.META.get("HTTP_IF_NONE_MATCH")
    if inm and _etag_matches(inm, snap.etag):
        response = HttpResponse(status=304)
    elif "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        response = HttpResponse(snap.gzipped, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(snap.body, content_type="application/json")
    response["ETag"] = snap.etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Vary"] = "Accept-Encoding"
    return response


class VenueRef(Schema):
    id: int
    name: str
    city: str


class EventListItem(Schema):
    id: int
    title: str
    slug: str
    category: str
    venue: VenueRef
    starts_at: str = Field(description="Local start time at the venue, ISO 8601 with offset")
    ends_at: str
    timezone: str
    lowest_price: str | None
    currency: str | None
    status: Literal["on_sale", "sold_out", "not_open", "sales_closed", "cancelled", "past"]
    sales_open_at: str | None = Field(description="When sales open (local), for not_open")


class EventListOut(Schema):
    items: list[EventListItem]
    page: int
    size: int
    total: int
    pages: int


class EventListQuery(InputSchema):
    category: list[Category] = Field(default_factory=list, description="Repeat for several")
    venue: list[int] = Field(default_factory=list, description="Venue ids; repeat for several")
    city: str = Field("", max_length=column_length(Venue, "city"))
    date_from: dt.date | None = Field(None, description="Local calendar date at the venue, inclusive")
    date_to: dt.date | None = Field(None, description="Local calendar date at the venue, inclusive")
    q: str = Field("", max_length=200, description="Full-text search: title, venue, description")
    available: bool = Field(False, description="Only events that still have tickets to sell")
    include_past: bool = False
    page: int = Field(1, ge=1, le=10_000)
    size: int = Field(20, ge=1, le=selectors.MAX_PAGE_SIZE)


class ListOut(Schema):
    items: list[dict]


def _query_parameters(schema: type[Schema]) -> list[dict]:
    """OpenAPI query parameters of ``schema`` (the list endpoint parses them itself)."""
    props = schema.model_json_schema()
    defs = props.get("$defs", {})
    params = []
    for name, prop in props["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        if "$ref" in prop.get("items", {}):
            prop["items"] = defs[prop["items"]["$ref"].rsplit("/", 1)[-1]]
        params.append(
            {
                "in": "query",
                "name": name,
                "required": False,
                "schema": prop,
                "description": prop.get("description", ""),
            }
        )
    return params


_LIST_FIELDS = ("category", "venue")


def _parse_list_query(request: HttpRequest) -> tuple[selectors.EventFilters, int, int]:
    """Validate the list's query parameters. Raises ninja's ``ValidationError`` (422)."""
    raw = {k: request.GET.getlist(k) if k in _LIST_FIELDS else request.GET.get(k) for k in request.GET}
    try:
        query = EventListQuery.model_validate(raw)
    except PydanticValidationError as exc:
        raise NinjaValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        ) from exc
    filters = selectors.EventFilters.build(
        categories=[str(c) for c in query.category],
        venue_ids=query.venue,
        city=query.city,
        date_from=query.date_from,
        date_to=query.date_to,
        q=query.q,
        available_only=query.available,
        include_past=query.include_past,
    )
    return filters, query.page, query.size


@router.get(
    "/events",
    response=EventListOut,
    auth=None,
    summary="Browse public events",
    openapi_extra={"parameters": _query_parameters(EventListQuery)},
)
def event_list(request: HttpRequest):
    # Parameters are validated only when the answer is not cached yet: a cache hit costs the
    # catalog version query and nothing else.
    snap = selectors.event_list_snapshot_for_query(
        query_string=request.META.get("QUERY_STRING", ""),
        parse=lambda: _parse_list_query(request),
        catalog_version=prefetched_catalog(request),
    )
    return snapshot_response(request, snap)


@router.get("/venues", response=ListOut, auth=None, summary="Venues for the filter controls")
def venue_list(request: HttpRequest):
    return snapshot_response(
        request, selectors.venue_list_snapshot(catalog_version=prefetched_catalog(request))
    )


@router.get("/categories", response=ListOut, auth=None, summary="Categories for the filter controls")
def category_list(request: HttpRequest):
    return snapshot_response(request, selectors.category_list_snapshot())
