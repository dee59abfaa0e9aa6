"""Errors of the waitlist."""

from django.utils.translation import gettext_lazy as _

from ticketing.core.errors import Conflict, NotFound


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
