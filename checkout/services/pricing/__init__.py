"""What each held seat costs: ticket type, price, discount and fee, fixed when it is held.

The one home of these rules (docs/ticket-types.md):

- A seat is sold as exactly one type. No type is the *standard* price: the event's ``Price``
  rows, public, inside the event's own sales window, uncapped. Other types
  (``events.TicketType``) have their own price per section, window, cap, per-order maximum and
  visibility.
- The buyer names a type per seat, or gets the default: the cheapest type on sale for the seat
  (window open, priced in its section, cap and per-order maximum not reached, public or unlocked
  by the buyer's presale code). So an early bird is the default until its date or its cap, then
  the next type takes over.
- Codes (``checkout.Code``) are stored normalised (``code_normalise``). A presale code unlocks
  its types and lets its holder buy before the event's sales open; a promo code takes a percent
  or a fixed amount off each ticket of its types, or once off the order.
- Money is integer minor units (cents) here, ``Decimal`` with two places in the columns; never
  floats. A percentage is rounded half up per ticket; an order discount is split across the
  discounted tickets in proportion to their prices (largest remainder), so the ticket lines sum
  to it exactly. The service fee is per ticket, the order fee once per order. A ticket's line is
  ``price - discount + fee``; the order's total is its lines plus the order fee, and a refund
  gives back the charge, which is that total.
- Caps and code uses are counted race-proof (``quota_take``: one conditional upsert/update
  inside the hold's transaction) and given back when the hold ends (``quota_return_holds``,
  called by ``holds_end``) or its order is cancelled (``quota_return_order``).

The package: ``money`` (minor units, rounding, splits), ``catalog`` (what an event offers, read in
one statement), ``rules`` (a hold's lines: types, default, maximums, discounts; pure), ``quotas``
(counting caps and code uses race-proof, giving them back). Callers use this package's names.
"""

from checkout.services.pricing.catalog import (
    CATALOG_COLUMN_COUNT,
    CATALOG_COLUMNS_SQL,
    CODE_MAX_LENGTH,
    STANDARD,
    Catalog,
    CodeInfo,
    TypeInfo,
    catalog_from_row,
    catalog_read,
    code_normalise,
)
from checkout.services.pricing.money import CENT, allocate, from_minor, percent_of, to_minor
from checkout.services.pricing.quotas import (
    TYPE_FALLBACKS,
    hold_price_counted,
    quota_return_holds,
    quota_return_order,
    quota_take,
)
from checkout.services.pricing.rules import (
    DEFAULT_CHOICE,
    Choice,
    Line,
    Priced,
    allowed_types,
    choice_validate,
    hold_price,
)

__all__ = [
    "CATALOG_COLUMNS_SQL",
    "CATALOG_COLUMN_COUNT",
    "CENT",
    "CODE_MAX_LENGTH",
    "DEFAULT_CHOICE",
    "STANDARD",
    "TYPE_FALLBACKS",
    "Catalog",
    "Choice",
    "CodeInfo",
    "Line",
    "Priced",
    "TypeInfo",
    "allocate",
    "allowed_types",
    "catalog_from_row",
    "catalog_read",
    "choice_validate",
    "code_normalise",
    "from_minor",
    "hold_price",
    "hold_price_counted",
    "percent_of",
    "quota_return_holds",
    "quota_return_order",
    "quota_take",
    "to_minor",
]
