"""Reads of the waiting room's admission: who counts as checking out, and a pass as shown.

The one rule: a pass counts against the room's limit while it is ``admitted`` and
``admitted_until`` is ahead, or ``checking_out`` and its hold is live at ``now`` (an expired
hold stops counting the instant it expires, whether or not the sweeper has run). Spelled once
in SQL (``LIVE_PASS_SQL``, for counts under the room's lock) and once for a row in memory
(``pass_state_at``); they must agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from checkout.models import LIVE_HOLD_STATUSES, AdmissionPass, HoldStatus, PassState, WaitingRoom
from ticketing.core import sql

# ``p`` is checkout_admissionpass, ``h`` its hold (LEFT JOIN); parameters: now, live statuses, now.
LIVE_PASS_SQL = (
    "coalesce((p.state = 'admitted' AND p.admitted_until > %s)"
    " OR (p.state = 'checking_out' AND h.status = ANY(%s) AND h.expires_at > %s), false)"
)
LIVE_COUNT_SQL = f"""
    SELECT count(*) FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id
     WHERE p.event_id = %s AND p.state IN ('admitted', 'checking_out') AND {LIVE_PASS_SQL}
"""


# What a grant counts (under the room's lock, right after closing every lapsed unused pass it
# could lock): every pass still ``admitted`` - a lapsed one left open is locked by a hold that
# is binding it at this moment, with a ``now`` read before it lapsed, so it may yet become
# checking out - and every pass checking out on a live hold.
GRANT_COUNT_SQL = """
    SELECT count(*) FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id
     WHERE p.event_id = %s AND (p.state = 'admitted'
           OR (p.state = 'checking_out' AND h.status = ANY(%s) AND h.expires_at > %s))
"""


ROOM_FREE_SQL = f"""
    SELECT r.enabled AND NOT r.paused AND r.checkout_limit > (
           SELECT count(*) FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id
            WHERE p.event_id = r.event_id AND p.state IN ('admitted', 'checking_out') AND {LIVE_PASS_SQL})
      FROM checkout_waitingroom r WHERE r.event_id = %s
"""


def room_has_free_slot(*, event_id: int, now: dt.datetime) -> bool:
    """Whether the room is admitting and fewer than its limit check out (one read, no lock: a
    hint for skipping a grant that would find nothing; ``passes_grant`` decides)."""
    found = sql.row(ROOM_FREE_SQL, [*live_params(now), event_id])
    return bool(found and found[0])


def grant_count(*, event_id: int, now: dt.datetime) -> int:
    """The count a grant compares with the limit (``GRANT_COUNT_SQL``); never below ``live_count``."""
    return sql.row(GRANT_COUNT_SQL, [event_id, list(LIVE_HOLD_STATUSES), now])[0]


def live_params(now: dt.datetime) -> list:
    return [now, list(LIVE_HOLD_STATUSES), now]


def live_count(*, event_id: int, now: dt.datetime) -> int:
    """How many buyers of the event are admitted or checking out at ``now``."""
    return sql.row(LIVE_COUNT_SQL, [event_id, *live_params(now)])[0]


def pass_state_at(
    *,
    state: str,
    admitted_until: dt.datetime,
    hold_status: str | None,
    hold_ends_at: dt.datetime | None,
    now: dt.datetime,
) -> str:
    """The state a pass is in at ``now``: its stored state, moved on by time (``LIVE_PASS_SQL``)."""
    if state == PassState.ADMITTED:
        return PassState.ADMITTED if admitted_until > now else PassState.EXPIRED
    if state == PassState.CHECKING_OUT:
        if hold_status in LIVE_HOLD_STATUSES and hold_ends_at and hold_ends_at > now:
            return PassState.CHECKING_OUT
        if hold_status in (HoldStatus.CONVERTED, HoldStatus.RELEASED):
            return PassState.DONE
        return PassState.EXPIRED
    return state


@dataclass(frozen=True)
class PassView:
    id: int
    state: str
    admitted_until: dt.datetime
    hold_id: int | None
    hold_ends_at: dt.datetime | None


def pass_view(*, pass_id: int, now: dt.datetime) -> PassView | None:
    """One pass as its buyer sees it at ``now`` (one read)."""
    found = sql.row(
        "SELECT p.id, p.state, p.admitted_until, p.hold_id, h.status, h.expires_at"
        " FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id WHERE p.id = %s",
        [pass_id],
    )
    if found is None:
        return None
    pid, state, until, hold_id, hold_status, hold_expires = found
    shown = pass_state_at(
        state=state, admitted_until=until, hold_status=hold_status, hold_ends_at=hold_expires, now=now
    )
    return PassView(id=pid, state=shown, admitted_until=until, hold_id=hold_id, hold_ends_at=hold_expires)


def user_pass(*, user_id: int, event_id: int, now: dt.datetime) -> PassView | None:
    """The buyer's usable pass for the event at ``now`` (admitted or checking out), if any."""
    pid = (
        AdmissionPass.objects.filter(
            user_id=user_id, event_id=event_id, state__in=["admitted", "checking_out"]
        )
        .values_list("pk", flat=True)
        .first()
    )
    view = pass_view(pass_id=pid, now=now) if pid else None
    return view if view and view.state in (PassState.ADMITTED, PassState.CHECKING_OUT) else None


def room_get(*, event_id: int) -> WaitingRoom | None:
    return WaitingRoom.objects.filter(event_id=event_id).first()


# Whether the event ``e`` has its waiting room on, as a column for other apps' reads (the
# queue's join reads it with the event in one round trip); ``room_enabled`` is the same rule.
ROOM_ENABLED_SQL = "EXISTS (SELECT 1 FROM checkout_waitingroom r WHERE r.event_id = e.id AND r.enabled)"


def room_enabled(*, event_id: int) -> bool:
    return WaitingRoom.objects.filter(event_id=event_id, enabled=True).exists()


def admitted_per_minute(*, event_id: int, now: dt.datetime, window_seconds: int = 300) -> float:
    """Passes granted per minute over the last ``window_seconds`` (the queue's estimate)."""
    since = now - dt.timedelta(seconds=window_seconds)
    count = AdmissionPass.objects.filter(event_id=event_id, admitted_at__gt=since).count()
    return count * 60.0 / window_seconds


def room_stats(*, event_id: int, now: dt.datetime) -> dict:
    """Admitted (not yet holding), checking out, and admitted per minute, for staff."""
    found = sql.row(
        f"""SELECT count(*) FILTER (WHERE p.state = 'admitted'),
                   count(*) FILTER (WHERE p.state = 'checking_out')
              FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id
             WHERE p.event_id = %s AND p.state IN ('admitted', 'checking_out') AND {LIVE_PASS_SQL}""",
        [event_id, *live_params(now)],
    )
    return {
        "admitted": found[0],
        "checking_out": found[1],
        "admitted_per_minute": round(admitted_per_minute(event_id=event_id, now=now), 1),
    }
