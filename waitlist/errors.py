"""Errors of the waitlist."""

from ticketing.core.errors import Conflict, NotFound


class SeatsAvailable(Conflict):
    code = "SEATS_AVAILABLE"
    message = "Seats are available: buy them instead of joining the waitlist."


class AlreadyWaiting(Conflict):
    code = "ALREADY_WAITING"
    message = "You are already on the waitlist for this event."


class WaitlistClosed(Conflict):
    code = "WAITLIST_CLOSED"
    message = "This event is not on sale, so it has no waitlist."


class EntryNotFound(NotFound):
    message = "No such waitlist entry."


class SectionNotFound(NotFound):
    message = "No such section at this event's venue."
