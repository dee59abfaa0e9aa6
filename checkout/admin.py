"""Read-mostly views of the inventory for staff; writes go through services."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from checkout.models import (
    AdmissionPass,
    AuditLog,
    Code,
    Hold,
    Order,
    OrderStatus,
    OutboxMessage,
    Payment,
    SeatInventory,
    Ticket,
    TicketTransfer,
    WaitingRoom,
)
from checkout.services import admission, sales
from checkout.services.outbox import outbox_retry_now
from checkout.services.pricing import code_normalise
from checkout.staff_views import event_attendees_csv, event_dashboard_view, event_orders_csv
from checkout.views import event_figures_view
from events.admin import EventAdmin
from events.models import Event
from ticketing.admin import ReadOnlyAdmin
from ticketing.core.errors import ApplicationError
from ticketing.core.validation import SafeModelForm


class CodeForm(SafeModelForm):
    """A presale or promo code; stored normalised (upper case), so codes are case-insensitive."""

    class Meta:
        model = Code
        fields = [
            "event",
            "kind",
            "code",
            "description",
            "valid_from",
            "valid_until",
            "use_limit",
            "discount_kind",
            "discount_scope",
            "discount_value",
            "ticket_types",
        ]

    def clean_code(self):
        code = code_normalise(self.cleaned_data.get("code") or "")
        if not code or not all(ch.isalnum() or ch in "-_" for ch in code):
            raise ValidationError("A code is letters, digits, - or _.")
        return code

    def clean(self):
        data = super().clean()
        event, types = data.get("event"), data.get("ticket_types")
        if event is not None and types is not None and any(t.event_id != event.pk for t in types):
            self.add_error("ticket_types", "Only this event's ticket types.")
        if data.get("discount_kind") == "percent" and (data.get("discount_value") or 0) > 100:
            self.add_error("discount_value", "A percentage is at most 100.")
        return data


@admin.register(Code)
class CodeAdmin(admin.ModelAdmin):
    """Codes are set up here; their uses are counted by checkout (read-only ``used``)."""

    form = CodeForm
    list_display = [
        "code",
        "event",
        "kind",
        "discount_value",
        "discount_kind",
        "used",
        "use_limit",
        "valid_until",
    ]
    list_filter = ["kind"]
    search_fields = ["code", "event__title"]
    list_select_related = ["event"]
    readonly_fields = ["used"]
    filter_horizontal = ["ticket_types"]


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
    list_display = ["id", "event", "seat", "status", "holder_email", "used_at", "used_gate"]
    list_filter = ["status"]
    search_fields = ["code", "order__buyer_email", "holder_email", "transfers__old_code"]
    list_select_related = ["event", "seat", "seat__section"]


@admin.register(TicketTransfer)
class TicketTransferAdmin(ReadOnlyAdmin):
    """Tickets given away: the code each transfer voided and who got the ticket."""

    list_display = ["id", "ticket", "to_name", "to_email", "at", "actor"]
    search_fields = ["old_code", "to_email", "ticket__order__buyer_email"]
    list_select_related = ["ticket", "actor"]
    exclude = ["access_token"]  # the holder's link is theirs alone, as the order link is the buyer's


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


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("sent", "Sent"), ("failing", "Failed, retrying"), ("due", "Not sent yet")]

    def queryset(self, request, queryset):
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "failing":
            return queryset.filter(sent_at__isnull=True).exclude(last_error="")
        if self.value() == "due":
            return queryset.filter(sent_at__isnull=True, last_error="")
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """The e-mails that must not be lost: whether each went out, how often it was tried, why it
    failed. Staff may make failed ones due at once; sending stays the outbox task's job."""

    list_display = ["id", "kind", "order", "state", "attempts", "last_error", "next_attempt_at", "sent_at"]
    list_filter = [OutboxStateFilter, "kind"]
    search_fields = ["order__id", "order__buyer_email"]
    list_select_related = ["order"]
    raw_id_fields = ["order", "transfer"]
    actions = ["retry_now"]

    @admin.display(description="State")
    def state(self, obj: OutboxMessage) -> str:
        if obj.sent_at:
            return "sent"
        return f"failed (retry {obj.attempts})" if obj.last_error else "due"

    @admin.action(description="Send again now (unsent only)")
    def retry_now(self, request, queryset):
        count = outbox_retry_now(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} messages due now; the recovery schedule sends them.")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "event", "hold_id_ref", "order_id_ref", "actor", "reason"]
    list_filter = ["action"]
    search_fields = ["reason", "hold_id_ref", "order_id_ref"]
    date_hierarchy = "at"
    list_select_related = ["event", "actor"]


class EventSalesAdmin(EventAdmin):
    """The catalog's event admin plus what is checkout's: publish (creates the inventory),
    cancel (refunds), and the sales figures page."""

    actions = ["publish", "cancel_events"]
    readonly_fields = [*EventAdmin.readonly_fields, "figures_link"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/figures/", wrap(event_figures_view), name="events_event_figures"),
            path("<int:object_id>/dashboard/", wrap(event_dashboard_view), name="events_event_dashboard"),
            path("<int:object_id>/orders.csv", wrap(event_orders_csv), name="events_event_orders_csv"),
            path(
                "<int:object_id>/attendees.csv", wrap(event_attendees_csv), name="events_event_attendees_csv"
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Figures")
    def figures_link(self, obj: Event) -> str:
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="{}">Dashboard</a> · <a href="{}">Sales figures and on-sale readiness</a>',
            reverse("admin:events_event_dashboard", args=[obj.pk]),
            reverse("admin:events_event_figures", args=[obj.pk]),
        )

    @admin.action(description="Publish (put on sale and create inventory)")
    def publish(self, request, queryset):
        for event in queryset:
            try:
                sales.event_publish(event_id=event.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{event.title}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{event.title}: on sale.", level=messages.SUCCESS)

    @admin.action(description="Cancel (stop sales, refund every order, close the waitlist)")
    def cancel_events(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            rows = [
                {
                    "event": event,
                    "paid_orders": event.orders.filter(status=OrderStatus.PAID).count(),
                    "tickets": event.tickets.filter(order__status=OrderStatus.PAID).count(),
                }
                for event in queryset.select_related("venue")
            ]
            return TemplateResponse(
                request,
                "admin/events/event/cancel_confirmation.html",
                {**self.admin_site.each_context(request), "events": rows, "title": "Cancel events"},
            )
        for event in queryset:
            try:
                outcome = sales.event_cancel(event_id=event.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{event.title}: {exc.message}", level=messages.ERROR)
                continue
            self.message_user(
                request,
                f"{event.title}: cancelled; {outcome.holds_released} holds released, "
                f"{outcome.waitlist_closed} waitlist entries closed, {outcome.orders_pending} paid orders "
                "being refunded in the background (run the action again to retry refused refunds).",
                level=messages.SUCCESS,
            )
        return None


admin.site.unregister(Event)
admin.site.register(Event, EventSalesAdmin)


@admin.register(WaitingRoom)
class WaitingRoomAdmin(admin.ModelAdmin):
    """Turn an event's waiting room on, set its checkout limit, pause it. Saved through the
    service (``admission.room_update``), which lets the queue admit at once after a change;
    the queue's figures are on the waitlist's "Event queues" page and the dashboard."""

    form = SafeModelForm
    list_display = ["event", "enabled", "checkout_limit", "paused", "updated_at"]
    list_editable = ["enabled", "checkout_limit", "paused"]
    list_select_related = ["event"]
    raw_id_fields = ["event"]
    fields = ["event", "enabled", "checkout_limit", "paused"]

    def save_model(self, request, obj, form, change) -> None:
        admission.room_update(
            event_id=obj.event_id, enabled=obj.enabled, checkout_limit=obj.checkout_limit, paused=obj.paused
        )


@admin.register(AdmissionPass)
class AdmissionPassAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "user", "state", "admitted_at", "admitted_until", "hold", "ended_at"]
    list_filter = ["state"]
    list_select_related = ["event", "user"]
    raw_id_fields = ["event", "user", "hold"]
