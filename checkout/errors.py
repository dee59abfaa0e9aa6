"""Domain errors of the checkout app (rendered as ``{"code", "message", "extra"}``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ticketing.core.errors import ApplicationError, Busy, Conflict, NotFound, RateLimited, ValidationFailed

__all__ = [
    "Busy",
    "CodeInUse",
    "CodeInvalid",
    "CodeNotFound",
    "CodeTaken",
    "CodeUsedUp",
    "EventNotOnSale",
    "ExtensionLimit",
    "HoldExists",
    "HoldExpired",
    "HoldNotActive",
    "HoldNotFound",
    "IdempotencyConflict",
    "OrderNotCancellable",
    "OrderNotFound",
    "OrderNotPaid",
    "PaymentActionRequired",
    "PaymentDeclined",
    "PaymentFailed",
    "PerOrderMax",
    "PurchaseInProgress",
    "QueueRequired",
    "ResendLimited",
    "SalesClosed",
    "SeatsNotFound",
    "SeatsUnavailable",
    "TicketAlreadyUsed",
    "TicketNotFound",
    "TicketNotTransferable",
    "TicketUnknown",
    "TicketVoid",
    "TicketWrongEvent",
    "TooManySeats",
    "TransferLimited",
    "TypeNotOnSale",
    "TypeSoldOut",
    "ValidationFailed",
    "WaitingRoomNotFound",
    "WebhookSignatureInvalid",
]


class SeatsUnavailable(Conflict):
    """``extra["seat_ids"]`` lists the requested seats someone else holds or bought."""

    code = "SEATS_UNAVAILABLE"
    message = _("Some of the seats are no longer available.")


class SeatsNotFound(NotFound):
    message = _("Some of the seats do not exist at this event.")


class TooManySeats(ApplicationError):
    code = "TOO_MANY_SEATS"
    status = 422
    message = _("Too many seats in one hold.")


class HoldExists(Conflict):
    """``extra["hold_id"]`` is the buyer's current hold for the event."""

    code = "HOLD_EXISTS"
    message = _("You already hold seats for this event; release or buy them first.")


class HoldNotFound(NotFound):
    message = _("No such hold.")


class HoldExpired(ApplicationError):
    code = "HOLD_EXPIRED"
    status = 410
    message = _("The hold has expired; the seats were released.")


class HoldNotActive(Conflict):
    """The hold was released, bought, or is being paid for; ``extra["status"]`` says which."""

    code = "HOLD_NOT_ACTIVE"
    message = _("The hold is no longer active.")


class ExtensionLimit(Conflict):
    code = "EXTENSION_LIMIT"
    message = _("The hold cannot be extended again.")


class SalesClosed(Conflict):
    code = "SALES_CLOSED"
    message = _("Tickets for this event are not on sale.")


class EventNotOnSale(SalesClosed):
    """Sales have not opened yet: the message says when (venue time), ``extra["sales_open_at"]``."""

    code = "EVENT_NOT_ON_SALE"
    message = _("Tickets for this event are not on sale yet.")


class TypeSoldOut(Conflict):
    """``extra["ticket_type_id"]``: the type whose cap is reached."""

    code = "TYPE_SOLD_OUT"
    message = _("This ticket type is sold out.")


class TypeNotOnSale(Conflict):
    """The type is outside its sale window, hidden without its presale code, or not sold in the
    seat's section (``extra["ticket_type_id"]``, ``extra["seat_id"]``)."""

    code = "TYPE_NOT_ON_SALE"
    message = _("This ticket type is not on sale for this seat.")


class PerOrderMax(ApplicationError):
    """``extra["ticket_type_id"]``, ``extra["max"]``."""

    code = "PER_ORDER_MAX"
    status = 422
    message = _("Too many tickets of this type in one order.")


class CodeInvalid(ApplicationError):
    code = "CODE_INVALID"
    status = 422
    message = _("This code is not valid for this event.")


class CodeUsedUp(Conflict):
    code = "CODE_USED_UP"
    message = _("This code has been used up.")


class CodeNotFound(NotFound):
    message = _("No such code.")


class CodeTaken(Conflict):
    code = "CODE_TAKEN"
    message = _("This event already has this code.")


class CodeInUse(Conflict):
    code = "CODE_IN_USE"
    message = _("This code was used; set its use limit to stop it instead.")


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_CONFLICT"
    message = _("This Idempotency-Key was already used for a different request.")


class PurchaseInProgress(Conflict):
    """Another request is paying for this hold right now; retry to get its outcome."""

    code = "PURCHASE_IN_PROGRESS"
    message = _("A payment for this hold is in progress; retry in a moment.")

    def __init__(self, message: str | None = None, **kwargs) -> None:
        kwargs.setdefault("headers", {})["Retry-After"] = "1"
        super().__init__(message, **kwargs)


class PaymentDeclined(ApplicationError):
    code = "PAYMENT_DECLINED"
    status = 402
    message = _("The card was declined; your seats are still held.")


class PaymentActionRequired(ApplicationError):
    """The card needs the buyer (3-D Secure): ``extra["client_secret"]`` is what Stripe.js
    confirms; then ``POST /api/holds/{id}/payment-return`` finishes the purchase (or the
    provider's webhook does, whichever comes first)."""

    code = "PAYMENT_ACTION_REQUIRED"
    status = 402
    message = _("Your bank asks you to confirm this payment.")


class WebhookSignatureInvalid(ApplicationError):
    code = "WEBHOOK_SIGNATURE_INVALID"
    status = 400
    message = _("The webhook's signature does not verify.")


class PaymentFailed(ApplicationError):
    """The provider could not be reached or errored; nothing was charged."""

    code = "PAYMENT_FAILED"
    status = 502
    message = _("The payment could not be processed; your seats are still held. Please retry.")


class OrderNotFound(NotFound):
    message = _("No such order.")


class OrderNotCancellable(Conflict):
    code = "ORDER_NOT_CANCELLABLE"
    message = _("This order cannot be cancelled.")


class OrderNotPaid(Conflict):
    code = "ORDER_NOT_PAID"
    message = _("This order is cancelled; its tickets are void.")


class ResendLimited(RateLimited):
    """``extra["retry_after"]`` is the number of seconds until the next resend is allowed."""

    code = "RESEND_LIMITED"
    message = _("The tickets were sent a moment ago; please check your inbox (and spam folder) first.")


class TicketNotFound(NotFound):
    message = _("No such ticket.")


class TicketNotTransferable(Conflict):
    code = "TICKET_NOT_TRANSFERABLE"
    message = _("This ticket cannot be transferred (it is used or void, or the event has begun).")


class TransferLimited(RateLimited):
    """``extra["retry_after"]`` is the number of seconds until the ticket may be transferred again."""

    code = "TRANSFER_LIMITED"
    message = _("This ticket was transferred too often today; please try again later.")


class TicketUnknown(ApplicationError):
    code = "TICKET_UNKNOWN"
    status = 404
    message = _("No ticket has this code.")


class TicketAlreadyUsed(ApplicationError):
    code = "TICKET_ALREADY_USED"
    status = 409
    message = _("This ticket was already used.")


class TicketVoid(ApplicationError):
    code = "TICKET_VOID"
    status = 409
    message = _("This ticket is void (its order was cancelled).")


class TicketWrongEvent(ApplicationError):
    code = "TICKET_WRONG_EVENT"
    status = 409
    message = _("This ticket is for another event.")


class QueueRequired(ApplicationError):
    """The event has a waiting room and the buyer has no unused admission pass for it."""

    code = "QUEUE_REQUIRED"
    status = 403
    message = _("This event has a waiting room: join the queue and wait for your turn.")


class WaitingRoomNotFound(NotFound):
    message = _("This event has no waiting room.")
