"""What the buyer's pages show of ticket types and fees: the event page's price list and the
hold page's type choices per seat. The rules are ``checkout/services/pricing/``'s; this only
reads them (catalog reads, not on the hold's hot path)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from checkout.models import Hold
from checkout.services import pricing
from events.models import Section


def event_price_list(*, event_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """The event page's price list: one row per type on sale at ``now`` and section (the
    standard price first), with the fees shown apart.

    ``{"rows": [{"type", "section", "price", "sold_out", "sales_end"}], "service_fee",
    "order_fee", "currency"}``. Public types only: a presale type shows on the hold page of a
    buyer who entered its code.
    """
    now = now or timezone.now()
    catalog = pricing.catalog_read(event_id=event_id)
    sections = Section.objects.filter(pk__in=catalog.standard).order_by("display_order", "id")
    names = {s.pk: s.name for s in sections}
    rows = [
        {
            "type": gettext("Standard"),
            "section": names[sid],
            "price": pricing.from_minor(amount),
            "sold_out": False,
        }
        for sid, amount in sorted(catalog.standard.items(), key=lambda item: list(names).index(item[0]))
    ]
    for info in sorted(catalog.types.values(), key=lambda t: (t.sort_order, t.id)):
        if info.visibility != "public" or not info.on_sale(now):
            continue
        for sid in names:
            if sid in info.prices:
                rows.append(
                    {
                        "type": info.name,
                        "section": names[sid],
                        "price": pricing.from_minor(info.prices[sid]),
                        "sold_out": info.quota is not None and info.used >= info.quota,
                        "sales_end": info.sales_end,
                    }
                )
    return {
        "rows": rows,
        "has_types": any(info.visibility == "public" for info in catalog.types.values()),
        "service_fee": pricing.from_minor(catalog.service_fee),
        "order_fee": pricing.from_minor(catalog.order_fee),
        "currency": catalog.currency,
    }


def hold_type_options(
    *, hold: Hold, seats: list[dict[str, Any]], now: dt.datetime | None = None
) -> dict[str, Any]:
    """For the hold page: per held seat (``seats``: ``hold_detail``'s, with ``id`` and
    ``section_id``), the types the buyer may pick now (with the hold's presale code), each with
    its price in the seat's section; and the codes the hold has. One read (the catalog), given
    the hold with its event and codes (``buyer.hold_get``).

    ``{"seats": {seat_id: [{"id", "name", "price"}]}, "codes": [str]}``; type id 0 is the
    standard price.
    """
    now = now or timezone.now()
    codes = [c.code for c in (hold.access_code, hold.promo_code) if c is not None]
    catalog = pricing.catalog_read(event_id=hold.event_id, codes=codes)
    presale = catalog.codes.get(hold.access_code.code) if hold.access_code else None
    allowed = pricing.allowed_types(
        catalog, presale=presale, general_sale=hold.event.sales_open(now), now=now
    )
    options: dict[int, list[dict[str, Any]]] = {}
    for seat in seats:
        found = []
        for type_id in allowed:
            prices = catalog.standard if type_id is None else catalog.types[type_id].prices
            amount = prices.get(seat["section_id"])
            if amount is None:
                continue
            name = gettext("Standard") if type_id is None else catalog.types[type_id].name
            found.append(
                {"id": type_id or pricing.STANDARD, "name": name, "price": pricing.from_minor(amount)}
            )
        options[seat["id"]] = sorted(found, key=lambda o: (o["price"], o["name"]))
    return {"seats": options, "codes": codes}
