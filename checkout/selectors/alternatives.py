"""What a "seats taken" answer offers: the taken seats by name and the nearest free block.

Read after the refused claim has rolled back, with no lock: the alternatives are a
suggestion, claimed (or refused again) like any other pick.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from django.utils.translation import gettext

from checkout.models import SeatInventory
from checkout.services.best_available import Spot, best_blocks


def seat_name(*, section: str, row: str, label: str) -> str:
    if row:
        return gettext("%(section)s, Row %(row)s seat %(seat)s") % {
            "section": section,
            "row": row,
            "seat": label,
        }
    return gettext("%(section)s, spot %(seat)s") % {"section": section, "seat": label}


def taken_with_alternatives(
    *, event_id: int, requested: list[int], taken: list[int], now: dt.datetime
) -> dict[str, Any]:
    """Names of the ``taken`` seats and, per section, the free block nearest the ``requested`` ones.

    The block has as many seats as were requested in that section, adjacent in one row when
    possible, chosen among ``best_blocks``' candidates by distance on the map from the
    requested seats (ties: ``best_blocks``' order). Returns ``{"seats": [...], "alternatives":
    [...]}``, each seat as ``{"seat_id", "section_id", "section", "row", "label", "name"}``.
    """
    wanted = (
        SeatInventory.objects.filter(event_id=event_id, seat_id__in=requested)
        .select_related("seat", "section")
        .order_by("section__display_order", "seat__row_rank", "seat__position")
    )
    per_section: dict[int, list[SeatInventory]] = defaultdict(list)
    for row in wanted:
        per_section[row.section_id].append(row)
    taken_set = set(taken)
    seats = [_describe(r) for rows in per_section.values() for r in rows if r.seat_id in taken_set]
    alternatives: list[dict[str, Any]] = []
    for section_id, rows in per_section.items():
        if not taken_set.intersection(r.seat_id for r in rows):
            continue
        alternatives += _nearest_block(event_id=event_id, section_id=section_id, near=rows, now=now)
    return {"seats": seats, "alternatives": alternatives}


def _describe(row: SeatInventory) -> dict[str, Any]:
    section, seat = row.section.name, row.seat
    return {
        "seat_id": row.seat_id,
        "section_id": row.section_id,
        "section": section,
        "row": seat.row_label,
        "label": seat.label,
        "name": seat_name(section=section, row=seat.row_label, label=seat.label),
    }


def _nearest_block(
    *, event_id: int, section_id: int, near: list[SeatInventory], now: dt.datetime
) -> list[dict[str, Any]]:
    rows = {
        r.pk: r
        for r in SeatInventory.objects.filter(event_id=event_id, section_id=section_id).select_related(
            "seat", "section"
        )
    }
    spots = [
        Spot(r.pk, r.seat_id, r.status, r.hold_expires_at, r.seat.row_rank, r.seat.row_label, r.seat.position)
        for r in rows.values()
    ]
    cx = sum(r.seat.x for r in near) / len(near)
    cy = sum(r.seat.y for r in near) / len(near)

    def distance(block: list[int]) -> float:
        bx = sum(rows[pk].seat.x for pk in block) / len(block)
        by = sum(rows[pk].seat.y for pk in block) / len(block)
        return math.hypot(bx - cx, by - cy)

    blocks = best_blocks(spots, len(near), now)
    if not blocks:
        return []
    block = min(enumerate(blocks), key=lambda item: (distance(item[1]), item[0]))[1]
    return [_describe(rows[pk]) for pk in sorted(block, key=lambda pk: rows[pk].seat.position)]
