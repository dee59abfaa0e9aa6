"""Errors of the waitlist."""

from django.utils.translation import gettext_lazy as _

from ticketing.core.errors import ApplicationError, Conflict, NotFound


class SeatsAvailable(Conflict):
    code = "SEATS_AVAILABLE"
    message = _("Seats are available: buy them instead of joining the waitlist.")


class AlreadyWaiting(Conflict):
    code = "ALREADY_WAITING"
    message = _("You are already on the waitlist for this event.")


class WaitlistClosed(Conflict):
    code = "WAITLIST_CLOSED"
    message = _("This event is not on sale, so it has no waitlist.")


class EntryNotFound(NotFound):
    message = _("No such waitlist entry.")


class SectionNotFound(NotFound):
    message = _("No such section at this event's venue.")


class QueueCooldown(ApplicationError):
    """Joining again too soon after leaving the queue or letting the entry lapse.

    ``extra["until"]`` is when the cooldown ends (ISO 8601); ``Retry-After`` says the same."""

    code = "QUEUE_COOLDOWN"
    status = 429
    message = _("You left this queue recently; you can join again later.")


class QueueClosed(Conflict):
    """The event sold out: the queue is closed; ``extra["waitlist"]`` is where to wait instead."""

    code = "QUEUE_CLOSED"
    message = _("This event is sold out. Join the waitlist to be offered seats that come back.")


class QueueNotFound(NotFound):
    message = _("You are not in this event's queue.")


class WaitingRoomOff(Conflict):
    code = "WAITING_ROOM_OFF"
    message = _("This event has no waiting room: choose your seats directly.")
