"""Read-only view of waitlists for staff; joins, leaves and offers go through services."""

from django.contrib import admin

from ticketing.admin import ReadOnlyAdmin
from waitlist.models import WaitlistEntry


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event",
        "user",
        "quantity",
        "section",
        "status",
        "created_at",
        "offered_at",
        "offer_hold",
    ]
    list_filter = ["status"]
    search_fields = ["user__email", "event__title"]
    list_select_related = ["event", "user", "section", "offer_hold"]
    raw_id_fields = ["event", "user", "section", "offer_hold"]
