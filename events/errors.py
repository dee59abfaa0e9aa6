from django.utils.translation import gettext_lazy as _

from ticketing.core.errors import ApplicationError, Conflict, NotFound


class EventNotFound(NotFound):
    code = "NOT_FOUND"
    message = _("No such event.")


class VenueNotFound(NotFound):
    code = "NOT_FOUND"
    message = _("No such venue.")


class DuplicateEvent(Conflict):
    code = "DUPLICATE_EVENT"
    message = _("An event with this title already starts at this venue at that time.")


class VenueSlugTaken(Conflict):
    code = "SLUG_TAKEN"
    message = _("A venue with this slug already exists.")


class EventNotReady(ApplicationError):
    code = "EVENT_NOT_READY"
    status = 409
    message = _("The event cannot be published yet.")


class EventCancelled(Conflict):
    code = "EVENT_CANCELLED"
    message = _("The event is cancelled.")


class EventNotCancelled(Conflict):
    code = "EVENT_NOT_CANCELLED"
    message = _("Orders are refunded in bulk only for a cancelled event.")


class TicketTypeNotFound(NotFound):
    code = "NOT_FOUND"
    message = _("No such ticket type.")


class TicketTypeInUse(Conflict):
    code = "TICKET_TYPE_IN_USE"
    message = _("Seats are held or sold as this type; change it instead of deleting it.")
