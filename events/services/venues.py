"""Venue writes: venues with their sections and seats, laid out for the seat map."""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext

from events.errors import VenueSlugTaken
from events.models import Seat, Section, SectionKind, Venue
from events.services import layout
from ticketing.core.errors import Problems, ValidationFailed, validation_error_from_django

MAX_SEATS_PER_SECTION = 5000


@dataclass(frozen=True)
class SectionSpec:
    """How to build one section: reserved rows or a general-admission capacity.

    An empty ``geometry`` (or one without ``x``/``y``) is placed where it overlaps nothing.
    ``numbering``, ``aisles_after`` and ``curve`` shape reserved rows (``layout.RowPlan``).
    """

    name: str
    kind: str = SectionKind.RESERVED
    display_order: int = 0
    geometry: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, int]] = field(default_factory=list)
    capacity: int | None = None
    numbering: str = "ltr"
    aisles_after: tuple[int, ...] = ()
    curve: float = 0.0


def parse_row_labels(spec: str) -> list[str]:
    """``"A-T"`` -> A..T, ``"1-20"`` -> 1..20, ``"AA-AC"`` and comma lists (``"A-C,E"``) too."""
    labels: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z]+|\d+)\s*-\s*([A-Za-z]+|\d+)", part)
        if not m:
            labels.append(part)
            continue
        start, end = m.groups()
        if start.isdigit() and end.isdigit():
            if int(end) < int(start):
                raise ValidationFailed(gettext("Row range '%(part)s' runs backwards.") % {"part": part})
            labels.extend(str(n) for n in range(int(start), int(end) + 1))
        elif start.isalpha() and end.isalpha() and len(start) == len(end):
            labels.extend(_letter_range(start.upper(), end.upper(), part))
        else:
            raise ValidationFailed(
                gettext("Row range '%(part)s' mixes letters and numbers.") % {"part": part}
            )
    if len(set(labels)) != len(labels):
        raise ValidationFailed(gettext("Row spec '%(spec)s' repeats a row.") % {"spec": spec})
    return labels


def _letter_range(start: str, end: str, part: str) -> list[str]:
    letters = string.ascii_uppercase

    def to_num(s: str) -> int:
        return sum(letters.index(c) * 26**i for i, c in enumerate(reversed(s)))

    def to_str(n: int, width: int) -> str:
        out = []
        for _ in range(width):
            out.append(letters[n % 26])
            n //= 26
        return "".join(reversed(out))

    a, b = to_num(start), to_num(end)
    if b < a:
        raise ValidationFailed(gettext("Row range '%(part)s' runs backwards.") % {"part": part})
    return [to_str(n, len(start)) for n in range(a, b + 1)]


def _with_size(geo: dict[str, Any]) -> dict[str, Any]:
    width, height = layout.DEFAULT_SIZE
    return {"width": width, "height": height, **geo}


def _placed(spec: SectionSpec, taken: list[dict[str, Any]]) -> dict[str, Any]:
    """The spec's rectangle, or a free spot of its size when it names no position."""
    geo = spec.geometry or {}
    if "x" in geo and "y" in geo:
        return _with_size(geo)
    width = geo.get("width", layout.DEFAULT_SIZE[0])
    height = geo.get("height", layout.DEFAULT_SIZE[1])
    return {**layout.place(taken, width=width, height=height), "rotation": geo.get("rotation", 0)}


def section_problems(spec: SectionSpec) -> list[str]:
    """Every reason ``spec`` cannot be built (``[]`` when it can)."""
    where = f"Section '{spec.name}'"
    problems = []
    if not spec.name.strip():
        problems.append("Every section needs a name.")
    if spec.kind not in SectionKind.values:
        return [*problems, f"{where}: kind must be 'reserved' or 'general'."]
    if spec.geometry:
        geo = _with_size({"x": 0, "y": 0, **spec.geometry})
        problems += [f"{where}: {p}" for p in layout.geometry_problems(geo)]
    if spec.kind == SectionKind.GENERAL:
        if spec.rows or not spec.capacity or spec.capacity < 1:
            problems.append(f"{where}: a general-admission section needs a capacity and no rows.")
        total = spec.capacity or 0
    else:
        if spec.capacity is not None or not spec.rows:
            problems.append(f"{where}: a reserved section needs rows, not a capacity.")
        if any(n < 1 for _, n in spec.rows):
            problems.append(f"{where}: every row needs at least one seat.")
        if len({label for label, _ in spec.rows}) != len(spec.rows):
            problems.append(f"{where}: row labels repeat.")
        if spec.numbering not in layout.NUMBERINGS:
            problems.append(f"{where}: numbering is 'ltr' or 'rtl'.")
        if not 0 <= spec.curve <= 1:
            problems.append(f"{where}: curve is between 0 (straight) and 1.")
        total = sum(n for _, n in spec.rows)
    if total > MAX_SEATS_PER_SECTION:
        problems.append(f"{where}: at most {MAX_SEATS_PER_SECTION} seats per section.")
    return problems


def _validate_section(spec: SectionSpec) -> None:
    problems = Problems()
    for message in section_problems(spec):
        problems.add("sections", message)
    problems.raise_if_any()


def _layout_seats(section: Section, spec: SectionSpec) -> list[Seat]:
    geo = section.geometry
    if spec.kind == SectionKind.GENERAL:
        spots = layout.spot_positions(geo, spec.capacity or 0)
    else:
        plan = layout.RowPlan(
            rows=spec.rows, numbering=spec.numbering, aisles_after=tuple(spec.aisles_after), curve=spec.curve
        )
        spots = layout.seat_positions(geo, plan)
    return [Seat(section=section, **spot) for spot in spots]


def section_create(*, venue: Venue, spec: SectionSpec, geometry: dict[str, Any]) -> Section:
    """Create a section at ``geometry`` (already placed and checked) and its seats.
    Caller owns the transaction."""
    section = Section(
        venue=venue,
        name=spec.name.strip(),
        kind=spec.kind,
        display_order=spec.display_order,
        geometry=layout.geometry_clean(geometry),
    )
    section.full_clean(exclude=["venue"], validate_unique=False)
    section.save()
    Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
    return section


def section_seats_generate(*, section: Section, spec: SectionSpec) -> int:
    """Replace an unsold section's seats (admin's 'generate seats'), in its current place.

    Raises ``ValidationFailed`` (every problem of the spec) or when the section's seats are
    already on sale anywhere.
    """
    with transaction.atomic():
        _validate_section(spec)
        if section.seats.filter(inventory__isnull=False).exists():
            raise ValidationFailed(gettext("Seats of a published event cannot be regenerated."))
        section.seats.all().delete()
        section.kind = spec.kind
        section.geometry = layout.geometry_clean(section.geometry)
        section.save(update_fields=["kind", "geometry"])
        seats = Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
        return len(seats)


def _to_local(geo: dict[str, Any], x: float, y: float) -> tuple[float, float]:
    """Map point -> (u, v) in [0, 1] across the (rotated) rectangle."""
    cx, cy = geo["x"] + geo["width"] / 2, geo["y"] + geo["height"] / 2
    a = -math.radians(float(geo.get("rotation", 0) or 0))
    dx, dy = x - cx, y - cy
    lx, ly = dx * math.cos(a) - dy * math.sin(a), dx * math.sin(a) + dy * math.cos(a)
    return lx / geo["width"] + 0.5, ly / geo["height"] + 0.5


def _to_map(geo: dict[str, Any], u: float, v: float) -> tuple[float, float]:
    cx, cy = geo["x"] + geo["width"] / 2, geo["y"] + geo["height"] / 2
    a = math.radians(float(geo.get("rotation", 0) or 0))
    lx, ly = (u - 0.5) * geo["width"], (v - 0.5) * geo["height"]
    return cx + lx * math.cos(a) - ly * math.sin(a), cy + lx * math.sin(a) + ly * math.cos(a)


def section_seats_move(*, section: Section, old_geometry: dict[str, Any]) -> int:
    """Carry a section's seats along when it was moved, resized or rotated on the map: each
    seat keeps its place relative to the rectangle. Returns the seats moved.

    Seat coordinates are only where the seat map draws them, so this is safe on sale too.
    """
    old = _with_size({"x": 0, "y": 0, **(old_geometry or {})})
    new = section.geometry
    if layout.geometry_problems(old) or layout.geometry_problems(new) or old == new:
        return 0
    seats = list(section.seats.only("id", "x", "y"))
    for seat in seats:
        seat.x, seat.y = (round(c, 2) for c in _to_map(new, *_to_local(old, seat.x, seat.y)))
    Seat.objects.bulk_update(seats, ["x", "y"], batch_size=2000)
    return len(seats)


def venue_create(
    *,
    name: str,
    slug: str = "",
    city: str,
    country: str,
    timezone: str,
    address: str = "",
    sections: list[SectionSpec],
) -> Venue:
    """Create a venue with all its sections and seats, or nothing at all.

    Raises ``ValidationFailed`` (bad field, section or row spec) or ``VenueSlugTaken``.
    """
    venue = Venue(
        name=name.strip(),
        slug=slug or slugify(name),
        city=city.strip(),
        country=country.strip().upper(),
        timezone=timezone,
        address=address,
    )
    problems = Problems()
    try:
        venue.full_clean(validate_unique=False)
    except ValidationError as exc:
        for name, messages in validation_error_from_django(exc).extra["fields"].items():
            for message in messages:
                problems.add(name, message)
    if not sections:
        problems.add("sections", "A venue needs at least one section.")
    names = [s.name.strip() for s in sections]
    if len(set(names)) != len(names):
        problems.add("sections", "Section names must be unique within a venue.")
    for spec in sections:
        for message in section_problems(spec):
            problems.add("sections", message)
    problems.raise_if_any()
    # Sections with a position first, then the rest placed around them.
    placed: list[tuple[str, dict[str, Any]]] = [
        (spec.name, _with_size(spec.geometry))
        for spec in sections
        if "x" in spec.geometry and "y" in spec.geometry
    ]
    for message in layout.overlap_problems(placed):
        problems.add("sections", message)
    problems.raise_if_any()
    geometries = {name: geo for name, geo in placed}
    for spec in sections:
        if spec.name not in geometries:
            geometries[spec.name] = _placed(spec, list(geometries.values()))
    with transaction.atomic():
        if Venue.objects.filter(slug=venue.slug).exists():
            raise VenueSlugTaken(extra={"slug": venue.slug})
        venue.save()
        for spec in sections:
            section_create(venue=venue, spec=spec, geometry=geometries[spec.name])
    return venue
