"""Read-mostly views of the inventory for staff; writes go through services."""

from django.contrib import admin

from checkout.models import AuditLog, Hold, Order, Payment, SeatInventory, Ticket
from ticketing.admin import ReadOnlyAdmin


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "user", "kind", "status", "created_at", "expires_at", "extensions_used"]
    list_filter = ["status", "kind"]
    search_fields = ["user__email", "event__title"]
    list_select_related = ["event", "user"]


class TicketInline(admin.TabularInline):
    model = Ticket
    extra = 0
    can_delete = False
    fields = ["seat", "section", "price", "status", "used_at", "used_gate"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "buyer_email", "status", "total", "currency", "created_at"]
    list_filter = ["status"]
    search_fields = ["buyer_email", "buyer_name", "user__email", "event__title"]
    list_select_related = ["event"]
    inlines = [TicketInline]


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "seat", "status", "used_at", "used_gate"]
    list_filter = ["status"]
    search_fields = ["code", "order__buyer_email"]
    list_select_related = ["event", "seat", "seat__section"]


@admin.register(SeatInventory)
class SeatInventoryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "seat", "status", "hold", "hold_expires_at", "order"]
    list_filter = ["status"]
    list_select_related = ["event", "seat", "seat__section"]
    raw_id_fields = ["event", "seat", "hold", "order", "ticket"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "amount", "currency", "provider", "reference", "created_at"]
    list_filter = ["kind", "status", "provider"]
    search_fields = ["reference", "idempotency_key"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "event", "hold_id_ref", "order_id_ref", "actor", "reason"]
    list_filter = ["action"]
    search_fields = ["reason", "hold_id_ref", "order_id_ref"]
    date_hierarchy = "at"
    list_select_related = ["event", "actor"]
