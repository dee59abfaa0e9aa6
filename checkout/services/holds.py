"""Holds: seats set aside for one buyer until they expire, are released, or are bought.

Lock order, everywhere in checkout (this is what rules out deadlocks):

1. at most one hold or order row, waited for while holding no other lock;
2. inventory rows, waited for in primary-key order (``ticketing.core.locks``);
3. anything locked after inventory rows (the holds a claim retires, their other seats) is
   taken with ``SKIP LOCKED``: never waited for, so no cycle can form.

A held seat whose ``hold_expires_at`` has passed is free for every claim and count at
once; the claim that takes it retires the expired hold (the sweeper only tidies up).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from checkout.errors import (
    CodeInvalid,
    CodeUsedUp,
    EventNotOnSale,
    ExtensionLimit,
    HoldExists,
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
    SalesClosed,
    SeatsNotFound,
    SeatsUnavailable,
    TooManySeats,
    TypeSoldOut,
)
from checkout.models import (
    LIVE_HOLD_STATUSES,
    AuditAction,
    CodeKind,
    Hold,
    HoldKind,
    HoldStatus,
    PassState,
    Payment,
    SeatInventory,
    SeatStatus,
)
from checkout.selectors import alternatives
from checkout.selectors.availability import free_q, row_is_free
from checkout.services import admission, hooks, pricing
from checkout.services.best_available import best_available_lock
from checkout.services.common import (
    audit_record,
    audit_refusal,
    inventory_change_ctes,
    inventory_changed,
    params_merged,
)
from events.errors import EventNotFound
from events.models import Event, EventStatus
from ticketing.core import sql
from ticketing.core.errors import ValidationFailed
from ticketing.core.locks import (
    LOCK_TIMEOUT_SQL,
    busy_on_lock_timeout,
    lock_rows,
    lock_rows_sql,
    lock_timeout_value,
    set_lock_timeout,
)
from ticketing.core.venue_time import venue_display
from ticketing.ops import metrics

# A best-available hold that leaves at least this many seats of its section free (as it read
# them) cannot have sold the event out, even if every other request in flight (processes x
# admitted requests x 10 seats) took seats of that section at the same time: it skips the
# sold-out refresh after commit.
SOLD_OUT_MARGIN_SEATS = 200


def _validate_request(
    seat_ids: Iterable[int] | None, section_id: int | None, quantity: int | None
) -> tuple[list[int] | None, int | None, int | None]:
    most = settings.TICKETING_MAX_SEATS_PER_HOLD
    if seat_ids is not None:
        if section_id is not None or quantity is not None:
            raise ValidationFailed(gettext("Give either seat_ids, or section_id with quantity; not both."))
        ids = sorted({int(s) for s in seat_ids})
        if not ids:
            raise ValidationFailed(gettext("Name at least one seat."))
        if len(ids) > most:
            raise TooManySeats(_at_most(most), extra={"max": most, "requested": len(ids)})
        return ids, None, None
    if section_id is None or quantity is None:
        raise ValidationFailed(gettext("Give seat_ids, or section_id with quantity."))
    if quantity < 1:
        raise ValidationFailed(gettext("quantity must be at least 1."))
    if quantity > most:
        raise TooManySeats(_at_most(most), extra={"max": most, "requested": quantity})
    return None, int(section_id), int(quantity)


# What a hold needs of its event, in the model's field order (``Model.from_db``).
_SALE_FIELDS = [
    f.attname
    for f in Event._meta.concrete_fields
    if f.attname
    in {
        "id",
        "starts_at",
        "timezone",
        "sales_open_at",
        "sales_close_at",
        "status",
        "sold_out",
        "sold_out_until",
    }
]
# The transaction's lock timeout, the event, the buyer's live hold of it if any (and whether
# the buyer has any hold of it in a live status, expired or not), and the id the new hold will
# have (``_HOLD_ID_SQL``): one round trip at the start of every hold.
_HOLD_ID_SQL = "nextval(pg_get_serial_sequence('checkout_hold', 'id'))"
_EVENT_FOR_HOLD_SQL = f"""
    SELECT {LOCK_TIMEOUT_SQL}, {_HOLD_ID_SQL},
           (SELECT h.id FROM checkout_hold h
             WHERE h.user_id = %s AND h.event_id = e.id AND h.status = ANY(%s) AND h.expires_at > %s
             LIMIT 1),
           EXISTS (SELECT 1 FROM checkout_hold h
                    WHERE h.user_id = %s AND h.event_id = e.id AND h.status = ANY(%s)),
           (SELECT r.enabled FROM checkout_waitingroom r WHERE r.event_id = e.id),
           {", ".join(f"e.{f}" for f in _SALE_FIELDS)},
           {pricing.CATALOG_COLUMNS_SQL}
      FROM events_event e WHERE e.id = %s
"""


def _event_on_sale(
    event_id: int, now: dt.datetime, user: Any, choice: pricing.Choice = pricing.DEFAULT_CHOICE
) -> tuple[Event, pricing.Catalog, bool]:
    """The event, if it sells at ``now``, and the buyer holds none of its seats yet (a cheap
    early answer; ``hold_claim_seats`` re-checks under lock), with its pricing catalog and
    whether its general sale is open (before it, only a presale code's holder gets this far).
    Also sets the lock timeout. ``event.waiting_room_on``: whether a hold needs an admission
    pass; ``event.hold_id_drawn``: the id for the hold, ``event.buyer_had_live_holds``: whether
    the buyer had any hold of the event in a live status, expired or not (``hold_claim_seats``)."""
    found = sql.row(
        _EVENT_FOR_HOLD_SQL,
        [
            lock_timeout_value(),
            user.pk,
            list(LIVE_HOLD_STATUSES),
            now,
            user.pk,
            list(LIVE_HOLD_STATUSES),
            list(choice.codes),
            event_id,
        ],
    )
    if found is None:
        raise EventNotFound(extra={"event_id": event_id})
    cut = 5 + len(_SALE_FIELDS)
    event = Event.from_db("default", _SALE_FIELDS, found[5:cut])
    # The waiting room's switch came with the event: no extra round trip when it is off.
    event.waiting_room_on = bool(found[4])
    event.hold_id_drawn = found[1]
    event.buyer_had_live_holds = found[3]
    catalog = pricing.catalog_from_row(found[cut:])
    general_sale = event.sales_open(now)
    if not general_sale and not (_before_opening(event, now) and _presale_entered(catalog, choice)):
        _refuse_closed(event, now)
    if found[2]:
        raise HoldExists(extra={"hold_id": found[2]})
    return event, catalog, general_sale


def _before_opening(event: Event, now: dt.datetime) -> bool:
    """On sale, but its sales window has not opened yet."""
    return (
        event.status == EventStatus.ON_SALE
        and event.sales_open_at is not None
        and now < event.sales_open_at
        and now < event.starts_at
    )


def _presale_entered(catalog: pricing.Catalog, choice: pricing.Choice) -> bool:
    """A presale code was entered (whether it is valid now, ``pricing.hold_price`` says).
    Raises ``CodeInvalid`` for a code the event does not have: the buyer mistyped it."""
    unknown = [code for code in choice.codes if code not in catalog.codes]
    if unknown:
        raise CodeInvalid(extra={"code": unknown[0]})
    return any(c.kind == CodeKind.PRESALE for c in catalog.codes.values())


def _refuse_closed(event: Event, now: dt.datetime) -> None:
    extra = {
        "event_status": event.status,
        "sales_open_at": event.sales_open_at.isoformat() if event.sales_open_at else None,
        "sales_close_at": event.sales_close_at.isoformat() if event.sales_close_at else None,
    }
    if _before_opening(event, now):
        when = venue_display(event.sales_open_at, event.timezone)
        raise EventNotOnSale(gettext("On sale from %(when)s.") % {"when": when}, extra=extra)
    raise SalesClosed(extra=extra)


def hold_create(
    *,
    user: Any,
    event_id: int,
    seat_ids: Iterable[int] | None = None,
    section_id: int | None = None,
    quantity: int | None = None,
    kind: str = HoldKind.REGULAR,
    duration: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    ticket_types: dict[int, int] | None = None,
    ticket_type_id: int | None = None,
    codes: Iterable[str] = (),
) -> Hold:
    """Hold the named seats, or the best ``quantity`` adjacent seats of a section: all or none.

    ``ticket_types`` names a type per seat (``{seat_id: type_id}``), ``ticket_type_id`` one for
    every seat (``pricing.STANDARD``: the standard price); unnamed seats get the default type.
    ``codes``: a presale and/or a promo code. Prices are fixed on the held seats
    (``checkout/services/pricing/``).

    Raises ``TooManySeats`` / ``ValidationFailed`` (bad request), ``EventNotFound``,
    ``SeatsNotFound`` (seat or section not at this event), ``SalesClosed``, ``QueueRequired``
    (the event has a waiting room and the buyer no unused turn), ``HoldExists``
    (``extra["hold_id"]``), ``SeatsUnavailable`` (``extra["seat_ids"]``: the taken ones),
    ``EventNotOnSale`` (before the sales window; a ``SalesClosed``), ``TypeSoldOut``,
    ``TypeNotOnSale``, ``PerOrderMax``, ``CodeInvalid``, ``CodeUsedUp`` and ``Busy`` (lock wait
    timed out; retry). Refusals are audited after the rollback.
    """
    now = now or timezone.now()
    ids, section_id, quantity = _validate_request(seat_ids, section_id, quantity)
    choice = pricing.choice_validate(
        ticket_types=ticket_types, ticket_type_id=ticket_type_id, codes=codes, seat_ids=ids or []
    )
    if duration is None:
        seconds = (
            settings.TICKETING_OFFER_SECONDS if kind == HoldKind.OFFER else settings.TICKETING_HOLD_SECONDS
        )
        duration = dt.timedelta(seconds=seconds)
    try:
        with busy_on_lock_timeout(), transaction.atomic():
            event, catalog, general_sale = _event_on_sale(event_id, now, user, choice)
            # The buyer's turn is locked before any seat (services/admission.py).
            pass_id = (
                admission.pass_take(user=user, event_id=event.pk, now=now) if event.waiting_room_on else None
            )
            sold_out_may_change = True
            if ids is not None:
                rows = lock_rows(SeatInventory.objects.filter(event=event, seat_id__in=ids))
                if len(rows) != len(ids):
                    missing = sorted(set(ids) - {r.seat_id for r in rows})
                    raise SeatsNotFound(extra={"seat_ids": missing})
            else:
                rows, free_after = best_available_lock(
                    event=event, section_id=section_id, quantity=quantity, now=now
                )
                # Seats stay free in the section after this hold: the event is not sold out. The
                # margin covers concurrent holds that read the same free seats and commit first.
                sold_out_may_change = event.sold_out or free_after < SOLD_OUT_MARGIN_SEATS
            hold = hold_claim_seats(
                user=user,
                event=event,
                seats_rows=rows,
                kind=kind,
                expires_at=now + duration,
                now=now,
                sold_out_may_change=sold_out_may_change,
                choice=choice,
                catalog=catalog,
                general_sale=general_sale,
                new_hold_id=event.hold_id_drawn,
                own_holds_possible=event.buyer_had_live_holds,
            )
            if pass_id is not None:
                admission.pass_bind(pass_id=pass_id, hold_id=hold.pk)
            return hold
    except (SeatsUnavailable, HoldExists, SalesClosed, TypeSoldOut, CodeUsedUp) as exc:
        audit_refusal(
            action=AuditAction.HOLD_REFUSED,
            at=now,
            actor=user,
            event_id=event_id,
            reason=exc.code,
            data={"seat_ids": ids, "section_id": section_id, "quantity": quantity, **exc.extra},
        )
        if isinstance(exc, SeatsUnavailable) and ids and exc.extra.get("seat_ids"):
            _explain_taken(exc, event_id=event_id, requested=ids, now=now)
        raise


def _at_most(most: int) -> str:
    text = ngettext("At most %(count)s seat per hold.", "At most %(count)s seats per hold.", most)
    return text % {"count": most}


def _explain_taken(exc: SeatsUnavailable, *, event_id: int, requested: list[int], now: dt.datetime) -> None:
    """Name every taken seat in the message and offer the nearest free ones in ``extra``."""
    found = alternatives.taken_with_alternatives(
        event_id=event_id, requested=requested, taken=exc.extra["seat_ids"], now=now
    )
    exc.extra.update(found)
    names = [seat["name"] for seat in found["seats"]]
    exc.message = ngettext(
        "This seat was just taken: %(seats)s.", "These seats were just taken: %(seats)s.", len(names)
    ) % {"seats": "; ".join(names)}


def hold_claim_seats(
    *,
    user: Any,
    event: Event,
    seats_rows: list[SeatInventory],
    kind: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    sold_out_may_change: bool = True,
    choice: pricing.Choice = pricing.DEFAULT_CHOICE,
    catalog: pricing.Catalog | None = None,
    general_sale: bool = True,
    new_hold_id: int | None = None,
    own_holds_possible: bool = True,
) -> Hold:
    """Create a hold of ``kind`` for ``user`` on exactly ``seats_rows``; the reusable core of a claim.

    Preconditions: inside ``transaction.atomic()`` (the caller's; it commits or rolls back
    everything), the caller holds the row locks of ``seats_rows`` (``SeatInventory`` rows of
    ``event``, locked through ``ticketing.core.locks``) and has checked the event may sell. The
    waitlist uses this to turn released seats into an OFFER hold (``kind="offer"``,
    ``expires_at = now + TICKETING_OFFER_SECONDS``).

    Rows held by an expired hold count as free; that hold is retired (expired, its other seats
    freed, audited, announced after commit). An expired live hold of ``user`` is retired too.
    Bumps the inventory version, audits, registers the after-commit seat-map push (and the
    sold-out refresh, unless the caller knows seats stay free: ``sold_out_may_change=False``).
    Each seat is priced for ``choice`` (``catalog``: the event's, read here when not given) and its
    type's cap and the codes' uses are counted (``pricing.hold_price_counted``).
    ``new_hold_id``: the new hold's id, drawn from its sequence by the caller's first statement
    (else drawn here). ``own_holds_possible=False``: the caller's first statement saw no hold
    of ``user`` for ``event`` in a live status, so there is none of theirs to retire; one that
    appeared since is a concurrent claim's, which the unique index refuses (``HoldExists``) as
    the lock would.
    Raises ``SeatsUnavailable`` (``extra["seat_ids"]``), ``HoldExists`` (``extra["hold_id"]``) or
    a pricing error (``pricing.hold_price``); the caller's transaction must then roll back (the
    function may have retired holds already, and written the change's version bump and audit
    row with the hold it could not insert).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("hold_claim_seats needs the caller's transaction and row locks.")
    taken = sorted(r.seat_id for r in seats_rows if not row_is_free(r.status, r.hold_expires_at, now))
    if taken:
        raise SeatsUnavailable(extra={"seat_ids": taken})
    # After inventory locks nothing is waited for (see module docstring): a hold of the user's
    # that another transaction has locked is skipped here and caught by the unique constraint.
    own = (
        lock_rows_sql(
            table="checkout_hold",
            columns="checkout_hold.id, checkout_hold.expires_at",
            where="checkout_hold.user_id = %s AND checkout_hold.event_id = %s"
            " AND checkout_hold.status = ANY(%s)",
            params=[user.pk, event.pk, list(LIVE_HOLD_STATUSES)],
            skip_locked=True,
        )
        if own_holds_possible
        else []
    )
    for hold_id, hold_expires in own:
        if hold_expires > now:
            raise HoldExists(extra={"hold_id": hold_id})
    stale = {r.hold_id for r in seats_rows if r.hold_id is not None} | {hold_id for hold_id, _ in own}
    row_ids = [r.pk for r in seats_rows]
    if stale:
        holds_end(
            hold_ids=stale,
            status=HoldStatus.EXPIRED,
            now=now,
            reason="expired",
            keep_row_ids=row_ids,
            wait_for_rows=False,
        )
    priced = pricing.hold_price_counted(
        rows=seats_rows,
        catalog=catalog or pricing.catalog_read(event_id=event.pk, codes=choice.codes),
        choice=choice,
        general_sale=general_sale,
        now=now,
        reclaim=partial(expired_counted_retire, event_id=event.pk, now=now),
    )
    hold = Hold(
        id=new_hold_id if new_hold_id is not None else sql.row(f"SELECT {_HOLD_ID_SQL}")[0],
        event=event,
        user=user,
        kind=kind,
        status=HoldStatus.ACTIVE,
        created_at=now,
        expires_at=expires_at,
        order_fee=pricing.from_minor(priced.order_fee),
        promo_code_id=priced.promo_code_id,
        access_code_id=priced.access_code_id,
    )
    lines = priced.lines
    by_row = {r.pk: r for r in seats_rows}
    seat_ids = sorted(r.seat_id for r in seats_rows)
    inventory, inventory_params = inventory_change_ctes(
        event_id=event.pk,
        seat_ids=seat_ids,
        action=AuditAction.OFFER_CREATED if kind == HoldKind.OFFER else AuditAction.HOLD_CREATED,
        at=now,
        actor=user,
        hold_id=hold.pk,
        data={"seat_ids": seat_ids, "expires_at": expires_at.isoformat()},
        sold_out_may_change=sold_out_may_change,
    )
    params = params_merged(
        {f"new_hold_{f.attname}": getattr(hold, f.attname) for f in _HOLD_INSERT_FIELDS},
        {
            "held": SeatStatus.HELD,
            "until": expires_at,
            "now": now,
            "rows": [line.row_id for line in lines],
            "types": [line.type_id for line in lines],
            "prices": [pricing.from_minor(line.price) for line in lines],
            "discounts": [pricing.from_minor(line.discount) for line in lines],
            "fees": [pricing.from_minor(line.fee) for line in lines],
            "seat_ids": [by_row[line.row_id].seat_id for line in lines],
            "section_ids": [by_row[line.row_id].section_id for line in lines],
            "answer_event": event.pk,
        },
        inventory_params,
    )
    written = sql.rows(_HOLD_WRITE_SQL.format(inventory=inventory), params)
    if not written:
        other = (
            Hold.objects.filter(user=user, event=event, status__in=LIVE_HOLD_STATUSES)
            .values_list("pk", flat=True)
            .first()
        )
        raise HoldExists(extra={"hold_id": other})
    # For the buyer's answer (``selectors.buyer.hold_detail``), which then reads nothing.
    hold.lines_written = [line for line in written if line[0] is not None]
    transaction.on_commit(partial(metrics.hold_created, kind=kind))
    return hold


_HOLD_INSERT_FIELDS = list(Hold._meta.concrete_fields)
# The hold, its seats held (each with its line: type, price, discount, fee), the version bump
# and the audit row (``{inventory}``, the owner's CTEs), and the lines as the buyer's answer
# shows them (the rows of ``selectors.buyer._HOLD_SEATS_SQL``, built from the lines written: the
# statement's snapshot does not see its own updates): one round trip. ON CONFLICT instead of a
# savepoint around the insert: the one unique index a new hold can meet is "one live hold per
# buyer and event" (a concurrent claim of the same buyer); then no seat is held and no line
# comes back (they join the inserted row), and the caller rolls back the rest.
_HOLD_WRITE_SQL = f"""
    WITH new_hold AS (
        INSERT INTO checkout_hold ({", ".join(f.column for f in _HOLD_INSERT_FIELDS)})
        VALUES ({", ".join(f"%(new_hold_{f.attname})s" for f in _HOLD_INSERT_FIELDS)})
        ON CONFLICT DO NOTHING RETURNING id
    ), seats AS (
        UPDATE checkout_seatinventory AS i
           SET status = %(held)s, hold_id = h.id, hold_expires_at = %(until)s, updated_at = %(now)s,
               ticket_type_id = l.type_id, price = l.price, discount = l.discount, fee = l.fee
          FROM new_hold h,
               unnest(%(rows)s::bigint[], %(types)s::bigint[], %(prices)s::numeric[],
                      %(discounts)s::numeric[], %(fees)s::numeric[])
               AS l(row_id, type_id, price, discount, fee)
         WHERE i.id = l.row_id
    ), {{inventory}}
    SELECT p.currency, l.seat_id, l.section_id, sec.name, s.row_label, s.label,
           COALESCE(l.price, p.amount), COALESCE(l.discount, 0), COALESCE(l.fee, 0),
           l.type_id, tt.name
      FROM new_hold h
     CROSS JOIN unnest(%(seat_ids)s::bigint[], %(section_ids)s::bigint[], %(types)s::bigint[],
                       %(prices)s::numeric[], %(discounts)s::numeric[], %(fees)s::numeric[])
           AS l(seat_id, section_id, type_id, price, discount, fee)
      JOIN events_seat s ON s.id = l.seat_id
      JOIN events_section sec ON sec.id = l.section_id
      LEFT JOIN events_tickettype tt ON tt.id = l.type_id
      LEFT JOIN events_price p ON p.event_id = %(answer_event)s AND p.section_id = l.section_id
     ORDER BY sec.display_order, s.row_rank, s.position
"""


def holds_end(
    *,
    hold_ids: Collection[int],
    status: str,
    now: dt.datetime,
    reason: str,
    actor: Any = None,
    keep_row_ids: Collection[int] = (),
    wait_for_rows: bool = True,
) -> list[Hold]:
    """End the live holds among ``hold_ids`` (released or expired) and free their seats.

    Precondition: inside a transaction. Holds another transaction has locked are skipped (it
    owns their fate). ``keep_row_ids`` are rows the caller is re-claiming (left held).
    ``wait_for_rows=False`` is for callers that already hold inventory locks: seats locked
    elsewhere are then left behind, still pointing at the ended hold with a past expiry
    (free to every reader; the sweeper tidies them). Audits, bumps versions, registers
    ``seats_changed`` and ``seats_released`` after commit. Returns the holds ended.
    """
    holds = lock_rows(Hold.objects.filter(pk__in=hold_ids, status__in=LIVE_HOLD_STATUSES), skip_locked=True)
    if not holds:
        return []
    ids = [h.pk for h in holds]
    pricing.quota_return_holds(hold_ids=ids)
    rows = lock_rows(
        SeatInventory.objects.filter(hold_id__in=ids).exclude(pk__in=list(keep_row_ids)),
        skip_locked=not wait_for_rows,
    )
    if rows:
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SeatStatus.AVAILABLE, hold=None, hold_expires_at=None, updated_at=now
        )
    Hold.objects.filter(pk__in=ids).update(status=status, ended_at=now)
    # Waiting-room turns bound to these holds end with them.
    admission.passes_end(
        hold_ids=ids, state=PassState.DONE if status == HoldStatus.RELEASED else PassState.EXPIRED, now=now
    )
    freed: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        freed[row.hold_id].append(row.seat_id)
    by_event: dict[int, list[int]] = defaultdict(list)
    for hold in holds:
        hold.status, hold.ended_at = status, now
        if status == HoldStatus.RELEASED:
            action = AuditAction.HOLD_RELEASED
        elif hold.kind == HoldKind.OFFER:
            action = AuditAction.OFFER_LAPSED
        else:
            action = AuditAction.HOLD_EXPIRED
        audit_record(
            action=action,
            at=now,
            actor=actor,
            event_id=hold.event_id,
            hold_id=hold.pk,
            reason=reason,
            data={"seat_ids": sorted(freed[hold.pk]), "expires_at": hold.expires_at.isoformat()},
        )
        by_event[hold.event_id].extend(freed[hold.pk])
    for event_id, seat_ids in by_event.items():
        # One audit row per hold was written above; this is the rest of the ending.
        inventory_changed(event_id=event_id, seat_ids=seat_ids, released_reason=reason, at=now)
    how = "released" if status == HoldStatus.RELEASED else "expired"
    transaction.on_commit(partial(metrics.hold_ended, how=how, count=len(holds)))
    return holds


# Expired holds of an event still counted against some types' caps or codes' uses.
_EXPIRED_COUNTED_SQL = """
    SELECT h.id FROM checkout_hold h
     WHERE h.event_id = %(event)s AND h.status = ANY(%(live)s) AND h.expires_at <= %(now)s
       AND (h.promo_code_id = ANY(%(codes)s) OR h.access_code_id = ANY(%(codes)s)
            OR EXISTS (SELECT 1 FROM checkout_seatinventory i
                        WHERE i.hold_id = h.id AND i.ticket_type_id = ANY(%(types)s)))
     ORDER BY h.id LIMIT 500
"""


def expired_counted_retire(
    *, event_id: int, now: dt.datetime, type_ids: list[int], code_ids: list[int]
) -> bool:
    """End the expired holds of the event that still count against ``type_ids``' caps or
    ``code_ids``' uses (``pricing.hold_price_counted``'s reclaim), giving those back; True when
    some were ended. Precondition: inside a hold's transaction, possibly holding inventory locks,
    so nothing is waited for (holds and seats another transaction has locked are skipped)."""
    ids = [
        hold_id
        for (hold_id,) in sql.rows(
            _EXPIRED_COUNTED_SQL,
            {
                "event": event_id,
                "live": list(LIVE_HOLD_STATUSES),
                "now": now,
                "codes": code_ids,
                "types": type_ids,
            },
        )
    ]
    if not ids:
        return False
    ended = holds_end(hold_ids=ids, status=HoldStatus.EXPIRED, now=now, reason="expired", wait_for_rows=False)
    return bool(ended)


_HOLD_FIELDS = [f.attname for f in Hold._meta.concrete_fields]
# What the purchase needs of the hold's event, read with the hold's lock (one round trip).
# In the model's field order, as ``Model.from_db`` expects for a partial row.
_HOLD_EVENT_FIELDS = [
    f.attname
    for f in Event._meta.concrete_fields
    if f.attname in {"id", "status", "starts_at", "title", "sold_out", "sold_out_until"}
]


def hold_lock_own(user: Any, hold_id: int) -> Hold:
    """Lock ``user``'s hold ``hold_id`` (caller's transaction). Raises ``HoldNotFound``.

    Someone else's hold answers exactly like a missing one: ids reveal nothing. The hold's
    ``event`` comes with it (``_HOLD_EVENT_FIELDS``; other event fields load on access).
    """
    found = lock_rows_sql(
        table="checkout_hold",
        columns=", ".join(
            [f"checkout_hold.{f}" for f in _HOLD_FIELDS] + [f"e.{f}" for f in _HOLD_EVENT_FIELDS]
        ),
        joins="JOIN events_event e ON e.id = checkout_hold.event_id",
        where="checkout_hold.id = %s AND checkout_hold.user_id = %s",
        params=[hold_id, getattr(user, "pk", user)],
    )
    if not found:
        raise HoldNotFound(extra={"hold_id": hold_id})
    values = found[0]
    hold = Hold.from_db("default", _HOLD_FIELDS, values[: len(_HOLD_FIELDS)])
    hold.event = Event.from_db("default", _HOLD_EVENT_FIELDS, values[len(_HOLD_FIELDS) :])
    return hold


def hold_extend(*, user: Any, hold_id: int, now: dt.datetime | None = None) -> Hold:
    """Add ``TICKETING_HOLD_EXTENSION_SECONDS`` to an active hold, at most ``..._MAX_EXTENSIONS`` times.

    Waitlist offers (``kind="offer"``) are never extended (``ExtensionLimit``, max 0).

    Raises ``HoldNotFound``, ``HoldExpired``, ``HoldNotActive`` (released, bought, or being
    paid for), ``ExtensionLimit`` or ``Busy``.
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        hold = hold_lock_own(user, hold_id)
        if hold.status == HoldStatus.EXPIRED or (hold.status == HoldStatus.ACTIVE and hold.expires_at <= now):
            raise HoldExpired(extra={"hold_id": hold.pk})
        if hold.status != HoldStatus.ACTIVE:
            raise HoldNotActive(extra={"hold_id": hold.pk, "status": hold.status})
        # A waitlist offer keeps its fixed window: the next person in line is waiting for it.
        most = 0 if hold.kind == HoldKind.OFFER else settings.TICKETING_HOLD_MAX_EXTENSIONS
        if hold.extensions_used >= most:
            raise ExtensionLimit(extra={"hold_id": hold.pk, "max_extensions": most})
        hold.expires_at += dt.timedelta(seconds=settings.TICKETING_HOLD_EXTENSION_SECONDS)
        hold.extensions_used += 1
        rows = lock_rows(SeatInventory.objects.filter(hold=hold))
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            hold_expires_at=hold.expires_at, updated_at=now
        )
        hold.save(update_fields=["expires_at", "extensions_used"])
        # No seat changed status, so there is nothing to push to the seat map.
        inventory_changed(
            event_id=hold.event_id,
            action=AuditAction.HOLD_EXTENDED,
            at=now,
            actor=user,
            hold_id=hold.pk,
            data={"expires_at": hold.expires_at.isoformat(), "extensions_used": hold.extensions_used},
        )
        transaction.on_commit(metrics.hold_extended)
        # Without this a sold-out event kept announcing the old expiry as the moment seats
        # come back, and the list showed it on sale while every seat was still held.
        transaction.on_commit(partial(hooks.hold_times_changed, event_id=hold.event_id))
    return hold


def hold_release(*, user: Any, hold_id: int, now: dt.datetime | None = None) -> Hold:
    """Give the seats back now. Releasing a released or expired hold changes nothing.

    Raises ``HoldNotFound``, ``HoldNotActive`` (bought, or payment in progress) or ``Busy``.
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        hold = hold_lock_own(user, hold_id)
        if hold.status in (HoldStatus.RELEASED, HoldStatus.EXPIRED):
            return hold
        if hold.status != HoldStatus.ACTIVE:
            raise HoldNotActive(extra={"hold_id": hold.pk, "status": hold.status})
        expired = hold.expires_at <= now
        holds_end(
            hold_ids=[hold.pk],
            status=HoldStatus.EXPIRED if expired else HoldStatus.RELEASED,
            now=now,
            reason="expired" if expired else "released",
            actor=user,
        )
        hold.refresh_from_db()
    return hold


def holds_expire_due(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Expire up to ``limit`` live holds whose time is up (paying ones only after their
    stretched window, and never while their payment attempt is pending: recovery resolves
    that first), in one transaction; returns how many. Also frees up to ``limit`` seats
    left pointing at already-ended holds.

    Safe to run concurrently: each run locks holds with ``SKIP LOCKED``, so two sweepers
    split the work and never wait for each other or for a buyer.
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        due = lock_rows(
            Hold.objects.filter(status__in=LIVE_HOLD_STATUSES, expires_at__lte=now).exclude(
                # Owned by payment recovery until its attempt is resolved: the card may be charged.
                Exists(Payment.objects.filter(hold=OuterRef("pk"), kind="charge", status="pending"))
            ),
            skip_locked=True,
            limit=limit,
        )
        ended = holds_end(hold_ids=[h.pk for h in due], status=HoldStatus.EXPIRED, now=now, reason="expired")
        _orphans_free(now=now, limit=limit)
    return len(ended)


def _orphans_free(*, now: dt.datetime, limit: int) -> int:
    rows = lock_rows(
        SeatInventory.objects.filter(free_q(now), status=SeatStatus.HELD).exclude(
            hold__status__in=LIVE_HOLD_STATUSES
        ),
        skip_locked=True,
        limit=limit,
    )
    if not rows:
        return 0
    SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=SeatStatus.AVAILABLE, hold=None, hold_expires_at=None, updated_at=now
    )
    by_event: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_event[row.event_id].append(row.seat_id)
    for event_id, seat_ids in by_event.items():
        inventory_changed(
            event_id=event_id,
            seat_ids=seat_ids,
            released_reason="expired",
            action=AuditAction.REPAIRED,
            at=now,
            reason="expired",
            data={"seat_ids": seat_ids},
        )
    return len(rows)


def seats_lock_free(*, event_id: int, now: dt.datetime, limit: int) -> list[SeatInventory]:
    """Lock up to ``limit`` of the event's free seats (with their ``seat``), in pk order.

    Seats a buyer is locking right now are skipped, not waited for: they are being taken.
    The free filter is re-checked on the locked rows, so one taken meanwhile drops out.
    Precondition: inside the caller's transaction, which then claims some of them through
    ``hold_claim_seats`` (the waitlist's offers).
    """
    candidate_pks = list(
        SeatInventory.objects.filter(free_q(now), event_id=event_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return lock_rows(
        SeatInventory.objects.filter(free_q(now), pk__in=candidate_pks).select_related("seat"),
        skip_locked=True,
    )
