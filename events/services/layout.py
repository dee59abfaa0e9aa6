"""Where sections and seats sit on the venue map: pure geometry, no database.

The map is ``MAP_WIDTH`` units wide. A section's ``geometry`` is a rectangle
``{"x", "y", "width", "height", "rotation"}`` (degrees, about its centre). Two sections may
not overlap (touching edges is fine): a seat under another section cannot be clicked. The
admin's section editor (``static/js/section-editor.js``) mirrors ``seat_positions`` for its
live preview; the server's result is what is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MAP_WIDTH = 1000
DEFAULT_SIZE = (200.0, 100.0)
PLACEMENT_GAP = 20.0
GEOMETRY_KEYS = ("x", "y", "width", "height")
NUMBERINGS = ("ltr", "rtl")


def geometry_problems(geo: Any) -> list[str]:
    """Why ``geo`` is not a section rectangle (every reason), or ``[]``."""
    if not isinstance(geo, dict):
        return ["geometry must be an object with x, y, width and height."]
    problems = []
    for key in (*GEOMETRY_KEYS, "rotation"):
        value = geo.get(key, 0)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(f"geometry.{key} must be a number.")
        elif abs(value) > 100_000:
            problems.append(f"geometry.{key} is out of range.")
    if not problems and (geo.get("width", 0) <= 0 or geo.get("height", 0) <= 0):
        problems.append("geometry width and height must be positive.")
    unknown = sorted(set(geo) - {*GEOMETRY_KEYS, "rotation"})
    if unknown:
        problems.append(f"geometry has unknown keys: {', '.join(unknown)}.")
    return problems


def geometry_clean(geo: dict[str, Any]) -> dict[str, float]:
    """The stored form of a valid rectangle: numbers rounded, rotation in [0, 360)."""
    out = {k: round(float(geo[k]), 2) for k in GEOMETRY_KEYS}
    out["rotation"] = round(float(geo.get("rotation", 0) or 0) % 360, 2)
    return out


def corners(geo: dict[str, Any]) -> list[tuple[float, float]]:
    x, y, w, h = (float(geo[k]) for k in GEOMETRY_KEYS)
    cx, cy = x + w / 2, y + h / 2
    a = math.radians(float(geo.get("rotation", 0) or 0))
    cos, sin = math.cos(a), math.sin(a)
    out = []
    for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h)):
        dx, dy = px - cx, py - cy
        out.append((cx + dx * cos - dy * sin, cy + dx * sin + dy * cos))
    return out


def overlaps(a: dict[str, Any], b: dict[str, Any], *, tolerance: float = 0.01) -> bool:
    """Whether two (rotated) rectangles share area; separating-axis test on their edges."""
    pa, pb = corners(a), corners(b)
    for poly in (pa, pb):
        for i in range(4):
            (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % 4]
            nx, ny = y2 - y1, x1 - x2
            length = math.hypot(nx, ny) or 1.0
            nx, ny = nx / length, ny / length
            da = [px * nx + py * ny for px, py in pa]
            db = [px * nx + py * ny for px, py in pb]
            if max(da) <= min(db) + tolerance or max(db) <= min(da) + tolerance:
                return False
    return True


def overlap_problems(named: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One message per overlapping pair of ``(name, geometry)``."""
    problems = []
    for i, (name_a, geo_a) in enumerate(named):
        for name_b, geo_b in named[i + 1 :]:
            if overlaps(geo_a, geo_b):
                problems.append(f"Sections '{name_a}' and '{name_b}' overlap on the map; move one of them.")
    return problems


def place(
    taken: Iterable[dict[str, Any]], *, width: float = DEFAULT_SIZE[0], height: float = DEFAULT_SIZE[1]
) -> dict[str, float]:
    """A free spot for a ``width`` x ``height`` section: first in reading order (top to bottom,
    left to right) that overlaps none of ``taken``, ``PLACEMENT_GAP`` from its neighbours.
    Candidates are the map's corner and the right and bottom edges of what is there, so a
    spot is always found (below everything, at worst)."""
    taken = list(taken)
    xs = {0.0}
    ys = {0.0}
    for geo in taken:
        pts = corners(geo)
        xs.add(max(p[0] for p in pts) + PLACEMENT_GAP)
        ys.add(max(p[1] for p in pts) + PLACEMENT_GAP)
    for y in sorted(ys):
        for x in sorted(xs):
            if x + width > MAP_WIDTH and x > 0:
                continue
            candidate = {"x": x, "y": y, "width": width, "height": height, "rotation": 0}
            padded = {
                "x": x - PLACEMENT_GAP / 2,
                "y": y - PLACEMENT_GAP / 2,
                "width": width + PLACEMENT_GAP,
                "height": height + PLACEMENT_GAP,
            }
            if not any(overlaps(padded, geo) for geo in taken):
                return geometry_clean(candidate)
    raise AssertionError("unreachable: the row below everything is free")


@dataclass(frozen=True)
class RowPlan:
    """How seats are laid out in a reserved section (the editor's generator form)."""

    rows: list[tuple[str, int]]
    numbering: str = "ltr"  # seat 1 on the left ("ltr") or on the right ("rtl"), seen from the stage side
    aisles_after: tuple[int, ...] = ()  # a one-seat gap after these seat positions (1-based, from the left)
    curve: float = 0.0  # 0 straight; up to 1: rows bend around the stage by a quarter of the section height
    first_row_accessible: bool = True


def seat_positions(geo: dict[str, Any], plan: RowPlan) -> list[dict[str, Any]]:
    """Seats of a reserved section in map units: row by row (best row first, nearest the
    stage at the top edge), left to right, rotated with the section.

    Each seat: ``row_label``, ``label``, ``row_rank``, ``position`` (left to right, so
    consecutive positions are neighbours), ``x``, ``y``, ``accessible``."""
    x0, y0, width, height = (float(geo[k]) for k in GEOMETRY_KEYS)
    cx, cy = x0 + width / 2, y0 + height / 2
    angle = math.radians(float(geo.get("rotation", 0) or 0))
    cos, sin = math.cos(angle), math.sin(angle)
    aisles = sorted(set(plan.aisles_after))
    widest = max(n for _, n in plan.rows)
    columns = widest + sum(1 for a in aisles if a < widest)
    depth = max(0.0, min(1.0, plan.curve)) * height / 4
    row_height = (height - depth) / len(plan.rows)
    out = []
    for rank, (row_label, count) in enumerate(plan.rows):
        offset = (widest - count) / 2  # shorter rows are centred
        for i in range(count):
            column = offset + i + sum(1 for a in aisles if a <= i)
            fx = (column + 0.5) / columns
            lx = x0 + fx * width
            t = 2 * fx - 1
            ly = y0 + (rank + 0.5) * row_height + depth * (1 - t * t)
            dx, dy = lx - cx, ly - cy
            label = i + 1 if plan.numbering == "ltr" else count - i
            out.append(
                {
                    "row_label": row_label,
                    "label": str(label),
                    "row_rank": rank,
                    "position": i,
                    "x": round(cx + dx * cos - dy * sin, 2),
                    "y": round(cy + dx * sin + dy * cos, 2),
                    "accessible": plan.first_row_accessible and rank == 0 and i in (0, count - 1),
                }
            )
    return out


def spot_positions(geo: dict[str, Any], capacity: int) -> list[dict[str, Any]]:
    """General admission: ``capacity`` unlabeled spots on a grid, rotated with the section."""
    x0, y0, width, height = (float(geo[k]) for k in GEOMETRY_KEYS)
    cx, cy = x0 + width / 2, y0 + height / 2
    angle = math.radians(float(geo.get("rotation", 0) or 0))
    cos, sin = math.cos(angle), math.sin(angle)
    cols = max(1, math.ceil(math.sqrt(capacity * width / height)))
    rows = math.ceil(capacity / cols)
    out = []
    for i in range(capacity):
        r, c = divmod(i, cols)
        dx = x0 + (c + 0.5) * width / cols - cx
        dy = y0 + (r + 0.5) * height / rows - cy
        out.append(
            {
                "row_label": "",
                "label": str(i + 1),
                "row_rank": 0,
                "position": i,
                "x": round(cx + dx * cos - dy * sin, 2),
                "y": round(cy + dx * sin + dy * cos, 2),
                "accessible": False,
            }
        )
    return out
