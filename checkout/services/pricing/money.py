"""Money in integer minor units (cents): conversions, percentages, exact splits. Never floats."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_minor(amount: Decimal | int | str) -> int:
    """An amount in the currency's units as integer minor units (half up at the third place)."""
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)


def percent_of(minor: int, percent: Decimal) -> int:
    """``percent`` % of ``minor``, rounded half up to a whole minor unit."""
    return int((Decimal(minor) * Decimal(percent) / 100).to_integral_value(rounding=ROUND_HALF_UP))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts sum to it exactly:
    each part rounded down, the cents left over going to the largest remainders (first on ties)."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts
