"""Wall-clock time at a venue: the one place that turns what staff type into an instant.

Staff think in the venue's time ("doors at 19:30 in Berlin"); the database stores UTC. A
local time without an offset is read in the venue's IANA zone, and the two daylight-saving
edges are refused with words rather than guessed: a time in the spring gap does not exist,
and a time in the autumn fold happens twice (an API client can name the offset it means).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import formats


class LocalTimeProblem(ValueError):
    """A wall-clock time that is not exactly one instant in the zone (``code`` says why)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _offset(value: dt.datetime) -> str:
    return value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]


def venue_localize(value: dt.datetime, tz_name: str) -> dt.datetime:
    """``value`` as an aware datetime: an aware one unchanged, a naive one read in ``tz_name``.

    Raises ``LocalTimeProblem`` (code ``dst_gap`` or ``dst_fold``) for a naive time the
    clocks skip or pass twice.
    """
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value
    tz = zone(tz_name)
    first = value.replace(tzinfo=tz, fold=0)
    second = value.replace(tzinfo=tz, fold=1)
    when = f"{value:%Y-%m-%d %H:%M}"
    round_trip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != value.replace(tzinfo=None):
        before = (first - dt.timedelta(hours=3)).astimezone(tz)
        after = (first + dt.timedelta(hours=3)).astimezone(tz)
        raise LocalTimeProblem(
            f"{when} does not exist in {tz_name}: the clocks jump forward that night "
            f"(from {_offset(before)} to {_offset(after)}). Choose a time outside the gap.",
            "dst_gap",
        )
    if first.utcoffset() != second.utcoffset():
        raise LocalTimeProblem(
            f"{when} happens twice in {tz_name}: the clocks go back that night. "
            f"Choose another time, or give the offset ({_offset(first)} or {_offset(second)}).",
            "dst_fold",
        )
    return first


def venue_local(value: dt.datetime | None, tz_name: str) -> dt.datetime | None:
    """An instant as the venue's wall clock (aware, with the venue's offset)."""
    return None if value is None else value.astimezone(zone(tz_name))


def venue_isoformat(value: dt.datetime | None, tz_name: str) -> str | None:
    """ISO 8601 with the venue's offset: what the API returns for every event time."""
    local = venue_local(value, tz_name)
    return None if local is None else local.isoformat()


def venue_display(value: dt.datetime | None, tz_name: str) -> str:
    """``2026-03-28 19:30 (+01:00 Europe/Berlin)``: how staff pages show an instant."""
    local = venue_local(value, tz_name)
    if local is None:
        return "-"
    return f"{formats.date_format(local, 'Y-m-d H:i')} ({_offset(local)} {tz_name})"
