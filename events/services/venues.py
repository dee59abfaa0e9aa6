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

from events.errors import VenueSlugTaken
from events.models import Seat, Section, SectionKind, Venue
from ticketing.core.errors import ValidationFailed, validation_error_from_django

MAX_SEATS_PER_SECTION = 5000
DEFAULT_GEOMETRY = {"x": 0, "y": 0, "width": 200, "height": 100}


@dataclass(frozen=True)
class SectionSpec:
    """How to build one section: reserved rows or a general-admission capacity."""

    name: str
    kind: str = SectionKind.RESERVED
    display_order: int = 0
    geometry: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, int]] = field(default_factory=list)
    capacity: int | None = None


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
                raise ValidationFailed(f"Row range '{part}' runs backwards.")
            labels.extend(str(n) for n in range(int(start), int(end) + 1))
        elif start.isalpha() and end.isalpha() and len(start) == len(end):
            labels.extend(_letter_range(start.upper(), end.upper(), part))
        else:
            raise ValidationFailed(f"Row range '{part}' mixes letters and numbers.")
    if len(set(labels)) != len(labels):
        raise ValidationFailed(f"Row spec '{spec}' repeats a row.")
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
        raise ValidationFailed(f"Row range '{part}' runs backwards.")
    return [to_str(n, len(start)) for n in range(a, b + 1)]


def _validate_geometry(geometry: dict[str, Any], where: str) -> dict[str, Any]:
    geo = {**DEFAULT_GEOMETRY, **(geometry or {})}
    for key in ("x", "y", "width", "height"):
        if not isinstance(geo[key], int | float) or isinstance(geo[key], bool):
            raise ValidationFailed(f"{where}: geometry.{key} must be a number.")
    if geo["width"] <= 0 or geo["height"] <= 0:
        raise ValidationFailed(f"{where}: geometry width and height must be positive.")
    return geo


def _validate_section(spec: SectionSpec) -> None:
    where = f"Section '{spec.name}'"
    if not spec.name.strip():
        raise ValidationFailed("Every section needs a name.")
    if spec.kind not in SectionKind.values:
        raise ValidationFailed(f"{where}: kind must be 'reserved' or 'general'.")
    if spec.kind == SectionKind.GENERAL:
        if spec.rows or not spec.capacity or spec.capacity < 1:
            raise ValidationFailed(f"{where}: a general-admission section needs a capacity and no rows.")
        total = spec.capacity
    else:
        if spec.capacity is not None or not spec.rows:
            raise ValidationFailed(f"{where}: a reserved section needs rows, not a capacity.")
        if any(n < 1 for _, n in spec.rows):
            raise ValidationFailed(f"{where}: every row needs at least one seat.")
        if len({label for label, _ in spec.rows}) != len(spec.rows):
            raise ValidationFailed(f"{where}: row labels repeat.")
        total = sum(n for _, n in spec.rows)
    if total > MAX_SEATS_PER_SECTION:
        raise ValidationFailed(f"{where}: at most {MAX_SEATS_PER_SECTION} seats per section.")


def _layout_seats(section: Section, spec: SectionSpec) -> list[Seat]:
    """Place seats on a grid inside the section's rectangle (map units)."""
    geo = section.geometry
    x0, y0, width, height = geo["x"], geo["y"], geo["width"], geo["height"]
    seats: list[Seat] = []
    if spec.kind == SectionKind.GENERAL:
        n = spec.capacity or 0
        cols = max(1, math.ceil(math.sqrt(n * width / height)))
        rows = math.ceil(n / cols)
        for i in range(n):
            r, c = divmod(i, cols)
            seats.append(
                Seat(
                    section=section,
                    row_label="",
                    label=str(i + 1),
                    row_rank=0,
                    position=i,
                    x=round(x0 + (c + 0.5) * width / cols, 2),
                    y=round(y0 + (r + 0.5) * height / rows, 2),
                )
            )
        return seats
    widest = max(n for _, n in spec.rows)
    for rank, (row_label, count) in enumerate(spec.rows):
        offset = (widest - count) / 2  # centre shorter rows
        for i in range(count):
            seats.append(
                Seat(
                    section=section,
                    row_label=row_label,
                    label=str(i + 1),
                    row_rank=rank,
                    position=i,
                    x=round(x0 + (offset + i + 0.5) * width / widest, 2),
                    y=round(y0 + (rank + 0.5) * height / len(spec.rows), 2),
                    # The first row's aisle seats are the accessible ones by default.
                    accessible=rank == 0 and i in (0, count - 1),
                )
            )
    return seats


def section_create(*, venue: Venue, spec: SectionSpec) -> Section:
    """Create a section and its seats. Caller owns the transaction."""
    _validate_section(spec)
    section = Section(
        venue=venue,
        name=spec.name.strip(),
        kind=spec.kind,
        display_order=spec.display_order,
        geometry=_validate_geometry(spec.geometry, f"Section '{spec.name}'"),
    )
    section.full_clean(exclude=["venue"], validate_unique=False)
    section.save()
    Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
    return section


def section_seats_generate(*, section: Section, spec: SectionSpec) -> int:
    """Replace an unsold section's seats from a row spec (admin's 'generate seats').

    Raises ``ValidationFailed`` when the section's seats are already on sale anywhere.
    """
    with transaction.atomic():
        _validate_section(spec)
        if section.seats.filter(inventory__isnull=False).exists():
            raise ValidationFailed("Seats of a published event cannot be regenerated.")
        section.seats.all().delete()
        section.kind = spec.kind
        section.geometry = _validate_geometry(spec.geometry or section.geometry, f"Section '{section.name}'")
        section.save(update_fields=["kind", "geometry"])
        seats = Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
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
    try:
        venue.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise validation_error_from_django(exc) from exc
    if not sections:
        raise ValidationFailed("A venue needs at least one section.")
    names = [s.name.strip() for s in sections]
    if len(set(names)) != len(names):
        raise ValidationFailed("Section names must be unique within a venue.")
    for spec in sections:
        _validate_section(spec)
    with transaction.atomic():
        if Venue.objects.filter(slug=venue.slug).exists():
            raise VenueSlugTaken(extra={"slug": venue.slug})
        venue.save()
        for spec in sections:
            section_create(venue=venue, spec=spec)
    return venue
