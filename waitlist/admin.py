"""Read-only view of waitlists for staff; joins, leaves and offers go through services."""

from django.contrib import admin

from waitlist.models import WaitlistEntry


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
